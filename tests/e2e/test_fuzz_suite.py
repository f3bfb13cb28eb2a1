"""behave --tags=@fuzz end to end against the embedded reference: clean, faulted, and playing the release.

Small example counts and a fixed seed keep each run to seconds and its result the same every time
(PERMISO_FUZZ_SEED replays a run exactly); the seed's own line must be printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BehaveRun, run_behave

FEATURE = "features/security/generated_input.feature"


def fuzz(tmp_path: Path, **env: str) -> tuple[BehaveRun, dict[str, Any]]:
    settings = {"PERMISO_FUZZ_EXAMPLES": "6", "PERMISO_FUZZ_SEED": "1", **env}
    run = run_behave(["--tags=@fuzz", FEATURE], tmp_path, env=settings, timeout=240)
    summary = json.loads((tmp_path / "reports" / "signoff-summary.json").read_text(encoding="utf-8"))
    return run, summary


def findings(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [cause for cause in summary["causes"] if cause["kind"] == "finding"]


def test_a_clean_reference_survives_the_fuzzer(tmp_path: Path) -> None:
    run, summary = fuzz(tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    assert summary["verdict"] == "RELEASE-READY" and findings(summary) == []
    assert summary["counts"]["passed"] == 7
    assert "Fuzzing: seed 1 (replay with PERMISO_FUZZ_SEED=1)" in run.output
    assert any(note.startswith("Note on the API schema") for note in summary["notes"])


def test_a_traceback_at_sign_in_is_found_and_names_the_operation(tmp_path: Path) -> None:
    run, summary = fuzz(tmp_path, PERMISO_REFERENCE_FAULTS="traceback_in_500")
    assert run.returncode == 1, run.output[-3000:]
    found = {(f["operation"], f["check"]) for f in findings(summary)}
    assert ("POST /api/v1/auth/token", "server_error") in found
    assert ("POST /api/v1/auth/token", "internals") in found
    crash = next(f for f in findings(summary) if f["check"] == "internals")
    assert crash["defect"] == "D10" and "replay with PERMISO_FUZZ_SEED=1" in crash["first"]
    assert all(f["scenarios"] for f in findings(summary))
    page = (tmp_path / "reports" / "signoff-summary.md").read_text(encoding="utf-8")
    assert "**finding** [D10] POST /api/v1/auth/token reveals the server's internals" in page
    assert "Traceback (most recent" not in page


def test_echoed_input_is_found_once_per_operation(tmp_path: Path) -> None:
    run, summary = fuzz(tmp_path, PERMISO_REFERENCE_FAULTS="validation_echoes_input")
    assert run.returncode == 1, run.output[-3000:]
    echoes = [f for f in findings(summary) if f["check"] == "echo"]
    operations = [f["operation"] for f in echoes]
    assert len(echoes) >= 5 and len(operations) == len(set(operations))
    assert "POST /api/v1/users/register" in operations or "POST /api/v1/users/" in operations
    assert all(f["cause"] == f"{f['operation']} echoes submitted values in an error answer" for f in echoes)


def test_the_release_s_null_byte_crash_is_found(tmp_path: Path) -> None:
    run, summary = fuzz(tmp_path, PERMISO_REFERENCE_PROFILE="release-1.0")
    assert run.returncode == 1, run.output[-3000:]
    crashes = [f for f in findings(summary) if f["check"] == "server_error"]
    assert any("%00" in f["first"] or "null byte" in f["first"] for f in crashes), crashes
    assert "schema from the target's /openapi.json" in run.output  # the release publishes it (D17)


@pytest.mark.parametrize("args", [[FEATURE], ["--tags=@security", FEATURE]])
def test_an_ordinary_selection_leaves_the_fuzzer_out(tmp_path: Path, args: list[str]) -> None:
    run = run_behave(args, tmp_path, timeout=120)
    assert run.returncode == 2
    assert "the @fuzz scenarios run only with --tags=@fuzz or PERMISO_FUZZ_EXAMPLES set" in run.output
