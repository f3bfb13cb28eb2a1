"""Security checks stated per scenario: hostile inputs, one-time token guesses, introspection and
revocation, sign-in timing (enumeration), rate-limit bursts and the plain-HTTP redirect of the TLS front.

The security features (``features/security/``) judge Permiso against attack lists (RFC 8725, RFC
6749/6750/7009, OWASP API Top 10, ASVS). Most of their rules are stated per scenario: the catalogues and
probes they need (:data:`PAYLOADS`, :class:`OversizedBody`, :func:`fire_burst`,
:func:`compare_sign_in_timings`) and the matchers that judge the outcome live here.

Why a module of its own: these checks act only when a scenario asks for them. The rules that hold for
EVERY answer of the run are :mod:`support.domains.hygiene_rules`, watched by :mod:`support.domains.hygiene`
(process-wide state and hooks); this module only adds the per-scenario matchers of two of those rules
(:func:`has_no_version_leak`, :func:`refuses_foreign_origin`).
"""

from __future__ import annotations

import concurrent.futures
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hamcrest.core.matcher import Matcher

from support.checks.error_matchers import is_named_error
from support.checks.matchers import _Rule, describe_response
from support.checks.timing import Comparison, compare_samples, sample_interleaved
from support.domains.hygiene_rules import cors_problems, version_leak_problems
from support.people.identities import generate_password
from support.wire import redaction
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse
from support.wire.pacing import API_PACER, AUTH_PACER

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
