"""Fault-map `settings`: parsing and validation, `-D` passing, and the clean control that vouches for a catch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from permiso_acceptance.fault_map import FaultMapError, Selection, load_fault_map, parse_fault_map
from permiso_acceptance.sensitivity_behave import RunOutcome, RunRequest, behave_argv
from permiso_acceptance.sensitivity_orchestration import run_sensitivity
from permiso_acceptance.sensitivity_report import FaultResult, Report, render_markdown, render_table, report_json
from tests.sensitivity.conftest import two_domain_features


def sensitivity(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """The console command, run from another directory (so no report lands in the checkout)."""
    argv = [sys.executable, "-c", "import sys; from permiso_acceptance.cli import main; sys.exit(main())",
            "sensitivity", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)

LIMIT = 'settings = { PERMISO_REFERENCE_AUTH_RATE_LIMIT = "5" }'


def test_settings_are_parsed_with_upper_case_names_and_string_values() -> None:
    fault_map = parse_fault_map(
        "[faults]\n"
        f'limited = {{ paths = ["security"], {LIMIT}, why = "w" }}\n'
        'mixed = { full = true, settings = { rate_limit_test_requests = 20, Test_Verify_SSL = false }, why = "w" }\n'
        'plain = { paths = ["security"], why = "w" }\n'
    )
    assert fault_map.settings("limited") == (("PERMISO_REFERENCE_AUTH_RATE_LIMIT", "5"),)
    assert fault_map.settings("mixed") == (("RATE_LIMIT_TEST_REQUESTS", "20"), ("TEST_VERIFY_SSL", "false"))
    assert fault_map.settings("plain") == () and fault_map.settings("not_in_map") == ()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('{ PERMISO_NO_SUCH_THING = "1" }', "'PERMISO_NO_SUCH_THING' in 'settings' is not a suite setting"),
        ("{}", "'settings' must be a non-empty table"),
        ('"PERMISO_REFERENCE_AUTH_RATE_LIMIT=5"', "'settings' must be a non-empty table"),
        ("{ PERMISO_REFERENCE_AUTH_RATE_LIMIT = [5] }", "must be a string or number"),
        ('{ PERMISO_REFERENCE_FAULTS = "revoke_noop" }', "is set by the sensitivity run itself"),
        ('{ PERMISO_BASE_URL = "https://example.org" }', "is set by the sensitivity run itself"),
    ],
)
def test_bad_settings_name_the_fault(settings: str, message: str) -> None:
    with pytest.raises(FaultMapError, match="'rate_limit_off'") as caught:
        parse_fault_map(f'[faults]\nrate_limit_off = {{ paths = ["security"], settings = {settings}, why = "w" }}\n')
    assert message in str(caught.value)


def test_the_real_map_gives_rate_limit_off_an_embedded_limiter() -> None:
    assert dict(load_fault_map().settings("rate_limit_off")) == {"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"}


def test_settings_reach_behave_as_d_options(tmp_path: Path) -> None:
    selection = Selection("narrow", (str(tmp_path / "features" / "security"),), (), "narrow: security")
    argv = behave_argv(RunRequest("rate_limit_off", selection, tmp_path,
                                  settings=(("PERMISO_REFERENCE_AUTH_RATE_LIMIT", "5"),)), python="py")
    assert "PERMISO_REFERENCE_FAULTS=rate_limit_off" in argv
    at = argv.index("PERMISO_REFERENCE_AUTH_RATE_LIMIT=5")
    assert argv[at - 1] == "-D" and at < argv.index(selection.paths[0])
    assert not any("AUTH_RATE_LIMIT" in a for a in behave_argv(RunRequest("x", selection, tmp_path), python="py"))


# ------------------------------------------------------------------------------ orchestration (scripted)
MAP = parse_fault_map(
    "[faults]\n"
    f'limited = {{ paths = ["auth"], {LIMIT}, why = "w" }}\n'
    f'limited_bad_control = {{ paths = ["auth"], {LIMIT}, why = "w" }}\n'
    f'limited_escapes = {{ paths = ["auth"], {LIMIT}, why = "w" }}\n'
    'plain = { paths = ["auth"], why = "w" }\n'
)
FAULTS = {name: f"{name} description" for name in MAP.entries}


def _scripted(tmp_path: Path, control_of_bad: RunOutcome) -> tuple[Report, list[RunRequest]]:
    calls: list[RunRequest] = []

    def runner(request: RunRequest) -> RunOutcome:
        calls.append(request)
        owner = request.workdir.parent.name
        if request.fault is None:
            if owner == "limited_bad_control":
                return control_of_bad
            return RunOutcome(0, 1.0, passed=3)
        if request.fault == "limited_escapes":
            return RunOutcome(0, 1.0, passed=3)
        return RunOutcome(1, 1.0, passed=1, failed=["security/rate_limits: flood"])

    runner_fn: Callable[[RunRequest], RunOutcome] = runner
    report = run_sensitivity(FAULTS, MAP, jobs=3, workroot=tmp_path / "work", runner=runner_fn,
                             features_dir=two_domain_features(tmp_path))
    return report, calls


def test_a_fault_with_settings_is_caught_only_beside_a_green_control(tmp_path: Path) -> None:
    report, calls = _scripted(tmp_path, RunOutcome(1, 1.0, passed=2, failed=["security/rate_limits: flood"]))
    by = {r.fault: r for r in report.results}
    limit = (("PERMISO_REFERENCE_AUTH_RATE_LIMIT", "5"),)
    # The fault's run and its clean control (fault off) both carry the settings, with the same selection.
    fault_runs = [c for c in calls if c.fault == "limited"]
    controls = [c for c in calls if c.fault is None and c.workdir.parent.name == "limited"]
    assert [c.settings for c in fault_runs] == [limit] and [c.settings for c in controls] == [limit]
    assert controls[0].selection.paths == fault_runs[0].selection.paths
    assert by["limited"].verdict == "caught" and by["limited"].settings == dict(limit)
    assert [r["control"] for r in by["limited"].runs].count(True) == 1
    # A red control: the settings alone turn the suite red, so the failure proves nothing: ERROR.
    bad = by["limited_bad_control"]
    assert bad.verdict == "error" and not bad.caught
    assert "clean control with the same settings failed too" in bad.note
    # A fault without settings gets neither -D settings nor a control; the baseline has no settings.
    assert all(c.settings == () for c in calls if c.fault == "plain" or c.workdir.parent.name == "baseline")
    assert not [c for c in calls if c.fault is None and c.workdir.parent.name == "plain"]
    assert by["plain"].verdict == "caught"
    # An escape of the narrow selection is confirmed on the rest of the suite, with the same settings.
    escaped = by["limited_escapes"]
    assert escaped.verdict == "escaped"
    assert all(c.settings == limit for c in calls if c.fault == "limited_escapes")
    assert (report.caught, report.total) == (2, 4)


def test_a_control_that_cannot_complete_is_retried_then_an_error(tmp_path: Path) -> None:
    report, calls = _scripted(tmp_path, RunOutcome(2, 1.0, problem="run ended with exit code 2: no server"))
    bad = next(r for r in report.results if r.fault == "limited_bad_control")
    assert bad.verdict == "error" and "did not complete" in bad.note and "no server" in bad.note
    assert len([c for c in calls if c.fault is None and c.workdir.parent.name == "limited_bad_control"]) == 2


def test_table_and_json_show_the_settings_used() -> None:
    report = Report("2026-01-01T00:00:00+00:00", 1, [], {})
    report.results = [FaultResult("rate_limit_off", "d", True, ["security/rate_limits: flood"],
                                  "narrow: security/rate_limits.feature", "narrow", verdict="caught",
                                  settings={"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"})]
    assert "narrow: security/rate_limits.feature with PERMISO_REFERENCE_AUTH_RATE_LIMIT=5" in render_table(report)
    assert "with PERMISO_REFERENCE_AUTH_RATE_LIMIT=5" in render_markdown(report)
    data = json.loads(json.dumps(report_json(report)))
    assert data["faults"][0]["settings"] == {"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"}


def test_rate_limit_off_is_caught_end_to_end(tmp_path: Path) -> None:
    """The escaped fault is now observed: the embedded server runs with a limiter for it (well under 60 s)."""
    report = tmp_path / "sens.json"
    run = sensitivity(["--faults", "rate_limit_off", "--tags", "@needs.auth_rate_limit", "--json", str(report)],
                      tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "caught 1/1 faults"
    assert "with PERMISO_REFERENCE_AUTH_RATE_LIMIT=5" in run.stdout
    fault = json.loads(report.read_text())["faults"][0]
    assert fault["verdict"] == "caught" and fault["settings"] == {"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"}
    assert any("flood" in name for name in fault["failing"])
    control = [r for r in fault["runs"] if r["control"]]
    assert len(control) == 1 and control[0]["passed"] >= 3 and not control[0]["failed"]
