"""One behave run of `permiso-acceptance sensitivity`: its command line, the subprocess, and what it showed.

A run is a `RunRequest` (which fault is on, what it selects, its folder) turned into a `RunOutcome` (passed,
failing scenarios, a problem such as a timeout) by `run_behave`: behave as a subprocess with its own embedded
reference server, read back from its JUnit files, its plain output and its sign-off summary. The snapshot of
the suite every run sees (`snapshot_features`) is here too, because `behave_argv` is what puts it on
`sys.path`.

A module of its own because it is the only part of the sensitivity that starts processes and reads behave's
files: the orchestration (permiso_acceptance/sensitivity_orchestration.py) only calls a `Runner`, so its
tests drive it with fake runners and never start behave, and this module knows nothing of verdicts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from permiso_acceptance.fault_map import Selection

#: A single fault run may take this long before it is stopped; what failed until then still counts.
DEFAULT_RUN_TIMEOUT_S = 240.0
#: What the run prints when a selection picks no scenario (support.lifecycle.selection NOTHING_SELECTED).
NOTHING_SELECTED_MARKER = "no scenario matched"


# ----------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class RunRequest:
    """One behave run: which fault is on (None = clean server), what it selects, where its outputs go."""

    fault: str | None
    selection: Selection
    workdir: Path
    timeout_s: float = DEFAULT_RUN_TIMEOUT_S
    #: Suite settings (NAME, value) this run needs, from the fault map; passed as `-D NAME=value`.
    settings: tuple[tuple[str, str], ...] = ()


@dataclass
class RunOutcome:
    """What one behave run showed.

    `failed` names the scenarios that failed or errored ("<feature file>: <scenario>"); `problem` is set
    when the run ended badly without a failing scenario (aborted before the scenarios, timed out);
    `nothing_selected` when the selection picked no scenario at all.
    """

    returncode: int | None
    seconds: float
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    nothing_selected: bool = False
    problem: str | None = None
    feature_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def green(self) -> bool:
        """Everything selected ran and passed (a clean baseline)."""
        return self.returncode == 0 and not self.failed and self.problem is None and not self.nothing_selected

    @property
    def red(self) -> bool:
        """The run noticed the fault: at least one scenario failed.

        A run that ended badly without a failing scenario (the suite did not load, the target did not
        start, a timeout) proves nothing about the fault: it is an error, never a catch.
        """
        return bool(self.failed)


Runner = Callable[[RunRequest], RunOutcome]


# ------------------------------------------------------------------------------ running behave



def behave_argv(request: RunRequest, python: str = sys.executable) -> list[str]:
    """The behave command line for one run; all outputs go below the request's workdir."""
    # The snapshot of support/ (beside the features snapshot, see snapshot_features) comes first on sys.path.
    suite_root = Path(request.selection.paths[0]).resolve() if request.selection.paths else None
    while suite_root is not None and suite_root.name != "features" and suite_root != suite_root.parent:
        suite_root = suite_root.parent
    prelude = "import sys; "
    if suite_root is not None and (suite_root.parent / "support").is_dir():
        prelude += f"sys.path.insert(0, {str(suite_root.parent)!r}); "
    argv = [
        python, "-c", prelude + "from behave.__main__ import main; sys.exit(main(sys.argv[1:]))", "--no-color",
        "-f", "plain", "-o", str(request.workdir / "plain.txt"),
        "--junit", "--junit-directory", str(request.workdir / "junit"),
        # Always the embedded reference server, whatever the caller's environment points at.
        "-D", "PERMISO_BASE_URL=", "-D", "PERMISO_HTTP_URL=",
        "-D", f"PERMISO_REFERENCE_FAULTS={request.fault or ''}",
        # The clean contract underneath every fault, whatever profile the caller's environment names.
        "-D", "PERMISO_REFERENCE_PROFILE=contract",
    ]
    for name, value in request.settings:  # the map's settings for this fault (and its clean control)
        argv += ["-D", f"{name}={value}"]
    for tags in request.selection.tags:
        argv += ["--tags", tags]
    argv += list(request.selection.paths)
    return argv


def parse_junit(junit_dir: Path) -> tuple[int, list[str], int]:
    """(passed, failed scenario names, skipped) from behave's JUnit files in junit_dir."""
    passed, skipped, failed = 0, 0, []
    for path in sorted(junit_dir.glob("*.xml")):
        feature = path.stem.removeprefix("TESTS-").replace(".", "/")
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        for case in root.iter("testcase"):
            name = f"{feature}: {case.get('name', '?')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(name)
            elif case.find("skipped") is not None or case.get("status") in {"skipped", "untested"}:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def parse_plain_failures(plain_path: Path) -> list[str]:
    """Failed scenarios ("<feature name>: <scenario>") from behave's plain output, as far as it got.

    Used when a run was stopped before behave wrote its JUnit files (a hang after a failed step, e.g. in
    a reporting hook): a scenario whose step reported "failed" did fail, whatever happened after.
    """
    try:
        text = plain_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    failed: list[str] = []
    feature, scenario = "?", None
    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("Feature:"):
            feature = line.removeprefix("Feature:").strip()
        elif line.startswith(("Scenario:", "Scenario Outline:", "Scenario Template:")):
            scenario = line.split(":", 1)[1].strip()
        elif scenario and (" ... failed" in line or " ... error" in line):
            name = f"{feature}: {scenario}"
            if name not in failed:
                failed.append(name)
    return failed


def junit_feature_seconds(junit_dir: Path) -> dict[str, float]:
    """Seconds per feature file (`authentication/lockout` -> 4.2) from behave's JUnit files."""
    seconds: dict[str, float] = {}
    for path in sorted(junit_dir.glob("*.xml")):
        try:
            value = float(ET.parse(path).getroot().get("time") or 0.0)
        except (ET.ParseError, ValueError):
            continue
        seconds[path.stem.removeprefix("TESTS-").replace(".", "/")] = value
    return seconds


def _last_words(text: str) -> str:
    """The line that best says why a run ended badly: our own one-line message, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("permiso-acceptance:"):
            return line.removeprefix("permiso-acceptance:").strip()
    return lines[-1] if lines else "no output"


def run_behave(request: RunRequest) -> RunOutcome:
    """Run behave as a subprocess in request.workdir (its cwd) and read what it reports."""
    request.workdir.mkdir(parents=True, exist_ok=True)
    log_path = request.workdir / "behave.log"
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            behave_argv(request), cwd=request.workdir, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            returncode: int | None = proc.wait(timeout=request.timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            returncode = None
    seconds = time.monotonic() - started
    output = log_path.read_text(encoding="utf-8", errors="replace")
    passed, failed, skipped = parse_junit(request.workdir / "junit")
    outcome = RunOutcome(returncode, seconds, passed, failed, skipped,
                         feature_seconds=junit_feature_seconds(request.workdir / "junit"))
    if returncode is None:
        outcome.problem = f"timed out after {request.timeout_s:.0f} s"
        if not outcome.failed:
            outcome.failed = parse_plain_failures(request.workdir / "plain.txt")
    elif NOTHING_SELECTED_MARKER in output and not failed and passed == 0:
        outcome.nothing_selected = True
    elif returncode == 1 and not failed and _all_skipped(request.workdir):
        # Every selected scenario was skipped for a missing capability: behave exits 1 because the verdict
        # is "NOT RELEASE-READY (no scenario ran)" (support/lifecycle/run.py: exit code and verdict agree), but for
        # the sensitivity such a run checked nothing and broke nothing, as before that rule.
        outcome.returncode = 0
    elif returncode != 0 and not failed:
        outcome.problem = f"run ended with exit code {returncode}: {_last_words(output)}"
    return outcome


def _all_skipped(workdir: Path) -> bool:
    """The run's sign-off summary says only that no scenario ran: nothing failed, broke or was cut short."""
    try:
        data = json.loads((workdir / "reports" / "signoff-summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    counts = data.get("counts", {})
    verdict = str(data.get("verdict", "")).split(" — ")[0]  # the tail names @critical scenarios not run
    return (verdict == "NOT RELEASE-READY (no scenario ran)" and not data.get("interrupted")
            and counts.get("failed") == 0 and counts.get("errors") == 0 and counts.get("passed") == 0)


def snapshot_features(source: Path, workroot: Path) -> Path:
    """Copy `features/`, `support/` and top-level modules (locustfile.py) once: every run sees one suite.

    Others may edit the checkout while a sensitivity run is going on; without the snapshot, runs minutes
    apart could measure different suites (or a half-saved module) and count the breakage as a catch.
    Each behave run puts the snapshot's folder first on `sys.path` (behave_argv), so its steps import the
    snapshot of `support/`.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest = workroot / "features"
    shutil.copytree(source, dest, ignore=ignore)
    support_dir = Path(__file__).resolve().parents[1] / "support"
    shutil.copytree(support_dir, workroot / "support", ignore=ignore)
    for module in support_dir.parent.glob("*.py"):  # top-level files support/ locates beside itself
        shutil.copy2(module, workroot / module.name)
    return dest


def _stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a timed-out behave run: SIGTERM (its hooks stop its server), then SIGKILL of the group."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=10)
