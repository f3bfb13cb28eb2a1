"""The run-wide hygiene watch: every answer of the run judged against the run-wide rules, and tallied.

One rule per scenario (design.md section 2): a broken run-wide rule
(:data:`support.domains.hygiene_rules.RULES`) never fails an unrelated scenario.
Each rule has its own scenarios (``features/security/headers_and_hygiene.feature``) that fail when it is
broken, and the :class:`HygieneWatch` checks every answer of the run against every rule and REPORTS what
it saw: per rule, how many answers it applied to, how many broke it, and up to three redacted examples.
The sign-off summary, the Allure results and the JUnit file show each rule once (support/lifecycle/summary_page.py,
support/lifecycle/rule_results.py).

The watch subscribes to :meth:`support.wire.evidence.ExchangeLog.subscribe_all` (every client of the process).
It judges answers late - at the end of each step - so that a front 503 page the client retried (the
client marks it ``retried`` after it has been published) is skipped, and it skips answers from hosts
other than the target's. ``SECURITY_SCAN_ENABLED=false`` keeps the rules listed but out of the verdict.
A scenario tagged ``@hygiene.unchecked`` is not watched (for a scenario that talks to something other
than Permiso on purpose).

Hooks the coordinator wires (``support/lifecycle/run.py``): ``before_all`` :func:`install` (which also adds
the ``auth_rate_limit`` capability); ``before_scenario`` :func:`scenario_started`; ``after_step``
:func:`after_step` (never raises).

Why a module of its own: the watch is the run's process-wide state (one :data:`WATCH`, subscribed to every
client) and the behave hooks that drive it; the rules it applies are plain judgements
(:mod:`support.domains.hygiene_rules`) and the per-scenario security checks
(:mod:`support.domains.security_checks`) need neither the state nor the hooks.

Nothing here imports behave; ``context``/``step`` are duck-typed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from support.domains.hygiene_rules import RULES, Answer, RunWideRule, judge
from support.wire import redaction
from support.wire.evidence import Exchange, ExchangeLog

EXEMPT_TAG = "hygiene.unchecked"


# ---------------------------------------------------------------------------------------- watch
def _where(exchange: Exchange) -> str:
    return f"{exchange.method} {_short(redaction.redact_url(exchange.url))} -> {exchange.status}"


def _short(text: str, limit: int = 200) -> str:
    """A finding names its request; a hostile 100 KB URL must not become a 100 KB message."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Finding:
    """One answer that broke a run-wide rule (redacted when rendered)."""

    where: str
    problems: tuple[str, ...]
    rule: str = ""
    defect: str | None = None

    def render(self) -> str:
        return redaction.redact_text(f"{self.where}: " + "; ".join(self.problems))

    def as_example(self) -> dict[str, Any]:
        method, _, rest = self.where.partition(" ")
        url, _, status = rest.rpartition(" -> ")
        return {"method": method, "url": url, "status": int(status) if status.isdigit() else status,
                "problem": redaction.redact_text("; ".join(self.problems))}


@dataclass
class RuleTally:
    """What the watch saw of one rule: answers it applied to, answers that broke it, a few examples."""

    rule: RunWideRule
    checked: int = 0
    violations: int = 0
    examples: list[Finding] = field(default_factory=list)
    defects: Counter[str] = field(default_factory=Counter)
    scenarios: list[str] = field(default_factory=list)

    MAX_EXAMPLES = 3

    @property
    def defect(self) -> str | None:
        """The defect most of the violations show (by where they were seen), or None when most of them
        name no Part C defect."""
        return (self.defects.most_common(1)[0][0] or None) if self.defects else None


@dataclass
class HygieneWatch:
    """Checks every answer of the process against :data:`RULES` and tallies the outcome (thread-safe).

    Answers are queued when they arrive and judged by :meth:`flush` (end of each step), never raising.
    """

    checked: int = 0
    hosts: frozenset[str] = frozenset()
    tallies: dict[str, RuleTally] = field(default_factory=lambda: {r.id: RuleTally(r) for r in RULES})
    findings: list[Finding] = field(default_factory=list)
    scenario: str = ""
    exempt: bool = False
    _pending: list[Exchange] = field(default_factory=list, repr=False)
    MAX_FINDINGS: ClassVar[int] = 200
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _subscribed: bool = False

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self._pending.append(exchange)

    def watches(self, exchange: Exchange) -> bool:
        """False for answers the rules do not judge: retried front pages, hosts that are not Permiso."""
        if exchange.retried or exchange.status == 0:
            return False
        return not self.hosts or (urlsplit(exchange.url).hostname or "").lower() in self.hosts

    def flush(self) -> list[Finding]:
        """Judge the answers queued since the last flush; returns the new findings (never raises)."""
        with self._lock:
            pending, self._pending = self._pending, []
            exempt, scenario = self.exempt, self.scenario
        if exempt:
            return []
        new: list[Finding] = []
        for exchange in pending:
            if not self.watches(exchange):
                continue
            answer = Answer(exchange)
            judged = judge(answer)
            where = ""
            with self._lock:
                self.checked += 1
                for rule, problems in judged:
                    tally = self.tallies[rule.id]
                    tally.checked += 1
                    if not problems:
                        continue
                    where = where or _where(exchange)
                    defect = rule.defect(answer)
                    finding = Finding(where, tuple(problems), rule.id, defect)
                    tally.violations += 1
                    tally.defects[defect or ""] += 1
                    if len(tally.examples) < RuleTally.MAX_EXAMPLES:
                        tally.examples.append(finding)
                    if scenario and scenario not in tally.scenarios:
                        tally.scenarios.append(scenario)
                    new.append(finding)
        with self._lock:  # kept for drain() (diagnostics); bounded, the tallies hold the counts
            self.findings.extend(new[: max(0, self.MAX_FINDINGS - len(self.findings))])
        return new

    def scenario_started(self, title: str, *, exempt: bool = False) -> None:
        """Judge what is queued under the previous scenario, then attribute new answers to ``title``."""
        self.flush()
        with self._lock:
            self.scenario, self.exempt = title, exempt

    def subscribe(self) -> None:
        """Subscribe to every client's answers (idempotent)."""
        with self._lock:
            if self._subscribed:
                return
            self._subscribed = True
        ExchangeLog.subscribe_all(self)

    def unsubscribe(self) -> None:
        with self._lock:
            self._subscribed = False
        ExchangeLog.unsubscribe_all(self)

    def drain(self) -> list[Finding]:
        """The findings since the last drain (judging what is queued first), and forget them."""
        self.flush()
        with self._lock:
            taken, self.findings = self.findings, []
        return taken

    def broken(self) -> list[RuleTally]:
        return [t for t in self.tallies.values() if t.violations]

    def reset(self) -> None:
        """Forget every tally (a new behave run in the same process, e.g. a behavex worker)."""
        with self._lock:
            self._pending.clear()
            self.findings.clear()
            self.checked = 0
            self.tallies = {r.id: RuleTally(r) for r in RULES}
            self.scenario, self.exempt = "", False

    def rule_records(self) -> list[dict[str, Any]]:
        """One plain record per rule (held or broken), for the summary
        (support.lifecycle.summary_records.RuleRecord)."""
        self.flush()
        with self._lock:
            return [{"id": t.rule.id, "rule": t.rule.text, "clause": t.rule.clause, "tag": t.rule.tag,
                     "defect": t.defect, "defects": list(t.rule.defects), "severity": t.rule.severity,
                     "seen": {(d or "none"): n for d, n in t.defects.most_common()},
                     "checked": t.checked, "violations": t.violations,
                     "examples": [f.as_example() for f in t.examples], "scenarios": list(t.scenarios)}
                    for t in self.tallies.values()]


#: the run's one watch; subscribed when a security step module is imported or :func:`install` runs
WATCH = HygieneWatch()


def findings_message(findings: list[Finding], limit: int = 8) -> str:
    """One readable (redacted) text for a list of findings (for diagnostics; the watch never fails)."""
    lines = [f"  - [{f.rule}] {f.render()}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more")
    return "answers that break run-wide rules (reported once in the sign-off summary):\n" + "\n".join(lines)


def _scenario_tags(context: Any) -> set[str]:
    scenario = getattr(context, "scenario", None)
    return set(getattr(scenario, "effective_tags", ()) or ())


def scenario_started(context: Any, scenario: Any) -> None:
    """behave ``before_scenario``: attribute the answers that follow to this scenario."""
    title = f"{getattr(getattr(scenario, 'feature', None), 'name', '')} › {getattr(scenario, 'name', '')}"
    tags = set(getattr(scenario, "effective_tags", ()) or ())
    WATCH.scenario_started(title, exempt=EXEMPT_TAG in tags)


def after_step(context: Any, step: Any) -> None:
    """behave ``after_step`` hook: judge the answers of the step. Never raises: a broken run-wide rule
    is reported once for the run (sign-off summary, Allure, JUnit), never as this step's failure."""
    try:
        WATCH.flush()
    except Exception as exc:  # a bug of the watch must not fail a scenario either
        print(f"run-wide watch: could not judge answers ({type(exc).__name__})")


def verify_scenario(context: Any, scenario: Any = None) -> None:
    """For an ``after_scenario`` hook: judge what is pending (never raises)."""
    after_step(context, None)


# ---------------------------------------------------------------------------------------- capabilities
AUTH_RATE_LIMIT = "auth_rate_limit"
NO_AUTH_RATE_LIMIT = "no_auth_rate_limit"


def rate_limit_reason(settings: Any, target: Any, capabilities: Mapping[str, str | None]) -> str | None:
    """None when the target rate-limits its auth endpoints, else why the suite assumes it does not.

    An explicit setting ``PERMISO_AUTH_RATE_LIMITED`` (true/false) wins when settings offer it.
    Otherwise: a deployment behind the TLS front is limited (contract Part B: the front rate-limits
    per client IP); the embedded reference server starts with its limiter off (decisions.md) unless
    ``PERMISO_REFERENCE_AUTH_RATE_LIMIT`` gave it one; a target without the front has no documented limiter.
    """
    explicit = getattr(settings, "permiso_auth_rate_limited", None)
    if explicit is not None:
        return None if explicit else "PERMISO_AUTH_RATE_LIMITED=false: the target has no auth rate limit"
    if getattr(target, "embedded", False):
        if getattr(settings, "permiso_reference_auth_rate_limit", None) is not None:
            return None  # started with a limiter like the front's (PERMISO_REFERENCE_AUTH_RATE_LIMIT)
        return ("the embedded reference server runs without an auth rate limit (the nginx front's limit, "
                "Part B, is only present on a deployment; PERMISO_REFERENCE_AUTH_RATE_LIMIT=5 gives it one)")
    if capabilities.get("tls_front"):
        return "the target has no TLS front, where the auth rate limit lives (Part B)"
    return None


def target_hosts(settings: Any, target: Any = None) -> frozenset[str]:
    """The host names of the target (API and plain-HTTP port): the watch judges only their answers."""
    urls = [getattr(settings, "permiso_base_url", None), getattr(settings, "permiso_http_url", None),
            getattr(target, "base_url", None), getattr(target, "http_url", None)]
    hosts = set()
    for url in urls:
        if isinstance(url, str) and url:
            host = urlsplit(url).hostname
            if host:
                hosts.add(host.lower())
    return frozenset(hosts)


def install(context: Any) -> None:
    """before_all (after the capabilities are probed): subscribe the run-wide watch to the target's
    answers and add the ``auth_rate_limit`` capability to ``context.capabilities`` (and its opposite,
    ``no_auth_rate_limit``: a load from one machine behind such a limit measures the limit, not the service)."""
    WATCH.subscribe()
    settings = getattr(context, "settings", None)
    target = getattr(context, "target", None)
    if settings is not None:
        WATCH.hosts = target_hosts(settings, target)
    capabilities = getattr(context, "capabilities", None)
    if isinstance(capabilities, dict) and target is not None:
        capabilities[AUTH_RATE_LIMIT] = rate_limit_reason(context.settings, context.target, capabilities)
        capabilities[NO_AUTH_RATE_LIMIT] = None if capabilities[AUTH_RATE_LIMIT] else (
            "the target limits auth calls per client address (the front's 5/s, Part B): a load from one "
            "machine would measure that limit, not the service (permiso-acceptance load --master/--worker "
            "spreads it over machines)")
