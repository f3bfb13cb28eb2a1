"""PyHamcrest matchers, one per rule of the contract, named after the rule they check.

Why: a Then-step should read like the rule (``assert_that(response, is_bearer_refusal())``) and a
failure should explain itself (status, the offending field, the redacted body) without a debugger.
Each matcher's docstring names the contract clause (``permiso-api.md``) it checks.

Matchers take an :class:`~support.client.ApiResponse` (or anything with ``status``, ``headers``,
``body`` and ``text``); a few (``is_jwt_with_claims``, ``is_uuid``, ``is_user_json``) take values.
Every mismatch description goes through :mod:`support.redaction`: no secret is ever printed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from hamcrest import equal_to
from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description
from hamcrest.core.helpers.wrap_matcher import wrap_matcher
from hamcrest.core.matcher import Matcher

from support import redaction

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


def _error_body_problems(body: Any, code: Any, description: Any = None) -> list[str]:
    if not isinstance(body, Mapping):
        return ["body is not a JSON object"]
    problems = []
    if not _check(body.get("error"), code):
        problems.append(f"error was {body.get('error')!r}, expected {_describe(code)}")
    desc = body.get("error_description")
    if not isinstance(desc, str) or not desc.strip():
        problems.append(f"error_description was {desc!r}, expected a non-empty text")
    elif description is not None and not _check(desc, description):
        problems.append(f"error_description was {desc!r}, expected {_describe(description)}")
    return problems


def _challenge_problems(item: Any) -> list[str]:
    value = _header(item, "WWW-Authenticate")
    if value is None:
        return ["no WWW-Authenticate header"]
    if not value.strip().lower().startswith("bearer"):
        return [f"WWW-Authenticate was {value!r}, expected a Bearer challenge"]
    return []


# ---------------------------------------------------------------------------------------- errors
def has_bearer_challenge() -> Matcher[Any]:
    """A.2/A.11: the answer carries ``WWW-Authenticate: Bearer`` (every 401, OAuth-style errors)."""
    return _Rule("an answer with a WWW-Authenticate: Bearer challenge", _challenge_problems)


def is_oauth_error(code: str, status: int | None = None) -> Matcher[Any]:
    """A.3 OAuth-style error of the token endpoints: ``{error, error_description, error_code,
    status_code, details}`` with ``error == error_code == code``, ``status_code`` equal to the HTTP
    status, plus ``WWW-Authenticate: Bearer``."""

    def check(item: Any) -> list[str]:
        problems = _status_problems(item, status)
        body = _body(item)
        problems += _error_body_problems(body, code)
        if isinstance(body, Mapping):
            if body.get("error_code") != code:
                problems.append(f"error_code was {body.get('error_code')!r}, expected {code!r}")
            if body.get("status_code") != _status(item):
                problems.append(f"status_code was {body.get('status_code')!r}, expected the HTTP status "
                                f"{_status(item)}")
            if "details" not in body:
                problems.append("no details field")
        return problems + _challenge_problems(item)

    where = f" ({status})" if status else ""
    return _Rule(f"an OAuth error {code!r}{where} with a Bearer challenge", check)


def is_http_error(status: int, description: Any = None) -> Matcher[Any]:
    """A.11 ``http_error`` family: ``{"error": "http_error", "error_description": ...}``; a 401 also
    carries ``WWW-Authenticate: Bearer`` and a 429 ``Retry-After``."""

    def check(item: Any) -> list[str]:
        problems = _status_problems(item, status) + _error_body_problems(_body(item), "http_error",
                                                                          description)
        if status == 401:
            problems += _challenge_problems(item)
        if status == 429 and _header(item, "Retry-After") is None:
            problems.append("no Retry-After header")
        return problems

    extra = f" {_describe(description)}" if description is not None else ""
    return _Rule(f"an http_error {status}{extra}", check)


def is_bearer_refusal(description: Any = None) -> Matcher[Any]:
    """A.2 bearer guard refusal: 401 ``http_error`` with ``WWW-Authenticate: Bearer``."""
    return is_http_error(401, description)


def is_access_denied() -> Matcher[Any]:
    """A.2 self-or-admin / admin guard for a signed-in caller: 403 ``http_error`` "Access denied"."""
    return is_http_error(403)


def is_named_error(code: str, status: int) -> Matcher[Any]:
    """A.11 named error: the given status and ``{"error": code, "error_description": <text>}``."""

    def check(item: Any) -> list[str]:
        problems = _status_problems(item, status) + _error_body_problems(_body(item), code)
        if status == 401:
            problems += _challenge_problems(item)
        return problems

    return _Rule(f"a {code!r} error ({status})", check)


_VALIDATION_DETAIL_KEYS = frozenset({"type", "loc", "msg"})


def is_validation_error(*submitted: str) -> Matcher[Any]:
    """A.11 validation error: 422 ``{"error": "validation_error", "error_description": "Request
    validation failed", "details": [{type, loc, msg}]}``; submitted values (pass them) never echoed."""

    def check(item: Any) -> list[str]:
        problems = _status_problems(item, 422)
        body = _body(item)
        problems += _error_body_problems(body, "validation_error")
        if isinstance(body, Mapping):
            details = body.get("details")
            if not isinstance(details, list) or not details:
                problems.append("details is not a non-empty list")
            else:
                for detail in details:
                    if not isinstance(detail, Mapping) or not set(detail) >= _VALIDATION_DETAIL_KEYS:
                        problems.append("a detail lacks type/loc/msg")
                        break
                    extra = set(detail) - _VALIDATION_DETAIL_KEYS
                    if extra:
                        problems.append(f"a detail carries {sorted(extra)} (values may be echoed)")
                        break
        text = _text(item)
        echoed = [value for value in submitted if value and str(value) in text]
        if echoed:
            problems.append(f"the body echoes {len(echoed)} submitted value(s)")
        return problems

    return _Rule("a validation error (422) that echoes no submitted value", check)


_LEAK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a source file location", re.compile(r"File \"[^\"]+\", line \d+|\.py\"?, line \d+")),
    ("a file path", re.compile(r"(/usr/(local/)?lib/python|site-packages|/app/[\w/]+\.py|"
                               r"[A-Za-z]:\\\\[\w\\]+\.py|/home/\w+/)")),
    ("SQL", re.compile(r"\b(SELECT\s+[\w*,\s.\"]+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|"
                       r"DELETE\s+FROM)\b|sqlalchemy|psycopg|sqlite3\.|asyncpg|"
                       r"IntegrityError|OperationalError|UniqueViolation", re.IGNORECASE)),
    ("exception text", re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b\s*[:(]|\b(KeyError|TypeError|"
                                  r"AttributeError|ValueError|NameError|AssertionError)\b")),
)


def leak_problems(text: str) -> list[str]:
    """What a body reveals of the server's internals (empty when clean). Used by hygiene subscribers."""
    return [f"the body contains {what}" for what, pattern in _LEAK_PATTERNS if pattern.search(text or "")]


def has_no_leak() -> Matcher[Any]:
    """A.11 server errors / D10: no traceback, exception text, SQL or file path in a body."""
    return _Rule("a body revealing no traceback, exception text, SQL or file path",
                 lambda item: leak_problems(_text(item)))


# ---------------------------------------------------------------------------------------- headers
def has_security_headers(hsts: bool | None = None) -> Matcher[Any]:
    """A.1: every answer carries the five security headers; HTTPS answers ``Strict-Transport-Security``
    (``hsts=None`` decides by the request's scheme, ``True``/``False`` forces)."""

    def check(item: Any) -> list[str]:
        problems = []
        for name, value in SECURITY_HEADERS.items():
            got = _header(item, name)
            if got is None:
                problems.append(f"no {name}")
            elif got.strip().lower() != value.lower():
                problems.append(f"{name} was {got!r}, expected {value!r}")
        want_hsts = hsts
        if want_hsts is None:
            exchange = getattr(item, "exchange", None)
            want_hsts = bool(exchange is not None and exchange.url.lower().startswith("https://"))
        if want_hsts:
            value = _header(item, "Strict-Transport-Security")
            if value is None:
                problems.append("no Strict-Transport-Security on HTTPS")
            elif not re.search(r"max-age=\d+", value):
                problems.append(f"Strict-Transport-Security was {value!r}, expected a max-age")
        return problems

    return _Rule("an answer with the A.1 security headers", check)


# ---------------------------------------------------------------------------------------- tokens
def _looks_like_jwt(value: Any) -> bool:
    return isinstance(value, str) and value.count(".") == 2 and value.startswith("eyJ")


def is_token_response(refresh: bool = True, *, session: bool | None = None) -> Matcher[Any]:
    """A.3 token answer: 200 ``{access_token, token_type: "Bearer", expires_in, refresh_token, scope,
    session_id}``, ``expires_in`` an int > 0, ``Cache-Control: no-store``. ``refresh=False`` for
    service tokens (``refresh_token`` and ``session_id`` null)."""
    want_session = refresh if session is None else session

    def check(item: Any) -> list[str]:
        problems = _status_problems(item, 200)
        body = _body(item)
        if not isinstance(body, Mapping):
            return [*problems, "body is not a JSON object"]
        if not _looks_like_jwt(body.get("access_token")):
            problems.append("access_token is not a JWT")
        if body.get("token_type") != "Bearer":
            problems.append(f"token_type was {body.get('token_type')!r}, expected 'Bearer'")
        expires = body.get("expires_in")
        if not isinstance(expires, int) or isinstance(expires, bool) or expires <= 0:
            problems.append(f"expires_in was {expires!r}, expected an integer > 0")
        for key in ("refresh_token", "scope", "session_id"):
            if key not in body:
                problems.append(f"no {key} field")
        if refresh and not _looks_like_jwt(body.get("refresh_token")):
            problems.append("refresh_token is not a JWT")
        if not refresh and body.get("refresh_token") is not None:
            problems.append("a refresh_token was issued where none is expected")
        if want_session and not isinstance(body.get("session_id"), str):
            problems.append("session_id is not a string")
        if not want_session and body.get("session_id") is not None:
            problems.append("a session_id was issued where none is expected")
        if body.get("scope") is not None and not isinstance(body.get("scope"), str):
            problems.append("scope is neither a space-separated text nor null")
        cache = _header(item, "Cache-Control") or ""
        if "no-store" not in cache.lower():
            problems.append(f"Cache-Control was {cache!r}, expected no-store")
        return problems

    kind = "with a refresh token" if refresh else "without a refresh token"
    return _Rule(f"a token answer {kind} (A.3)", check)


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded WITHOUT verifying anything (for inspection only)."""
    return jwt.decode(token, options={"verify_signature": False, "verify_exp": False,
                                      "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                                      "verify_iss": False})


def is_jwt_with_claims(**claims: Any) -> Matcher[Any]:
    """A.4: a JWT whose claims (decoded without verifying) equal or match the given values, e.g.
    ``is_jwt_with_claims(type="access", iss="permiso-auth", scopes=has_item("read:profile"))``.
    Use ``type_`` when a keyword clash bothers you; trailing underscores are dropped."""
    wanted = {name.rstrip("_"): value for name, value in claims.items()}

    def check(item: Any) -> list[str]:
        if not isinstance(item, str):
            return [f"{type(item).__name__} is not a token text"]
        try:
            payload = decode_claims(item)
        except jwt.PyJWTError as exc:
            return [f"not a decodable JWT ({type(exc).__name__})"]
        problems = []
        for name, expected in wanted.items():
            if name not in payload:
                problems.append(f"no {name!r} claim")
            elif not _check(payload[name], expected):
                problems.append(f"claim {name!r} was {payload[name]!r}, expected {_describe(expected)}")
        return problems

    shown = ", ".join(f"{k}={_describe(v)}" for k, v in wanted.items())
    return _Rule(f"a JWT with claims {shown}", check)


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
    "decode_claims",
    "describe_response",
    "equal_to",
    "has_bearer_challenge",
    "has_json_fields",
    "has_no_leak",
    "has_security_headers",
    "has_status",
    "is_access_denied",
    "is_bearer_refusal",
    "is_http_error",
    "is_jwt_with_claims",
    "is_named_error",
    "is_oauth_error",
    "is_token_response",
    "is_user_json",
    "is_uuid",
    "is_validation_error",
    "leak_problems",
    "responds_within",
]
