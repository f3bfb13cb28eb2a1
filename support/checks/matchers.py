"""PyHamcrest matchers, one per rule of the contract, named after the rule they check: the base every
matcher builds on (:class:`RuleMatcher`, :func:`describe_response`), statuses, headers, JSON fields and values.

Why: a Then-step should read like the rule (``assert_that(response, is_bearer_refusal())``) and a
failure should explain itself (status, the offending field, the redacted body) without a debugger.
Each matcher's docstring names the contract clause (``permiso-api.md``) it checks.

Matchers take an :class:`~support.wire.evidence.ApiResponse` (or anything with ``status``, ``headers``,
``body`` and ``text``); a few (``is_jwt_with_claims``, ``is_uuid``, ``is_user_json``) take values.
Every mismatch description goes through :mod:`support.wire.redaction`: no secret is ever printed.

The matchers of error answers (refusals, the A.11 error shape, echo, internals) are
:mod:`support.checks.error_matchers`, those of token answers and JWTs :mod:`support.checks.token_matchers`:
each judges one kind of answer on the base kept here, so the module nearly every step imports
(``has_status``) stays small and the others grow on their own.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from hamcrest import equal_to
from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description
from hamcrest.core.helpers.wrap_matcher import wrap_matcher
from hamcrest.core.matcher import Matcher

from support.wire import redaction

BODY_PREVIEW_CHARS = 600

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
}

USER_FIELDS = ("id", "username", "email", "first_name", "last_name", "display_name", "bio", "is_active",
               "is_verified", "is_superuser", "full_name", "last_login", "created_at", "updated_at",
               "roles", "scope_names")


# ---------------------------------------------------------------------------------------- helpers
def _status(item: Any) -> int | None:
    return getattr(item, "status", None)


def _headers(item: Any) -> Mapping[str, str]:
    return getattr(item, "headers", None) or {}


def _header(item: Any, name: str) -> str | None:
    headers = _headers(item)
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None:
        for key, val in headers.items():
            if key.lower() == name.lower():
                return val
    return value


def _body(item: Any) -> Any:
    if hasattr(item, "body"):
        return item.body
    return item


def _text(item: Any) -> str:
    text = getattr(item, "text", None)
    if text is not None:
        return str(text)
    if isinstance(item, str):
        return item
    try:
        return json.dumps(item)
    except (TypeError, ValueError):
        return str(item)


def describe_response(item: Any) -> str:
    """One redacted, bounded summary of an answer: ``status 401, body {...}``."""
    if not hasattr(item, "status"):
        return redaction.redact_text(repr(item))[:BODY_PREVIEW_CHARS]
    exchange = getattr(item, "exchange", None)
    where = ""
    if exchange is not None:
        where = f"{exchange.method} {redaction.redact_url(exchange.url)} -> "
    body = redaction.redact_body(_text(item), _header(item, "content-type"))
    body = " ".join(body.split())
    if len(body) > BODY_PREVIEW_CHARS:
        body = body[:BODY_PREVIEW_CHARS] + "..."
    return f"{where}status {item.status}, body {body or '(empty)'}"


class RuleMatcher(BaseMatcher[Any]):
    """Base: subclasses return a list of problems (empty = match); the mismatch lists them all."""

    rule = ""

    def problems(self, item: Any) -> list[str]:
        raise NotImplementedError

    def _matches(self, item: Any) -> bool:
        return not self.problems(item)

    def describe_to(self, description: Description) -> None:
        description.append_text(self.rule)

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        problems = [redaction.redact_text(p) for p in self.problems(item)]
        mismatch_description.append_text("; ".join(problems)).append_text("\n     in: ").append_text(
            describe_response(item))


def _check(value: Any, expected: Any) -> bool:
    return wrap_matcher(expected).matches(value)


def _describe(expected: Any) -> str:
    return str(wrap_matcher(expected))


class _Rule(RuleMatcher):
    def __init__(self, rule: str, check: Callable[[Any], list[str]]) -> None:
        self.rule = rule
        self._check = check

    def problems(self, item: Any) -> list[str]:
        return self._check(item)


# ---------------------------------------------------------------------------------------- status
def has_status(*codes: int) -> Matcher[Any]:
    """The answer has one of the given HTTP status codes (any clause; mismatch shows the redacted body)."""
    wanted = tuple(codes)

    def check(item: Any) -> list[str]:
        status = _status(item)
        if status in wanted:
            return []
        return [f"status was {status}, expected {' or '.join(map(str, wanted))}"]

    return _Rule(f"an answer with status {' or '.join(map(str, wanted))}", check)


def _status_problems(item: Any, status: int | None) -> list[str]:
    if status is not None and _status(item) != status:
        return [f"status was {_status(item)}, expected {status}"]
    return []

# ---------------------------------------------------------------------------------------- single rules
def _challenge_problems(item: Any) -> list[str]:
    value = _header(item, "WWW-Authenticate")
    if value is None:
        return ["no WWW-Authenticate header"]
    if not value.strip().lower().startswith("bearer"):
        return [f"WWW-Authenticate was {value!r}, expected the scheme Bearer"]
    return []


def has_bearer_challenge() -> Matcher[Any]:
    """A.2/A.11 (D9): the answer carries ``WWW-Authenticate: Bearer`` (every 401, OAuth-style errors)."""
    return _Rule("an answer with a WWW-Authenticate: Bearer challenge", _challenge_problems)


def retry_after_problems(value: str | None) -> list[str]:
    """RFC 9110 section 10.2.3: ``Retry-After`` is delay-seconds or an HTTP-date."""
    if value is None:
        return ["no Retry-After header"]
    text = value.strip()
    if text.isdigit():
        return []
    try:
        parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return [f"Retry-After was {text!r}, expected a number of seconds or an HTTP date"]
    return []


def has_retry_after() -> Matcher[Any]:
    """A.11 (D9): a rate-limit refusal (429) says when to retry: ``Retry-After`` (seconds or a date)."""
    return _Rule("an answer that says when to retry (Retry-After)",
                 lambda item: retry_after_problems(_header(item, "Retry-After")))


def no_store_problems(cache_control: str | None) -> list[str]:
    """A.3 (D28): token answers carry ``Cache-Control: no-store``."""
    if "no-store" not in (cache_control or "").lower():
        return [f"Cache-Control was {cache_control!r}, expected no-store"]
    return []


def has_no_store() -> Matcher[Any]:
    """A.3 / RFC 6749 section 5.1 (D28): the answer may not be cached (``Cache-Control: no-store``)."""
    return _Rule("an answer marked Cache-Control: no-store",
                 lambda item: no_store_problems(_header(item, "Cache-Control")))


# ---------------------------------------------------------------------------------------- headers
def header_problems(headers: Mapping[str, str], *, https: bool) -> list[str]:
    """A.1: the five security headers with their contract values; HSTS with a max-age on HTTPS."""
    lower = {str(k).lower(): v for k, v in headers.items()}
    problems = []
    for name, value in SECURITY_HEADERS.items():
        got = lower.get(name.lower())
        if got is None:
            problems.append(f"no {name}")
        elif got.strip().lower() != value.lower():
            problems.append(f"{name} was {got!r}, expected {value!r}")
    if https:
        hsts = lower.get("strict-transport-security")
        if hsts is None:
            problems.append("no Strict-Transport-Security on HTTPS")
        elif not re.search(r"max-age=\d+", hsts):
            problems.append(f"Strict-Transport-Security was {hsts!r}, expected a max-age")
    return problems


def has_security_headers(hsts: bool | None = None) -> Matcher[Any]:
    """A.1: every answer carries the five security headers; HTTPS answers ``Strict-Transport-Security``
    (``hsts=None`` decides by the request's scheme, ``True``/``False`` forces)."""

    def check(item: Any) -> list[str]:
        want_hsts = hsts
        if want_hsts is None:
            exchange = getattr(item, "exchange", None)
            want_hsts = bool(exchange is not None and exchange.url.lower().startswith("https://"))
        return header_problems(_headers(item), https=want_hsts)

    return _Rule("an answer with the contract's security headers", check)


# ---------------------------------------------------------------------------------------- values
def is_uuid() -> Matcher[Any]:
    """A.1: ids of users, roles, scopes and sessions are UUID strings."""

    def check(item: Any) -> list[str]:
        if not isinstance(item, str):
            return [f"{item!r} is not a string"]
        try:
            uuid.UUID(item)
        except ValueError:
            return [f"{item!r} is not a UUID"]
        return []

    return _Rule("a UUID string", check)


def is_user_json(**fields: Any) -> Matcher[Any]:
    """A.6 user JSON: every documented field, a UUID id, roles as ``{id, name, description}``, and never
    a password or hash. Extra keyword arguments must equal/match the given fields."""

    def check(item: Any) -> list[str]:
        body = _body(item)
        if not isinstance(body, Mapping):
            return ["not a JSON object"]
        problems = [f"no {name!r} field" for name in USER_FIELDS if name not in body]
        if "id" in body and not is_uuid().matches(body["id"]):
            problems.append("id is not a UUID")
        roles = body.get("roles")
        if "roles" in body and (not isinstance(roles, list) or not all(
                isinstance(r, Mapping) and {"id", "name"} <= set(r) for r in roles)):
            problems.append("roles is not a list of {id, name, description}")
        secret_keys = [k for k in body if re.search(r"pass|hash|secret", str(k), re.IGNORECASE)]
        if secret_keys:
            problems.append(f"the user JSON exposes {secret_keys}")
        for name, expected in fields.items():
            if not _check(body.get(name), expected):
                problems.append(f"{name} was {body.get(name)!r}, expected {_describe(expected)}")
        return problems

    return _Rule("a user JSON (A.6) without password or hash", check)


def has_json_fields(*names: str) -> Matcher[Any]:
    """The body is a JSON object with at least these fields (shapes of A.6-A.10 answers)."""

    def check(item: Any) -> list[str]:
        body = _body(item)
        if not isinstance(body, Mapping):
            return ["body is not a JSON object"]
        return [f"no {name!r} field" for name in names if name not in body]

    return _Rule(f"a JSON object with fields {', '.join(names)}", check)


def responds_within(ms: float) -> Matcher[Any]:
    """Performance budgets (PERF_*_THRESHOLD_MS): the call's elapsed time is at most ``ms``."""

    def check(item: Any) -> list[str]:
        elapsed = getattr(item, "elapsed_ms", None)
        if elapsed is None:
            return ["no elapsed time recorded"]
        return [] if elapsed <= ms else [f"took {elapsed:.1f} ms, budget {ms:g} ms"]

    return _Rule(f"an answer within {ms:g} ms", check)


__all__ = [
    "SECURITY_HEADERS",
    "USER_FIELDS",
    "describe_response",
    "equal_to",
    "has_bearer_challenge",
    "has_json_fields",
    "has_no_store",
    "has_retry_after",
    "has_security_headers",
    "has_status",
    "header_problems",
    "is_user_json",
    "is_uuid",
    "no_store_problems",
    "responds_within",
    "retry_after_problems",
]
