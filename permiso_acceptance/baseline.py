"""``permiso-acceptance baseline``: accept a run's causes as the signed-off baseline; show and check it.

Why a command and not a hand-edited file: the baseline must be exactly what a run saw (its causes, the
target and the verdict), and it must come from a complete run; a NOT RUN or INTERRUPTED summary would
record "no causes" for scenarios that never ran. The release meeting's workflow (README):

1. run ``behave`` against the release candidate; read the verdict and the new causes;
2. accept the causes you ship with in ``signoff/waivers.toml`` (reason, who, expiry);
3. ``permiso-acceptance baseline accept`` and commit ``signoff/`` with the release.

Subcommands: ``accept`` (write the baseline from ``reports/signoff-summary.json``), ``show`` (what the
baseline holds), ``check`` (validate both files and list each waiver's expiry). Paths default to the
settings PERMISO_SIGNOFF_BASELINE and PERMISO_SIGNOFF_WAIVERS. A bad file is one line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from support.lifecycle.signoff import (
    SignoffFileError,
    baseline_from_summary,
    load_baseline,
    load_policy,
    write_baseline,
)
from support.wire.settings import Settings, SettingsError

SUMMARY_JSON = Path("reports") / "signoff-summary.json"
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="permiso-acceptance baseline",
                                     description="the signed-off baseline of causes, and the waivers")
    sub = parser.add_subparsers(dest="action", required=True)
    accept = sub.add_parser("accept", help="record the last run's causes as the signed-off baseline")
    accept.add_argument("--summary", type=Path, default=SUMMARY_JSON,
                        help=f"the run's sign-off summary (default {SUMMARY_JSON})")
    accept.add_argument("--baseline", type=Path, default=None, help="where to write it (PERMISO_SIGNOFF_BASELINE)")
    show = sub.add_parser("show", help="print what the baseline holds")
    show.add_argument("--baseline", type=Path, default=None)
    check = sub.add_parser("check", help="validate the baseline and waiver files; list each waiver's expiry")
    check.add_argument("--baseline", type=Path, default=None)
    check.add_argument("--waivers", type=Path, default=None, help="the waiver file (PERMISO_SIGNOFF_WAIVERS)")
    return parser


def _accept(summary_path: Path, baseline_path: Path, today: dt.date) -> str:
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignoffFileError(f"no run summary at {summary_path}: run behave first") from None
    except (OSError, ValueError) as exc:
        raise SignoffFileError(f"{summary_path}: not readable JSON ({exc})") from None
    if not isinstance(summary, dict):
        raise SignoffFileError(f"{summary_path}: not a sign-off summary")
    baseline = baseline_from_summary(summary, today)
    write_baseline(baseline, baseline_path)
    n = len(baseline.causes)
    return (f"baseline of {baseline.date} written to {baseline_path}: {n} cause{'s' if n != 1 else ''} from "
            f"{baseline.target} ({baseline.verdict}); commit it next to the features")


def _show(baseline_path: Path) -> str:
    baseline = load_baseline(baseline_path)
    if baseline is None:
        return f"no baseline at {baseline_path}: accept one with `permiso-acceptance baseline accept`"
    lines = [f"baseline of {baseline.date} ({baseline.target}; {baseline.verdict}): "
             f"{len(baseline.causes)} cause(s)"]
    lines += [f"  {c['key']}: {c.get('cause') or ''}" for c in baseline.causes]
    return "\n".join(lines)


def _check(baseline_path: Path, waivers_path: Path, today: dt.date) -> str:
    policy = load_policy(baseline_path, waivers_path, today=today)
    lines = [f"baseline: {policy.baseline.date + ' (' + policy.baseline.target + ')' if policy.baseline else 'none'}"]
    lines.append(f"waivers: {len(policy.waivers)} in {waivers_path}")
    for waiver in policy.waivers:
        state = "EXPIRED" if waiver.expired(today) else f"{(waiver.expires - today).days} days left"
        lines.append(f"  {waiver.describe()}: {state}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, today: dt.date | None = None) -> int:
    args = _parser().parse_args(argv)
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        settings = Settings.load()
        baseline = args.baseline or settings.permiso_signoff_baseline
        if args.action == "accept":
            print(_accept(args.summary, baseline, today))
        elif args.action == "show":
            print(_show(baseline))
        else:
            print(_check(baseline, args.waivers or settings.permiso_signoff_waivers, today))
    except (SettingsError, SignoffFileError) as exc:
        print(f"permiso-acceptance baseline: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK
