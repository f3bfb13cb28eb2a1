"""The run-wide rules: what EVERY answer of the run must keep, whatever scenario provoked it.

The security features (``features/security/``) judge Permiso against attack lists (RFC 8725, RFC
6749/6750/7009, OWASP API Top 10, ASVS). Most of their rules are stated per scenario
(:mod:`support.domains.security_checks`), but some hold for EVERY answer, whatever scenario provoked it:
the Bearer challenge on a 401, ``Retry-After`` on a 429, ``no-store`` on token answers, the security
headers (HSTS over HTTPS), no server software or version, the contract's error shape, no echo of
submitted values, no internals in error bodies, no open CORS with credentials. These are the
:data:`RULES` below.

Why a module of its own: the rules are plain judgements of one answer, read by parties that share nothing
else - the run's watch (:mod:`support.domains.hygiene`), the sign-off (``support.lifecycle.signoff`` lists
them), the fuzz findings (:mod:`support.domains.fuzz_findings` reuses the internals and echo rules) and the
per-scenario matchers of :mod:`support.domains.security_checks` - so they carry none of the watch's
process-wide state or hooks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from support.checks.error_matchers import echo_problems, error_shape_problems, internals_problems, submitted_secrets
from support.checks.matchers import header_problems, no_store_problems, retry_after_problems
from support.wire.evidence import Exchange

# ---------------------------------------------------------------------------------------- hygiene
#: Header names that only ever serve to advertise the server's technology.
TECHNOLOGY_HEADERS = ("X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Runtime",
                      "X-Generator")
#: Server header values that name the application server or framework behind the front.
_FRAMEWORK_RE = re.compile(r"uvicorn|gunicorn|hypercorn|daphne|starlette|fastapi|werkzeug|python|"
                           r"granian", re.IGNORECASE)
_VERSION_RE = re.compile(r"/\s*v?\d|\b\d+\.\d+")


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
