"""Unit tests of support/run.py: the cleanup ledger and capability skipping (no target needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from support.run import CleanupLedger, missing_capability


class FakeLayer:
    """Stands in for behave's context.add_cleanup on one layer."""

    def __init__(self) -> None:
        self.cleanups: list = []

    def add_cleanup(self, fn) -> None:
        self.cleanups.append(fn)

    def pop(self) -> None:
        for fn in reversed(self.cleanups):
            fn()
        self.cleanups.clear()


def test_cleanup_runs_once_at_scenario_end_and_not_again_in_sweep() -> None:
    ledger, layer, calls = CleanupLedger(), FakeLayer(), []
    ledger.register(layer.add_cleanup, lambda: calls.append("a"))
    assert ledger.pending == 1
    layer.pop()
    ledger.sweep()
    assert calls == ["a"]
    assert ledger.pending == 0


def test_sweep_runs_what_an_interrupted_scenario_left_newest_first_and_survives_errors() -> None:
    ledger, layer, calls = CleanupLedger(), FakeLayer(), []

    def broken() -> None:
        raise RuntimeError("404 tolerated elsewhere; this one is a real failure")

    ledger.register(layer.add_cleanup, lambda: calls.append("first"))
    ledger.register(layer.add_cleanup, broken)
    ledger.register(layer.add_cleanup, lambda: calls.append("third"))
    # The scenario layer never pops (Ctrl-C): after_all's sweep must still run everything.
    ledger.sweep()
    assert calls == ["third", "first"]
    assert len(ledger.errors) == 1 and "RuntimeError" in ledger.errors[0]
    assert ledger.pending == 0


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["critical", "auth"], None),
        (["needs.docker"], "needs docker: no engine"),
        (["needs.signing_key"], None),
        (["needs.warp_drive"], "needs warp_drive: no such capability is known to the suite"),
    ],
)
def test_missing_capability_gives_the_reason(tags: list[str], expected: str | None) -> None:
    context = SimpleNamespace(run_state=SimpleNamespace(capabilities={"docker": "no engine", "signing_key": None}))
    assert missing_capability(context, tags) == expected
