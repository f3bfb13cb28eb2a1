"""What a load showed: Locust's statistics read back into per-step and per-journey figures, and the verdict.

Why a module of its own: :mod:`support.domains.load` prepares, starts and watches Locust (the account pool,
the private config file, the subprocess); this module only reads what Locust wrote (``--json-file`` and
``--csv``) and judges it against the budgets (failure ratio, each step's p95 against its
``PERF_*_THRESHOLD_MS``). It needs neither Locust nor a target, so the reading and the verdict can be
tested on a written statistics file alone. :class:`LoadError` is here because reading Locust's output
raises it too, and the engine imports this module, never the reverse.
"""

from __future__ import annotations

import contextlib
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.domains.perf import (
    JOURNEYS,
    budget_env_name,
    budget_ms,
    histogram_percentile,
    merge_histograms,
    step_for,
)
from support.wire import redaction
from support.wire.settings import Settings

#: the failure ratio a load may show at most (the issue: "at or under 1 %")
MAX_FAILURE_RATIO = 0.01


class LoadError(Exception):
    """The load could not run (target, administrator, pool, Locust); one readable line."""


# --------------------------------------------------------------------------------------- results
@dataclass
class StepResult:
    """Figures of one named request (``"<journey>: <step>"``) over the whole load."""

    name: str
    journey: str
    budget_class: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max_ms: float
    budget_ms: float
    histogram: dict[float, int] = field(default_factory=dict, repr=False)

    @property
    def within_budget(self) -> bool:
        return self.requests == 0 or self.p95 <= self.budget_ms


@dataclass
class JourneyResult:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


@dataclass
class LoadResult:
    """What a load showed, and whether it passed."""

    users: int
    spawn_rate: float
    duration_s: int
    target: str
    embedded: bool
    mode: str
    steps: list[StepResult]
    journeys: list[JourneyResult]
    total_requests: int
    total_failures: int
    elapsed_s: float
    failure_reasons: list[tuple[str, str, int]] = field(default_factory=list)  # (name, reason, count)
    exceptions: list[tuple[str, int]] = field(default_factory=list)  # (message, count)
    reports: list[Path] = field(default_factory=list)
    max_failure_ratio: float = MAX_FAILURE_RATIO
    cleanup_problem: str | None = None

    @property
    def total_rps(self) -> float:
        return self.total_requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def failure_ratio(self) -> float:
        return self.total_failures / self.total_requests if self.total_requests else 0.0

    @property
    def front_rejections(self) -> int:
        return sum(count for _, reason, count in self.failure_reasons if "from the front" in reason)

    @property
    def budget_breaches(self) -> list[StepResult]:
        return [s for s in self.steps if not s.within_budget]

    def problems(self) -> list[str]:
        """Every reason the load fails, one line each (empty = passed)."""
        reasons: list[str] = []
        if self.total_requests == 0:
            reasons.append("no request was made")
        if self.failure_ratio > self.max_failure_ratio:
            reasons.append(f"failure ratio {self.failure_ratio:.2%} is over {self.max_failure_ratio:.0%} "
                           f"({self.total_failures} of {self.total_requests} requests)")
        for step in self.budget_breaches:
            reasons.append(f"{step.name}: p95 {step.p95:.0f} ms is over the {step.budget_class} budget of "
                           f"{step.budget_ms:.0f} ms ({budget_env_name(step.budget_class)})")
        for message, count in self.exceptions:
            reasons.append(f"locustfile raised {count}x: {message}")
        return reasons

    @property
    def passed(self) -> bool:
        return not self.problems()

    def render(self) -> str:
        """The summary printed at the end of a load (no secret can be in it: names and numbers only)."""
        lines = [
            "",
            f"Load summary ({self.mode}): {self.users} users, spawn rate {self.spawn_rate:g}/s, "
            f"{self.duration_s} s against {self.target}",
            f"Total: {self.total_requests} requests in {self.elapsed_s:.1f} s = {self.total_rps:.1f} rps; "
            f"failures {self.total_failures} ({self.failure_ratio:.2%}, "
            f"allowed <= {self.max_failure_ratio:.0%})",
            "",
            _table(
                ["journey", "requests", "req/s", "fail %", "p50 ms", "p95 ms", "p99 ms"],
                [[j.name, str(j.requests), f"{j.rps:.1f}", f"{_ratio(j.failures, j.requests):.2%}",
                  f"{j.p50:.0f}", f"{j.p95:.0f}", f"{j.p99:.0f}"] for j in self.journeys],
            ),
            "",
            _table(
                ["step", "class", "requests", "req/s", "fail", "p50 ms", "p95 ms", "p99 ms", "max ms",
                 "budget ms", "p95 verdict"],
                [[s.name, s.budget_class, str(s.requests), f"{s.rps:.1f}", str(s.failures), f"{s.p50:.0f}",
                  f"{s.p95:.0f}", f"{s.p99:.0f}", f"{s.max_ms:.0f}", f"{s.budget_ms:.0f}",
                  "within" if s.within_budget else "OVER"] for s in self.steps],
            ),
        ]
        if self.failure_reasons:
            lines += ["", "Failures by reason:"]
            lines += [f"  {count:>6}  {name}: {reason}" for name, reason, count in self.failure_reasons[:12]]
        if self.front_rejections:
            lines += ["", f"{self.front_rejections} failures were 503 pages from the deployment's front: its "
                          "per-IP rate limit (auth 5 r/s, API 10 r/s) is speaking, not the service failing. "
                          "Spread the load over several worker machines to measure the service itself."]
        elif not self.embedded:
            lines += ["", "No 503 from the deployment's front: the load stayed under its per-IP rate limits."]
        if self.cleanup_problem:
            lines += ["", f"Pool cleanup problem: {self.cleanup_problem}"]
        if self.reports:
            lines += ["", "Reports: " + ", ".join(str(p) for p in self.reports)]
        problems = self.problems()
        lines += ["", "Verdict: PASSED" if not problems else "Verdict: FAILED"]
        lines += [f"  - {p}" for p in problems]
        return redaction.redact_text("\n".join(lines))


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    out = []
    for n, row in enumerate([header, *rows]):
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# --------------------------------------------------------------------------------------- parsing
def parse_locust_results(json_path: Path, csv_prefix: Path, settings: Settings) -> dict[str, Any]:
    """Steps, journeys, totals and failure reasons from Locust's ``--json-file`` and ``--csv`` output."""
    try:
        entries = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoadError(
            f"Locust wrote no readable statistics at {json_path} ({type(exc).__name__})") from None
    if not isinstance(entries, list):
        raise LoadError(f"unexpected Locust statistics format in {json_path}")
    starts = [float(e["start_time"]) for e in entries if e.get("num_requests")]
    ends = [float(e["last_request_timestamp"]) for e in entries if e.get("num_requests")
            and e.get("last_request_timestamp")]
    elapsed = (max(ends) - min(starts)) if starts and ends else 0.0
    elapsed = max(elapsed, 1e-9) if starts else 0.0

    steps: list[StepResult] = []
    for entry in sorted(entries, key=lambda e: _step_order(str(e.get("name")))):
        name = str(entry.get("name"))
        requests = int(entry.get("num_requests", 0))
        histogram = {float(k): int(v) for k, v in (entry.get("response_times") or {}).items()}
        info = step_for(name)
        steps.append(StepResult(
            name=name, journey=info.journey, budget_class=info.budget_class, requests=requests,
            failures=int(entry.get("num_failures", 0)),
            rps=requests / elapsed if elapsed else 0.0,
            p50=_pct(histogram, 0.50), p95=_pct(histogram, 0.95), p99=_pct(histogram, 0.99),
            max_ms=float(entry.get("max_response_time") or 0.0),
            budget_ms=budget_ms(settings, info.budget_class), histogram=histogram,
        ))
    journeys: list[JourneyResult] = []
    for journey in [*JOURNEYS, *sorted({s.journey for s in steps} - set(JOURNEYS))]:
        members = [s for s in steps if s.journey == journey]
        if not members:
            continue
        merged = merge_histograms(s.histogram for s in members)
        requests = sum(s.requests for s in members)
        journeys.append(JourneyResult(
            name=journey, requests=requests, failures=sum(s.failures for s in members),
            rps=requests / elapsed if elapsed else 0.0,
            p50=_pct(merged, 0.50), p95=_pct(merged, 0.95), p99=_pct(merged, 0.99),
        ))
    return {
        "steps": steps,
        "journeys": journeys,
        "total_requests": sum(s.requests for s in steps),
        "total_failures": sum(s.failures for s in steps),
        "elapsed_s": elapsed,
        "failure_reasons": _failure_reasons(Path(f"{csv_prefix}_failures.csv")),
        "exceptions": _exceptions(Path(f"{csv_prefix}_exceptions.csv")),
    }


def _step_order(name: str) -> tuple[int, str]:
    from support.domains.perf import JOURNEY_STEPS

    order = {s.name: i for i, s in enumerate(JOURNEY_STEPS)}
    return order.get(name, len(order)), name


def _pct(histogram: dict[float, int], fraction: float) -> float:
    return histogram_percentile(histogram, fraction) if histogram else 0.0


def _read_csv(path: Path) -> list[dict[str, str]]:
    with contextlib.suppress(OSError), path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
    return []


def _failure_reasons(path: Path) -> list[tuple[str, str, int]]:
    rows = [(r.get("Name", ""), redaction.redact_text(r.get("Error", "")), int(r.get("Occurrences") or 0))
            for r in _read_csv(path)]
    return sorted(rows, key=lambda r: -r[2])


def _exceptions(path: Path) -> list[tuple[str, int]]:
    rows = [(redaction.redact_text(" ".join(r.get("Message", "").split()))[:200], int(r.get("Count") or 0))
            for r in _read_csv(path)]
    return [r for r in rows if r[1] > 0]

