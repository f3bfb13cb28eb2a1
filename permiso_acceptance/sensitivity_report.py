"""What `permiso-acceptance sensitivity` found, and how it is shown: the verdict per fault (`FaultResult`),
the whole `Report`, the plain-text table, the Markdown and JSON written under `reports/sensitivity/`, and the
last line `caught N/M faults`.

A module of its own because the output (the table, the JSON and Markdown kept as a record, the summary line)
depends only on the results, not on how the runs were planned or made: the orchestration
(permiso_acceptance/sensitivity_orchestration.py) fills a `Report`, the command line prints it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: How many failing scenarios the table names before "(+N more)".
TABLE_SCENARIOS = 2


# ----------------------------------------------------------------------------------------- data


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
