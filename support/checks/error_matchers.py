"""Matchers of error answers: the refusals (OAuth errors, ``http_error``, named and validation errors)
and the rules of an error body (the A.11 error shape, no echo of submitted values, no internals).

Why a module of its own: error answers are judged on their body (``error``, ``error_description``,
``details``), and the body rules are the ones the run-wide watch (:mod:`support.domains.hygiene_rules`)
applies to every answer as well; they share their helpers with each other and nothing with the status,
header, token and value matchers, whose base (:mod:`support.checks.matchers`) they build on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from hamcrest.core.matcher import Matcher

from support.checks.matchers import _body, _check, _describe, _Rule, _status, _status_problems, _text
from support.wire import redaction

# ---------------------------------------------------------------------------------------- errors
# One rule per matcher (design.md section 2). The composite matchers below (``is_oauth_error``,
# ``is_http_error``, ``is_named_error``, ``is_validation_error``; ``is_token_response`` in
# support/checks/token_matchers.py) state only the rule of the scenario that uses them: the status, and the
# ``error`` code when the body has the A.11 shape at all. The rules that hold for EVERY answer - the Bearer
# challenge on a 401, ``Retry-After`` on a 429, ``no-store`` on token answers, the security headers, the
# A.11 error shape, no echo, no internals - have their own single-rule matchers (the headers' in
# support/checks/matchers.py, the body's further down), used by the scenarios that state them, and the
# run-wide watch (support/domains/hygiene.py) reports them once for the whole run.


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


__all__ = [
    "ERROR_EXTRAS",
    "does_not_echo",
    "echo_problems",
    "error_shape_problems",
    "has_a11_error_shape",
    "has_no_leak",
    "internals_problems",
    "is_access_denied",
    "is_bearer_refusal",
    "is_http_error",
    "is_named_error",
    "is_oauth_error",
    "is_validation_error",
    "leak_problems",
    "reveals_nothing_internal",
    "submitted_secrets",
]
