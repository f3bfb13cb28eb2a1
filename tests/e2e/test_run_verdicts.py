"""A run release engineers can trust at a glance: the verdict, the exit code, the summary and behave's own
numbers agree, on runs made exactly as a user makes them (the project's [tool.behave] configuration,
copied into tmp_path so every output stays there).

- the verdict decides the exit code (a broken run-wide rule alone fails the run, quietly);
- a run that stops before any scenario leaves a NOT RUN summary, never an older RELEASE-READY one;
- the verdict names the @critical scenarios that did not run, and why; PERMISO_REQUIRE_COMPLETE_GATE
  turns that gap into NOT RELEASE-READY; skipped scenarios keep their reason on the console, in JUnit and
  in Allure;
- Ctrl-C gives INTERRUPTED, with how many selected scenarios never ran, and a non-zero exit;
- the summary's counts are behave's counts;
- the console is quiet by default (one Target line, the settings only with PERMISO_VERBOSE=true).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ROOT, clean_env, read_until
from tests.e2e.test_console_and_results import project

TRACEBACK = "Traceback (most recent call last)"
#: no engine there, whatever the machine has: the @needs.docker scenarios are skipped for a stated reason
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/permiso-e2e/docker.sock"}
HEALTH = str(ROOT / "features/infrastructure/health.feature")
CONTAINERS = str(ROOT / "features/infrastructure/containers.feature")
LOGIN = str(ROOT / "features/authentication/login.feature")
BEHAVE_LINE = re.compile(r"^(\d+) scenarios? passed, (.*)$", re.M)
#: behave's finer statuses as the summary's behave_counts() folds them
BEHAVE_KINDS = {"failed": "failed", "error": "error", "hook_error": "error", "cleanup_error": "error",
                "skipped": "skipped", "untested": "untested", "untested_pending": "untested",
                "untested_undefined": "untested", "undefined": "error", "pending": "error"}


def run(workdir: Path, args: list[str], env: dict[str, str] | None = None, timeout: float = 300
        ) -> tuple[int, str]:
    run_env = clean_env({"PYTHONPATH": str(ROOT), **(env or {})})
    proc = subprocess.run([sys.executable, "-m", "behave", *args], cwd=workdir, env=run_env, capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def summary_of(workdir: Path) -> tuple[str, dict[str, Any]]:
    md = workdir / "reports" / "signoff-summary.md"
    return md.read_text(encoding="utf-8"), json.loads(md.with_suffix(".json").read_text(encoding="utf-8"))


def verdict_line(page: str) -> str:
    lines = page.splitlines()
    assert lines[0] == "# Permiso acceptance: release sign-off", lines[:3]
    return lines[2]


def behave_counts(output: str) -> dict[str, int]:
    """behave's "N scenarios passed, M failed, [E error|hook_error, ]K skipped[, U untested]" line, folded."""
    found = BEHAVE_LINE.findall(output)
    assert found, output[-2000:]
    passed, rest = found[-1]
    counts = {"passed": int(passed), "failed": 0, "error": 0, "skipped": 0, "untested": 0}
    for number, kind in re.findall(r"(\d+) (\w+)", rest):
        counts[BEHAVE_KINDS[kind]] += int(number)
    return counts


# ------------------------------------------------------------------------------------- verdict and exit code
def test_a_broken_run_wide_rule_alone_fails_the_run_without_failing_a_scenario(tmp_path: Path) -> None:
    code, output = run(project(tmp_path), [LOGIN], env={"PERMISO_REFERENCE_FAULTS": "missing_www_authenticate"})
    page, data = summary_of(tmp_path)
    assert verdict_line(page).startswith("Verdict: NOT RELEASE-READY (1 run-wide rule broken"), page[:500]
    assert code == 1, output[-3000:]
    assert behave_counts(output)["failed"] == 0, "no unrelated scenario fails for a run-wide rule"
    assert "HOOK-ERROR" not in output and TRACEBACK not in output, output[-3000:]
    assert data["release_ready"] is False and data["verdict"].startswith("NOT RELEASE-READY")


# ------------------------------------------------------------------- gate gaps, skipped scenarios, the counts
def test_the_verdict_names_the_critical_scenarios_not_run_and_the_counts_are_behaves(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    code, output = run(workdir, ["--tags=@critical", HEALTH, CONTAINERS], env=NO_DOCKER)
    page, data = summary_of(workdir)
    verdict = verdict_line(page)
    assert re.fullmatch(r"Verdict: RELEASE-READY — (\d+) @critical scenarios? not run: \1 needs? docker", verdict), \
        verdict
    assert code == 0, output[-3000:]
    assert verdict in output, "the verdict is printed at the end of the run"
    assert data["critical_not_run"] == {"docker": int(verdict.split("— ")[1].split()[0])}
    # (5) the summary's numbers are behave's: its "skipped" also counts the scenarios --tags left out
    behave = behave_counts(output)
    assert {k: data["behave_counts"][k] for k in behave} == behave, (data["behave_counts"], behave)
    counts = data["counts"]
    assert counts["passed"] == behave["passed"] and counts["failed"] == behave["failed"]
    assert counts["skipped"] + counts["not_selected"] == behave["skipped"]
    assert counts["total"] + counts["not_selected"] == sum(behave.values())
    assert counts["not_selected"] > 0 and counts["skipped"] > 0
    # (3) the skip reason on the console, in JUnit and in Allure
    reason_lines = [line for line in output.splitlines() if line.strip().startswith("skipped: needs docker:")]
    assert len(reason_lines) == counts["skipped"], output[:3000]
    junit = ET.parse(workdir / "reports" / "junit" / "TESTS-infrastructure.containers.xml").getroot()
    skipped = [case for case in junit.iter("testcase") if case.find("skipped") is not None]
    assert len(skipped) == counts["skipped"]
    assert all(case.find("skipped").get("message", "").startswith("needs docker:") for case in skipped)
    assert junit.get("skipped") == str(counts["skipped"])
    results = [json.loads(p.read_text()) for p in (workdir / "allure-results").glob("*-result.json")]
    allure_skipped = [r for r in results if r["status"] == "skipped"]
    assert len(allure_skipped) == counts["skipped"], [r["name"] for r in results]
    assert all(r["statusDetails"]["message"].startswith("needs docker:") for r in allure_skipped)
    # (6) quiet by default: one Target line, no settings dump, each capability line once
    assert sum(line.startswith("Target: ") for line in output.splitlines()) == 1
    assert "PERMISO_API_BASE" not in output, "the settings are listed only with PERMISO_VERBOSE=true"
    assert sum(line.startswith("Capability docker: missing") for line in output.splitlines()) == 1
    assert "PERMISO_API_BASE" in (workdir / "allure-results" / "environment.properties").read_text()


def test_a_complete_gate_is_required_when_asked(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    code, output = run(workdir, ["--tags=@critical", CONTAINERS, HEALTH],
                       env={**NO_DOCKER, "PERMISO_REQUIRE_COMPLETE_GATE": "true", "PERMISO_VERBOSE": "true"})
    page, data = summary_of(workdir)
    verdict = verdict_line(page)
    assert verdict.startswith("Verdict: NOT RELEASE-READY (") and "@critical scenario" in verdict, verdict
    assert "need" in verdict and "docker" in verdict and "PERMISO_REQUIRE_COMPLETE_GATE" in verdict
    assert code == 1, output[-3000:]
    assert "HOOK-ERROR" not in output
    assert "PERMISO_API_BASE" in output, "PERMISO_VERBOSE=true lists the settings"
    assert data["require_complete_gate"] is True


# ------------------------------------------------------------------------------------- runs that never start
def test_a_misspelled_tag_after_a_green_run_leaves_no_release_ready_summary(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    code, output = run(workdir, ["--tags=@critical", HEALTH])
    assert code == 0, output[-3000:]
    assert verdict_line(summary_of(workdir)[0]).startswith("Verdict: RELEASE-READY")
    assert list((workdir / "reports" / "junit").glob("TESTS-infrastructure.*.xml"))
    code, output = run(workdir, ["--tags=@critcal", HEALTH], timeout=60)
    assert code == 2, output
    page, data = summary_of(workdir)
    assert verdict_line(page).startswith("Verdict: NOT RUN (no scenario matched"), page
    assert "RELEASE-READY" not in page
    assert data["verdict"].startswith("NOT RUN (") and data["release_ready"] is False
    assert data["not_run"] and data["counts"]["total"] == 0
    assert not list((workdir / "reports" / "junit").glob("TESTS-*.xml")), "the green run's JUnit files are gone"
    assert not list((workdir / "allure-results").glob("*-result.json")), "the green run's results are gone"


def test_a_bad_setting_leaves_a_not_run_summary(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    code, output = run(workdir, ["--tags=@critical", "-D", "PERMISO_PERF_SAMPLES=abc", HEALTH], timeout=60)
    assert code == 2, output
    page, data = summary_of(workdir)
    assert verdict_line(page) == ("Verdict: NOT RUN (setting PERMISO_PERF_SAMPLES=abc (from -D) is not a whole "
                                  "number)"), page
    assert data["verdict"].startswith("NOT RUN (setting PERMISO_PERF_SAMPLES=abc")


def test_an_unreachable_target_leaves_a_not_run_summary(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    code, output = run(workdir, ["--tags=@critical", HEALTH], env={"PERMISO_BASE_URL": "https://127.0.0.1:9"},
                       timeout=60)
    assert code == 2, output
    page, data = summary_of(workdir)
    assert verdict_line(page).startswith("Verdict: NOT RUN (") and "127.0.0.1:9" in verdict_line(page)
    assert data["verdict"].startswith("NOT RUN (")


# ------------------------------------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_mid_run_says_interrupted_and_fails(tmp_path: Path) -> None:
    workdir = project(tmp_path / "project")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env({"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)})
    proc = subprocess.Popen([sys.executable, "-m", "behave", "--no-color", "--tags=not @slow"], cwd=workdir,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        # three scenarios have finished (a fourth has begun): the run is well under way
        head = read_until(proc, lambda out: len(re.findall(r"^\s+Scenario", out, re.M)) >= 4, timeout=120)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = head + rest
    assert proc.returncode != 0, output[-3000:]
    page, data = summary_of(workdir)
    verdict = verdict_line(page)
    match = re.match(r"Verdict: INTERRUPTED \((\d+) of (\d+) selected scenarios never ran", verdict)
    assert match, verdict
    never, selected = int(match[1]), int(match[2])
    assert 0 < never < selected
    assert data["interrupted"] is True and data["never_ran"] == never and data["selected"] == selected
    assert data["release_ready"] is False and data["verdict"].startswith("INTERRUPTED (")
    assert verdict in output, "the verdict is printed at the end of the run"
    counted = behave_counts(output)  # behave's line: the cut-short scenario is an error, the rest untested
    assert {k: data["behave_counts"][k] for k in counted} == counted, (data["behave_counts"], counted)
    assert counted["untested"] == never
    time.sleep(0.5)  # cleanup ran: the embedded server is stopped and left nothing behind
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("permiso-")]
