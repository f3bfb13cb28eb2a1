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

This module is the command line (its options, the faults picked, `--plan`, the printed summary and the exit
code) and reads the reference's fault list. The runs and their verdicts are in
permiso_acceptance/sensitivity_orchestration.py, one behave run in permiso_acceptance/sensitivity_behave.py,
the table, JSON and Markdown in permiso_acceptance/sensitivity_report.py.

Nothing of `permiso_reference` is imported: its fault list comes from its console command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from permiso_acceptance.fault_map import (
    DEFAULT_MAP_PATH,
    FEATURES_DIR,
    FaultMap,
    FaultMapError,
    load_fault_map,
)
from permiso_acceptance.sensitivity_behave import DEFAULT_RUN_TIMEOUT_S, snapshot_features
from permiso_acceptance.sensitivity_orchestration import run_sensitivity
from permiso_acceptance.sensitivity_report import render_table, summary_line, variants_line, write_reports

#: Where the report goes by default (relative to the working directory, like the other reports).
DEFAULT_REPORT_DIR = Path("reports") / "sensitivity"


# --------------------------------------------------------------------------- the reference's faults


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
