"""Causes of failure: refused preconditions, known defects, and how a failed scenario is attributed.

Why this module: a sign-off report is only useful when each failure names its one cause. Against the
current Permiso release (contract Part D) one defect (D1: admin routes ask for a ``current_user`` query
parameter) used to stop dozens of Given steps, and the scenarios then failed with messages that blamed
something else ("no scope named 'service:api'", ``KeyError: 'users'``). Here:

- :class:`PreconditionRefused` is what a Given step raises when the target refuses to prepare the
  scenario's world. It is an ``AssertionError`` on purpose: behave then reports the scenario as
  *failed* (a finding about the target), never as an *error* (a bug of the suite). Its message is
  ``could not prepare: POST /api/v1/roles/ answered 422 (query.current_user missing)``.
- :func:`could_not_prepare` builds one from an answer, reading the refusal's reason from the body.
- :data:`DEFECTS` is the catalogue of known defects (Part C ids) with one line each, and
  :func:`defect_of_refusal` recognises the wire signature of a defect in a refusal (Part D).
- :func:`attribute_failure` / :func:`attribute_scenario` give each failed scenario ONE
  :class:`FailureCause`: a refused precondition (its signature), else the defect the scenario names in
  its ``@allure.issue:<id>`` tag, else the scenario's own rule (its title). Broken run-wide rules are the
  third kind of cause (``rule``); support/domains/hygiene.py finds them, support/lifecycle/verdict.py
  lists all.

Nothing here imports behave; answers are duck-typed (``status``, ``body``, ``exchange``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Known defects of the current Permiso code (contract Part C), one line each, as the summary names them.
DEFECTS: dict[str, str] = {
    "D1": "admin routes ask for a current_user query parameter; scope routes trust a caller-written body",
    "D2": "a locked account's right password, tokens and refresh answer 500; session renew answers 500",
    "D3": "a wrong password on a disabled or locked account still counts",
    "D4": "documentation and settings disagree on lockout numbers",
    "D5": "refresh tokens are accepted as bearer access tokens; introspect and revoke accept any token type",
    "D6": "the token audience is never verified",
    "D7": "refresh ignores revocation, re-grants all scopes, old refresh token usable as a bearer",
    "D8": "introspection reports revoked tokens as active and needs no special scope",
    "D9": "401s lose WWW-Authenticate; the registration 429 loses Retry-After",
    "D10": "500 bodies leak tracebacks and exception text; 422 bodies echo submitted values",
    "D11": "bad one-time tokens, a wrong current client secret, a webhook test without URL answer 500",
    "D12": "role, scope and service-client responses fail to serialise (500)",
    "D13": "role and scope ids in paths are typed as integers; /roles/stats and /roles/defaults unreachable",
    "D14": "creating a scope fails (500)",
    "D15": "a regular user can grant themselves roles and flip is_active/is_verified",
    "D16": "CORS allows any origin with credentials",
    "D17": "the API documentation is public in production",
    "D18": "session user_id is an integer; ending all sessions includes the current one; sessions do not gate tokens",
    "D19": "the registration limit is one bucket shared by everyone behind the front",
    "D23": "revocation and the registration limit fail open when Redis is down",
    "D24": "service-client allow-lists, rate limits and client type are not enforced",
    "D26": "the bootstrap refuses the guide's administrator password",
    "D28": "token answers carry no Cache-Control: no-store",
    "D29": "sign-in time tells whether a username exists",
    "D30": "an unknown service client and a wrong secret are told apart",
    "D31": "a token without exp is accepted",
    "D32": "the port-80 redirect lacks Permissions-Policy",
    "D33": "a NUL byte, a huge page number or a refresh sent as a form answer 500",
    "D34": "an unsupported grant_type answers 422 instead of 400 unsupported_grant_type",
    "F1": "the front's own answers on 443 drop the security headers",
}

_DEFECT_TAG = re.compile(r"^allure\.issue:(?P<id>[A-Z]+\d+)$")


def defect_tags(tags: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """The defect ids a scenario names in its ``@allure.issue:<id>`` tags, in tag order."""
    found = []
    for tag in tags:
        match = _DEFECT_TAG.match(str(tag).lstrip("@"))
        if match and match["id"] not in found:
            found.append(match["id"])
    return found


def _path_of(answer: Any) -> tuple[str, str]:
    exchange = getattr(answer, "exchange", None)
    if exchange is None:
        return "?", "?"
    return exchange.method, urlsplit(exchange.url).path or "/"


def refusal_reason(body: Any) -> str:
    """A short reason read from a refusal's body: a validation ``loc`` ("query.current_user missing"),
    an ``error`` code with its description, or FastAPI's ``detail`` text. Bounded; never the whole body."""
    if not isinstance(body, Mapping):
        return "no JSON body"
    details = body.get("details") if isinstance(body.get("details"), list) else body.get("detail")
    if isinstance(details, list) and details and isinstance(details[0], Mapping):
        first = details[0]
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body" or len(first.get("loc", ())) == 1)
        kind = str(first.get("type", ""))
        what = "missing" if kind == "missing" else str(first.get("msg", kind))[:60]
        return f"{loc} {what}".strip()
    error = body.get("error")
    description = body.get("error_description")
    if isinstance(error, str):
        text = f"{error}: {description}" if isinstance(description, str) and description else error
        return text[:120]
    if isinstance(body.get("detail"), str):
        return str(body["detail"])[:120]
    return "unrecognised body"


#: Wire signatures of known defects in a refusal (Part D): (status, regex on the reason) -> defect id
_REFUSAL_SIGNATURES: tuple[tuple[int | None, re.Pattern[str], str], ...] = (
    (422, re.compile(r"query\.current_user"), "D1"),
    (500, re.compile(r"Role check failed"), "D1"),
    (422, re.compile(r"(^|\.)token_payload|^body missing"), "D1"),
    (422, re.compile(r"path\.(role_id|scope_id).*(int|integer)", re.IGNORECASE), "D13"),
    (500, re.compile(r"offset-naive and offset-aware", re.IGNORECASE), "D2"),
)


def defect_of_refusal(status: int, reason: str) -> str | None:
    """The known defect whose wire signature (Part D) this refusal shows, or None."""
    for wanted, pattern, defect in _REFUSAL_SIGNATURES:
        if (wanted is None or wanted == status) and pattern.search(reason):
            return defect
    return None


class PreconditionRefused(AssertionError):
    """A Given step could not prepare the scenario because the target refused a setup call.

    An AssertionError so behave marks the scenario *failed* (not *error*). ``signature`` groups every
    scenario blocked by the same refusal under one cause in the sign-off summary.
    """

    def __init__(self, method: str, path: str, status: int, reason: str, defect: str | None = None,
                 what: str = "") -> None:
        self.method, self.path, self.status, self.reason = method, path, status, reason
        self.defect = defect if defect is not None else defect_of_refusal(status, reason)
        self.what = what
        purpose = f" ({what})" if what else ""
        super().__init__(f"could not prepare{purpose}: {method} {path} answered {status} ({reason})")

    @property
    def signature(self) -> str:
        """The cause line shared by every scenario this refusal blocks (ids in paths made generic)."""
        path = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27,}|/pa[_-][\w-]+", "/{id}", self.path)
        return f"could not prepare: {self.method} {path} answered {self.status} ({self.reason})"


class Findings(AssertionError):
    """A step found several distinct problems, each its own cause (the fuzzer's findings, one per operation
    and check). An AssertionError: the scenario *failed*. ``causes`` are the lines the sign-off summary
    lists; support/domains/fuzz_findings.py hands the summary the full entries."""

    def __init__(self, message: str, causes: Iterable[str]) -> None:
        self.causes = tuple(causes)
        super().__init__(message)


def could_not_prepare(answer: Any, what: str = "") -> PreconditionRefused:
    """The exception a Given step raises when a setup call was refused: ``raise could_not_prepare(r)``."""
    from support.wire.redaction import redact_text, redact_url

    method, path = _path_of(answer)
    status = int(getattr(answer, "status", 0) or 0)
    reason = redact_text(refusal_reason(getattr(answer, "body", None)))
    return PreconditionRefused(method, redact_url(path), status, reason, what=redact_text(what))


def require_prepared(answer: Any, *ok: int, what: str = "") -> Any:
    """Return ``answer`` when its status is one of ``ok`` (default: any 2xx), else raise
    :class:`PreconditionRefused`. For Given steps and the helpers they call."""
    status = int(getattr(answer, "status", 0) or 0)
    if (status in ok) if ok else 200 <= status < 300:
        return answer
    raise could_not_prepare(answer, what)


# ---------------------------------------------------------------------------------------- attribution
PRECONDITION, SCENARIO, RULE, FINDING = "precondition", "scenario", "rule", "finding"
#: behave step statuses that end a scenario badly; "failed" is an assertion, the rest a suite error
_BAD_STEP_STATUSES = ("failed", "error", "hook_error", "undefined", "pending", "cleanup_error")


@dataclass(frozen=True)
class FailureCause:
    """The one cause a failed scenario is attributed to.

    ``kind`` is ``precondition`` (a Given step's setup call was refused: :class:`PreconditionRefused`)
    or ``scenario`` (the scenario's own rule is broken; ``defect`` from its ``@allure.issue`` tag, else
    ``rule`` is its title), or ``finding`` (the step raised :class:`Findings`: several causes, the first
    in ``cause``, the rest in ``also``). ``error`` marks a scenario that ended in behave status *error* (an exception
    that is not an assertion: a bug of the suite, listed so it is seen). ``message`` is the first line
    of the failure, redacted.
    """

    kind: str
    cause: str
    defect: str | None = None
    rule: str | None = None
    error: bool = False
    message: str = ""
    step: str = ""
    #: further causes of the same scenario (``finding``: every finding after the first)
    also: tuple[str, ...] = ()


def _name(status: Any) -> str:
    return str(getattr(status, "name", status) or "").lower()


def failing_step(steps: Iterable[Any]) -> Any | None:
    """The first step (background steps included) whose status is a failure or an error."""
    for step in steps:
        if _name(getattr(step, "status", "")) in _BAD_STEP_STATUSES:
            return step
    return None


def _first_line(text: Any, limit: int = 240) -> str:
    from support.wire.redaction import redact_text

    line = next((ln.strip() for ln in str(text or "").splitlines() if ln.strip()), "")
    line = redact_text(line)
    return line if len(line) <= limit else line[:limit] + "..."


def attribute_failure(title: str, tags: Iterable[str], status: Any, steps: Iterable[Any] = ()) -> FailureCause | None:
    """The cause of a scenario that ended ``status`` (None unless failed or in error).

    (a) the failing step raised :class:`PreconditionRefused` -> ``precondition``, cause = its signature,
    defect = its defect; (b) otherwise ``scenario``: defect = the first ``@allure.issue:<id>`` tag and
    cause ``"<id>: <DEFECTS[id]>"``, or without one the scenario's title (its rule) as cause and rule.
    """
    state = _name(status)
    if state not in _BAD_STEP_STATUSES and state != "failed":
        return None
    step = failing_step(steps)
    exception = getattr(step, "exception", None) if step is not None else None
    error = state != "failed" or (step is not None and _name(step.status) != "failed")
    where = f"{getattr(step, 'keyword', '')} {getattr(step, 'name', '')}".strip() if step is not None else ""
    if error and exception is not None:
        message = _first_line(f"{type(exception).__name__}: {exception}")
    elif step is not None:
        message = _first_line(exception or getattr(step, "error_message", None) or "")
    else:
        message = ""
    if isinstance(exception, PreconditionRefused):
        rule = None if exception.defect else \
            f"the target accepts the setup call {exception.method} {_generic(exception.path)}"
        return FailureCause(PRECONDITION, exception.signature, exception.defect, rule, False, message, where)
    if isinstance(exception, Findings) and exception.causes:
        return FailureCause(FINDING, exception.causes[0], None, None, False, message, where, exception.causes[1:])
    ids = defect_tags(list(tags))
    if ids:
        defect = ids[0]
        return FailureCause(SCENARIO, f"{defect}: {DEFECTS.get(defect, 'defect named by the scenario')}",
                            defect, None, error, message, where)
    return FailureCause(SCENARIO, title, None, title, error, message, where)


def _generic(path: str) -> str:
    return re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27,}|/pa[_-][\w-]+", "/{id}", path)


def attribute_scenario(scenario: Any) -> FailureCause | None:
    """:func:`attribute_failure` for a behave Scenario (duck-typed: ``name``, ``feature.name``,
    ``effective_tags``, ``status``, ``all_steps``/``steps``)."""
    feature = getattr(getattr(scenario, "feature", None), "name", "")
    title = f"{feature} › {scenario.name}" if feature else str(scenario.name)
    steps = getattr(scenario, "all_steps", None)
    if steps is None:
        steps = getattr(scenario, "steps", ())
    status = getattr(scenario, "status", "")
    if _name(status) == "hook_error" or getattr(scenario, "hook_failed", False):
        status = "hook_error"
    return attribute_failure(title, ordered_tags(scenario), status, list(steps))


def ordered_tags(scenario: Any) -> list[str]:
    """The scenario's tags, its own (and its Examples row's) first, then its feature's: behave's
    ``effective_tags`` is a set, so the first ``@allure.issue`` tag of it would change from run to run,
    and the most specific one must win (a D13 row in a feature about D1)."""
    own = [str(t) for t in getattr(scenario, "tags", ()) or ()]
    feature = [str(t) for t in getattr(getattr(scenario, "feature", None), "tags", ()) or ()]
    effective = getattr(scenario, "effective_tags", ()) or ()
    rest = [str(t) for t in effective] if isinstance(effective, list | tuple) else sorted(map(str, effective))
    return list(dict.fromkeys([*own, *feature, *rest]))
