"""The one-page sign-off summary as it is written out: the Markdown page a release manager reads, its JSON
twin that tools read (the baseline, the report's cause categories), and the print at the end of a run.

Why a module of its own: rendering is the longest part of the summary and changes for reasons of presentation
only; it reads a :class:`~support.lifecycle.verdict.RunSummary` and never changes its verdict. Every text
written here goes through ``support.wire.redaction.redact_text`` on the way out: the page and the JSON are
published with the run, and neither may ever leak a password or a token.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from support.lifecycle.summary_records import ERROR, FAILED, NEEDS, OTHER_DOMAIN, PASSED, SKIPPED, UNTESTED
from support.lifecycle.verdict import RunSummary

# the suite's one redaction function, never re-implemented here (no fallback: a silent no-op would leak)
from support.wire.redaction import redact_text as _redact

__all__ = ["print_to_console", "render_markdown", "to_json", "write_json", "write_summary"]


# -- cause lines --------------------------------------------------------------------------------------


def _cause_line(entry: Mapping[str, Any]) -> str:
    marks = {"new": "**NEW** ", "persisting": "persisting "}.get(str(entry.get("change")), "")
    if entry.get("waiver"):
        marks += f"({entry['waiver_state']}: waiver {_md(str(entry['waiver']))}) "
    return "- " + marks + _cause_text(entry).removeprefix("- ")


def _cause_text(entry: Mapping[str, Any]) -> str:
    defect = f" [{entry['defect']}]" if entry.get("defect") else ""
    if entry["kind"] == "rule":
        counted = "" if entry.get("counted", True) else " (not counted: SECURITY_SCAN_ENABLED=false)"
        first = f"; e.g. {entry['first']}" if entry.get("first") else ""
        return (f"- **rule**{defect} {_md(entry['cause'])}: {entry['violations']} of {entry['checked']} "
                f"answers broke it{first}{counted}")
    n = int(entry["count"])
    if entry["kind"] == "finding":
        first = f"; minimal request: {_md(entry['first'])}" if entry.get("first") else ""
        return f"- **finding**{defect} {_md(entry['cause'])}: {n} answer{'s' if n != 1 else ''}{first}"
    notes = f" ({_md('; '.join(entry['notes']))})" if entry.get("notes") else " (error)" if entry.get("error") else ""
    calls = [c.removeprefix("could not prepare: ") for c in entry.get("calls", ())]
    if calls:
        more = f"; +{len(calls) - 3} more" if len(calls) > 3 else ""
        notes += f" (refused: {_md('; '.join(calls[:3]))}{more})"
    known = " (known defect)" if entry.get("known_defect") else ""
    plural = "s" if n != 1 else ""
    first = f"; first: {_md(entry['first'])}" if entry["first"] != entry["cause"] else ""
    return f"- **{entry['kind']}**{defect} {_md(entry['cause'])}{notes}{known}: {n} scenario{plural}{first}"


# -- JSON ----------------------------------------------------------------------------------------------


def _redact_tree(value: Any) -> Any:
    """Every string of a JSON-like tree redacted, one by one: redacting the dumped JSON text instead let a
    masked form value swallow the backslash of an escaped quote after it, and the JSON no longer parsed."""
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_tree(v) for v in value]
    return value


def to_json(summary: RunSummary) -> dict[str, Any]:
    """The summary as data (``reports/signoff-summary.json``); every text redacted."""
    judged = summary.judgement()
    data = {
        "verdict": summary.verdict.removeprefix("Verdict: "),
        "release_ready": summary.release_ready,
        "not_run": summary.not_run,
        "counts": summary.counts(),
        "behave_counts": summary.behave_counts(),
        "target": summary.target,
        "causes": judged.causes,
        "signoff": judged.to_json(),
        "notes": list(summary.notes),
        "interrupted": summary.interrupted,
        "selected": summary.selected,
        "never_ran": summary.never_ran if summary.interrupted else 0,
        "scan_enabled": summary.scan_enabled,
        "require_complete_gate": summary.require_complete_gate,
        "critical_not_run": {k.removeprefix(NEEDS): n for k, n in summary.gate_gaps().items()},
        "capabilities_missing": {k: v for k, v in sorted(summary.capabilities.items()) if v},
        "skipped": [{"scenario": r.title, "reason": r.skip_reason or "", "critical": r.critical}
                    for r in summary.records if r.status in (SKIPPED, UNTESTED)],
        "rules": [{**r.as_dict(), "held": not r.broken} for r in summary.rules],
        "budgets": [{"name": b.name, "p50_ms": b.p50_ms, "p95_ms": b.p95_ms, "budget_ms": b.budget_ms,
                     "met": b.met} for b in summary.budgets],
    }
    return _redact_tree(data)


def write_json(summary: RunSummary, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# -- rendering ---------------------------------------------------------------------------------------


def render_markdown(summary: RunSummary) -> str:
    """The one-page sign-off summary as Markdown; the verdict line stands on a line of its own."""
    lines: list[str] = [f"# {summary.title}", "", summary.verdict, ""]
    if summary.not_run:
        lines += ["The run stopped before any scenario ran: nothing was checked. Fix the cause above and run",
                  "again; the results of any earlier run were removed so they cannot be mistaken for this one.",
                  ""]
        return _redact("\n".join(lines))
    judged = summary.judgement()
    lines += ["## Causes", ""]
    lines += [_cause_line(entry) for entry in judged.causes] or ["None."]
    lines.append("")
    lines += signoff_sections(judged)
    if summary.notes:
        lines += ["## Notes (not failures)", "", *(f"- {_md(note)}" for note in summary.notes), ""]
    total = {"passed": 0, "failed": 0, "skipped": 0, "known_defect": 0}
    lines += [
        "## Scenarios by domain",
        "",
        "| Domain | Passed | Failed | Skipped | Known defects |",
        "|---|---:|---:|---:|---:|",
    ]
    for domain, row in summary.domain_counts().items():
        label = f"@{domain}" if domain != OTHER_DOMAIN else "(no domain tag)"
        lines.append(
            f"| {label} | {row['passed']} | {row['failed']} | {row['skipped']} | {row['known_defect']} |"
        )
        for key in total:
            total[key] += row[key]
    lines.append(
        f"| **Total** | **{total['passed']}** | **{total['failed']}** | **{total['skipped']}** "
        f"| **{total['known_defect']}** |"
    )
    duration = sum(r.duration_s for r in summary.records)
    counts = summary.behave_counts()
    lines += ["", f"{len(summary.records)} scenarios, {duration:.1f} s of scenario time.",
              f"behave's count: {counts['passed']} passed, {counts['failed']} failed, {counts['error']} error, "
              f"{counts['skipped']} skipped ({summary.deselected} of them not selected), "
              f"{counts['untested']} untested.", ""]
    if summary.interrupted:
        if summary.never_ran:
            lines += [f"INTERRUPTED: {summary.never_ran} of {summary.selected} selected scenarios never ran.", ""]
        if summary.cut_short:
            lines += ["Cut short by the interruption (not counted as failures):", ""]
            lines += [f"- {_md(r.title)}" for r in summary.cut_short]
            lines.append("")

    lines += ["## Failed @critical scenarios", ""]
    lines += [f"- {_md(r.title)} ({r.status})" for r in summary.failed_critical] or ["None."]
    lines.append("")
    if summary.failed_other:
        lines += ["## Other failed scenarios", ""]
        lines += [f"- {_md(r.title)} ({r.status})" for r in summary.failed_other]
        lines.append("")
    if summary.waived:
        lines += ["## Failed, accepted by a waiver (not counted in the verdict)", ""]
        lines += [f"- {_md(r.title)} ({r.status})" for r in summary.waived]
        lines.append("")
    not_run = [*summary.untested_critical, *summary.skipped_critical]
    if not_run:
        lines += ["## @critical scenarios not run", ""]
        lines += [f"- {_md(r.title)}" + (f": {_md(r.skip_reason)}" if r.skip_reason else "") for r in not_run]
        lines.append("")

    if summary.rules:
        note = "" if summary.scan_enabled else " (SECURITY_SCAN_ENABLED=false: listed, not counted in the verdict)"
        lines += [f"## Run-wide rules{note}", "",
                  "| Rule | Defect | Answers checked | Broke it | Result |", "|---|---|---:|---:|---|"]
        for rule in summary.rules:
            result = "**BROKEN**" if rule.broken else "held"
            lines.append(
                f"| {_md(rule.rule)} | {rule.defect or ''} | {rule.checked} | {rule.violations} | {result} |")
        lines.append("")
        for rule in summary.broken_rules:
            lines.append(f"- {_md(rule.rule)}, e.g.:")
            lines += [f"  - {_md(example)}" for example in rule.example_lines()]
        if summary.broken_rules:
            lines.append("")

    lines += ["## Performance budgets", ""]
    if summary.budgets:
        lines += ["| Budget | p50 ms | p95 ms | Budget ms | Result |", "|---|---:|---:|---:|---|"]
        for b in summary.budgets:
            result = "met" if b.met else "**MISSED**"
            lines.append(
                f"| {_md(b.name)} | {b.p50_ms:.0f} | {b.p95_ms:.0f} | {b.budget_ms:.0f} | {result} |"
            )
    else:
        lines.append("No budgets measured in this run.")
    lines.append("")

    lines += ["## Known defects (documented; run but not counted in the verdict)", ""]
    if summary.known_defects:
        for r in summary.known_defects:
            issues = f" [{', '.join(r.issue_ids)}]" if r.issue_ids else ""
            state = {
                PASSED: _known_defect_passed_note(summary),
                FAILED: "still present",
                ERROR: "error",
            }.get(r.status, r.status)
            lines.append(f"- {_md(r.title)}{issues}: {state}")
    else:
        lines.append("None.")
    lines.append("")

    skipped = [r for r in summary.records if r.status in (SKIPPED, UNTESTED) and not r.known_defect]
    reasons: dict[str, int] = {}
    for r in skipped:
        if r.skip_reason:
            reasons[r.skip_reason] = reasons.get(r.skip_reason, 0) + 1
    if reasons:
        lines += ["## Skip reasons", ""]
        lines += [f"- {_md(reason)}: {n}" for reason, n in sorted(reasons.items())]
        lines.append("")
    return _redact("\n".join(lines))


def _known_defect_passed_note(summary: RunSummary) -> str:
    """What a passing ``@known_defect`` scenario means, said only where it tells the reader something.

    A known-defect scenario checks the contract's rule; it passes when the target keeps that rule. On
    a deployment (or the ``release-1.0`` profile, or with injected faults) a pass is news: the defect
    may be fixed and the ``@known_defect`` tag should be reviewed. The embedded reference on its clean
    ``contract`` profile has none of the documented defects by construction, so there every
    known-defect scenario passes on every clean run and the review note would be noise: it just says
    "passed".
    """
    if summary.clean_reference:
        return "passed"
    return "passed: the defect may be fixed, review the @known_defect tag"


def print_to_console(summary: RunSummary, stream: TextIO | None = None) -> None:
    """Print the page at the end of a run.

    Defaults to ``sys.__stdout__``: behave captures hook output (``capture_hooks`` is on by default)
    and drops what ``after_all`` prints, so plain ``print`` would show nothing (checked, 1.3.3).
    """
    out = stream or sys.__stdout__ or sys.stdout
    out.write("\n" + render_markdown(summary) + "\n")
    out.flush()


def write_summary(summary: RunSummary, path: Path) -> Path:
    """Write the Markdown summary and, beside it, the same as JSON (``.json``); returns the .md path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(summary), encoding="utf-8")
    write_json(summary, path.with_suffix(".json"))
    return path


def signoff_sections(judged: Any) -> list[str]:
    """The "Since the baseline" and "Waivers" sections of the summary (support/lifecycle/signoff.py)."""
    from support.lifecycle.signoff import markdown_sections

    return markdown_sections(judged, _md)


def _md(text: str) -> str:
    """Keep a scenario name from breaking a Markdown table or list."""
    return text.replace("|", "\\|").replace("\n", " ")
