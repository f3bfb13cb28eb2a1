"""PyHamcrest matchers, one per rule of the contract, named after the rule they check.

Why: a Then-step should read like the rule (``assert_that(response, is_bearer_refusal())``) and a
failure should explain itself (status, the offending field, the redacted body) without a debugger.
Each matcher's docstring names the contract clause (``permiso-api.md``) it checks.

Matchers take an :class:`~support.wire.evidence.ApiResponse` (or anything with ``status``, ``headers``,
``body`` and ``text``); a few (``is_jwt_with_claims``, ``is_uuid``, ``is_user_json``) take values.
Every mismatch description goes through :mod:`support.wire.redaction`: no secret is ever printed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
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


# ---------------------------------------------------------------------------------------- errors
# One rule per matcher (design.md section 2). The composite matchers below (``is_oauth_error``,
# ``is_http_error``, ``is_named_error``, ``is_validation_error``, ``is_token_response``) state only the
# rule of the scenario that uses them: the status, and the ``error`` code when the body has the A.11
# shape at all. The rules that hold for EVERY answer - the Bearer challenge on a 401, ``Retry-After`` on a
# 429, ``no-store`` on token answers, the security headers, the A.11 error shape, no echo, no internals -
# have their own single-rule matchers further down, used by the scenarios that state them, and the
# run-wide watch (support/domains/security_checks.py) reports them once for the whole run.


def _has_error_shape(body: Any) -> bool:
    """True when the body is an A.11 error object at all (an ``error`` field is present)."""
    return isinstance(body, Mapping) and "error" in body


def _code_problems(body: Any, code: Any, description: Any = None) -> list[str]:
    """The ``error`` code (and, when asked for, the description) where the body has the A.11 shape;
    nothing to say about a body without that shape (the shape rule reports it run-wide)."""
    if not _has_error_shape(body):
        return []
    problems = []
    if not _check(body.get("error"), code):
        problems.append(f"error was {body.get('error')!r}, expected {_describe(code)}")
    desc = body.get("error_description")
    if description is not None and isinstance(desc, str) and not _check(desc, description):
        problems.append(f"error_description was {desc!r}, expected {_describe(description)}")
    return problems


def _refusal_status_problems(item: Any, status: int | None) -> list[str]:
    if status is not None:
        return _status_problems(item, status)
    got = _status(item)
    if not isinstance(got, int) or not 400 <= got < 500:
        return [f"status was {got}, expected a refusal (4xx)"]
    return []


def is_oauth_error(code: str, status: int | None = None) -> Matcher[Any]:
    """A.3 OAuth-style refusal of the token endpoints: the status (a 4xx when not given) and ``error ==
    code`` (RFC 6749 section 5.2). ``error_code``/``status_code`` are extensions and not asserted (A.3);
    the Bearer challenge, the description and the shape are run-wide rules with their own matchers."""

    def check(item: Any) -> list[str]:
        return _refusal_status_problems(item, status) + _code_problems(_body(item), code)

    where = f" ({status})" if status else ""
    return _Rule(f"an OAuth error {code!r}{where}", check)


def is_http_error(status: int, description: Any = None) -> Matcher[Any]:
    """A.11 ``http_error`` family: the status, ``error == "http_error"`` (and the description, when one
    is asked for). The 401 challenge and the 429 ``Retry-After`` are separate rules
    (:func:`has_bearer_challenge`, :func:`has_retry_after`)."""

    def check(item: Any) -> list[str]:
        return _status_problems(item, status) + _code_problems(_body(item), "http_error", description)

    extra = f" {_describe(description)}" if description is not None else ""
    return _Rule(f"an http_error {status}{extra}", check)


def is_bearer_refusal(description: Any = None) -> Matcher[Any]:
    """A.2 bearer guard refusal: 401 ``http_error`` (the challenge is :func:`has_bearer_challenge`)."""
    return is_http_error(401, description)


def is_access_denied() -> Matcher[Any]:
    """A.2 self-or-admin / admin guard for a signed-in caller: 403 ``http_error`` "Access denied"."""
    return is_http_error(403)


def is_named_error(code: str, status: int) -> Matcher[Any]:
    """A.11 named error: the given status and ``{"error": code, ...}`` where the body has that shape."""

    def check(item: Any) -> list[str]:
        return _status_problems(item, status) + _code_problems(_body(item), code)

    return _Rule(f"a {code!r} error ({status})", check)


_VALIDATION_DETAIL_KEYS = frozenset({"type", "loc", "msg"})


def is_validation_error(*submitted: str) -> Matcher[Any]:
    """A.11 validation error: 422 and ``error == "validation_error"`` where the body has the shape.

    ``submitted`` is accepted for old callers and ignored: whether values are echoed is its own rule
    (:func:`does_not_echo`), as is the shape of ``details`` (:func:`has_a11_error_shape`)."""
    del submitted

    def check(item: Any) -> list[str]:
        return _status_problems(item, 422) + _code_problems(_body(item), "validation_error")

    return _Rule("a validation error (422)", check)


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


#: A.11: the fields an error body may carry besides ``error`` and ``error_description``
ERROR_EXTRAS = frozenset({"error_code", "status_code", "details", "locked_until", "error_uri"})
#: A.1: the two FastAPI answers the contract keeps as they are
PLAIN_DETAIL_ANSWERS = {404: "Not Found", 405: "Method Not Allowed"}


def error_shape_problems(status: int | None, body: Any) -> list[str]:
    """A.11: an error answer (4xx/5xx, JSON) is ``{"error": <code>, "error_description": <text>}`` (+ the
    OAuth extras; a 422's ``details`` a list of ``{type, loc, msg}``); a 500 is exactly
    ``internal_server_error``; A.1 keeps ``{"detail": "Not Found"}`` (404) and ``"Method Not Allowed"``
    (405). Empty for anything else (successes, bodies that are not JSON objects)."""
    if not isinstance(status, int) or status < 400 or not isinstance(body, Mapping):
        return []
    if status in PLAIN_DETAIL_ANSWERS and dict(body) == {"detail": PLAIN_DETAIL_ANSWERS[status]}:
        return []
    if "error" not in body:
        return [f"the error body has no error field (fields: {sorted(map(str, body))[:6]})"]
    problems = []
    code, desc = body.get("error"), body.get("error_description")
    if not isinstance(code, str) or not code:
        problems.append(f"error was {code!r}, expected a code")
    if not isinstance(desc, str) or not desc.strip():
        problems.append(f"error_description was {desc!r}, expected a non-empty text")
    extra = sorted(str(k) for k in body if k not in {"error", "error_description"} | ERROR_EXTRAS)
    if extra:
        problems.append(f"the error body carries {extra[:6]} beyond the contract's fields")
    if status == 500 and code != "internal_server_error":
        problems.append(f"a 500 whose error is {code!r}, expected internal_server_error")
    if status == 422:
        details = body.get("details")
        if not isinstance(details, list) or not details:
            problems.append("a validation error whose details is not a non-empty list")
        elif not all(isinstance(d, Mapping) and set(d) >= _VALIDATION_DETAIL_KEYS for d in details):
            problems.append("a validation detail lacks type/loc/msg")
    return problems


def has_a11_error_shape() -> Matcher[Any]:
    """A.11: an error answer has the contract's error shape (see :func:`error_shape_problems`)."""

    def check(item: Any) -> list[str]:
        status = _status(item)
        body = _body(item)
        if isinstance(status, int) and status >= 400 and not isinstance(body, Mapping):
            return ["the error body is not a JSON object"]
        return error_shape_problems(status, body)

    return _Rule("an error answer with the contract's error shape", check)


_SECRET_KEY_RE = re.compile(r"pass|secret", re.IGNORECASE)
#: shorter submitted values would match by chance ("abc" inside any text)
MIN_ECHO_CHARS = 6


def submitted_secrets(request_body: Any) -> list[str]:
    """The password and secret values a request submitted (JSON or form fields whose name says so)."""
    body = request_body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        text = body.strip()
        try:
            body = json.loads(text) if text[:1] in "{[" else dict(parse_qsl(text))
        except ValueError:
            return []
    found: list[str] = []

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(inner, secret or bool(_SECRET_KEY_RE.search(str(key))))
        elif isinstance(value, list | tuple):
            for inner in value:
                walk(inner, secret)
        elif secret and isinstance(value, str) and len(value) >= MIN_ECHO_CHARS:
            found.append(value)

    walk(body, False)
    return found


def echo_problems(body: Any, text: str, submitted: Iterable[str] = ()) -> list[str]:
    """A.11 / D10: the answer echoes nothing submitted: no validation detail carrying ``input`` or
    ``ctx``, and none of the ``submitted`` values (passwords, secrets) in the text."""
    problems = []
    details = body.get("details", body.get("detail")) if isinstance(body, Mapping) else None
    if isinstance(details, list):
        # "input": null (a field that was not sent) gives nothing back; a value or a ctx does
        keys = sorted({k for d in details if isinstance(d, Mapping) for k in ("input", "ctx")
                       if d.get(k) not in (None, "", {}, [])})
        if keys:
            problems.append(f"a validation detail carries {keys} (the submitted value is echoed)")
    echoed = sum(1 for value in dict.fromkeys(submitted) if value and str(value) in (text or ""))
    if echoed:
        problems.append(f"the body echoes {echoed} submitted value(s)")
    return problems


def does_not_echo(*values: str) -> Matcher[Any]:
    """A.11 / D10: the answer echoes nothing that was submitted: none of ``values``, no password or
    secret of the request that provoked it, and no validation detail with ``input``/``ctx``. The values
    are registered as secrets, so a mismatch never prints them."""
    for value in values:
        redaction.register_secret(value)

    def check(item: Any) -> list[str]:
        exchange = getattr(item, "exchange", None)
        sent = [*values, *submitted_secrets(getattr(exchange, "request_body", None))]
        return echo_problems(_body(item), _text(item), sent)

    return _Rule("an answer that echoes nothing that was submitted", check)


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


#: fields of a server error body that only ever carry internals
_INTERNAL_FIELDS = frozenset({"traceback", "trace", "stack", "stacktrace", "exception", "exc_info", "sql"})


def internals_problems(status: int | None, body: Any, text: str) -> list[str]:
    """A.11 / D10: what an error answer reveals of the server's internals (traceback, exception text,
    SQL, file paths, or a field such as ``traceback``); empty when clean. Successes are not scanned
    (a user's bio may quote anything)."""
    if not isinstance(status, int) or status < 400:
        return []
    problems = leak_problems(text)
    if isinstance(body, Mapping):
        fields = sorted(str(k) for k in body if str(k).lower() in _INTERNAL_FIELDS)
        if fields:
            problems.append(f"the error body carries {fields}")
    return problems


def reveals_nothing_internal() -> Matcher[Any]:
    """A.11 / D10: an error answer has no traceback, exception text, SQL or file path, and no field such
    as ``traceback``. (That a 500 is exactly ``internal_server_error`` is the error-shape rule.)"""

    def check(item: Any) -> list[str]:
        status = _status(item)
        status = status if isinstance(status, int) and status >= 400 else 400
        return internals_problems(status, _body(item), _text(item))

    return _Rule("an answer revealing nothing of the server's internals", check)


def has_no_leak() -> Matcher[Any]:
    """A.11 server errors / D10: no traceback, exception text, SQL or file path in a body."""
    return _Rule("a body revealing no traceback, exception text, SQL or file path",
                 lambda item: leak_problems(_text(item)))


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


# ---------------------------------------------------------------------------------------- tokens
def _looks_like_jwt(value: Any) -> bool:
    return isinstance(value, str) and value.count(".") == 2 and value.startswith("eyJ")


def _is_refresh_answer(item: Any) -> bool:
    exchange = getattr(item, "exchange", None)
    return exchange is not None and urlsplit(exchange.url).path.rstrip("/").endswith("/auth/refresh")


def is_token_response(refresh: bool = True, *, session: bool | None = None) -> Matcher[Any]:
    """A.3 token answer: 200 ``{access_token, token_type: "Bearer", expires_in, refresh_token, scope,
    session_id}``, ``expires_in`` an int > 0. ``refresh=False`` for service tokens (``refresh_token``
    and ``session_id`` null). A sign-in promises a ``session_id``; a refresh answer may carry
    ``session_id: null`` (A.3), so an answer of ``/auth/refresh`` is accepted with either (``session``
    forces the choice). ``Cache-Control: no-store`` is its own rule (:func:`has_no_store`)."""

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
        session_id = body.get("session_id")
        want_session = session if session is not None else (
            None if refresh and _is_refresh_answer(item) else refresh)
        if want_session is None:
            if session_id is not None and not isinstance(session_id, str):
                problems.append("session_id is neither a string nor null")
        elif want_session and not isinstance(session_id, str):
            problems.append("session_id is not a string")
        elif not want_session and session_id is not None:
            problems.append("a session_id was issued where none is expected")
        if body.get("scope") is not None and not isinstance(body.get("scope"), str):
            problems.append("scope is neither a space-separated text nor null")
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
    "ERROR_EXTRAS",
    "SECURITY_HEADERS",
    "USER_FIELDS",
    "decode_claims",
    "describe_response",
    "does_not_echo",
    "echo_problems",
    "equal_to",
    "error_shape_problems",
    "has_a11_error_shape",
    "has_bearer_challenge",
    "has_json_fields",
    "has_no_leak",
    "has_no_store",
    "has_retry_after",
    "has_security_headers",
    "has_status",
    "header_problems",
    "internals_problems",
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
    "no_store_problems",
    "responds_within",
    "retry_after_problems",
    "reveals_nothing_internal",
    "submitted_secrets",
]
