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
  ``support.wire.redaction.redact_text`` once more on the way out, because an attachment is the one place
  where a missed secret would be published to everyone who opens the report.
- :func:`write_run_metadata` writes ``environment.properties`` and ``executor.json`` into the results
  folder, which the Allure 3 report shows as the run's environment.

The module knows nothing of behave internals: statuses and tags arrive as plain strings (anything with
a ``.name`` such as behave's ``Status`` enum is accepted too).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import allure
import allure_commons
from allure_commons.model2 import Label, Parameter, StatusDetails

from support.checks.causes import DEFECTS

__all__ = [
    "DOMAIN_EPICS",
    "DOMAIN_TAGS",
    "BudgetRecord",
    "RuleRecord",
    "RunSummary",
    "ScenarioRecord",
    "apply_domain_labels",
    "attach_exchanges",
    "attach_note",
    "attach_timings",
    "format_properties",
    "label_cause",
    "merge_rules",
    "report_skip_to_allure",
    "set_parameter",
    "write_rule_junit",
    "write_rule_results",
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
    """What the reporting functions need of ``support.wire.evidence.Exchange`` (duck typing keeps tests light)."""

    method: str
    url: str
    status: int | None
    elapsed_ms: float

    def render(self) -> str: ...


def _redact(text: str) -> str:
    """Mask secrets with the suite's one redaction function (no fallback: a silent no-op would leak)."""
    from support.wire.redaction import redact_text

    return redact_text(text)


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


def _redact_url(url: str) -> str:
    from support.wire.redaction import redact_url

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


_NEEDS = "needs "


def _needed_capability(reason: str | None) -> str:
    """``needs tls_front`` from ``needs tls_front: no front configured``; other reasons as they are."""
    if not reason:
        return "skipped without a reason"
    head = reason.split(":", 1)[0].strip()
    return head if head.startswith(_NEEDS) and " " not in head.removeprefix(_NEEDS) else reason


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
    #: the one cause of a failed scenario (support.checks.causes.FailureCause, flattened): kind, cause, defect, rule
    cause_kind: str | None = None
    cause: str | None = None
    defect: str | None = None
    rule: str | None = None
    error_note: str | None = None
    #: the scenario was running when the run was interrupted (Ctrl-C): cut short, not a finding
    interrupted: bool = False

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
class RuleRecord:
    """A run-wide rule as the watch saw it (support/domains/hygiene.py): how many answers it applied to,
    how many broke it, up to three redacted examples ``{method, url, status, problem}``."""

    id: str
    rule: str
    clause: str = ""
    tag: str = ""
    defect: str | None = None
    defects: tuple[str, ...] = ()
    severity: str = "critical"
    checked: int = 0
    violations: int = 0
    examples: tuple[dict[str, Any], ...] = ()
    scenarios: tuple[str, ...] = ()

    @property
    def broken(self) -> bool:
        return self.violations > 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleRecord:
        return cls(
            id=str(data["id"]), rule=str(data["rule"]), clause=str(data.get("clause", "")),
            tag=str(data.get("tag", "")), defect=data.get("defect"), defects=tuple(data.get("defects", ())),
            severity=str(data.get("severity", "critical")), checked=int(data.get("checked", 0)),
            violations=int(data.get("violations", 0)),
            examples=tuple(dict(e) for e in data.get("examples", ())), scenarios=tuple(data.get("scenarios", ())),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "clause": self.clause, "tag": self.tag, "defect": self.defect,
                "defects": list(self.defects), "severity": self.severity, "checked": self.checked,
                "violations": self.violations, "examples": [dict(e) for e in self.examples],
                "scenarios": list(self.scenarios)}

    def example_lines(self) -> list[str]:
        return [_redact(f"{e.get('method', '?')} {e.get('url', '?')} -> {e.get('status', '?')}: {e.get('problem', '')}")
                for e in self.examples]

    def merged(self, other: RuleRecord) -> RuleRecord:
        """Two workers' tallies of the same rule as one (behavex)."""
        counts: dict[str, int] = {}
        for rec in (self, other):
            if rec.defect:
                counts[rec.defect] = counts.get(rec.defect, 0) + rec.violations
        defect = max(counts, key=lambda d: counts[d]) if counts else None
        return RuleRecord(
            self.id, self.rule, self.clause, self.tag, defect, self.defects, self.severity,
            self.checked + other.checked, self.violations + other.violations,
            (self.examples + other.examples)[:3], tuple(dict.fromkeys(self.scenarios + other.scenarios)),
        )


def merge_rules(records: Iterable[RuleRecord]) -> list[RuleRecord]:
    """Rule records of several runs (behavex workers) merged by rule id, in first-seen order."""
    merged: dict[str, RuleRecord] = {}
    for rec in records:
        merged[rec.id] = merged[rec.id].merged(rec) if rec.id in merged else rec
    return list(merged.values())


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
    scenario was left untested, every recorded performance budget was met, no counted run-wide rule was
    broken and the run was not interrupted; with ``require_complete_gate`` also no ``@critical``
    scenario may have been skipped. Otherwise it is NOT RELEASE-READY, INTERRUPTED (Ctrl-C) or NOT RUN
    (the run stopped before any scenario); see :attr:`verdict`. support/lifecycle/run.py makes behave's exit code
    agree with it.

    Counts (:meth:`counts`, :meth:`behave_counts`) are scenario counts equal to behave's own summary line:
    the run-wide rules are listed apart (they are not scenarios), known-defect scenarios are counted with
    the rest (and listed apart as well).
    """

    title: str = "Permiso acceptance: release sign-off"
    records: list[ScenarioRecord] = field(default_factory=list)
    budgets: list[BudgetRecord] = field(default_factory=list)
    #: the run-wide rules (support.domains.hygiene_rules.RULES) as the watch saw them, held or broken
    rules: list[RuleRecord] = field(default_factory=list)
    #: SECURITY_SCAN_ENABLED: with False the rules are listed but do not count in the verdict
    scan_enabled: bool = True
    #: the run was interrupted (Ctrl-C, SIGTERM): what is listed is what ran
    interrupted: bool = False
    #: the run stopped before any scenario ran (a bad setting, a misspelled tag, an unreachable target):
    #: the reason; the verdict is then ``NOT RUN (<reason>)`` and nothing else of the page applies
    not_run: str | None = None
    #: how many scenarios the selection picked (None: unknown); an interrupted run tells how many never ran
    selected: int | None = None
    #: scenarios of the features behave read that the selection (tags, names) left out; behave's own
    #: summary line counts them as "skipped", so :meth:`behave_counts` adds them to match it
    deselected: int = 0
    #: PERMISO_REQUIRE_COMPLETE_GATE: any @critical scenario that did not run makes the run NOT RELEASE-READY
    require_complete_gate: bool = False
    #: the target is the embedded reference on its clean ``contract`` profile (no injected faults): it has
    #: none of the documented defects, so a passing ``@known_defect`` scenario there tells nothing
    clean_reference: bool = False
    #: capability name -> why it is missing (None: present), as probed at the start of the run
    capabilities: dict[str, str | None] = field(default_factory=dict)
    #: what the run was aimed at (support.lifecycle.target.Target.describe), recorded in the JSON for the baseline
    target: str = ""
    #: the baseline and waivers the causes are judged against (support.lifecycle.signoff.Policy); None: neither
    policy: Any = None
    #: causes other checkers list themselves, one entry each, shaped like :meth:`causes` entries (the
    #: fuzzer's findings: kind ``finding``, one per operation and check); the failed scenarios an entry
    #: names in ``scenarios`` are not listed again under a cause of their own
    extra_causes: list[dict[str, Any]] = field(default_factory=list)
    #: run-wide notes that are not failures (the fuzzer's note on the API schema), listed once
    notes: list[str] = field(default_factory=list)

    def record(
        self,
        feature_name: str,
        feature_tags: Iterable[str],
        scenario_name: str,
        scenario_tags: Iterable[str],
        status: str,
        duration_s: float,
        skip_reason: str | None = None,
        cause: Any = None,
        interrupted: bool = False,
    ) -> ScenarioRecord:
        """Record one scenario; tags may be given with or without the leading ``@``. ``cause`` is the
        :class:`support.checks.causes.FailureCause` of a failed scenario (None when it passed or was skipped)."""
        tags = frozenset(_tag_name(t) for t in (*feature_tags, *scenario_tags))
        rec = ScenarioRecord(
            feature=feature_name,
            scenario=scenario_name,
            tags=tags,
            status=_status_name(status),
            duration_s=float(duration_s),
            skip_reason=skip_reason,
            cause_kind=getattr(cause, "kind", None),
            cause=_redact(cause.cause) if cause is not None else None,
            defect=getattr(cause, "defect", None),
            rule=getattr(cause, "rule", None),
            error_note=(f"error: {cause.message}" if cause.message else "error") if getattr(cause, "error", False)
            else None,
            interrupted=interrupted and _status_name(status) in _FAILING,
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
        return [r for r in self.records if not r.known_defect and not r.interrupted]

    @property
    def cut_short(self) -> list[ScenarioRecord]:
        """Scenarios that were running when the run was interrupted (their failure is the interruption)."""
        return [r for r in self.records if r.interrupted]

    @property
    def failed_critical(self) -> list[ScenarioRecord]:
        """Failed ``@critical`` scenarios that block (a waiver's accepted scenarios are :attr:`waived`)."""
        waived = self.judgement().accepted_scenarios
        return [r for r in self._counted if r.critical and r.status in _FAILING and r.title not in waived]

    @property
    def failed_other(self) -> list[ScenarioRecord]:
        waived = self.judgement().accepted_scenarios
        return [r for r in self._counted if not r.critical and r.status in _FAILING and r.title not in waived]

    @property
    def waived(self) -> list[ScenarioRecord]:
        """Failed scenarios whose cause a valid waiver accepts: listed, not counted in the verdict."""
        waived = self.judgement().accepted_scenarios
        return [r for r in self._counted if r.status in _FAILING and r.title in waived]

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
    def broken_rules(self) -> list[RuleRecord]:
        return [r for r in self.rules if r.broken]

    @property
    def blocking_rules(self) -> list[RuleRecord]:
        """Broken rules no valid waiver accepts."""
        waived = self.judgement().accepted_rules
        return [r for r in self.broken_rules if r.id not in waived]

    @property
    def executed(self) -> int:
        return sum(1 for r in self.records if r.status not in (SKIPPED, UNTESTED))

    @property
    def skipped_critical(self) -> list[ScenarioRecord]:
        """``@critical`` scenarios that were selected but skipped (a missing capability): the gate's gaps."""
        return [r for r in self.records if r.critical and r.status == SKIPPED]

    @property
    def never_ran(self) -> int | None:
        """Selected scenarios that never reached their end (an interrupted run), or None when unknown."""
        if self.selected is None:
            return None
        return max(0, self.selected - len(self.records))

    def gate_gaps(self) -> dict[str, int]:
        """The skipped ``@critical`` scenarios grouped by what they need (``tls_front``: 7), most first.

        A capability skip reason reads ``needs <capability>: <why>``; any other reason is its own group.
        """
        groups: dict[str, int] = {}
        for rec in self.skipped_critical:
            key = _needed_capability(rec.skip_reason)
            groups[key] = groups.get(key, 0) + 1
        return dict(sorted(groups.items(), key=lambda item: (-item[1], item[0])))

    def gate_gap_text(self) -> str:
        """``14 @critical scenarios not run: 7 need tls_front, 6 need signing_key, 1 needs docker`` or ''."""
        gaps = self.gate_gaps()
        if not gaps:
            return ""
        total = sum(gaps.values())
        parts = []
        for what, n in gaps.items():
            if what.startswith(_NEEDS):
                parts.append(f"{n} {'needs' if n == 1 else 'need'} {what.removeprefix(_NEEDS)}")
            else:
                parts.append(f"{n} {what}")
        return f"{total} @critical scenario{'s' if total != 1 else ''} not run: {', '.join(parts)}"

    def reasons_not_ready(self) -> list[str]:
        """Why the run is not release-ready (empty when it is)."""
        if self.not_run:
            return [f"not run: {self.not_run}"]
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
        if self.scan_enabled and (n := len(self.blocking_rules)):
            reasons.append(f"{n} run-wide rule{'s' if n != 1 else ''} broken")
        reasons += self.judgement().blocking_notes()
        if self.require_complete_gate and (gap := self.gate_gap_text()):
            reasons.append(gap + " (PERMISO_REQUIRE_COMPLETE_GATE=true)")
        if self.interrupted:
            reasons.append("the run was interrupted")
        return reasons

    @property
    def release_ready(self) -> bool:
        return not self.reasons_not_ready()

    @property
    def verdict(self) -> str:
        """The one line a release engineer reads first.

        - ``Verdict: NOT RUN (<reason>)``: the run stopped before any scenario (nothing was checked);
        - ``Verdict: INTERRUPTED (<n> of <m> selected scenarios never ran; <other reasons>)``;
        - ``Verdict: NOT RELEASE-READY (<reasons>)`` or ``Verdict: RELEASE-READY``; either is followed by
          `` — <n> @critical scenarios not run: 7 need tls_front, ...`` when the gate was not complete
          (unless PERMISO_REQUIRE_COMPLETE_GATE made that gap one of the reasons already).

        Against a baseline (support/lifecycle/signoff.py) a run that is not ready names its new causes first
        (``NOT RELEASE-READY (1 new cause since the baseline of 2026-11-30; ...)``); causes accepted by
        waivers, and new causes that do not block, are said in the tail.
        """
        if self.not_run:
            return f"Verdict: NOT RUN ({self.not_run})"
        reasons = self.reasons_not_ready()
        judged = self.judgement()
        if reasons and judged.baseline is not None and judged.new:
            reasons = [judged.new_text(), *reasons]
        gap = "" if self.require_complete_gate else self.gate_gap_text()
        tails = [gap] if gap else []
        if accepted := [c for c in judged.causes if c.get("waiver_state") == "accepted"]:
            ids = ", ".join(dict.fromkeys(str(c["waiver"]) for c in accepted))
            tails.append(f"{len(accepted)} cause{'s' if len(accepted) != 1 else ''} accepted by waiver ({ids})")
        if not reasons and judged.baseline is not None and judged.new:
            tails.append(judged.new_text() + ", none blocking")
        tail = "".join(f" — {t}" for t in tails)
        if self.interrupted:
            never = self.never_ran
            head = (f"{never} of {self.selected} selected scenario{'s' if self.selected != 1 else ''} never ran"
                    if never is not None else "the run was interrupted")
            if n := len(self.cut_short):
                head += f", {n} {'was' if n == 1 else 'were'} cut short"
            others = [r for r in reasons if r not in ("the run was interrupted", "no scenario ran")]
            return f"Verdict: INTERRUPTED ({'; '.join([head, *others])}){tail}"
        if not reasons:
            return f"Verdict: RELEASE-READY{tail}"
        return f"Verdict: NOT RELEASE-READY ({'; '.join(reasons)}){tail}"

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

    # -- causes --------------------------------------------------------------------------------------

    def excused(self, title: str) -> bool:
        """Whether the last recorded failure of this scenario is one the verdict does not count: a
        ``@known_defect``, or a failure all of whose causes valid waivers accept (support/lifecycle/run.py uses it so
        behave's exit code agrees with the verdict). Judged on what the run has seen so far: a cause can
        only lose its waiver later (a scenario the waiver does not name joins it), and then the verdict is
        not ready and the run fails anyway."""
        rec = next((r for r in reversed(self.records) if r.title == title), None)
        if rec is None or rec.status not in _FAILING:
            return False
        if rec.known_defect:
            return True
        if self.policy is None or not self.policy.waivers:
            return False
        return title in self.judgement().accepted_scenarios

    def judgement(self) -> Any:
        """The causes judged against the baseline and waivers (support.lifecycle.signoff.Judgement): each cause
        with its ``key``, ``change`` (new / persisting) and waiver state; the fixed ones; every waiver."""
        from support.lifecycle import signoff

        protected = {r.title: r.critical and r.domain in signoff.PROTECTED_DOMAINS for r in self.records}
        return signoff.evaluate(self.causes(), self.policy or signoff.Policy(), protected)

    def causes(self) -> list[dict[str, Any]]:
        """One entry per distinct cause of the run, most affected first.

        ``kind`` is ``rule`` (a broken run-wide rule; ``count`` = answers that broke it, ``checked`` =
        answers it applied to), ``precondition`` (a refused setup call) or ``scenario`` (the scenario's
        own rule; ``error`` marks scenarios that ended in a suite error). Every entry names a ``rule``
        or a ``defect``; ``scenarios`` lists the failed scenarios it explains.
        """
        groups: dict[tuple[str, str, bool], dict[str, Any]] = {}
        listed = {title for extra in self.extra_causes for title in extra.get("scenarios", ())}
        for r in self.records:
            if r.status not in _FAILING or r.interrupted or (r.cause_kind == "finding" and r.title in listed):
                continue
            kind = r.cause_kind or "scenario"
            cause = r.cause or r.title
            error = r.status == ERROR or r.error_note is not None
            # Refusals that show one known defect are one cause, however many setup calls it refused
            # (D1 refuses roles, scopes and service clients alike): the calls are listed under it.
            grouped = kind == "precondition" and r.defect is not None
            if grouped:
                cause = f"could not prepare: the target refused setup calls ({r.defect}: {DEFECTS.get(r.defect, '')})"
            entry = groups.setdefault((kind, cause, error), {
                "cause": cause, "kind": kind, "defect": r.defect,
                "rule": r.rule if (r.rule or r.defect) else r.title,
                "scenarios": [], "error": error, "known_defect": True, "notes": [], "calls": [],
            })
            if grouped and r.cause and r.cause not in entry["calls"]:
                entry["calls"].append(r.cause)
            entry["scenarios"].append(r.title)
            entry["known_defect"] = entry["known_defect"] and r.known_defect
            if r.error_note and r.error_note not in entry["notes"]:
                entry["notes"].append(r.error_note)
        entries: list[dict[str, Any]] = []
        for entry in groups.values():
            entry["count"] = len(entry["scenarios"])
            entry["first"] = entry["scenarios"][0]
            entries.append(entry)
        for rule in self.broken_rules:
            examples = rule.example_lines()
            entries.append({
                "cause": rule.rule, "kind": "rule", "defect": rule.defect, "rule": rule.rule,
                "rule_id": rule.id, "scenarios": [], "seen_in": list(rule.scenarios), "count": rule.violations,
                "checked": rule.checked, "violations": rule.violations, "first": examples[0] if examples else "",
                "counted": self.scan_enabled, "error": False, "known_defect": False, "notes": [],
            })
        entries += [dict(extra) for extra in self.extra_causes]
        order = {"rule": 0, "precondition": 1, "finding": 2, "scenario": 3}
        entries.sort(key=lambda e: (-int(e["count"]), order.get(str(e["kind"]), 3)))
        return entries

    def _cause_line(self, entry: Mapping[str, Any]) -> str:
        marks = {"new": "**NEW** ", "persisting": "persisting "}.get(str(entry.get("change")), "")
        if entry.get("waiver"):
            marks += f"({entry['waiver_state']}: waiver {_md(str(entry['waiver']))}) "
        return "- " + marks + self._cause_text(entry).removeprefix("- ")

    def _cause_text(self, entry: Mapping[str, Any]) -> str:
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
        if entry.get("notes"):
            notes = f" ({_md('; '.join(entry['notes']))})"
        else:
            notes = " (error)" if entry.get("error") else ""
        calls = [c.removeprefix("could not prepare: ") for c in entry.get("calls", ())]
        if calls:
            more = f"; +{len(calls) - 3} more" if len(calls) > 3 else ""
            notes += f" (refused: {_md('; '.join(calls[:3]))}{more})"
        known = " (known defect)" if entry.get("known_defect") else ""
        plural = "s" if n != 1 else ""
        first = f"; first: {_md(entry['first'])}" if entry["first"] != entry["cause"] else ""
        return f"- **{entry['kind']}**{defect} {_md(entry['cause'])}{notes}{known}: {n} scenario{plural}{first}"

    def counts(self) -> dict[str, int]:
        """Scenario counts by status (all scenarios, known defects included) and rule counts.

        ``passed``/``failed``/``errors``/``skipped``/``untested``/``total`` count the scenarios the selection
        picked, the same scenarios behave's summary line counts (the run-wide rules are NOT scenarios: they
        are under ``rules``). ``not_selected`` counts those the selection left out, which behave's line
        adds to its "skipped"; ``behave`` holds behave's own numbers (see :meth:`behave_counts`).
        """
        by_status = {PASSED: 0, FAILED: 0, ERROR: 0, SKIPPED: 0, UNTESTED: 0}
        for r in self.records:
            by_status[r.status if r.status in by_status else UNTESTED] += 1
        never = self.never_ran or 0
        return {
            "passed": by_status[PASSED], "failed": by_status[FAILED], "errors": by_status[ERROR],
            "skipped": by_status[SKIPPED], "untested": by_status[UNTESTED] + never,
            "total": len(self.records) + never, "not_selected": self.deselected,
            "known_defects": len(self.known_defects), "rules": len(self.rules),
            "rules_broken": len(self.broken_rules), "budgets_missed": len(self.missed_budgets),
        }

    def behave_counts(self) -> dict[str, int]:
        """The numbers of behave's own "N scenarios passed, M failed, K skipped" line for this run.

        behave counts every scenario of the features it read: those the selection left out as skipped,
        errors (hook and cleanup errors too) apart from failures, and the scenarios an interrupted run
        never reached as untested.
        """
        c = self.counts()
        return {"passed": c["passed"], "failed": c["failed"], "error": c["errors"],
                "skipped": c["skipped"] + c["not_selected"], "untested": c["untested"],
                "total": c["total"] + c["not_selected"]}

    def to_json(self) -> dict[str, Any]:
        """The summary as data (``reports/signoff-summary.json``); every text redacted."""
        judged = self.judgement()
        data = {
            "verdict": self.verdict.removeprefix("Verdict: "),
            "release_ready": self.release_ready,
            "not_run": self.not_run,
            "counts": self.counts(),
            "behave_counts": self.behave_counts(),
            "target": self.target,
            "causes": judged.causes,
            "signoff": judged.to_json(),
            "notes": list(self.notes),
            "interrupted": self.interrupted,
            "selected": self.selected,
            "never_ran": self.never_ran if self.interrupted else 0,
            "scan_enabled": self.scan_enabled,
            "require_complete_gate": self.require_complete_gate,
            "critical_not_run": {k.removeprefix(_NEEDS): n for k, n in self.gate_gaps().items()},
            "capabilities_missing": {k: v for k, v in sorted(self.capabilities.items()) if v},
            "skipped": [{"scenario": r.title, "reason": r.skip_reason or "", "critical": r.critical}
                        for r in self.records if r.status in (SKIPPED, UNTESTED)],
            "rules": [{**r.as_dict(), "held": not r.broken} for r in self.rules],
            "budgets": [{"name": b.name, "p50_ms": b.p50_ms, "p95_ms": b.p95_ms, "budget_ms": b.budget_ms,
                         "met": b.met} for b in self.budgets],
        }
        return _redact_tree(data)

    def write_json(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    # -- rendering -----------------------------------------------------------------------------------

    def render_markdown(self) -> str:
        """The one-page sign-off summary as Markdown; the verdict line stands on a line of its own."""
        lines: list[str] = [f"# {self.title}", "", self.verdict, ""]
        if self.not_run:
            lines += ["The run stopped before any scenario ran: nothing was checked. Fix the cause above and run",
                      "again; the results of any earlier run were removed so they cannot be mistaken for this one.",
                      ""]
            return _redact("\n".join(lines))
        judged = self.judgement()
        lines += ["## Causes", ""]
        lines += [self._cause_line(entry) for entry in judged.causes] or ["None."]
        lines.append("")
        lines += signoff_sections(judged)
        if self.notes:
            lines += ["## Notes (not failures)", "", *(f"- {_md(note)}" for note in self.notes), ""]
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
        counts = self.behave_counts()
        lines += ["", f"{len(self.records)} scenarios, {duration:.1f} s of scenario time.",
                  f"behave's count: {counts['passed']} passed, {counts['failed']} failed, {counts['error']} error, "
                  f"{counts['skipped']} skipped ({self.deselected} of them not selected), "
                  f"{counts['untested']} untested.", ""]
        if self.interrupted:
            if self.never_ran:
                lines += [f"INTERRUPTED: {self.never_ran} of {self.selected} selected scenarios never ran.", ""]
            if self.cut_short:
                lines += ["Cut short by the interruption (not counted as failures):", ""]
                lines += [f"- {_md(r.title)}" for r in self.cut_short]
                lines.append("")

        lines += ["## Failed @critical scenarios", ""]
        lines += [f"- {_md(r.title)} ({r.status})" for r in self.failed_critical] or ["None."]
        lines.append("")
        if self.failed_other:
            lines += ["## Other failed scenarios", ""]
            lines += [f"- {_md(r.title)} ({r.status})" for r in self.failed_other]
            lines.append("")
        if self.waived:
            lines += ["## Failed, accepted by a waiver (not counted in the verdict)", ""]
            lines += [f"- {_md(r.title)} ({r.status})" for r in self.waived]
            lines.append("")
        not_run = [*self.untested_critical, *self.skipped_critical]
        if not_run:
            lines += ["## @critical scenarios not run", ""]
            lines += [f"- {_md(r.title)}" + (f": {_md(r.skip_reason)}" if r.skip_reason else "") for r in not_run]
            lines.append("")

        if self.rules:
            note = "" if self.scan_enabled else " (SECURITY_SCAN_ENABLED=false: listed, not counted in the verdict)"
            lines += [f"## Run-wide rules{note}", "",
                      "| Rule | Defect | Answers checked | Broke it | Result |", "|---|---|---:|---:|---|"]
            for rule in self.rules:
                result = "**BROKEN**" if rule.broken else "held"
                lines.append(
                    f"| {_md(rule.rule)} | {rule.defect or ''} | {rule.checked} | {rule.violations} | {result} |")
            lines.append("")
            for rule in self.broken_rules:
                lines.append(f"- {_md(rule.rule)}, e.g.:")
                lines += [f"  - {_md(example)}" for example in rule.example_lines()]
            if self.broken_rules:
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
                    PASSED: self._known_defect_passed_note(),
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

    def _known_defect_passed_note(self) -> str:
        """What a passing ``@known_defect`` scenario means, said only where it tells the reader something.

        A known-defect scenario checks the contract's rule; it passes when the target keeps that rule. On
        a deployment (or the ``release-1.0`` profile, or with injected faults) a pass is news: the defect
        may be fixed and the ``@known_defect`` tag should be reviewed. The embedded reference on its clean
        ``contract`` profile has none of the documented defects by construction, so there every
        known-defect scenario passes on every clean run and the review note would be noise: it just says
        "passed".
        """
        if self.clean_reference:
            return "passed"
        return "passed: the defect may be fixed, review the @known_defect tag"

    def print_to_console(self, stream: TextIO | None = None) -> None:
        """Print the page at the end of a run.

        Defaults to ``sys.__stdout__``: behave captures hook output (``capture_hooks`` is on by default)
        and drops what ``after_all`` prints, so plain ``print`` would show nothing (checked, 1.3.3).
        """
        out = stream or sys.__stdout__ or sys.stdout
        out.write("\n" + self.render_markdown() + "\n")
        out.flush()

    def write(self, path: Path) -> Path:
        """Write the Markdown summary and, beside it, the same as JSON (``.json``); returns the .md path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render_markdown(), encoding="utf-8")
        self.write_json(path.with_suffix(".json"))
        return path


def signoff_sections(judged: Any) -> list[str]:
    """The "Since the baseline" and "Waivers" sections of the summary (support/lifecycle/signoff.py)."""
    from support.lifecycle.signoff import markdown_sections

    return markdown_sections(judged, _md)


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


def attach_note(text: str, name: str) -> bool:
    """Attach a short text (a step's statistics, say) to the running scenario's Allure result, redacted.

    The place for what a step measured: a step must not print it (behave shows a step's output on the
    console only when the scenario fails, and a ``--no-capture`` run would interleave it with the steps).
    Returns False when no Allure test is running (nothing is attached then).
    """
    if _current_allure_test() is None:
        return False
    allure.attach(_redact(text), name=name, attachment_type=allure.attachment_type.TEXT)
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



def signoff_properties(summary: RunSummary) -> dict[str, str]:
    """The verdict and what changed since the baseline, as ``environment.properties`` entries: the Allure
    dashboard's environment panel is where the release meeting reads the run's context."""
    judged = summary.judgement()
    props = {"signoff.verdict": summary.verdict.removeprefix("Verdict: ")}
    if judged.baseline is not None:
        props["signoff.baseline"] = f"{judged.baseline.date} ({judged.baseline.target})"
        props["signoff.causes"] = (f"{len(judged.new)} new, {len(judged.persisting)} persisting, "
                                   f"{len(judged.fixed)} fixed")
        for change, items in (("new", judged.new), ("persisting", judged.persisting), ("fixed", judged.fixed)):
            if items:
                keys = [str(c["key"]) for c in items]
                props[f"signoff.{change}"] = "; ".join(keys[:10]) + (f"; +{len(keys) - 10} more" if len(keys) > 10
                                                                     else "")
    for w in judged.waivers:
        props[f"signoff.waiver.{w['id']}"] = f"{w['state']} (until {w['expires']}; {w['accepted_by']})"
    return props


def append_properties(results_dir: Path, props: Mapping[str, str]) -> Path | None:
    """Add entries to the run's ``environment.properties`` (written by :func:`write_run_metadata`)."""
    path = Path(results_dir) / "environment.properties"
    if not props or not path.parent.is_dir():
        return None
    with path.open("a", encoding="utf-8") as out:
        out.write(format_properties({k: _redact(v) for k, v in props.items()}))
    return path


# -- run-wide rules as results ---------------------------------------------------------------------------

RULES_EPIC = "Run-wide rules"
RULES_JUNIT_NAME = "TESTS-run_wide_rules.xml"


def label_cause(cause: Any) -> bool:
    """Give the running scenario's Allure result the labels ``cause`` and ``cause_kind`` (call from
    ``after_scenario`` of a failed scenario): the report's categories group failures by them."""
    test = _current_allure_test()
    if test is None or cause is None:
        return False
    test.labels = [lb for lb in (test.labels or []) if lb.name not in ("cause", "cause_kind")]
    for text in (cause.cause, *getattr(cause, "also", ())):  # a scenario with several findings: each
        test.labels.append(Label(name="cause", value=_redact(str(text))))
    test.labels.append(Label(name="cause_kind", value=str(cause.kind)))
    return True


def _rule_status(rule: RuleRecord, scan_enabled: bool) -> str:
    if not rule.broken:
        return "passed"
    return "failed" if scan_enabled else "skipped"


def rule_message(rule: RuleRecord, scan_enabled: bool = True) -> str:
    """The one message of a rule's result: counts, defect, and the examples (redacted)."""
    if not rule.broken:
        return f"held on all {rule.checked} answers it applies to"
    defect = f" (defect {rule.defect})" if rule.defect else ""
    head = f"{rule.violations} of {rule.checked} answers broke it{defect}"
    if not scan_enabled:
        head = "not counted (SECURITY_SCAN_ENABLED=false): " + head
    examples = "".join(f"\n  - {line}" for line in rule.example_lines())
    return _redact(f"{head}; e.g.:{examples}" if examples else head)


def write_rule_results(results_dir: Path, rules: Sequence[RuleRecord], *, scan_enabled: bool = True) -> list[Path]:
    """One Allure result per run-wide rule (broken: failed; held: passed) into ``results_dir``."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    written = []
    for rule in rules:
        history = hashlib.md5(f"run-wide-rule:{rule.id}".encode()).hexdigest()
        labels = [
            {"name": "epic", "value": RULES_EPIC}, {"name": "feature", "value": RULES_EPIC},
            {"name": "suite", "value": RULES_EPIC}, {"name": "story", "value": rule.rule},
            {"name": "severity", "value": rule.severity}, {"name": "framework", "value": "permiso-acceptance"},
            {"name": "language", "value": "python"},
        ]
        if rule.tag:
            labels.append({"name": "tag", "value": rule.tag})
        if rule.broken:
            labels += [{"name": "cause", "value": rule.rule}, {"name": "cause_kind", "value": "rule"}]
        links = [{"type": "issue", "name": d, "url": d} for d in ([rule.defect] if rule.defect else [])]
        message = rule_message(rule, scan_enabled)
        seen = "".join(f"\n  - {t}" for t in rule.scenarios[:10])
        result = {
            "uuid": str(uuid.uuid4()), "historyId": history, "testCaseId": history,
            "fullName": f"run_wide_rules.{rule.id}", "name": f"Run-wide rule: {rule.rule}",
            "status": _rule_status(rule, scan_enabled),
            "statusDetails": {"message": message,
                              "trace": _redact(f"seen in:{seen}") if seen else ""},
            "stage": "finished", "start": now, "stop": now,
            "description": _redact(f"{rule.rule} (contract {rule.clause}). Checked by the run-wide watch on every "
                                   "answer of the run; reported once here, never as another scenario's failure."),
            "labels": labels, "links": links, "parameters": [], "steps": [], "attachments": [],
        }
        path = results_dir / f"{result['uuid']}-result.json"
        path.write_text(_redact(json.dumps(result, ensure_ascii=False)), encoding="utf-8")
        written.append(path)
    return written


def write_rule_junit(junit_dir: Path, rules: Sequence[RuleRecord], *, scan_enabled: bool = True) -> Path:
    """``TESTS-run_wide_rules.xml``: one testcase per rule, a failure element for a broken one."""
    junit_dir = Path(junit_dir)
    junit_dir.mkdir(parents=True, exist_ok=True)
    failures = sum(1 for r in rules if r.broken and scan_enabled)
    skipped = sum(1 for r in rules if r.broken and not scan_enabled)
    suite = ET.Element("testsuite", name=RULES_EPIC, tests=str(len(rules)), failures=str(failures),
                       errors="0", skipped=str(skipped), time="0")
    for rule in rules:
        case = ET.SubElement(suite, "testcase", classname="run_wide_rules", name=_redact(rule.rule), time="0")
        message = rule_message(rule, scan_enabled)
        if rule.broken and scan_enabled:
            failure = ET.SubElement(case, "failure", type="RunWideRuleBroken", message=message.splitlines()[0])
            failure.text = message
        elif rule.broken:
            ET.SubElement(case, "skipped", message=message.splitlines()[0])
        out = ET.SubElement(case, "system-out")
        out.text = message
    path = junit_dir / RULES_JUNIT_NAME
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path


# -- skipped scenarios and runs that never started --------------------------------------------------------

def report_skip_to_allure(reason: str) -> bool:
    """Write the running scenario's Allure result as ``skipped`` with ``reason`` as its message.

    Call it from ``after_scenario`` of a scenario skipped for a missing capability. allure-behave 2.16.2
    drops every skipped scenario when behave's ``show_skipped`` is off (``listener.stop_scenario``:
    ``should_drop_skipped_by_option``), and ``show_skipped = false`` must stay in pyproject (it keeps the
    scenarios a ``--tags`` selection leaves out off the console and out of JUnit). So the result the
    listener scheduled for this scenario (its name, labels, history id: trends stay joined) is written
    here through allure's own file logger; the listener then drops its copy, so it is written once.
    Call it only when ``show_skipped`` is off (else the listener writes it too). True when written.
    """
    test = _current_allure_test()
    if test is None:
        return False
    test.status = "skipped"
    test.statusDetails = StatusDetails(message=_redact(reason))
    test.stop = int(time.time() * 1000)
    test.stage = "finished"
    allure_commons.plugin_manager.hook.report_result(result=test)
    return True
