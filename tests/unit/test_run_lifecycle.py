"""Unit tests of support/lifecycle/run.py: the cleanup ledger and capability skipping (no target needed)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from support.lifecycle.run import CleanupLedger, missing_capability


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


# -- one rule per scenario: the run-wide watch reports, the end of the run publishes ------------------
def _bad_exchange() -> Any:
    from datetime import UTC, datetime

    from support.checks.matchers import SECURITY_HEADERS
    from support.wire.evidence import Exchange

    headers = {**SECURITY_HEADERS, "Strict-Transport-Security": "max-age=63072000", "Content-Type": "application/json"}
    return Exchange("GET", "https://127.0.0.1:8443/api/v1/users/me", 401, {}, None, headers,
                    '{"error": "http_error", "error_description": "x"}', 1.0, datetime.now(UTC))


@pytest.fixture
def fresh_watch(monkeypatch: pytest.MonkeyPatch) -> Any:
    from support.domains import hygiene

    watch = hygiene.HygieneWatch()
    monkeypatch.setattr(hygiene, "WATCH", watch)
    return watch


def test_after_step_never_fails_a_step_for_a_run_wide_rule(fresh_watch: Any) -> None:
    from support.lifecycle import run

    fresh_watch(_bad_exchange())
    context = SimpleNamespace(scenario=SimpleNamespace(effective_tags=[]),
                              settings=SimpleNamespace(security_scan_enabled=True))
    run.after_step(context, SimpleNamespace(status=SimpleNamespace(name="passed")))
    assert fresh_watch.tallies["bearer_challenge"].violations == 1


def test_the_end_of_the_run_publishes_rules_to_summary_allure_and_junit(
        fresh_watch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support.lifecycle import run_summary
    from support.lifecycle.verdict import RunSummary

    monkeypatch.chdir(tmp_path)
    fresh_watch(_bad_exchange())
    summary = RunSummary()
    summary.record("F", ["@auth"], "S", [], "passed", 0.1)
    context = SimpleNamespace(_runner=SimpleNamespace(aborted=False, formatters=[]))
    run_summary.finish_summary(context, summary, SimpleNamespace(security_scan_enabled=True))
    assert fresh_watch.tallies["bearer_challenge"].checked == 0, "the watch starts afresh after a run"
    assert "1 run-wide rule broken" in summary.verdict
    run_summary.publish_summary(summary, allure_dir=tmp_path / "allure-results", junit_dir=tmp_path / "junit")
    data = json.loads((tmp_path / "reports" / "signoff-summary.json").read_text())
    assert data["causes"][0]["kind"] == "rule" and data["causes"][0]["defect"] == "D9"
    assert len(list((tmp_path / "allure-results").glob("*-result.json"))) == len(data["rules"])
    assert (tmp_path / "junit" / "TESTS-run_wide_rules.xml").exists()
    assert (tmp_path / "reports" / "signoff-summary.md").read_text().splitlines()[4] == "## Causes"


# -- the verdict decides the exit code ----------------------------------------------------------------------
def _context(tmp_path: Path, summary: Any, *, selected: int = 1) -> Any:
    from support.lifecycle import run

    state = run.RunState(settings=SimpleNamespace(security_scan_enabled=True, permiso_require_complete_gate=False))
    state.summary, state.selected = summary, selected
    runner = SimpleNamespace(aborted=False, formatters=[], hook_failures=0)
    config = SimpleNamespace(dry_run=False, junit=True, junit_directory=str(tmp_path / "junit"), userdata={},
                             show_skipped=False)
    return SimpleNamespace(run_state=state, _runner=runner, config=config)


def test_fail_run_counts_a_hook_failure_and_raises_only_without_a_runner() -> None:
    from support.lifecycle import run, run_summary

    runner = SimpleNamespace(hook_failures=0)
    run.fail_run(SimpleNamespace(_runner=runner))
    assert runner.hook_failures == 1
    with pytest.raises(run_summary.RunNotReleaseReady):
        run.fail_run(SimpleNamespace())


def test_a_run_wide_rule_alone_makes_after_all_fail_the_run_quietly(
        fresh_watch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from support.lifecycle import run
    from support.lifecycle.verdict import RunSummary

    monkeypatch.chdir(tmp_path)
    fresh_watch(_bad_exchange())
    summary = RunSummary()
    summary.record("F", ["@auth"], "S", [], "passed", 0.1)
    context = _context(tmp_path, summary)
    run.after_all(context)  # no exception: behave would print HOOK-ERROR for one
    assert context._runner.hook_failures == 1
    data = json.loads((tmp_path / "reports" / "signoff-summary.json").read_text())
    assert data["verdict"].startswith("NOT RELEASE-READY (1 run-wide rule broken")


def test_a_release_ready_run_keeps_exit_code_0(fresh_watch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    from support.lifecycle import run
    from support.lifecycle.verdict import RunSummary

    monkeypatch.chdir(tmp_path)
    summary = RunSummary()
    summary.record("F", ["@auth"], "S", [], "passed", 0.1)
    context = _context(tmp_path, summary)
    run.after_all(context)
    assert context._runner.hook_failures == 0


def test_nothing_run_writes_not_run_and_fails_the_run(fresh_watch: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from support.lifecycle import run
    from support.lifecycle.verdict import RunSummary

    monkeypatch.chdir(tmp_path)
    (tmp_path / "junit").mkdir()
    (tmp_path / "junit" / "TESTS-old.xml").write_text("<testsuite/>")
    context = _context(tmp_path, RunSummary(), selected=0)
    run.after_all(context)
    assert context._runner.hook_failures == 1
    page = (tmp_path / "reports" / "signoff-summary.md").read_text()
    assert page.splitlines()[2].startswith("Verdict: NOT RUN (no scenario matched")
    assert list((tmp_path / "junit").iterdir()) == [], "the older run's JUnit files are gone"


def test_capability_lines_name_only_what_is_missing() -> None:
    from support.lifecycle.run_summary import capability_lines

    assert capability_lines({"docker": "no engine", "signing_key": None}) == [
        "Capability docker: missing (no engine); @needs.docker scenarios will be skipped"]


def test_behavex_main_process_refuses_a_bad_setting_with_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from support.lifecycle import parallel

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parallel, "_behavex_defines", lambda: {"PERMISO_PERF_SAMPLES": "abc"})

    def exit_(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(parallel.os, "_exit", exit_)
    with pytest.raises(SystemExit) as stopped:
        parallel.before_all_workers(SimpleNamespace())
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["permiso-acceptance: setting PERMISO_PERF_SAMPLES=abc (from -D) is not a whole number"]
    page = (tmp_path / "reports" / "signoff-summary.md").read_text()
    assert page.splitlines()[2].startswith("Verdict: NOT RUN (setting PERMISO_PERF_SAMPLES=abc")


def test_behavex_main_process_empties_allure_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support.lifecycle import parallel, worker

    monkeypatch.chdir(tmp_path)
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "old-result.json").write_text("{}")
    (results / "notes.txt").write_text("stays")
    monkeypatch.setattr(parallel, "_behavex_defines", lambda: {"PERMISO_BASE_URL": "https://127.0.0.1:9"})
    # no deployment here: the once-per-run set-up (tests/support/test_parallel_handoff.py) is not the point
    monkeypatch.setattr(parallel, "resolve_target", lambda settings: (None, settings))
    monkeypatch.setattr(parallel, "_set_up_once", lambda settings, target: {})
    context = SimpleNamespace()
    parallel.before_all_workers(context)
    try:
        assert sorted(p.name for p in results.iterdir()) == ["notes.txt"]
        assert getattr(context, worker.SHARED_KEY)["run_id"]
    finally:
        parallel._parts_dir.cleanup()
        parallel._parts_dir = None
