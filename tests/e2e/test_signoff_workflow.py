"""The release meeting's workflow, run for real (issue: sign-off that knows what changed).

A clean ``@critical`` run is accepted as the baseline with ``permiso-acceptance baseline accept``; a run
with the ``refresh_reuse`` fault then says "1 new cause" in its verdict and lists it as new; a waiver with
a future expiry makes that same run RELEASE-READY (exit 0) with the waiver shown; the same waiver expired
makes it NOT RELEASE-READY (exit 1) naming the waiver; a malformed waiver file stops the run before it
starts with one line and exit 2. Every file lives in tmp_path (the project's configuration copied there).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, clean_env
from tests.e2e.test_console_and_results import project
from tests.e2e.test_run_verdicts import NO_DOCKER, TRACEBACK, run
from tests.front.test_nginx_front import _short_output_dir

GATE = ["--tags=@critical"]
FAULT = {**NO_DOCKER, "PERMISO_REFERENCE_FAULTS": "refresh_reuse"}
WAIVER = """
[[waiver]]
id = "refresh-reuse"
scenarios = ["{scenario}"]
reason = "fixed in 1.0.1"
accepted_by = "Jane Doe"
expires = {expires}
"""


def verdict_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("Verdict: "))


def summary(workdir: Path) -> dict:
    return json.loads((workdir / "reports" / "signoff-summary.json").read_text(encoding="utf-8"))


def test_new_causes_since_the_baseline_and_waivers_that_expire(tmp_path: Path) -> None:
    work = project(tmp_path / "project")
    code, out = run(work, GATE, env=NO_DOCKER)
    assert code == 0, out[-3000:]
    accept = subprocess.run([sys.executable, "-m", "permiso_acceptance.cli", "baseline", "accept"], cwd=work, text=True,
                            capture_output=True, env=clean_env({"PYTHONPATH": str(ROOT)}), check=False)
    assert accept.returncode == 0, accept.stderr
    baseline = json.loads((work / "signoff" / "baseline.json").read_text(encoding="utf-8"))
    assert baseline["verdict"].startswith("RELEASE-READY") and baseline["causes"] == []
    assert baseline["target"] == "embedded reference Permiso (profile contract)"

    code, out = run(work, GATE, env=FAULT)
    line = verdict_line(out)
    assert code == 1 and line.startswith("Verdict: NOT RELEASE-READY (1 new cause since the baseline of "), line
    new = summary(work)["signoff"]["new"]
    assert len(new) == 1 and "refresh" in new[0].lower(), new
    cause = next(c for c in summary(work)["causes"] if c["change"] == "new")
    scenario = cause["scenarios"][0].split(" › ", 1)[1]

    waivers = work / "signoff" / "waivers.toml"
    waivers.write_text(WAIVER.format(scenario=scenario, expires="2099-12-31"), encoding="utf-8")
    code, out = run(work, GATE, env=FAULT)
    line = verdict_line(out)
    assert code == 0, out[-3000:]
    assert line.startswith("Verdict: RELEASE-READY") and "1 cause accepted by waiver (refresh-reuse)" in line, line
    assert "- **accepted** refresh-reuse (" in out
    assert "1 failed" in out  # the scenario did fail: behave, Allure and JUnit still say so
    props = (work / "allure-results" / "environment.properties").read_text(encoding="utf-8")
    assert "signoff.waiver.refresh-reuse=accepted (until 2099-12-31" in props

    waivers.write_text(WAIVER.format(scenario=scenario, expires="2026-01-01"), encoding="utf-8")
    code, out = run(work, GATE, env=FAULT)
    line = verdict_line(out)
    assert code == 1 and line.startswith("Verdict: NOT RELEASE-READY ("), line
    assert "waiver refresh-reuse expired (it held until 2026-01-01)" in line

    waivers.write_text(WAIVER.format(scenario=scenario, expires='"31/12/2099"'), encoding="utf-8")
    code, out = run(work, GATE, env=FAULT)
    assert code == 2, out[-2000:]
    assert "expires '31/12/2099' is not a date (write YYYY-MM-DD)" in out and TRACEBACK not in out
    assert summary(work)["verdict"].startswith("NOT RUN (waivers ")


def test_behavex_exit_code_follows_the_verdict_with_a_waiver(tmp_path: Path) -> None:
    """Under behavex each worker reports ``context.failed``: an accepted failure must not set it either."""
    behavex = shutil.which("behavex", path=str(Path(sys.executable).parent)) or shutil.which("behavex")
    if behavex is None:
        pytest.skip("behavex is not installed (pip install -e '.[test]')")
    (tmp_path / "pyproject.toml").write_text('[tool.behave]\nformat = ["plain"]\nshow_skipped = false\n')
    env = clean_env({**FAULT, "PYTHONPATH": str(ROOT)})
    argv = [behavex, "--parallel-processes", "2", "--parallel-scheme", "feature", "-o", _short_output_dir(),
            "-t", "@critical", str(ROOT / "features" / "tokens"), str(ROOT / "features" / "infrastructure")]

    def behavex_run() -> tuple[int, str]:
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    code, out = behavex_run()
    assert code == 1 and "Verdict: NOT RELEASE-READY (1 @critical scenario failed)" in out, out[-3000:]
    scenario = next(c for c in summary(tmp_path)["causes"])["scenarios"][0].split(" › ", 1)[1]
    (tmp_path / "signoff").mkdir()
    (tmp_path / "signoff" / "waivers.toml").write_text(WAIVER.format(scenario=scenario, expires="2099-12-31"),
                                                       encoding="utf-8")
    code, out = behavex_run()
    assert code == 0, out[-3000:]
    assert "Verdict: RELEASE-READY" in out and "accepted by waiver (refresh-reuse)" in out
