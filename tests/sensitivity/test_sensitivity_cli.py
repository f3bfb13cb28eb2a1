"""`permiso-acceptance sensitivity` end to end, on a few faults with fast narrow selections."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sensitivity(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the console command from another directory (so no report lands in the checkout)."""
    argv = [sys.executable, "-c", "import sys; from permiso_acceptance.cli import main; sys.exit(main())",
            "sensitivity", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def test_a_caught_and_a_weakened_selection_escape_are_reported(tmp_path: Path) -> None:
    """http_not_redirected is caught by the TLS-front feature; lockout_never escapes @infrastructure only."""
    report = tmp_path / "sens.json"
    run = sensitivity(
        ["--faults", "lockout_never,http_not_redirected", "--tags", "@infrastructure", "--json", str(report),
         "--keep"],
        tmp_path,
    )
    out = run.stdout
    kept = Path(out.split("behave outputs kept in ")[1].splitlines()[0]) if "behave outputs kept in " in out else None
    try:
        _check_caught_and_escaped(run, out, report, kept, tmp_path)
    finally:  # --keep keeps them on purpose; nothing stays in /tmp, even when a check fails
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)


def _check_caught_and_escaped(run: subprocess.CompletedProcess[str], out: str, report: Path, kept: Path | None,
                              tmp_path: Path) -> None:
    assert run.returncode == 1, out + run.stderr
    assert out.splitlines()[-1] == "caught 1/2 faults"
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert rows["http_not_redirected"][1] == "yes"
    assert rows["lockout_never"][1] == "NO"
    assert "escaped: lockout_never" in out
    data = json.loads(report.read_text())
    verdicts = {f["fault"]: f for f in data["faults"]}
    assert verdicts["http_not_redirected"]["verdict"] == "caught"
    assert any("tls_front" in name for name in verdicts["http_not_redirected"]["failing"])
    assert verdicts["http_not_redirected"]["selection"].startswith("narrow: infrastructure/tls_front.feature")
    assert verdicts["lockout_never"]["verdict"] == "escaped"
    # The narrow selection (the lockout feature) and @infrastructure select nothing: the full suite confirms.
    assert verdicts["lockout_never"]["selection"].startswith("full suite (narrow selected nothing")
    assert data["summary"] == "caught 1/2 faults" and data["escaped"] == ["lockout_never"]
    assert report.with_suffix(".md").exists()
    # behave's own outputs went to the run folders, not to the checkout.
    assert kept is not None
    shards = sorted((kept / "baseline").iterdir())
    assert any((d / "junit").is_dir() and (d / "allure-results").is_dir() for d in shards)
    assert not (tmp_path / "allure-results").exists()


def test_all_caught_exits_zero_with_the_default_report_path(tmp_path: Path) -> None:
    run = sensitivity(
        ["--faults", "lockout_never,wrong_password_granted", "--tags", "@auth", "--tags", "@critical"], tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "caught 2/2 faults"
    data = json.loads((tmp_path / "reports" / "sensitivity" / "sensitivity.json").read_text())
    assert data["caught"] == data["total"] == 2 and data["tags"] == ["@auth", "@critical"]
    assert all(f["selection"].startswith("narrow: authentication") for f in data["faults"])


def test_an_unknown_fault_is_refused(tmp_path: Path) -> None:
    run = sensitivity(["--faults", "no_such_fault"], tmp_path, timeout=60)
    assert run.returncode == 2
    assert "unknown fault(s): no_such_fault" in run.stderr


def test_plan_lists_a_selection_for_every_fault(tmp_path: Path) -> None:
    run = sensitivity(["--plan"], tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) >= 30
    assert all(("narrow:" in line) or ("full suite" in line) for line in lines)
