"""`permiso-acceptance sensitivity`: prove by a number that the suite catches the defects it exists for.

The number is the share of the reference Permiso's injectable faults that make at least one scenario
fail, measured with the clean reference server all green:

1. The suite runs once against a clean embedded reference server. It must be all green; otherwise the
   run stops and says which scenarios failed (a red baseline would make every fault look caught).
2. For each fault (default: every fault `permiso-reference faults` lists) the suite runs again as its own
   `behave` subprocess, which starts its own embedded server on free ports with only that fault on
   (`-D PERMISO_REFERENCE_FAULTS=<fault>`). Up to `--jobs` runs go in parallel.
3. Each fault runs the selection `features/fault_map.toml` decides for it (permiso_acceptance/fault_map.py): feature
   folders/files that can observe it, or the full suite. A narrow selection only saves time: when a fault
   escapes it, the full suite runs against that fault before the fault is called escaped.
   An entry may name settings the target needs for its fault to be observable at all (`settings = {...}`,
   e.g. an auth rate limit on the embedded server): the fault's runs get them as `-D NAME=value`, and a
   clean control run with the same settings and selection must be green before a failing scenario counts
   as a catch (otherwise the fault is an ERROR, with the control's reason): the settings alone must not be
   what turns the suite red.
4. The table (fault, caught, failing scenarios, selection used) is printed, the same is written as JSON
   (and Markdown) under `reports/sensitivity/`, and the last line is `caught N/M faults`. The exit code is
   0 only when every fault was caught and every acceptable variant tolerated.
5. Acceptable variants (map entries with `acceptable = true`, kind `variant` in `permiso-reference faults`)
   are behaviours of the current release the contract allows. They are run the same way but as "must stay
   green" checks: `tolerated` when every selected scenario passes, `NOT TOLERATED` when one fails (the suite
   asserts more than the contract promises). They are not faults: the `caught N/M faults` count leaves
   them out, and a line `tolerated K/V acceptable variants` comes just before it.

Every behave run works in a temporary directory (its cwd), so nothing is written into the repository's
`allure-results/`, `reports/junit/` or sign-off summary, and no `.env` of the checkout is read: the
number means the same on every machine. `--tags` narrows the baseline and every fault run alike.

Nothing of `permiso_reference` is imported: its fault list comes from its console command.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from permiso_acceptance.fault_map import (
    DEFAULT_MAP_PATH,
    FEATURES_DIR,
    FaultMap,
    FaultMapError,
    Selection,
    full_selection,
    load_fault_map,
)

#: Where the report goes by default (relative to the working directory, like the other reports).
DEFAULT_REPORT_DIR = Path("reports") / "sensitivity"
#: A single fault run may take this long before it is stopped; what failed until then still counts.
DEFAULT_RUN_TIMEOUT_S = 240.0
#: A baseline shard runs a big part of the suite: it gets this many times the fault-run timeout.
BASELINE_TIMEOUT_FACTOR = 4.0
#: What `support.lifecycle.run` prints when a selection picks no scenario (kept in one place there).
NOTHING_SELECTED_MARKER = "no scenario matched"
#: Feature folders whose scenarios judge response times: in the baseline they run alone, not beside a shard.
SOLO_DOMAINS = ("performance",)
#: How many failing scenarios the table names before "(+N more)".
TABLE_SCENARIOS = 2


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


@dataclass
class FaultResult:
    """The verdict for one fault, with the selection that decided it and every run it took.

    `verdict` is "caught" (a scenario failed), "escaped" (every selected scenario passed) or "error" (the
    runs ended badly twice without a failing scenario; counted as not caught).
    """

    fault: str
    description: str
    caught: bool
    failing: list[str]
    selection: str
    selection_kind: str
    note: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = "pending"
    #: Settings the fault's runs (and their clean control) used, from the fault map.
    settings: dict[str, str] = field(default_factory=dict)
    #: An acceptable variant: verdict "tolerated" / "not tolerated" / "error" instead of caught/escaped.
    acceptable: bool = False

    @property
    def tolerated(self) -> bool:
        """An acceptable variant with which every selected scenario stayed green."""
        return self.acceptable and self.verdict == "tolerated"


@dataclass
class Report:
    """Everything one sensitivity run found."""

    started_at: str
    jobs: int
    tags: list[str]
    baseline: dict[str, Any]
    results: list[FaultResult] = field(default_factory=list)
    seconds: float = 0.0
    baseline_green: bool = True

    @property
    def faults(self) -> list[FaultResult]:
        """The results of faults (acceptable variants left out)."""
        return [r for r in self.results if not r.acceptable]

    @property
    def variants(self) -> list[FaultResult]:
        """The results of acceptable variants ("must stay green" checks)."""
        return [r for r in self.results if r.acceptable]

    @property
    def caught(self) -> int:
        return sum(1 for r in self.faults if r.caught)

    @property
    def total(self) -> int:
        return len(self.faults)

    @property
    def tolerated(self) -> int:
        return sum(1 for r in self.variants if r.tolerated)

    @property
    def escaped(self) -> list[FaultResult]:
        """Faults not caught (escaped or errored); variants are never in here."""
        return [r for r in self.faults if not r.caught]

    @property
    def not_tolerated(self) -> list[FaultResult]:
        """Acceptable variants that turned a scenario red (or whose runs ended badly)."""
        return [r for r in self.variants if not r.tolerated]


# ------------------------------------------------------------------------------ running behave


def reference_faults(python: str = sys.executable) -> dict[str, str]:
    """The reference server's faults (name -> description), from `permiso-reference faults`."""
    argv = [python, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())", "faults"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"`permiso-reference faults` failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return parse_fault_list(proc.stdout)


#: The kinds `permiso-reference faults` shows between name and description.
KINDS = ("fault", "variant")


def _fault_line(line: str) -> tuple[str, str, str]:
    """(name, kind, description) of one `name  [kind  ]description` line; kind "fault" when not shown."""
    name, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    first, _, remainder = rest.partition(" ")
    if first in KINDS and remainder.startswith(" "):  # the kind column is followed by 2+ spaces
        return name, first, remainder.strip()
    return name, "fault", rest


def parse_fault_list(text: str) -> dict[str, str]:
    """Parse `permiso-reference faults` output: one `name  [kind  ]description` per line -> descriptions."""
    return {name: description for name, _, description in
            (_fault_line(line) for line in text.splitlines() if line.strip())}


def parse_fault_kinds(text: str) -> dict[str, str]:
    """Parse `permiso-reference faults` output -> name: kind ("fault" or "variant")."""
    return {name: kind for name, kind, _ in (_fault_line(line) for line in text.splitlines() if line.strip())}


def reference_kinds(python: str = sys.executable) -> dict[str, str]:
    """The kind of each of the reference's behaviours, from `permiso-reference faults`."""
    argv = [python, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())", "faults"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"`permiso-reference faults` failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return parse_fault_kinds(proc.stdout)


def behave_argv(request: RunRequest, python: str = sys.executable) -> list[str]:
    """The behave command line for one run; all outputs go below the request's workdir."""
    # The snapshot of support/ (beside the features snapshot, see snapshot_suite) comes first on sys.path.
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


# ------------------------------------------------------------------------------- orchestration


def _run_record(selection: Selection, outcome: RunOutcome, shards: int = 1, *, control: bool = False,
                settings: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "selection": selection.label,
        "control": control,
        "settings": dict(settings),
        "kind": selection.kind,
        "tags": list(selection.tags),
        "shards": shards,
        "seconds": round(outcome.seconds, 2),
        "passed": outcome.passed,
        "failed": list(outcome.failed),
        "skipped": outcome.skipped,
        "nothing_selected": outcome.nothing_selected,
        "problem": outcome.problem,
        "returncode": outcome.returncode,
    }


def feature_files(features_dir: Path) -> list[Path]:
    """Every feature file of the suite, sorted."""
    return sorted(p for p in features_dir.rglob("*.feature") if "steps" not in p.relative_to(features_dir).parts)


def feature_key(features_dir: Path, path: Path) -> str:
    """`authentication/lockout` for features/authentication/lockout.feature (the names JUnit reports use)."""
    return path.relative_to(features_dir).with_suffix("").as_posix()


def estimated_seconds(path: Path) -> float:
    """A rough cost of one feature file before anything was measured: its scenarios and example rows."""
    scenarios, rows, in_examples = 0, 0, False
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line.startswith(("Scenario Outline:", "Scenario Template:")):
            in_examples = False  # an outline runs once per example row, counted below
        elif line.startswith("Scenario:"):
            scenarios += 1
            in_examples = False
        elif line.startswith(("Examples:", "Scenarios:")):
            in_examples, rows = True, rows - 1  # the header row is not a scenario
        elif in_examples and line.startswith("|"):
            rows += 1
        elif line and not line.startswith(("|", "#", "@")):
            in_examples = False
    return 0.5 * max(1, scenarios + max(rows, 0))


def split_selection(selection: Selection, files: Sequence[Path], weights: dict[Path, float], parts: int
                    ) -> list[Selection]:
    """Split a selection over `files` into at most `parts` shards of similar cost (longest first)."""
    if parts <= 1 or len(files) <= 1:
        return [Selection(selection.kind, tuple(str(f) for f in files) or selection.paths, selection.tags,
                          selection.label, selection.reason, selection.dropped)]
    bins: list[tuple[float, list[Path]]] = [(0.0, []) for _ in range(min(parts, len(files)))]
    for path in sorted(files, key=lambda f: -weights.get(f, 1.0)):
        load, members = min(bins, key=lambda b: b[0])
        bins.remove((load, members))
        bins.append((load + weights.get(path, 1.0), [*members, path]))
    return [
        Selection(selection.kind, tuple(str(f) for f in sorted(members)), selection.tags, selection.label,
                  selection.reason, selection.dropped)
        for _, members in bins if members
    ]


def merge_outcomes(outcomes: Sequence[RunOutcome]) -> RunOutcome:
    """One outcome for the shards of one selection (wall time = the slowest shard)."""
    ran = [o for o in outcomes if not o.nothing_selected]
    merged = RunOutcome(
        returncode=max((o.returncode for o in ran if o.returncode is not None), default=0)
        if all(o.returncode is not None for o in ran) else None,
        seconds=max((o.seconds for o in outcomes), default=0.0),
        passed=sum(o.passed for o in outcomes),
        failed=[name for o in outcomes for name in o.failed],
        skipped=sum(o.skipped for o in outcomes),
        nothing_selected=not ran,
        problem=next((o.problem for o in ran if o.problem), None),
        feature_seconds={k: v for o in outcomes for k, v in o.feature_seconds.items()},
    )
    if merged.nothing_selected:
        merged.returncode = outcomes[0].returncode if outcomes else 1
    return merged


@dataclass
class _Group:
    """The shards of one selection run for one fault (or the baseline), collected until all are done."""

    fault: str | None
    selection: Selection
    attempt: int
    outstanding: int
    subset: Sequence[Path] | None = None
    outcomes: list[RunOutcome] = field(default_factory=list)
    #: True for the clean control of a fault with map settings (fault off, same settings and selection).
    control: bool = False
    settings: tuple[tuple[str, str], ...] = ()


def _control_key(selection: Selection, subset: Sequence[Path] | None) -> tuple[Any, ...]:
    """What a clean control must match to vouch for a fault run: the same selection (and file subset)."""
    return (selection.label, selection.paths, selection.tags, tuple(subset) if subset is not None else None)


def control_problem(outcome: RunOutcome) -> str | None:
    """None when a clean control run is green; else why it cannot vouch for the fault's failures."""
    if outcome.green:
        return None
    if outcome.failed:
        return (f"the clean control with the same settings failed too ({len(outcome.failed)}: "
                f"{'; '.join(outcome.failed[:TABLE_SCENARIOS])})")
    if outcome.nothing_selected:
        return "the clean control with the same settings selected no scenario"
    return f"the clean control with the same settings did not complete ({outcome.problem or 'no reason'})"


def run_sensitivity(
    faults: dict[str, str],
    fault_map: FaultMap,
    *,
    jobs: int,
    tags: Sequence[str] = (),
    workroot: Path,
    runner: Runner = run_behave,
    features_dir: Path = FEATURES_DIR,
    timeout_s: float = DEFAULT_RUN_TIMEOUT_S,
    progress: Callable[[str], None] = lambda line: None,
    acceptable: Iterable[str] = (),
) -> Report:
    """Baseline, then every fault (narrow first, the rest of the suite to confirm an escape).

    Full-suite runs (the baseline, a fault without a narrow selection, the confirmation of an escape) are
    split into up to `jobs` shards of whole feature files, each its own behave run with its own server,
    so they use every core; a confirmation only runs the feature files its narrow run did not cover
    (those already passed with the fault on).

    Acceptable variants (`acceptable`, plus every map entry with `acceptable = true`) run their selection
    once as a "must stay green" check: verdict "tolerated" or "not tolerated" (or "error"), no confirmation.
    """
    variants = set(acceptable) | {f for f in faults if fault_map.acceptable(f)}
    started = time.monotonic()
    report = Report(datetime.now(UTC).isoformat(timespec="seconds"), jobs, list(tags), {})
    files = feature_files(features_dir)
    weights: dict[Path, float] = {f: estimated_seconds(f) for f in files}
    counter = iter(range(1_000_000))

    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: dict[cf.Future[RunOutcome], _Group] = {}

        def submit(fault: str | None, selection: Selection, attempt: int = 0,
                   subset: Sequence[Path] | None = None, parts: int = jobs, *, control_for: str | None = None
                   ) -> _Group:
            """Submit the shards of one selection: for `fault`, the baseline (None), or a clean control
            (`control_for` = the fault whose map settings it runs with, fault off)."""
            owner = control_for or fault
            settings = fault_map.settings(owner) if owner else ()
            limit = timeout_s * (BASELINE_TIMEOUT_FACTOR if owner is None else 1.0)
            shards = (
                split_selection(selection, subset if subset is not None else files, weights, parts)
                if selection.is_full and files else [selection]
            )
            group = _Group(owner, selection, attempt, len(shards), subset, control=control_for is not None,
                           settings=settings)
            for shard in shards:
                kind = f"control-{selection.kind}" if group.control else selection.kind
                workdir = workroot / (owner or "baseline") / f"{kind}-{next(counter)}"
                request = RunRequest(None if group.control else fault, shard, workdir, limit, settings)
                pending[pool.submit(runner, request)] = group
            return group

        def finished_groups() -> list[tuple[_Group, RunOutcome]]:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            out = []
            for future in done:
                group = pending.pop(future)
                group.outcomes.append(future.result())
                group.outstanding -= 1
                if group.outstanding == 0:
                    out.append((group, merge_outcomes(group.outcomes)))
            return out

        progress("baseline: the suite against the clean reference server ...")
        baseline_sel = full_selection(features_dir, tags, reason="clean baseline")
        # Response-time budgets are judged on an otherwise idle machine: those features run on their own,
        # after the parallel shards of the rest.
        solo = [f for f in files if f.relative_to(features_dir).parts[0] in SOLO_DOMAINS]
        parts: list[RunOutcome] = []
        for subset, shards in (([f for f in files if f not in solo], jobs), (solo, 1)):
            if not subset and files:
                continue
            submit(None, baseline_sel, subset=subset if files else None, parts=shards)
            while pending:
                parts += [outcome for _, outcome in finished_groups()]
            if not files:
                break
        baseline = merge_outcomes(parts)
        baseline.seconds = time.monotonic() - started
        report.baseline = _run_record(baseline_sel, baseline, min(jobs, max(1, len(files))))
        report.baseline["feature_seconds"] = dict(sorted(baseline.feature_seconds.items()))
        report.baseline_green = baseline.green
        progress(
            f"baseline: {baseline.passed} passed, {len(baseline.failed)} failed, {baseline.skipped} skipped "
            f"in {baseline.seconds:.1f} s"
        )
        if not baseline.green:
            report.seconds = time.monotonic() - started
            return report
        for f in files:  # measured step time from now on, plus the hooks' share (per scenario)
            weights[f] += baseline.feature_seconds.get(feature_key(features_dir, f), 0.0)

        results: dict[str, FaultResult] = {}
        first_selection: dict[str, Selection] = {}
        total = len(faults)
        plans = {f: fault_map.selection(f, features_dir=features_dir, extra_tags=tags) for f in faults}
        # Clean controls of faults with map settings, by (fault, selection): None while running.
        controls: dict[tuple[str, tuple[Any, ...]], RunOutcome | None] = {}
        # Fault runs whose verdict waits for their control: (fault, key) -> [(group, outcome)].
        parked: dict[tuple[str, tuple[Any, ...]], list[tuple[_Group, RunOutcome]]] = {}

        def request_control(fault: str, selection: Selection, subset: Sequence[Path] | None) -> None:
            """Run the clean control for this fault's selection once (same settings, fault off)."""
            key = (fault, _control_key(selection, subset))
            if key not in controls:
                controls[key] = None
                submit(None, selection, 0, subset, control_for=fault)

        # Longest runs first (full suite), so the pool drains evenly.
        for fault in sorted(faults, key=lambda f: (not plans[f].is_full, f)):
            first_selection[fault] = plans[fault]
            results[fault] = FaultResult(fault, faults[fault], False, [], plans[fault].label, plans[fault].kind,
                                         settings=dict(fault_map.settings(fault)), acceptable=fault in variants)
            submit(fault, plans[fault])
            if fault_map.settings(fault):  # in parallel with the fault's run: the verdict needs both
                request_control(fault, plans[fault], None)

        def decide(group: _Group, outcome: RunOutcome) -> None:
            """Turn a finished fault run into a verdict, or the next run it needs (retry, confirmation)."""
            fault, selection, attempt = str(group.fault), group.selection, group.attempt
            result = results[fault]
            if outcome.problem and not outcome.failed and attempt == 0:
                # A run that could not complete is retried once before it counts (a port race, a hiccup).
                submit(fault, selection, attempt + 1, group.subset)
                return
            if group.settings:
                # A catch (or an error) with map settings only counts once the clean control with the same
                # settings and selection was green; an escape waits for a control already under way.
                key = (fault, _control_key(selection, group.subset))
                if outcome.red or outcome.problem or key in controls:
                    request_control(fault, selection, group.subset)
                    control = controls[key]
                    if control is None:
                        parked.setdefault(key, []).append((group, outcome))
                        return
                    reason = control_problem(control)
                    if reason:
                        result.caught, result.verdict = False, "error"
                        result.selection, result.selection_kind = selection.label, selection.kind
                        result.failing = list(outcome.failed)
                        result.note = reason
                        report_progress(fault, result, outcome)
                        return
            if result.acceptable:
                # A "must stay green" check: any failing scenario means the suite refuses an allowed answer.
                result.caught = False
                result.selection, result.selection_kind = selection.label, selection.kind
                result.failing = list(outcome.failed)
                if outcome.red:
                    result.verdict = "not tolerated"
                    result.note = outcome.problem or ""
                elif outcome.problem:
                    result.verdict, result.note = "error", outcome.problem
                else:
                    result.verdict = "tolerated"
                    if outcome.nothing_selected:
                        result.note = "the selection picked no scenario"
                report_progress(fault, result, outcome)
                return
            if outcome.red:
                result.caught, result.verdict = True, "caught"
                result.failing = list(outcome.failed)
                result.selection, result.selection_kind = selection.label, selection.kind
                if outcome.problem:
                    result.note = outcome.problem
            elif outcome.problem:
                result.caught, result.verdict = False, "error"
                result.selection, result.selection_kind = selection.label, selection.kind
                result.note = outcome.problem
            elif not selection.is_full:
                why = "selected nothing" if outcome.nothing_selected else "escaped"
                covered = {Path(p) for p in selection.paths}
                rest = [f for f in files if not any(f == c or c in f.parents for c in covered)]
                confirm = full_selection(features_dir, tags, reason=f"narrow selection {why}")
                confirm = Selection(
                    "full", confirm.paths, confirm.tags,
                    f"full suite (narrow {why}: {selection.label.removeprefix('narrow: ')})", confirm.reason,
                )
                if rest:
                    submit(fault, confirm, 0, rest)
                    return
                result.caught, result.verdict = False, "escaped"
                result.selection, result.selection_kind = confirm.label, confirm.kind
            else:
                result.caught, result.verdict = False, "escaped"
                result.selection, result.selection_kind = selection.label, selection.kind
                if selection.reason and first_selection[fault].is_full:
                    result.selection = f"full suite ({selection.reason})"
                if outcome.nothing_selected:
                    result.note = "the selection picked no scenario"
            report_progress(fault, result, outcome)

        def report_progress(fault: str, result: FaultResult, outcome: RunOutcome) -> None:
            busy = {g.fault for g in pending.values()} | {k[0] for k in parked}
            finished = sum(1 for f, r in results.items() if r.runs and f not in busy)
            progress(
                f"[{finished}/{total}] {fault}: {result.verdict} "
                f"({result.selection}, {outcome.seconds:.1f} s)"
            )

        while pending:
            for group, outcome in finished_groups():
                fault = str(group.fault)
                results[fault].runs.append(_run_record(group.selection, outcome, len(group.outcomes),
                                                       control=group.control, settings=group.settings))
                if not group.control:
                    decide(group, outcome)
                    continue
                key = (fault, _control_key(group.selection, group.subset))
                if outcome.problem and not outcome.failed and group.attempt == 0:
                    submit(None, group.selection, 1, group.subset, control_for=fault)  # one retry, as above
                    continue
                controls[key] = outcome
                for waiting in parked.pop(key, []):
                    decide(*waiting)
    report.results = [results[f] for f in sorted(results)]
    report.seconds = time.monotonic() - started
    return report


# ----------------------------------------------------------------------------------- rendering


def summary_line(report: Report) -> str:
    """The last line of every sensitivity run."""
    return f"caught {report.caught}/{report.total} faults"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def failing_cell(failing: Sequence[str], shown: int = TABLE_SCENARIOS, width: int = 60) -> str:
    """`<count>: first; second (+N more)`, or `-` when nothing failed."""
    if not failing:
        return "-"
    names = "; ".join(_short(name, width) for name in failing[:shown])
    more = f" (+{len(failing) - shown} more)" if len(failing) > shown else ""
    return f"{len(failing)}: {names}{more}"


def _caught_cell(result: FaultResult) -> str:
    if result.acceptable:
        return {"tolerated": "tolerated", "not tolerated": "NOT TOLERATED"}.get(result.verdict, "ERROR")
    return "yes" if result.caught else ("ERROR" if result.verdict == "error" else "NO")


def variants_line(report: Report) -> str | None:
    """`tolerated K/V acceptable variants`, or None when no variant ran."""
    if not report.variants:
        return None
    return f"tolerated {report.tolerated}/{len(report.variants)} acceptable variants"


def selection_cell(result: FaultResult) -> str:
    """The selection used, with the map settings the fault's runs needed (`... with NAME=value`)."""
    if not result.settings:
        return result.selection
    return result.selection + " with " + ", ".join(f"{k}={v}" for k, v in result.settings.items())


def render_table(report: Report) -> str:
    """The plain-text table: fault, caught, failing scenarios (first few + count), selection used."""
    header = ("fault", "caught", "failing scenarios", "selection")
    rows = [
        (r.fault, _caught_cell(r), failing_cell(r.failing) + (f" [{r.note}]" if r.note else ""), selection_cell(r))
        for r in report.results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(3)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[3]))
    return "\n".join(line.rstrip() for line in lines)


def render_markdown(report: Report) -> str:
    """The same table in Markdown (for the README), with the summary line."""
    lines = ["| fault | caught | failing scenarios | selection |", "|---|---|---|---|"]
    for r in report.results:
        cell = failing_cell(r.failing, width=80).replace("|", "\\|")
        lines.append(f"| `{r.fault}` | {_caught_cell(r)} | {cell} | {selection_cell(r).replace('|', '/')} |")
    lines.append("")
    if variants_line(report):
        lines.append(f"{variants_line(report)} (must stay green; not counted as faults)  ")
    lines += [f"{summary_line(report)} (wall time {report.seconds:.0f} s, {report.jobs} jobs)"]
    return "\n".join(lines) + "\n"


def report_json(report: Report) -> dict[str, Any]:
    """The JSON form of the report (what is written under reports/sensitivity/)."""
    return {
        "started_at": report.started_at,
        "seconds": round(report.seconds, 1),
        "jobs": report.jobs,
        "tags": report.tags,
        "baseline_green": report.baseline_green,
        "baseline": report.baseline,
        "caught": report.caught,
        "total": report.total,
        "summary": summary_line(report),
        "escaped": [r.fault for r in report.results if r.verdict == "escaped"],
        "errors": [r.fault for r in report.results if r.verdict == "error"],
        "variants": len(report.variants),
        "tolerated": report.tolerated,
        "not_tolerated": [r.fault for r in report.not_tolerated],
        "faults": [asdict(r) for r in report.results],
    }


def write_reports(report: Report, json_path: Path) -> None:
    """Write the JSON report and a Markdown table beside it."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report_json(report), indent=2) + "\n", encoding="utf-8")
    json_path.with_suffix(".md").write_text(render_markdown(report), encoding="utf-8")


# ----------------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="permiso-acceptance sensitivity",
        description="Run the suite once per injected fault of the reference Permiso; print caught N/M faults.",
    )
    parser.add_argument("--faults", default="", help="comma-separated fault names (default: all faults)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs (default: cores)")
    parser.add_argument("--tags", action="append", default=[], metavar="EXPR",
                        help="behave tag expression narrowing every run, the baseline included (repeatable: AND)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help=f"JSON report path (default: {DEFAULT_REPORT_DIR}/sensitivity.json)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_RUN_TIMEOUT_S, help="seconds per behave run")
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP_PATH, help="fault map (TOML)")
    parser.add_argument("--keep", action="store_true", help="keep every run's behave output and say where")
    parser.add_argument("--plan", action="store_true", help="only print the selection each fault would use")
    return parser


def _pick_faults(requested: str, available: dict[str, str]) -> dict[str, str]:
    if not requested.strip():
        return dict(available)
    names = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)} (see `permiso-reference faults`)")
    return {n: available[n] for n in names}


def _print_plan(faults: Iterable[str], fault_map: FaultMap, tags: Sequence[str],
                variants: Iterable[str] = ()) -> None:
    must_stay_green = set(variants)
    for fault in faults:
        sel = fault_map.selection(fault, extra_tags=tags)
        dropped = f"  (not there yet: {', '.join(sel.dropped)})" if sel.dropped else ""
        reason = f" ({sel.reason})" if sel.is_full and sel.reason else ""
        kind = " [acceptable variant: must stay green]" if fault in must_stay_green else ""
        print(f"{fault:<32} {sel.label}{reason}{dropped}{kind}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `permiso-acceptance sensitivity`; returns the exit code."""
    args = _parser().parse_args(list(argv or []))
    try:
        fault_map = load_fault_map(args.map)
        available = reference_faults()
        kinds = reference_kinds()
        faults = _pick_faults(args.faults, available)
    except (FaultMapError, ValueError, RuntimeError, OSError) as exc:
        print(f"permiso-acceptance sensitivity: {exc}", file=sys.stderr)
        return 2
    tags = [t for t in args.tags if t.strip()]
    undecided = fault_map.missing(available)
    if undecided:
        print(f"note: no decision in {args.map.name} for {', '.join(undecided)}: the full suite runs for them",
              file=sys.stderr)
    variants = {f for f in faults if kinds.get(f) == "variant" or fault_map.acceptable(f)}
    unmarked = sorted(f for f in variants if not fault_map.acceptable(f))
    if unmarked:
        print(f"note: {', '.join(unmarked)} {'is a variant' if len(unmarked) == 1 else 'are variants'} of the "
              f"reference without `acceptable = true` in {args.map.name}: run as must-stay-green checks",
              file=sys.stderr)
    if args.plan:
        _print_plan(faults, fault_map, tags, variants)
        return 0

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    keep_dir = Path(tempfile.mkdtemp(prefix="permiso-sensitivity-")) if args.keep else None
    if keep_dir:  # said at once: a run that stops early (a red baseline) keeps them too
        print(f"behave outputs kept in {keep_dir}", flush=True)
    with tempfile.TemporaryDirectory(prefix="permiso-sensitivity-") as tmp:
        workroot = keep_dir or Path(tmp)
        features = snapshot_features(FEATURES_DIR, workroot)
        report = run_sensitivity(
            faults, fault_map, jobs=args.jobs, tags=tags, workroot=workroot, timeout_s=args.timeout,
            features_dir=features, progress=progress, acceptable=variants,
        )
    json_path = args.json or (DEFAULT_REPORT_DIR / "sensitivity.json")
    if not report.baseline_green:
        base = report.baseline
        problem = base.get("problem") or ("no scenario selected" if base.get("nothing_selected") else "")
        print("The suite is not green against the clean reference server; the sensitivity cannot be measured.")
        for name in base.get("failed", []):
            print(f"  failed: {name}")
        if problem:
            print(f"  {problem}")
        print(f"baseline: {base.get('passed', 0)} passed, {len(base.get('failed', []))} failed")
        print("sensitivity not measured: the clean baseline is red")
        return 2
    write_reports(report, json_path)
    print(render_table(report))
    print()
    print(f"baseline: {report.baseline['passed']} scenarios green against the clean server "
          f"({report.baseline['seconds']:.1f} s); tags: {' AND '.join(tags) if tags else 'none'}")
    print(f"wall time: {report.seconds:.1f} s with {args.jobs} parallel jobs; report: {json_path}")
    escaped = [r.fault for r in report.faults if r.verdict == "escaped"]
    errors = [r.fault for r in report.faults if r.verdict == "error"]
    if escaped:
        print("escaped: " + ", ".join(escaped))
    if errors:
        print("errors (runs ended without a failing scenario, counted as not caught): " + ", ".join(errors))
    if report.not_tolerated:
        print("NOT TOLERATED (acceptable variants the suite fails on): "
              + ", ".join(f"{r.fault} ({r.verdict})" for r in report.not_tolerated))
    if variants_line(report):
        print(variants_line(report))
    print(summary_line(report))
    return 0 if not report.escaped and not report.not_tolerated else 1
