"""The runs of `permiso-acceptance sensitivity` and their verdicts: the clean baseline, each fault's selection
from the fault map, shards over the cores, one retry of a run that ended badly, the clean control of a fault
with map settings, the full-suite confirmation of an escape, and the verdict per fault.

A module of its own because these decisions (what runs next, when a fault is caught, escaped or an error)
are the heart of the number and depend on nothing but a `Runner`: one behave run is made in
permiso_acceptance/sensitivity_behave.py, the results are shown by permiso_acceptance/sensitivity_report.py,
so the tests here drive `run_sensitivity` with fake runners, without starting behave.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from permiso_acceptance.fault_map import FEATURES_DIR, FaultMap, Selection, full_selection
from permiso_acceptance.sensitivity_behave import DEFAULT_RUN_TIMEOUT_S, Runner, RunOutcome, RunRequest, run_behave
from permiso_acceptance.sensitivity_report import TABLE_SCENARIOS, FaultResult, Report

#: A baseline shard runs a big part of the suite: it gets this many times the fault-run timeout.
BASELINE_TIMEOUT_FACTOR = 4.0
#: Feature folders whose scenarios judge response times: in the baseline they run alone, not beside a shard.
SOLO_DOMAINS = ("performance",)


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
