"""Security checks of the suite: the run-wide rules and their watch, hostile inputs, timing and rate-limit probes.

Why a module of its own: the security features (``features/security/``) judge Permiso against attack
lists (RFC 8725, RFC 6749/6750/7009, OWASP API Top 10, ASVS). Most of their rules are stated per
scenario, but some hold for EVERY answer, whatever scenario provoked it: the Bearer challenge on a 401,
``Retry-After`` on a 429, ``no-store`` on token answers, the security headers (HSTS over HTTPS), no
server software or version, the contract's error shape, no echo of submitted values, no internals in
error bodies, no open CORS with credentials. These are the :data:`RULES` below.

One rule per scenario (design.md section 2): a broken run-wide rule never fails an unrelated scenario.
Each rule has its own scenarios (``features/security/headers_and_hygiene.feature``) that fail when it is
broken, and the :class:`HygieneWatch` checks every answer of the run against every rule and REPORTS what
it saw: per rule, how many answers it applied to, how many broke it, and up to three redacted examples.
The sign-off summary, the Allure results and the JUnit file show each rule once (support/lifecycle/summary_page.py,
support/lifecycle/rule_results.py).

The watch subscribes to :meth:`support.wire.client.ExchangeLog.subscribe_all` (every client of the process).
It judges answers late - at the end of each step - so that a front 503 page the client retried (the
client marks it ``retried`` after it has been published) is skipped, and it skips answers from hosts
other than the target's. ``SECURITY_SCAN_ENABLED=false`` keeps the rules listed but out of the verdict.
A scenario tagged ``@hygiene.unchecked`` is not watched (for a scenario that talks to something other
than Permiso on purpose).

Hooks the coordinator wires (``support/lifecycle/run.py``): ``before_all`` :func:`install`; ``before_scenario``
:func:`scenario_started`; ``after_step`` :func:`after_step` (never raises).

Nothing here imports behave; ``context``/``step`` are duck-typed.
"""

from __future__ import annotations

import concurrent.futures
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from hamcrest.core.matcher import Matcher

from support.checks.matchers import (
    SECURITY_HEADERS as SECURITY_HEADERS,  # re-exported: the features' steps read them here
)
from support.checks.matchers import (
    _Rule,
    describe_response,
    echo_problems,
    error_shape_problems,
    internals_problems,
    is_named_error,
    no_store_problems,
    retry_after_problems,
    submitted_secrets,
)
from support.checks.matchers import does_not_echo as does_not_echo
from support.checks.matchers import header_problems as header_problems
from support.checks.matchers import reveals_nothing_internal as reveals_nothing_internal
from support.checks.timing import Comparison, compare_samples, sample_interleaved
from support.people.identities import generate_password
from support.wire import redaction
from support.wire.client import ApiResponse, Exchange, ExchangeLog, PermisoClient
from support.wire.pacing import API_PACER, AUTH_PACER

# ---------------------------------------------------------------------------------------- hygiene
#: Header names that only ever serve to advertise the server's technology.
TECHNOLOGY_HEADERS = ("X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Runtime",
                      "X-Generator")
#: Server header values that name the application server or framework behind the front.
_FRAMEWORK_RE = re.compile(r"uvicorn|gunicorn|hypercorn|daphne|starlette|fastapi|werkzeug|python|"
                           r"granian", re.IGNORECASE)
_VERSION_RE = re.compile(r"/\s*v?\d|\b\d+\.\d+")

EXEMPT_TAG = "hygiene.unchecked"


def version_leak_problems(headers: Mapping[str, str]) -> list[str]:
    """No server software or version: no ``X-Powered-By`` and friends, no ``Server`` naming the
    application server/framework (``uvicorn``) or any version number (``nginx/1.22.1``)."""
    lower = {k.lower(): v for k, v in headers.items()}
    problems = [f"{name}: {lower[name.lower()]!r} names the technology" for name in TECHNOLOGY_HEADERS
                if name.lower() in lower]
    server = lower.get("server")
    if server is not None and (_FRAMEWORK_RE.search(server) or _VERSION_RE.search(server)):
        problems.append(f"Server: {server!r} names the server software or its version")
    return problems


def cors_problems(request_headers: Mapping[str, str], headers: Mapping[str, str]) -> list[str]:
    """D16: no answer lets any or a foreign origin read it with credentials."""
    lower = {k.lower(): v for k, v in headers.items()}
    allow = lower.get("access-control-allow-origin")
    if allow is None:
        return []
    credentials = lower.get("access-control-allow-credentials", "").strip().lower() == "true"
    origin = next((v for k, v in request_headers.items() if k.lower() == "origin"), None)
    if allow.strip() == "*" and credentials:
        return ["CORS allows any origin with credentials"]
    if origin is not None and allow.strip() == origin.strip() and credentials:
        return [f"CORS reflects the foreign origin {origin!r} with credentials"]
    return []


# ---------------------------------------------------------------------------------------- rule registry
#: A.3: the token endpoints whose 200 answers must not be cached (relative to the API base)
TOKEN_PATHS = ("/auth/token", "/auth/refresh", "/auth/service-token")


class Answer:
    """One answer as the rules read it: parsed once (lower-case headers, JSON body, path, scheme)."""

    __slots__ = ("_body", "exchange", "headers", "https", "method", "path", "status", "text")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.status = exchange.status
        self.method = exchange.method
        self.headers = {str(k).lower(): v for k, v in (exchange.response_headers or {}).items()}
        self.text = exchange.response_text or ""
        self.https = exchange.url[:8].lower() == "https://"
        self.path = (urlsplit(exchange.url).path or "/").rstrip("/") or "/"
        self._body: Any = _UNSET

    @property
    def body(self) -> Any:
        if self._body is _UNSET:
            self._body = self.exchange.json() if self.text[:1] in "{[" else None
        return self._body

    @property
    def json(self) -> bool:
        return "json" in self.headers.get("content-type", "").lower()


_UNSET = object()


def _headers_defect(answer: Answer) -> str | None:
    """D32: the port-80 redirect; F1: the front's own (non-JSON) answers on HTTPS; else no Part C id."""
    if not answer.https and 300 <= answer.status < 400:
        return "D32"
    if answer.https and not answer.json:
        return "F1"
    return None


def _challenge_problems(answer: Answer) -> list[str]:
    value = answer.headers.get("www-authenticate")
    if value is None:
        return ["no WWW-Authenticate header"]
    if not value.strip().lower().startswith("bearer"):
        return [f"WWW-Authenticate was {value!r}, expected the scheme Bearer"]
    return []


def _cors_problems(answer: Answer) -> list[str]:
    if "access-control-allow-origin" not in answer.headers:
        return []
    return cors_problems(answer.exchange.request_headers or {}, answer.headers)


@dataclass(frozen=True)
class RunWideRule:
    """A rule every answer of the run must keep (one line, its contract clause, its Part C defects)."""

    id: str
    text: str
    clause: str
    defects: tuple[str, ...]
    applies: Callable[[Answer], bool]
    check: Callable[[Answer], list[str]]
    defect_for: Callable[[Answer], str | None] | None = None
    severity: str = "critical"

    @property
    def tag(self) -> str:
        """The contract tag of the rule's clause, as features write it (``contract.A11``)."""
        return "contract." + self.clause.split(",")[0].strip().replace(".", "")

    def defect(self, answer: Answer) -> str | None:
        """The Part C defect a violation in this answer shows (by where it was seen), or None."""
        if self.defect_for is not None:
            return self.defect_for(answer)
        return self.defects[0] if self.defects else None


RULES: tuple[RunWideRule, ...] = (
    RunWideRule(
        "bearer_challenge", "Every 401 refusal says how to authenticate (WWW-Authenticate: Bearer)",
        "A.2, A.11", ("D9",), lambda a: a.status == 401, _challenge_problems),
    RunWideRule(
        "retry_after", "Every rate-limit refusal (429) says when to retry (Retry-After)", "A.11", ("D9",),
        lambda a: a.status == 429, lambda a: retry_after_problems(a.headers.get("retry-after"))),
    RunWideRule(
        "no_store", "Token answers are never cached (Cache-Control: no-store)", "A.3", ("D28",),
        lambda a: a.status == 200 and a.method == "POST" and a.path.endswith(TOKEN_PATHS),
        lambda a: no_store_problems(a.headers.get("cache-control"))),
    RunWideRule(
        "security_headers", "Every answer carries the security headers (and HSTS over HTTPS)", "A.1",
        ("D32", "F1"), lambda a: True, lambda a: header_problems(a.headers, https=a.https),
        defect_for=_headers_defect),
    RunWideRule(
        "no_server_software", "No answer names the server software or its version", "A.1", (),
        lambda a: True, lambda a: version_leak_problems(a.headers), severity="normal"),
    RunWideRule(
        "error_shape", "Every error answer has the contract's error shape (error, error_description)",
        "A.11", (), lambda a: a.status >= 400, lambda a: error_shape_problems(a.status, a.body),
        severity="normal"),
    RunWideRule(
        "no_echo", "No error answer echoes the values that were submitted", "A.11", ("D10",),
        lambda a: a.status >= 400,
        lambda a: echo_problems(a.body, a.text, submitted_secrets(a.exchange.request_body))),
    RunWideRule(
        "no_internals", "No error answer reveals the server's internals (traceback, SQL, paths)", "A.11",
        ("D10",), lambda a: a.status >= 400, lambda a: internals_problems(a.status, a.body, a.text)),
    RunWideRule(
        "no_open_cors", "No foreign web site may read answers with a person's credentials", "A.1", ("D16",),
        lambda a: True, lambda a: _cors_problems(a)),
)
RULES_BY_ID: dict[str, RunWideRule] = {rule.id: rule for rule in RULES}


def judge(exchange: Exchange | Answer) -> list[tuple[RunWideRule, list[str]]]:
    """Every rule that applies to this answer, with what it found wrong (empty list: the rule held)."""
    answer = exchange if isinstance(exchange, Answer) else Answer(exchange)
    if answer.status == 0:
        return []
    return [(rule, rule.check(answer)) for rule in RULES if rule.applies(answer)]


def exchange_problems(exchange: Exchange) -> list[str]:
    """Everything the run-wide rules find wrong with one answer (empty when clean)."""
    return [problem for _, problems in judge(exchange) for problem in problems]


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


def _where(exchange: Exchange) -> str:
    return f"{exchange.method} {_short(redaction.redact_url(exchange.url))} -> {exchange.status}"


def _short(text: str, limit: int = 200) -> str:
    """A finding names its request; a hostile 100 KB URL must not become a 100 KB message."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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


# ---------------------------------------------------------------------------------------- hostile input
#: Named hostile values for the input-handling outlines (a name not listed is used literally).
PAYLOADS: dict[str, str] = {
    "SQL tautology": "' OR '1'='1",
    "SQL comment": "admin'--",
    "SQL stacked query": "x'; DROP TABLE users; --",
    "SQL union": "' UNION SELECT username, password_hash FROM users --",
    "NoSQL operator": '{"$ne": null}',
    "NoSQL regex": '{"$regex": ".*"}',
    "null byte": "qqzz\x00admin",
    "right-to-left override": "dana\u202eadmin",
    "zero-width joiner": "da\u200dna",
    "fullwidth letters": "\uff44\uff41\uff4e\uff41",
    "combining marks": "d\u0301a\u0301n\u0301a\u0301",
    "emoji": "dana\U0001f600",
    "path traversal": "../../etc/passwd",
    "script tag": "<script>alert(1)</script>",
    "template expression": "${7*7}{{7*7}}",
    "log4shell lookup": "${jndi:ldap://127.0.0.1/a}",
    "CRLF injection": "dana\r\nSet-Cookie: a=b",
    "over-long (300 characters)": "a" * 300,
    # words, not one run of letters: evidence redaction of long letter runs is slow (see the report)
    "huge (100 000 characters)": ("huge " * 20_000),
}


def payload(name: str) -> str:
    """The hostile value called ``name`` in a feature's Examples table (else the text itself)."""
    return PAYLOADS.get(name, name)


#: Bodies larger than any legitimate request (the app refuses more than 1 MB; nginx's default is 1 MB).
OVERSIZED_BODY_BYTES = 2_000_000


class OversizedBody:
    """A JSON-looking request body of ``size`` bytes, streamed in chunks (sent chunked, without a
    Content-Length, so the server must count what it reads). Its text in the evidence is one line."""

    CHUNK = 64 * 1024

    def __init__(self, size: int = OVERSIZED_BODY_BYTES, head: str = '{"bio": "') -> None:
        self.size = size
        self.head = head.encode()

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        sent = len(self.head)
        filler = b"huge " * (self.CHUNK // 5)
        while sent < self.size:
            part = filler[: self.size - sent]
            sent += len(part)
            yield part
        yield b'"}'

    def __str__(self) -> str:
        return f"<{self.size} bytes of filler, streamed>"

    __repr__ = __str__


def is_client_refusal(*allowed: int) -> Matcher[Any]:
    """OWASP API8 / A.11: hostile input is refused as the caller's fault (4xx, or one of ``allowed``),
    never a server error (5xx). What the refusal reveals is its own rule (:func:`reveals_nothing_internal`)."""

    def check(item: Any) -> list[str]:
        status = getattr(item, "status", 0)
        if status >= 500 or status == 0:
            return [f"status was {status}: a server error, expected a client error (4xx)"]
        if not (400 <= status < 500) and status not in allowed:
            return [f"status was {status}, expected a client error (4xx)"]
        return []

    extra = f" (or {', '.join(map(str, allowed))})" if allowed else ""
    return _Rule(f"a client-error refusal (4xx{extra}), never 5xx", check)


def finds_nobody_or_refuses() -> Matcher[Any]:
    """A.6 user search with hostile text: a 4xx refusal, or an answer listing no user (the text is a
    search term, never a query fragment); never a server error."""

    def check(item: Any) -> list[str]:
        status = getattr(item, "status", 0)
        if 400 <= status < 500:
            return []
        if status != 200:
            return [f"status was {status}, expected 200 with no match or a 4xx refusal"]
        body = getattr(item, "body", None)
        users = body.get("users") if isinstance(body, Mapping) else None
        if not isinstance(users, list):
            return ["no users list in the answer"]
        if users:
            return [f"the search matched {len(users)} user(s): the text was interpreted, not searched"]
        return []

    return _Rule("a search that finds nobody or is refused (4xx), never a server error", check)


# ---------------------------------------------------------------------------------------- headers
def has_no_version_leak() -> Matcher[Any]:
    """Hygiene: the answer names no server software or version (``Server: uvicorn``, ``X-Powered-By``)."""
    return _Rule("an answer naming no server software or version",
                 lambda item: version_leak_problems(getattr(item, "headers", {}) or {}))


def refuses_foreign_origin() -> Matcher[Any]:
    """D16: an answer to a request from a foreign web origin does not let that origin read it with
    credentials (no reflected or wildcard ``Access-Control-Allow-Origin`` with credentials)."""

    def check(item: Any) -> list[str]:
        exchange = getattr(item, "exchange", None)
        request_headers = exchange.request_headers if exchange is not None else {}
        return cors_problems(request_headers, getattr(item, "headers", {}) or {})

    return _Rule("an answer a foreign origin may not read with credentials", check)


# ---------------------------------------------------------------------------------------- one-time tokens
#: A.5/A.6: the one-time tokens Permiso would mail, by the words the features use for them
ONE_TIME_PURPOSES = ("password reset", "email verification")


def confirm_with_made_up_token(client: PermisoClient, purpose: str, email: str) -> tuple[ApiResponse, str]:
    """An attacker's guess at a one-time token (A.5/A.6): ask for a genuine ``purpose`` token for
    ``email`` (so one is pending, mailed to its owner), then confirm with a made-up token instead.
    Returns the confirmation's answer and the made-up token (to check it is not echoed)."""
    if purpose not in ONE_TIME_PURPOSES:
        raise AssertionError(f"unknown one-time token {purpose!r}; known: {', '.join(ONE_TIME_PURPOSES)}")
    token = secrets.token_urlsafe(32)
    if purpose == "password reset":
        client.request_password_reset(email)
        return client.confirm_password_reset(token, generate_password()), token
    client.request_email_verification(email)
    return client.confirm_email_verification(token), token


def refused_as_invalid_token(*submitted: str) -> Matcher[Any]:
    """A.6/A.11 (D11 answers 500): a bad or expired one-time token is refused 400 with the named error
    ``invalid_token``. ``submitted`` is accepted for old callers: echo and internals are run-wide rules
    with their own scenarios (:func:`does_not_echo`, :func:`reveals_nothing_internal`)."""
    del submitted
    return is_named_error("invalid_token", 400)


# ---------------------------------------------------------------------------------------- tokens
def introspects_as(active: bool, token_type: str | None = None) -> Matcher[Any]:
    """A.3 ``/introspect``: 200 with ``active`` as expected; an inactive answer carries nulls only, an
    active one names its subject (and, when given, reports ``token_type``: RFC 7662)."""

    def check(item: Any) -> list[str]:
        if getattr(item, "status", None) != 200:
            return [f"status was {getattr(item, 'status', None)}, expected 200"]
        body = getattr(item, "body", None)
        if not isinstance(body, Mapping):
            return ["body is not a JSON object"]
        if body.get("active") is not active:
            return [f"active was {body.get('active')!r}, expected {active}"]
        if not active:
            leaked = [k for k, v in body.items() if k != "active" and v is not None]
            if leaked:
                return [f"an inactive token's answer still names {sorted(leaked)}"]
        elif not body.get("sub"):
            return ["an active token's answer names no subject"]
        elif token_type is not None and body.get("token_type") != token_type:
            return [f"token_type was {body.get('token_type')!r}, expected {token_type!r}"]
        return []

    kind = f" of type {token_type}" if token_type else ""
    return _Rule(f"an introspection answer with active={active}{kind}", check)


def is_revocation_ack() -> Matcher[Any]:
    """A.3 / RFC 7009: ``/revoke`` answers 200 ``{"message": "Token revoked successfully"}``."""

    def check(item: Any) -> list[str]:
        if getattr(item, "status", None) != 200:
            return [f"status was {getattr(item, 'status', None)}, expected 200"]
        body = getattr(item, "body", None)
        if not isinstance(body, Mapping) or not isinstance(body.get("message"), str):
            return ["no message in the answer"]
        return []

    return _Rule("a revocation acknowledgement (200)", check)


# ---------------------------------------------------------------------------------------- enumeration
#: Pairs of sign-in attempts for the timing comparison (interleaved ABBA; the first pair is a warm-up).
TIMING_PAIRS = 16


def compare_sign_in_timings(wrong_password: Callable[[], ApiResponse], unknown_user: Callable[[], ApiResponse],
                            pairs: int = TIMING_PAIRS) -> tuple[Comparison, list[ApiResponse]]:
    """Time ``pairs`` interleaved attempts of each kind (after one warm-up pair) and compare them.

    :func:`support.checks.timing.compare_samples` calls two samples distinguishable only when a Mann-Whitney
    test is significant (p < 0.001) AND the medians differ by more than 15 ms AND by 5 %: noise on a
    clean target cannot pass all three, a side channel of tens of milliseconds (a skipped password
    hash) does. Returns the comparison and every answer (so the caller can check they were refusals).
    """
    answers: list[ApiResponse] = []

    def keep(fn: Callable[[], ApiResponse]) -> Callable[[], ApiResponse]:
        def call() -> ApiResponse:
            answer = fn()
            answers.append(answer)
            return answer
        return call

    wrong_password()
    unknown_user()
    a, b = sample_interleaved(keep(wrong_password), keep(unknown_user), max(8, pairs),
                              measure=lambda r: r.elapsed_ms)
    return compare_samples(a, b), answers


def timings_indistinguishable() -> Matcher[Any]:
    """A.3 enumeration: wrong-password and unknown-user answer times cannot be told apart."""

    def check(item: Any) -> list[str]:
        return [item.explanation] if getattr(item, "distinguishable", True) else []

    return _Rule("answer times that a statistical comparison cannot tell apart", check)


# ---------------------------------------------------------------------------------------- rate limits
FRONT_AUTH_BURST = 10  # Part B: the front allows a burst of 10 on auth paths (5 r/s)
#: upper bound of a flood: however slow the machine, a flood never sends more than this many attempts
MAX_FLOOD_ATTEMPTS = 100


def burst_size(requested: int) -> int:
    """How many attempts a guessing burst sends: RATE_LIMIT_TEST_REQUESTS, but at least twice the
    front's documented burst (Part B), or a correct limiter would never be reached."""
    return max(int(requested), 2 * FRONT_AUTH_BURST)


def flood_size(requested: int) -> int:
    """The most attempts a flood may send before it must have met the limit: on a slow machine the
    limiter refills while the flood is under way (5 per second), so allow for that, bounded."""
    return min(MAX_FLOOD_ATTEMPTS, max(5 * burst_size(requested), int(requested)))


@dataclass
class Burst:
    """The answers of a burst of attempts and how long it took."""

    answers: list[ApiResponse]
    seconds: float

    @property
    def limited(self) -> list[ApiResponse]:
        return [a for a in self.answers if is_limit_answer(a)]

    def summary(self) -> str:
        counts: dict[int, int] = {}
        for a in self.answers:
            counts[a.status] = counts.get(a.status, 0) + 1
        shown = ", ".join(f"{n}x {s}" for s, n in sorted(counts.items()))
        return f"{len(self.answers)} attempts in {self.seconds:.2f} s: {shown}"


def is_limit_answer(answer: ApiResponse) -> bool:
    """Part B / A.11: the front's 503 page, or the app's 429 ``rate_limit_exceeded``."""
    if answer.status == 503:
        return True
    return answer.status == 429 and answer.get("error") == "rate_limit_exceeded"


def fire_burst(attempt: Callable[[], ApiResponse], count: int, *, workers: int = 8,
               window_s: float = 60.0, stop_when_limited: bool = False) -> Burst:
    """Run up to ``count`` attempts from ``workers`` threads (bounded: no more than ``count`` calls, none
    started after ``window_s``, and with ``stop_when_limited`` none after the first limit answer);
    return every answer."""
    started = time.monotonic()
    answers: list[ApiResponse] = []
    lock = threading.Lock()
    stop = threading.Event()

    def one(_: int) -> None:
        if stop.is_set() or time.monotonic() - started > window_s:
            return
        answer = attempt()
        with lock:
            answers.append(answer)
        if stop_when_limited and is_limit_answer(answer):
            stop.set()

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, count))) as pool:
        list(pool.map(one, range(count)))
    for bucket in (AUTH_PACER, API_PACER):  # the flood emptied the target's bucket: so start the suite's empty
        bucket.drain()
    return Burst(answers, time.monotonic() - started)


def unpaced(client: PermisoClient, path: str, *, data: Any = None, json: Any = None) -> ApiResponse:
    """One auth call that bypasses the suite's own pacing and front-503 retries (for bursts only)."""
    return client.request("POST", path, data=data, json=json, token=None, paced=False, retry_front_503=False)


def hits_the_limit_within(window_s: float) -> Matcher[Any]:
    """Part B: within the window, at least one attempt of the burst got the limit answer (429 or 503),
    and every other attempt was an ordinary refusal (never a 5xx other than the front's 503)."""

    def check(item: Any) -> list[str]:
        problems = []
        if item.seconds > window_s:
            problems.append(f"the burst took {item.seconds:.1f} s, longer than the {window_s:g} s window")
        if not item.limited:
            problems.append(f"no attempt was limited ({item.summary()})")
        servers = [a for a in item.answers if a.status >= 500 and a.status != 503]
        if servers:
            problems.append(f"{len(servers)} attempt(s) got a server error ({item.summary()})")
        return problems

    return _Rule(f"a burst that meets the rate limit (429 or 503) within {window_s:g} s", check)


def wait_until_not_limited(attempt: Callable[[], ApiResponse], *, timeout_s: float = 15.0,
                           interval_s: float = 0.5) -> ApiResponse:
    """Repeat ``attempt`` until it is no longer limited or ``timeout_s`` passes (bounded poll)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = attempt()
        if not is_limit_answer(answer) or time.monotonic() + interval_s > deadline:
            return answer
        time.sleep(interval_s)


# ---------------------------------------------------------------------------------------- TLS front
def plain_http_url(http_url: str, path: str) -> str:
    """The address of ``path`` on the plain-HTTP port."""
    return http_url.rstrip("/") + (path if path.startswith("/") else "/" + path)


def redirect_keeps_path(response: ApiResponse, path: str, host: str) -> list[str]:
    """Part B: 301 to ``https://<host><path>`` (port not compared); problems, empty when fine."""
    if response.status != 301:
        return [f"status {response.status}, expected 301 ({describe_response(response)})"]
    location = response.headers.get("location") or ""
    parts = urlsplit(location)
    problems = []
    if parts.scheme != "https":
        problems.append(f"Location {redaction.redact_url(location)!r} is not https")
    if (parts.hostname or "").lower() != host.lower():
        problems.append("Location names another host")
    if (parts.path or "/") != path.split("?")[0]:
        problems.append(f"Location path {parts.path!r} is not {path.split('?')[0]!r}")
    return problems


def a_redirect_keeping(path: str, host: str) -> Matcher[Any]:
    """Part B: a plain-HTTP request is answered only by a 301 to the same path over HTTPS, carrying
    nothing of the API (no JSON error, no token, no user data)."""

    def check(item: Any) -> list[str]:
        problems = redirect_keeps_path(item, path, host)
        body = getattr(item, "body", None)
        if isinstance(body, Mapping) and ({"error", "detail", "username", "access_token", "active"} & set(body)):
            problems.append("the API answered over plain HTTP")
        return problems

    return _Rule(f"a 301 to https://{host}{path} carrying nothing of the API", check)


def any_jwt(values: Iterable[str]) -> bool:
    """True when any of the texts holds a JWT-shaped string."""
    return any(redaction.JWT_RE.search(v or "") for v in values)
