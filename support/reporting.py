"""Release sign-off reporting: the one-page summary, redacted evidence in Allure, and run metadata.

Why this module exists: release sign-off happens on the Allure dashboard and on a one-page summary.
Both must tell a release manager, without reading code, what failed by domain and severity, why, and
whether the build may ship -- and neither may ever leak a password or a token. Everything that turns a
run into evidence lives here so that ``features/environment.py`` only has to call it:

- :class:`RunSummary` collects one record per scenario (and the performance budgets) and renders the
  Markdown sign-off page with a verdict line (``Verdict: RELEASE-READY`` or
  ``Verdict: NOT RELEASE-READY (<why>)``).
- :func:`attach_exchanges` / :func:`attach_timings` put the scenario's HTTP evidence into the Allure
  result as readable text. ``Exchange.render()`` is already redacted; the text goes through
  ``support.redaction.redact_text`` once more on the way out, because an attachment is the one place
  where a missed secret would be published to everyone who opens the report.
- :func:`write_run_metadata` writes ``environment.properties`` and ``executor.json`` into the results
  folder, which the Allure 3 report shows as the run's environment.

The module knows nothing of behave internals: statuses and tags arrive as plain strings (anything with
a ``.name`` such as behave's ``Status`` enum is accepted too).
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import allure
import allure_commons
from allure_commons.model2 import Label, Parameter

__all__ = [
    "DOMAIN_EPICS",
    "DOMAIN_TAGS",
    "BudgetRecord",
    "RunSummary",
    "ScenarioRecord",
    "apply_domain_labels",
    "attach_exchanges",
    "attach_timings",
    "format_properties",
    "set_parameter",
    "write_run_metadata",
]

#: The domain tags of design.md section 4, in the order the summary lists them.
DOMAIN_TAGS: tuple[str, ...] = (
    "infrastructure",
    "auth",
    "tokens",
    "service_clients",
    "admin",
    "security",
    "performance",
)
OTHER_DOMAIN = "other"
#: Allure epic shown for each domain tag (the report's top-level grouping).
DOMAIN_EPICS: dict[str, str] = {
    "infrastructure": "Infrastructure",
    "auth": "Authentication",
    "tokens": "Tokens",
    "service_clients": "Service clients",
    "admin": "Administration",
    "security": "Security",
    "performance": "Performance",
}

PASSED, FAILED, SKIPPED, ERROR, UNTESTED = "passed", "failed", "skipped", "error", "untested"
_FAILING = frozenset({FAILED, ERROR})


class RenderableExchange(Protocol):
    """What the reporting functions need of ``support.client.Exchange`` (duck typing keeps tests light)."""

    method: str
    url: str
    status: int | None
    elapsed_ms: float

    def render(self) -> str: ...


def _redact(text: str) -> str:
    """Mask secrets with the suite's one redaction function (no fallback: a silent no-op would leak)."""
    from support.redaction import redact_text

    return redact_text(text)


def _redact_url(url: str) -> str:
    from support.redaction import redact_url

    return redact_url(url)


def _tag_name(tag: str) -> str:
    return tag[1:] if tag.startswith("@") else tag


#: behave's finer statuses folded into the five the summary counts
_STATUS_ALIASES = {
    "hook_error": ERROR,
    "cleanup_error": ERROR,
    "undefined": ERROR,
    "pending": ERROR,
    "pending_warn": ERROR,
    "broken": ERROR,
    "xfailed": PASSED,
    "xpassed": FAILED,
    "untested_pending": UNTESTED,
    "untested_undefined": UNTESTED,
    "unknown": UNTESTED,
    "executing": UNTESTED,
}


def _status_name(status: Any) -> str:
    """``passed``, ``failed``, ``skipped``, ``error`` or ``untested`` from a str or a behave Status."""
    name = str(getattr(status, "name", status)).lower()
    return _STATUS_ALIASES.get(name, name)


@dataclass(frozen=True)
class ScenarioRecord:
    """One scenario's outcome as the summary sees it."""

    feature: str
    scenario: str
    tags: frozenset[str]
    status: str
    duration_s: float
    skip_reason: str | None = None

    @property
    def domain(self) -> str:
        for domain in DOMAIN_TAGS:
            if domain in self.tags:
                return domain
        return OTHER_DOMAIN

    @property
    def critical(self) -> bool:
        return "critical" in self.tags

    @property
    def known_defect(self) -> bool:
        return "known_defect" in self.tags

    @property
    def issue_ids(self) -> list[str]:
        return sorted(t.split(":", 1)[1] for t in self.tags if t.startswith("allure.issue:"))

    @property
    def title(self) -> str:
        return f"{self.feature} › {self.scenario}"


@dataclass(frozen=True)
class BudgetRecord:
    """A response-time budget measured by a performance step: met when p95 stays within budget."""

    name: str
    p50_ms: float
    p95_ms: float
    budget_ms: float

    @property
    def met(self) -> bool:
        return self.p95_ms <= self.budget_ms


@dataclass
class RunSummary:
    """Collects scenario outcomes and budgets during a run; renders the one-page sign-off summary.

    The verdict is RELEASE-READY only when at least one scenario ran, no scenario failed or errored
    (known defects excepted: they are documented, still run, and are listed apart), no ``@critical``
    scenario was left untested, and every recorded performance budget was met.
    """

    title: str = "Permiso acceptance: release sign-off"
    records: list[ScenarioRecord] = field(default_factory=list)
    budgets: list[BudgetRecord] = field(default_factory=list)

    def record(
        self,
        feature_name: str,
        feature_tags: Iterable[str],
        scenario_name: str,
        scenario_tags: Iterable[str],
        status: str,
        duration_s: float,
        skip_reason: str | None = None,
    ) -> ScenarioRecord:
        """Record one scenario; tags may be given with or without the leading ``@``."""
        tags = frozenset(_tag_name(t) for t in (*feature_tags, *scenario_tags))
        rec = ScenarioRecord(
            feature=feature_name,
            scenario=scenario_name,
            tags=tags,
            status=_status_name(status),
            duration_s=float(duration_s),
            skip_reason=skip_reason,
        )
        self.records.append(rec)
        return rec

    def record_budget(self, name: str, p50_ms: float, p95_ms: float, budget_ms: float) -> BudgetRecord:
        """Record a response-time budget (performance steps call this once per measured endpoint)."""
        budget = BudgetRecord(name, float(p50_ms), float(p95_ms), float(budget_ms))
        self.budgets.append(budget)
        return budget

    # -- derived views -------------------------------------------------------------------------------

    @property
    def _counted(self) -> list[ScenarioRecord]:
        return [r for r in self.records if not r.known_defect]

    @property
    def failed_critical(self) -> list[ScenarioRecord]:
        return [r for r in self._counted if r.critical and r.status in _FAILING]

    @property
    def failed_other(self) -> list[ScenarioRecord]:
        return [r for r in self._counted if not r.critical and r.status in _FAILING]

    @property
    def untested_critical(self) -> list[ScenarioRecord]:
        return [r for r in self._counted if r.critical and r.status == UNTESTED]

    @property
    def known_defects(self) -> list[ScenarioRecord]:
        return [r for r in self.records if r.known_defect]

    @property
    def missed_budgets(self) -> list[BudgetRecord]:
        return [b for b in self.budgets if not b.met]

    @property
    def executed(self) -> int:
        return sum(1 for r in self.records if r.status not in (SKIPPED, UNTESTED))

    def reasons_not_ready(self) -> list[str]:
        """Why the run is not release-ready (empty when it is)."""
        reasons: list[str] = []
        if self.executed == 0:
            reasons.append("no scenario ran")
        if n := len(self.failed_critical):
            reasons.append(f"{n} @critical scenario{'s' if n != 1 else ''} failed")
        if n := len(self.failed_other):
            reasons.append(f"{n} other scenario{'s' if n != 1 else ''} failed")
        if n := len(self.untested_critical):
            reasons.append(f"{n} @critical scenario{'s' if n != 1 else ''} not run")
        if n := len(self.missed_budgets):
            reasons.append(f"{n} performance budget{'s' if n != 1 else ''} missed")
        return reasons

    @property
    def release_ready(self) -> bool:
        return not self.reasons_not_ready()

    @property
    def verdict(self) -> str:
        reasons = self.reasons_not_ready()
        if not reasons:
            return "Verdict: RELEASE-READY"
        return f"Verdict: NOT RELEASE-READY ({'; '.join(reasons)})"

    def domain_counts(self) -> dict[str, dict[str, int]]:
        """Per domain: passed / failed / skipped / known_defect counts (failed includes errors)."""
        counts: dict[str, dict[str, int]] = {}
        for rec in self.records:
            row = counts.setdefault(rec.domain, {"passed": 0, "failed": 0, "skipped": 0, "known_defect": 0})
            if rec.known_defect:
                row["known_defect"] += 1
            elif rec.status == PASSED:
                row["passed"] += 1
            elif rec.status in _FAILING:
                row["failed"] += 1
            else:
                row["skipped"] += 1
        order = [*DOMAIN_TAGS, OTHER_DOMAIN]
        return {d: counts[d] for d in order if d in counts}

    # -- rendering -----------------------------------------------------------------------------------

    def render_markdown(self) -> str:
        """The one-page sign-off summary as Markdown; the verdict line stands on a line of its own."""
        lines: list[str] = [f"# {self.title}", "", self.verdict, ""]
        total = {"passed": 0, "failed": 0, "skipped": 0, "known_defect": 0}
        lines += [
            "## Scenarios by domain",
            "",
            "| Domain | Passed | Failed | Skipped | Known defects |",
            "|---|---:|---:|---:|---:|",
        ]
        for domain, row in self.domain_counts().items():
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
        duration = sum(r.duration_s for r in self.records)
        lines += ["", f"{len(self.records)} scenarios, {duration:.1f} s of scenario time.", ""]

        lines += ["## Failed @critical scenarios", ""]
        lines += [f"- {_md(r.title)} ({r.status})" for r in self.failed_critical] or ["None."]
        lines.append("")
        if self.failed_other:
            lines += ["## Other failed scenarios", ""]
            lines += [f"- {_md(r.title)} ({r.status})" for r in self.failed_other]
            lines.append("")
        if self.untested_critical:
            lines += ["## @critical scenarios not run", ""]
            lines += [f"- {_md(r.title)}" for r in self.untested_critical]
            lines.append("")

        lines += ["## Performance budgets", ""]
        if self.budgets:
            lines += ["| Budget | p50 ms | p95 ms | Budget ms | Result |", "|---|---:|---:|---:|---|"]
            for b in self.budgets:
                result = "met" if b.met else "**MISSED**"
                lines.append(
                    f"| {_md(b.name)} | {b.p50_ms:.0f} | {b.p95_ms:.0f} | {b.budget_ms:.0f} | {result} |"
                )
        else:
            lines.append("No budgets measured in this run.")
        lines.append("")

        lines += ["## Known defects (documented; run but not counted in the verdict)", ""]
        if self.known_defects:
            for r in self.known_defects:
                issues = f" [{', '.join(r.issue_ids)}]" if r.issue_ids else ""
                state = {
                    PASSED: "passed: the defect may be fixed, review the @known_defect tag",
                    FAILED: "still present",
                    ERROR: "error",
                }.get(r.status, r.status)
                lines.append(f"- {_md(r.title)}{issues}: {state}")
        else:
            lines.append("None.")
        lines.append("")

        skipped = [r for r in self.records if r.status in (SKIPPED, UNTESTED) and not r.known_defect]
        reasons: dict[str, int] = {}
        for r in skipped:
            if r.skip_reason:
                reasons[r.skip_reason] = reasons.get(r.skip_reason, 0) + 1
        if reasons:
            lines += ["## Skip reasons", ""]
            lines += [f"- {_md(reason)}: {n}" for reason, n in sorted(reasons.items())]
            lines.append("")
        return _redact("\n".join(lines))

    def print_to_console(self, stream: TextIO | None = None) -> None:
        """Print the page at the end of a run.

        Defaults to ``sys.__stdout__``: behave captures hook output (``capture_hooks`` is on by default)
        and drops what ``after_all`` prints, so plain ``print`` would show nothing (checked, 1.3.3).
        """
        out = stream or sys.__stdout__ or sys.stdout
        out.write("\n" + self.render_markdown() + "\n")
        out.flush()

    def write(self, path: Path) -> Path:
        """Write the Markdown summary (parent folders created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render_markdown(), encoding="utf-8")
        return path


def _md(text: str) -> str:
    """Keep a scenario name from breaking a Markdown table or list."""
    return text.replace("|", "\\|").replace("\n", " ")


# -- Allure attachments ------------------------------------------------------------------------------


def render_exchanges(exchanges: Sequence[RenderableExchange]) -> str:
    """All exchanges as one readable, redacted text (numbered, blank line between them)."""
    parts = []
    for i, exchange in enumerate(exchanges, start=1):
        parts.append(f"──── exchange {i} of {len(exchanges)} ────\n{exchange.render().rstrip()}\n")
    return _redact("\n".join(parts))


def attach_exchanges(
    exchanges: Sequence[RenderableExchange], name: str = "HTTP exchanges (redacted)"
) -> bool:
    """Attach the scenario's HTTP exchanges to the current Allure test as one text/plain attachment.

    Call it from a step, ``before_scenario`` or ``after_scenario`` (allure-behave has no current test in
    ``before_all``/``before_feature``). Returns False, attaching nothing, when there are no exchanges.
    """
    if not exchanges:
        return False
    allure.attach(render_exchanges(exchanges), name=name, attachment_type=allure.attachment_type.TEXT)
    return True


def timings_table(exchanges: Sequence[RenderableExchange]) -> tuple[str, float]:
    """A fixed-width table of method, path, status and elapsed ms, and the total elapsed ms."""
    rows = [("#", "method", "path", "status", "elapsed ms")]
    total = 0.0
    for i, ex in enumerate(exchanges, start=1):
        # Path only: a query string may carry a token, and the host is in environment.properties.
        path = urlsplit(_redact_url(ex.url)).path or "/"
        elapsed = float(ex.elapsed_ms or 0.0)
        total += elapsed
        status = "-" if ex.status is None else str(ex.status)
        rows.append((str(i), ex.method.upper(), path, status, f"{elapsed:.1f}"))
    rows.append(("", "", "total", "", f"{total:.1f}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[c]) if c in (0, 3, 4) else cell.ljust(widths[c]) for c, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return _redact("\n".join(lines) + "\n"), total


def _current_allure_test() -> Any | None:
    """The TestResult allure-behave is building for the running scenario, or None outside a test.

    allure-behave 2.16.2 implements no ``add_parameter``/``add_label`` hooks, so
    ``allure.dynamic.parameter``/``allure.dynamic.epic`` are silently dropped in a behave run (checked).
    Its listener keeps the scheduled result on ``listener.logger``; writing to that object is the one
    way to add a parameter or label at run time. Returns None (callers then do nothing) when no
    listener is registered, e.g. in unit tests or a run without the Allure formatter.
    """
    for plugin in allure_commons.plugin_manager.get_plugins():
        logger = getattr(plugin, "logger", None)
        if type(plugin).__name__ == "AllureListener" and logger is not None and hasattr(logger, "get_test"):
            return logger.get_test(None)
    return None


def set_parameter(name: str, value: str, *, excluded: bool = True) -> bool:
    """Add (or replace) a parameter on the running scenario's Allure result; True when it was set.

    ``excluded=True`` keeps the parameter out of the history id, so trends stay joined across runs.
    """
    test = _current_allure_test()
    if test is None:
        return False
    test.parameters = [p for p in (test.parameters or []) if p.name != name]
    test.parameters.append(Parameter(name=name, value=_redact(str(value)), excluded=excluded or None))
    return True


def apply_domain_labels(feature_tags: Iterable[str], scenario_tags: Iterable[str] = ()) -> str | None:
    """Give the running scenario the Allure epic of its domain tag (call from ``before_scenario``).

    The feature label comes from allure-behave already; stories stay with ``@allure.story:`` tags.
    Returns the epic set, or None when there is no domain tag, an explicit ``@allure.epic:`` tag, or
    no Allure test running.
    """
    tags = [_tag_name(t) for t in (*feature_tags, *scenario_tags)]
    if any(t.startswith("allure.epic:") for t in tags):
        return None
    epic = next((DOMAIN_EPICS[d] for d in DOMAIN_TAGS if d in tags), None)
    test = _current_allure_test()
    if epic is None or test is None:
        return None
    test.labels.append(Label(name="epic", value=epic))
    return epic


def attach_timings(exchanges: Sequence[RenderableExchange], name: str = "HTTP timings") -> float | None:
    """Attach the per-call timing table and set the total as the Allure parameter ``HTTP total ms``.

    The parameter is marked ``excluded`` so it never changes the test's history id (trends stay joined
    across runs). Works in steps and in ``after_scenario`` (allure-behave wraps ``Scenario.run``, so
    the hooks still belong to the test; see :func:`set_parameter` for why not ``allure.dynamic``).
    Returns the total in ms, or None when there were no calls.
    """
    if not exchanges:
        return None
    table, total = timings_table(exchanges)
    allure.attach(table, name=name, attachment_type=allure.attachment_type.TEXT)
    set_parameter("HTTP total ms", f"{total:.0f}")
    return total


# -- run metadata ------------------------------------------------------------------------------------


def _escape_property(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch in "=:#!" or (ch == " " and (key or i == 0)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def format_properties(values: Mapping[str, str]) -> str:
    """Java ``.properties`` text (what Allure reads as ``environment.properties``), keys in given order."""
    return "".join(
        f"{_escape_property(k, key=True)}={_escape_property(v, key=False)}\n" for k, v in values.items()
    )


def write_run_metadata(
    results_dir: Path,
    *,
    target_url: str,
    permiso_version: str | None,
    suite_version: str,
    run_id: str,
    capabilities: Mapping[str, str | None],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Write ``environment.properties`` and ``executor.json`` into ``results_dir`` (created if needed).

    ``capabilities`` maps a capability name to None when present, else to the reason it is missing
    (the same mapping as ``context.capabilities``). Every value is redacted before it is written.
    Returns the properties written.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    props: dict[str, str] = {
        "target.url": _redact_url(target_url),
        "permiso.version": permiso_version or "unknown (not reported by /health)",
        "suite.version": suite_version,
        "python.version": f"{platform.python_implementation()} {platform.python_version()}",
        "run.id": run_id,
    }
    for name in sorted(capabilities):
        reason = capabilities[name]
        props[f"capability.{name}"] = "present" if reason is None else f"skipped: {reason}"
    for key, value in (extra or {}).items():
        props[key] = str(value)
    props = {k: _redact(v) for k, v in props.items()}
    (results_dir / "environment.properties").write_text(format_properties(props), encoding="utf-8")

    executor = {
        "name": "permiso-acceptance",
        "type": "behave",
        "buildName": f"permiso-acceptance {suite_version} · run {run_id}",
        "reportName": "Permiso acceptance",
        "buildOrder": run_id,
        "reportUrl": "",
        "buildUrl": "",
    }
    (results_dir / "executor.json").write_text(json.dumps(executor, indent=2) + "\n", encoding="utf-8")
    return props

