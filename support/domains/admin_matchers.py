"""Reading administration answers and judging them: the objects of a list answer, a role's scope names,
timestamps, lists written in features, and hamcrest matchers named after the rule of A.2 or A.6-A.11
each checks (a refusal, a conflict, a page, an answer without a secret, a renewed session...).

A module of its own because none of it needs a scenario, a server or the domain's memory: every function
reads an answer it is given, so steps and unit tests use it alone, and the rest of the administration
domain (:mod:`support.domains.admin_flows` and the modules built on it) does not depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description

from support.checks.matchers import describe_response
from support.people.identities import items_of_body
from support.wire import redaction
from support.wire.evidence import ApiResponse

# ---------------------------------------------------------------------------------------- reading


def items_of(response: ApiResponse, key: str) -> list[Mapping[str, Any]]:
    """The objects of a list answer (``{key: [...]}`` or a bare list)."""
    return items_of_body(response.body, key)


def scope_names_of_role(role: Mapping[str, Any]) -> list[str]:
    return sorted(str(s.get("name")) for s in role.get("scopes", []) if isinstance(s, Mapping))


def timestamp(value: Any) -> datetime | None:
    from support.people.flows import parse_timestamp

    return parse_timestamp(value)


def words(phrase: str) -> list[str]:
    """``"a, b and c"`` -> ``["a", "b", "c"]`` (lists written in features)."""
    return [w.strip().strip('"') for w in re.split(r",|\band\b", phrase) if w.strip().strip('"')]


# ---------------------------------------------------------------------------------------- matchers


class _Rule(BaseMatcher[Any]):
    """A matcher from a rule text and a function returning the problem (None when it holds)."""

    def __init__(self, rule: str, problem: Callable[[Any], str | None]) -> None:
        self.rule = rule
        self._problem = problem

    def _matches(self, item: Any) -> bool:
        return self._problem(item) is None

    def describe_to(self, description: Description) -> None:
        description.append_text(self.rule)

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        problem = self._problem(item)
        mismatch_description.append_text(redaction.redact_text(str(problem)))
        if hasattr(item, "status"):
            mismatch_description.append_text("\n     in: ").append_text(describe_response(item))


def _status(item: Any) -> int | None:
    return getattr(item, "status", None)


def _body(item: Any) -> Any:
    return getattr(item, "body", item)


def a_success() -> _Rule:
    """A.6-A.10: the allowed caller's request is carried out (any 2xx)."""
    return _Rule("a successful answer (2xx)",
                 lambda r: None if 200 <= (_status(r) or 0) < 300 else f"status was {_status(r)}")


def an_answer_from_the_endpoint() -> _Rule:
    """A.1 (endpoint availability): the endpoint exists and works: neither 404/405 nor a 5xx."""

    def problem(item: Any) -> str | None:
        status = _status(item) or 0
        if status in (404, 405):
            return f"status was {status}: the endpoint is missing"
        if status >= 500 or status == 0:
            return f"status was {status}: the endpoint failed"
        return None

    return _Rule("an answer from the endpoint (not 404/405, not 5xx)", problem)


def refused_as_not_allowed() -> _Rule:
    """A.2: a signed-in caller without the right is refused 403 with an error body (http_error
    "Access denied" / "Insufficient scope" or the named access_denied of A.9)."""

    def problem(item: Any) -> str | None:
        if _status(item) != 403:
            return f"status was {_status(item)}, expected 403"
        body = _body(item)
        if not isinstance(body, Mapping) or not body.get("error") or not body.get("error_description"):
            return "no error and error_description in the body"
        return None

    return _Rule("a refusal: 403 with an error body (A.2)", problem)


def a_conflict() -> _Rule:
    """A.6/A.7: a taken name is refused 409. The body's shape (A.11's named error ``conflict``) is the
    run-wide rule of error shapes, reported once by its own scenario, not by every conflict."""

    def problem(item: Any) -> str | None:
        return None if _status(item) == 409 else f"status was {_status(item)}, expected 409"

    return _Rule("a conflict refusal (409)", problem)


def retry_after_problem(value: str | None) -> str | None:
    """RFC 9110 section 10.2.3: ``Retry-After`` is delay-seconds (a non-negative integer) or an
    HTTP-date; None when it is one of them."""
    if value is None:
        return "no Retry-After header"
    text = value.strip()
    if text.isdigit():
        return None
    try:
        parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return f"Retry-After was {text!r}, expected a number of seconds or an HTTP date"
    return None


def refused_by_the_registration_limit(*, retry_after: bool = True) -> _Rule:
    """A.6/A.11: a registration past the hourly limit is refused 429 with the named error
    ``rate_limit_exceeded`` (and a description) and a ``Retry-After`` header (D9 loses it).
    ``retry_after=False`` leaves the header to its own scenario (a rule of every 429, A.11)."""

    def problem(item: Any) -> str | None:
        if _status(item) != 429:
            return f"status was {_status(item)}, expected 429"
        body = _body(item)
        if not isinstance(body, Mapping) or body.get("error") != "rate_limit_exceeded":
            return "error is not 'rate_limit_exceeded'"
        if not isinstance(body.get("error_description"), str) or not body["error_description"].strip():
            return "no error_description"
        if not retry_after:
            return None
        headers = {str(k).lower(): v for k, v in (getattr(item, "headers", None) or {}).items()}
        return retry_after_problem(headers.get("retry-after"))

    what = "429 rate_limit_exceeded with Retry-After" if retry_after else "429 rate_limit_exceeded"
    return _Rule(f"a registration refused by the limit ({what})", problem)


def a_page_of(key: str, per_page: int | None = None) -> _Rule:
    """A.6/A.8 list answers: ``{<key>: [...], total, page, per_page, pages}`` with at most
    ``per_page`` items, and ``pages`` = ceil(total / per_page)."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if _status(item) != 200 or not isinstance(body, Mapping):
            return f"status was {_status(item)}, expected a 200 JSON object"
        missing = [k for k in (key, "total", "page", "per_page", "pages") if k not in body]
        if missing:
            return f"no {', '.join(missing)} field"
        size = body["per_page"]
        if per_page is not None and size != per_page:
            return f"per_page was {size}, expected {per_page}"
        if len(body[key]) > size:
            return f"{len(body[key])} items on a page of {size}"
        total = body["total"]
        expected_pages = -(-total // size) if total else 0
        if body["pages"] not in (expected_pages, max(1, expected_pages)):
            return f"pages was {body['pages']} for {total} items of {size} per page"
        return None

    return _Rule(f"a page of {key} (total, page, per_page, pages)", problem)


def lists_username(username: str, key: str = "users") -> _Rule:
    """The list answer contains an entry with this username."""

    def problem(item: Any) -> str | None:
        names = [str(u.get("username", "")).lower() for u in items_of(item, key)]
        return None if username.lower() in names else f"{username!r} is not among {names[:20]}"

    return _Rule(f"a list containing {username!r}", problem)


def lacks_username(username: str, key: str = "users") -> _Rule:
    """The list answer contains no entry with this username."""

    def problem(item: Any) -> str | None:
        names = [str(u.get("username", "")).lower() for u in items_of(item, key)]
        return f"{username!r} is listed" if username.lower() in names else None

    return _Rule(f"a list without {username!r}", problem)


#: keys that would carry a secret or its hash (``secret_rotated_at`` is a timestamp, not a secret)
SECRET_KEY = re.compile(r"^(client_)?secret$|secret_hash|hash$|^password", re.IGNORECASE)


def without_secret(secret: str | None = None) -> _Rule:
    """A.8: a client JSON (or a list of them) never contains a secret: no key named like a secret
    or hash, and not the secret's text."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        found: list[str] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, Mapping):
                for k, v in obj.items():
                    if SECRET_KEY.search(str(k)):
                        found.append(str(k))
                    walk(v)
            elif isinstance(obj, list):
                for v in obj:
                    walk(v)

        walk(body)
        if found:
            return f"the answer carries {sorted(set(found))}"
        text = getattr(item, "text", "") or ""
        if secret and secret in text:
            return "the answer contains the client's secret"
        return None

    return _Rule("an answer without any client secret or hash (A.8)", problem)


def later_than(before: Any) -> _Rule:
    """A.9: a renewed session's ``expires_at`` is later than before."""

    def problem(item: Any) -> str | None:
        old, new = timestamp(before), timestamp(item)
        if old is None or new is None:
            return f"not both timestamps: {before!r}, {item!r}"
        return None if new > old else f"expires_at {item!r} is not later than {before!r}"

    return _Rule(f"a moment later than {before!r}", problem)


def a_permission_answer(allowed: bool) -> _Rule:
    """A.7: ``{allowed, reason, matching_scopes, user_roles}`` with ``allowed`` as expected (an answer,
    or one result of a bulk check)."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if (not isinstance(item, Mapping) and _status(item) != 200) or not isinstance(body, Mapping):
            return f"status was {_status(item)}, expected 200"
        missing = [k for k in ("allowed", "reason", "matching_scopes", "user_roles") if k not in body]
        if missing:
            return f"no {', '.join(missing)} field"
        return None if body["allowed"] is allowed else f"allowed was {body['allowed']!r}"

    return _Rule(f"a permission answer allowed={allowed}", problem)


def has_parts(*names: str) -> _Rule:
    """A.10 console answers: a 200 JSON object with at least these parts."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if _status(item) != 200 or not isinstance(body, Mapping):
            return f"status was {_status(item)}, expected a 200 JSON object"
        missing = [n for n in names if n not in body]
        return f"no {', '.join(missing)}" if missing else None

    return _Rule(f"an answer with {', '.join(names)}", problem)


def a_failed_sign_in_event_for(username: str) -> _Rule:
    """A.10: the security events list a failed sign-in (``login_failed``-like) naming the user."""

    def problem(item: Any) -> str | None:
        if _status(item) != 200 or not isinstance(_body(item), Mapping) or "events" not in _body(item):
            return f"status was {_status(item)}, expected a 200 list of events"
        events = items_of(item, "events")
        for event in events:
            kind = str(event.get("event_type", ""))
            if str(event.get("username", "")).lower() == username.lower() and (
                    "fail" in kind or "invalid" in kind):
                return None
        return f"no failed sign-in event for {username!r} among {len(events)} event(s)"

    return _Rule(f"a failed sign-in event for {username!r}", problem)


def grew_by_at_least(before: Mapping[str, Any], after_names: Sequence[str], amount: int = 1) -> _Rule:
    """Statistics: each named count is at least ``amount`` higher than noted before."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if not isinstance(body, Mapping):
            return "not a JSON object"
        short = [f"{n}: {before.get(n)} -> {body.get(n)}" for n in after_names
                 if not isinstance(body.get(n), int) or not isinstance(before.get(n), int)
                 or body[n] < before[n] + amount]
        return f"did not grow by {amount}: {'; '.join(short)}" if short else None

    return _Rule(f"counts {', '.join(after_names)} grown by at least {amount}", problem)
