"""The sign-off summary's records: one scenario's outcome, one run-wide rule's tally, one response-time budget.

Why a module of its own: these plain records, and the words they are judged in (the domain tags, the five
statuses, the tag and status helpers), are what every part of the sign-off reporting shares. The verdict
(support/lifecycle/verdict.py) collects them, behavex's main process rebuilds them from the workers' parts
(support/lifecycle/parallel.py), the Allure helpers read the domain tags and the rule writers the rule tallies;
kept apart, each of those modules imports them without importing another.

The records know nothing of behave internals: statuses and tags arrive as plain strings (anything with a
``.name`` such as behave's ``Status`` enum is accepted too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# the suite's one redaction function, never re-implemented here (no fallback: a silent no-op would leak)
from support.wire.redaction import redact_text as _redact

__all__ = [
    "DOMAIN_EPICS",
    "DOMAIN_TAGS",
    "ERROR",
    "FAILED",
    "FAILING",
    "NEEDS",
    "OTHER_DOMAIN",
    "PASSED",
    "SKIPPED",
    "UNTESTED",
    "BudgetRecord",
    "RuleRecord",
    "ScenarioRecord",
    "merge_rules",
    "needed_capability",
    "status_name",
    "tag_name",
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
FAILING = frozenset({FAILED, ERROR})


def tag_name(tag: str) -> str:
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


NEEDS = "needs "


def needed_capability(reason: str | None) -> str:
    """``needs tls_front`` from ``needs tls_front: no front configured``; other reasons as they are."""
    if not reason:
        return "skipped without a reason"
    head = reason.split(":", 1)[0].strip()
    return head if head.startswith(NEEDS) and " " not in head.removeprefix(NEEDS) else reason


def status_name(status: Any) -> str:
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
    """A run-wide rule as the watch saw it (support/domains/security_checks.py): how many answers it applied to,
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
