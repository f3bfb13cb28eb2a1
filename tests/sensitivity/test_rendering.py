"""Rendering of the table, the JSON and the last line; parsing of behave's and the reference's output."""

from __future__ import annotations

import json
from pathlib import Path

from permiso_acceptance.fault_map import Selection
from permiso_acceptance.sensitivity import parse_fault_list
from permiso_acceptance.sensitivity_behave import RunRequest, behave_argv, parse_junit
from permiso_acceptance.sensitivity_report import (
    FaultResult,
    Report,
    failing_cell,
    render_markdown,
    render_table,
    report_json,
    summary_line,
    write_reports,
)


def _report() -> Report:
    report = Report("2026-01-01T00:00:00+00:00", 2, ["@auth"], {"passed": 40, "failed": [], "seconds": 9.5})
    report.results = [
        FaultResult("lockout_never", "the account is never locked", True,
                    ["authentication/lockout: A", "authentication/lockout: B", "authentication/lockout: C"],
                    "narrow: authentication/lockout.feature", "narrow", verdict="caught"),
        FaultResult("cors_any_origin", "CORS reflects any Origin", False, [], "full suite (narrow escaped: security)",
                    "full", verdict="escaped"),
        FaultResult("slow_health", "/health takes 150 ms", False, [], "narrow: performance", "narrow",
                    note="timed out after 300 s", verdict="error"),
    ]
    report.seconds = 123.4
    return report


def test_the_summary_line() -> None:
    assert summary_line(_report()) == "caught 1/3 faults"


def test_failing_cell_names_the_first_few_and_counts_the_rest() -> None:
    assert failing_cell([]) == "-"
    assert failing_cell(["a"]) == "1: a"
    assert failing_cell(["a", "b", "c", "d"]) == "4: a; b (+2 more)"
    assert failing_cell(["x" * 100], width=10) == "1: " + "x" * 9 + "…"


def test_the_table_has_a_row_per_fault_with_verdict_failures_and_selection() -> None:
    lines = render_table(_report()).splitlines()
    assert lines[0].split() == ["fault", "caught", "failing", "scenarios", "selection"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"lockout_never", "cors_any_origin", "slow_health"}
    assert rows["lockout_never"].split()[1] == "yes"
    assert "3: authentication/lockout: A; authentication/lockout: B (+1 more)" in rows["lockout_never"]
    assert rows["lockout_never"].endswith("narrow: authentication/lockout.feature")
    assert rows["cors_any_origin"].split()[1] == "NO"
    assert rows["cors_any_origin"].endswith("full suite (narrow escaped: security)")
    assert rows["slow_health"].split()[1] == "ERROR" and "timed out" in rows["slow_health"]


def test_the_json_carries_the_same_as_the_table(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sensitivity.json"
    write_reports(_report(), path)
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(report_json(_report())))
    assert data["summary"] == "caught 1/3 faults" and (data["caught"], data["total"]) == (1, 3)
    assert data["escaped"] == ["cors_any_origin"] and data["errors"] == ["slow_health"]
    assert data["tags"] == ["@auth"] and data["jobs"] == 2
    lockout = data["faults"][0]
    assert lockout["fault"] == "lockout_never" and lockout["caught"] is True and lockout["verdict"] == "caught"
    assert lockout["selection"] == "narrow: authentication/lockout.feature" and len(lockout["failing"]) == 3
    markdown = path.with_suffix(".md").read_text()
    assert "| `lockout_never` | yes |" in markdown and "caught 1/3 faults" in markdown


def test_the_markdown_escapes_pipes() -> None:
    report = _report()
    report.results[0].failing = ["a | b"]
    assert "a \\| b" in render_markdown(report)


def test_parse_fault_list() -> None:
    text = (
        "alg_none_accepted               tokens with `alg: none` are accepted\n"
        "slow_health  `/health` takes 150 ms\n\n"
    )
    assert parse_fault_list(text) == {
        "alg_none_accepted": "tokens with `alg: none` are accepted",
        "slow_health": "`/health` takes 150 ms",
    }


def test_parse_junit(tmp_path: Path) -> None:
    (tmp_path / "TESTS-authentication.lockout.xml").write_text(
        '<testsuite name="x" tests="4">'
        '<testcase classname="c" name="Locks" status="failed"><failure message="m"/></testcase>'
        '<testcase classname="c" name="Errors" status="failed"><error message="m"/></testcase>'
        '<testcase classname="c" name="Passes" status="passed"/>'
        '<testcase classname="c" name="Skipped" status="skipped"><skipped/></testcase>'
        "</testsuite>"
    )
    (tmp_path / "TESTS-broken.xml").write_text("<testsuite")
    passed, failed, skipped = parse_junit(tmp_path)
    assert (passed, skipped) == (1, 1)
    assert failed == ["authentication/lockout: Locks", "authentication/lockout: Errors"]


def test_behave_argv_puts_every_output_in_the_run_folder_and_turns_on_one_fault(tmp_path: Path) -> None:
    selection = Selection("narrow", ("/f/authentication",), ("@auth", "not @slow"), "narrow: authentication")
    argv = behave_argv(RunRequest("lockout_never", selection, tmp_path), python="py")
    assert argv[:2] == ["py", "-c"] and "from behave.__main__ import main" in argv[2]
    assert "PERMISO_REFERENCE_FAULTS=lockout_never" in argv and "PERMISO_BASE_URL=" in argv
    assert argv[argv.index("--junit-directory") + 1] == str(tmp_path / "junit")
    assert argv[argv.index("-o") + 1] == str(tmp_path / "plain.txt")
    assert "allure" not in " ".join(argv)
    assert argv[-1] == "/f/authentication"
    tag_values = [argv[i + 1] for i, a in enumerate(argv) if a == "--tags"]
    assert tag_values == ["@auth", "not @slow"]
    clean = behave_argv(RunRequest(None, selection, tmp_path), python="py")
    assert "PERMISO_REFERENCE_FAULTS=" in clean


def test_parse_plain_failures_reads_a_run_that_was_stopped_midway(tmp_path: Path) -> None:
    from permiso_acceptance.sensitivity_behave import parse_plain_failures

    plain = tmp_path / "plain.txt"
    plain.write_text(
        "Feature: Every answer is hardened\n\n"
        "  Scenario Outline: headers -- @1.1 \n    When x ... passed in 0.01s\n    Then y ... failed in 0.00s\n"
        "  Scenario: fine\n    When x ... passed in 0.01s\n"
        "  Scenario: broken\n    When x ... error in 0.01s\n    Then z ... skipped\n"
    )
    assert parse_plain_failures(plain) == [
        "Every answer is hardened: headers -- @1.1",
        "Every answer is hardened: broken",
    ]
    assert parse_plain_failures(tmp_path / "missing.txt") == []


def test_behave_argv_puts_the_support_snapshot_first_on_the_path(tmp_path: Path) -> None:
    (tmp_path / "features" / "tokens").mkdir(parents=True)
    (tmp_path / "support").mkdir()
    selection = Selection("narrow", (str(tmp_path / "features" / "tokens"),), (), "narrow: tokens")
    argv = behave_argv(RunRequest("revoke_noop", selection, tmp_path / "run"), python="py")
    assert f"sys.path.insert(0, {str(tmp_path)!r})" in argv[2]
