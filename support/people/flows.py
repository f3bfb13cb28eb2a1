"""Domain flows of the authentication features: what a scenario remembers, and the multi-call moves.

The step modules of `features/steps/` stay thin by calling these functions: sign an actor in on a
second device, guess a password wrongly N times, wait (bounded, polling) for a lockout window to pass,
read the claims of a token, mint a correctly signed variant of a token, describe a refusal so two
refusals can be compared. Nothing here imports behave; everything is unit-testable with a fake client.

Contract parts: A.3 (auth endpoints), A.4 (tokens), A.5 (accounts and lockout), Part B (the front's
redirect, sign-in pacing). The matchers at the end are the ones `support/checks/matchers.py` does not (yet)
offer; each is named after the rule it checks.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description
from parse import with_pattern

from support.checks.error_matchers import is_oauth_error
from support.checks.matchers import describe_response
from support.checks.token_matchers import decode_claims
from support.people.actors import Actor, actor, anonymous
from support.people.identities import ProtectedAccountError
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse
from support.wire.redaction import redact_text
from support.wire.settings import Settings

# ---------------------------------------------------------------------------------------- memory


@dataclass
class Notebook:
    """What one scenario remembers between its steps (kept on the behave context per scenario)."""

    #: the access / refresh token each actor (or device) held after its last successful sign-in
    access: dict[str, str] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)
    #: the tokens an actor held just before it refreshed or signed out
    previous_access: dict[str, str] = field(default_factory=dict)
    previous_refresh: dict[str, str] = field(default_factory=dict)
    #: extra clients of one person ("laptop", "phone"), keyed by device name
    devices: dict[str, PermisoClient] = field(default_factory=dict)
    #: refusals collected to be compared ("cannot be told apart")
    refusals: list[ApiResponse] = field(default_factory=list)
    #: several answers to the same question (response-time budgets look at their median)
    samples: list[ApiResponse] = field(default_factory=list)
    #: a locked account's refusal of the correct password
    lock_refusal: ApiResponse | None = None
    #: a number remembered for a later comparison (user statistics)
    total_users: int | None = None
    #: the service client actor of the scenario (a support.people.actors.Actor)
    service: Any = None
    #: tokens minted with the signing key: name -> token
    forged: dict[str, str] = field(default_factory=dict)
    #: who acted last (for "the previous refresh token")
    last_actor: str | None = None

    def remember_sign_in(self, who: str, client: PermisoClient) -> None:
        """Note the tokens a client holds after a successful sign-in or refresh."""
        if client.token:
            self.access[who] = client.token
        if client.refresh_token:
            self.refresh[who] = client.refresh_token
        self.last_actor = who

    def remember_previous(self, who: str, client: PermisoClient) -> None:
        """Note the tokens a client holds just before it refreshes or signs out."""
        if client.token:
            self.previous_access[who] = client.token
        if client.refresh_token:
            self.previous_refresh[who] = client.refresh_token
        self.last_actor = who

    def old_access(self, who: str) -> str:
        """The access token this actor held before signing out / being disabled or locked."""
        token = self.previous_access.get(who) or self.access.get(who)
        if not token:
            raise AssertionError(f"{who} never held an access token in this scenario")
        return token

    def old_refresh(self, who: str) -> str:
        token = self.previous_refresh.get(who) or self.refresh.get(who)
        if not token:
            raise AssertionError(f"{who} never held a refresh token in this scenario")
        return token


# ---------------------------------------------------------------------------------------- people


def notebook(context: Any) -> Notebook:
    """The scenario's notebook, created on first use (behave drops it when the scenario ends)."""
    if getattr(context, "notebook", None) is None:
        context.notebook = Notebook()
    return context.notebook  # type: ignore[no-any-return]


def person(context: Any, who: str) -> Actor:
    """The actor a step names: a throwaway user on first mention, the configured user by that phrase,
    and for "she"/"he"/"they" whoever acted last."""
    book = notebook(context)
    if who in PRONOUNS:
        if book.last_actor is None:
            raise AssertionError(f"{who!r} refers to nobody: no one has acted yet in this scenario")
        who = book.last_actor
    book.last_actor = who
    return actor(context, who)


def attacker(context: Any) -> Actor:
    """Mallory: no account of her own, just a client."""
    return anonymous(context, "Mallory")


def visitor(context: Any) -> Actor:
    """Someone who is not signed in."""
    return anonymous(context, "a visitor")


def sign_in_and_remember(context: Any, who: str, scope: str | None = None) -> Actor:
    """Sign a person in (it must succeed: this is a Given) and note the tokens they now hold."""
    someone = person(context, who)
    someone.sign_in_as_precondition(scope)  # a borrowed person may take over the pool's session
    notebook(context).remember_sign_in(someone.name, someone.client)
    return someone


def sign_out(context: Any, someone: Actor) -> ApiResponse:
    """``POST /auth/logout`` for a throwaway person. A configured account is never signed out: on the
    release a logout ends every session of the account, also sessions that are not the suite's
    (contract D.3); a scenario that needs it signed out is wrong, and says so."""
    identity = someone.identity
    if getattr(identity, "configured", False):
        raise ProtectedAccountError(f"refusing to sign out {someone.name}: a logout ends every session of a "
                                    "configured account; revoke the suite's own token instead")
    return someone.client.sign_out()


def present_token(someone: Actor, token: str) -> ApiResponse:
    """Present ``token`` on a user-only endpoint (who is signed in) through the person's client."""
    return someone.client.request("GET", "/users/me", token=token)


# ---------------------------------------------------------------------------------------- tokens


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it (the server verifies; we only look)."""
    return decode_claims(token)


def scopes_of(response: ApiResponse) -> list[str]:
    """The granted scopes of a token response, from its `scope` field (space-separated or null)."""
    text = response.get("scope")
    return sorted(text.split()) if isinstance(text, str) else []


def choice_of(*options: str) -> Any:
    """A behave parse type matching exactly one of ``options`` (longest first, parentheses literal).

    Lets a step phrase name one row of a catalogue (forgeries, provocations...) and fail to match, rather
    than guess, when a feature names something the catalogue lacks.
    """
    pattern = "|".join(sorted((o.replace("(", r"\(").replace(")", r"\)") for o in options), key=len, reverse=True))

    @with_pattern(pattern)
    def parse(text: str) -> str:
        return text

    return parse


@with_pattern(r"[A-Z][a-z]+|the configured user|she|he|they")
def parse_who(text: str) -> str:
    """A person named in a step: a capitalised name, the configured user, or a pronoun."""
    return text


@with_pattern(r"her|his|their")
def parse_their(text: str) -> str:
    return text


@with_pattern(r"laptop|phone|tablet")
def parse_device(text: str) -> str:
    """One of a person's devices, each with its own client and session."""
    return text


PRONOUNS = frozenset({"she", "he", "they"})


def new_device(settings: Settings, log: Any, base_url: str | None, label: str) -> PermisoClient:
    """A separate client (its own token and session), e.g. a person's second device."""
    return PermisoClient(settings, log=log, base_url=base_url, name=label)


def wrong_password(real: str) -> str:
    """A password that satisfies the policy and is certainly not ``real``."""
    candidate = "Wr0ng!" + secrets.token_hex(6)
    return candidate if candidate != real else candidate + "x"


def unknown_username(settings: Settings) -> str:
    """A username in the throwaway namespace that no account has."""
    return f"pa_{settings.permiso_run_id}_nobody_{secrets.token_hex(4)}"


def guess_wrongly(client: PermisoClient, username: str, real_password: str, times: int) -> list[ApiResponse]:
    """Sign in ``times`` times as ``username`` with wrong passwords; return every answer."""
    return [client.sign_in(username, wrong_password(real_password)) for _ in range(times)]


def wait_for_sign_in(client: PermisoClient, username: str, password: str, *, timeout_s: float,
                     interval_s: float = 0.25, clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> ApiResponse:
    """Try the correct password until it is accepted or ``timeout_s`` passes; return the last answer.

    A bounded poll instead of a fixed sleep: against a short window it ends as soon as the account
    opens; against a defect (the lock never lifts) it gives up at the deadline.
    """
    deadline = clock() + timeout_s
    while True:
        answer = client.sign_in(username, password)
        if answer.status == 200 or clock() + interval_s > deadline:
            return answer
        sleep(interval_s)


def lockout_wait_budget(settings: Settings) -> float:
    """How long to wait for a lock to lift: the window plus a margin for a slow machine."""
    return settings.lockout_seconds * 1.5 + 5.0


def sample(call: Callable[[], ApiResponse], times: int) -> list[ApiResponse]:
    """Ask the same question ``times`` times (budgets judge the median, not one unlucky call)."""
    return [call() for _ in range(max(1, times))]


def median_ms(responses: Sequence[ApiResponse]) -> float:
    return float(statistics.median(r.elapsed_ms for r in responses))


def refusal_fingerprint(response: ApiResponse) -> tuple[int, Any, str]:
    """What a caller can observe of a refusal: status, body and the Bearer challenge."""
    return response.status, response.body, response.headers.get("www-authenticate", "")


def with_api_base(address: str, settings: Settings) -> str:
    """Expand ``{api}`` in an address written in a feature to the configured API prefix."""
    return address.replace("{api}", settings.permiso_api_base)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime (naive ones are UTC), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def locked_until_of(response: ApiResponse) -> Any:
    """The `locked_until` of a 423 answer (top level, or inside `details`)."""
    value = response.get("locked_until")
    if value is None and isinstance(response.get("details"), Mapping):
        value = response.get("details").get("locked_until")
    return value


# ---------------------------------------------------------------------------------------- matchers


class _ResponseMatcher(BaseMatcher[ApiResponse]):
    """Base: subclasses implement ``problem(response) -> str | None`` (None = it matches)."""

    rule = ""

    def problem(self, response: ApiResponse) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _matches(self, item: Any) -> bool:
        return isinstance(item, ApiResponse) and self.problem(item) is None

    def describe_to(self, description: Description) -> None:
        description.append_text(self.rule)

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        if isinstance(item, ApiResponse):
            mismatch_description.append_text(redact_text(str(self.problem(item))) + "\n     in: ")
        mismatch_description.append_text(describe_response(item))


class _HealthyReport(_ResponseMatcher):
    rule = "a health report: 200 with status 'healthy' (A.1)"

    def problem(self, response: ApiResponse) -> str | None:
        if response.status != 200:
            return "not 200"
        if response.get("status") != "healthy":
            return "status is not 'healthy'"
        return None


def a_healthy_report() -> _HealthyReport:
    """A.1: `GET /health` answers 200 `{"status": "healthy", ...}`."""
    return _HealthyReport()


class _Accepted(_ResponseMatcher):
    def __init__(self, username: str | None = None) -> None:
        self.username = username
        self.rule = "an accepted request (200)" + (f" answered for {username!r}" if username else "")

    def problem(self, response: ApiResponse) -> str | None:
        if response.status != 200:
            return f"status {response.status}, not 200"
        if self.username is not None and str(response.get("username", "")).lower() != self.username.lower():
            return f"answered for {response.get('username')!r}"
        return None


def accepted_for(username: str | None = None) -> _Accepted:
    """A.2: a valid token is let through (200); with a username, the answer is that user's."""
    return _Accepted(username)


class _PermanentRedirect(_ResponseMatcher):
    def __init__(self, scheme: str, host: str, path: str) -> None:
        self.scheme, self.host, self.path = scheme, host, path
        self.rule = f"a 301 redirect to {scheme}://{host}{path} (port not compared; Part B)"

    def problem(self, response: ApiResponse) -> str | None:
        if response.status != 301:
            return f"status {response.status}, not 301"
        location = response.headers.get("location")
        if not location:
            return "no Location header"
        parts = urlsplit(location)
        if parts.scheme != self.scheme:
            return f"Location {location!r} is not {self.scheme}"
        if (parts.hostname or "").lower() != self.host.lower():
            return f"Location {location!r} names another host"
        if (parts.path or "/") != (self.path or "/"):
            return f"Location {location!r} names another path"
        return None


def a_permanent_redirect_to(scheme: str, host: str, path: str) -> _PermanentRedirect:
    """Part B: plain HTTP answers 301 to `https://<host><path>`; the port is dropped by the front."""
    return _PermanentRedirect(scheme, host, path)


class _LockedRefusal(_ResponseMatcher):
    rule = "a locked-account refusal: OAuth error 423 account_locked with a locked_until timestamp (A.5)"

    def problem(self, response: ApiResponse) -> str | None:
        oauth = is_oauth_error("account_locked", 423)
        if not oauth.matches(response):
            return str(oauth) + " expected"
        if parse_timestamp(locked_until_of(response)) is None:
            return "no ISO-8601 locked_until"
        return None


def a_locked_account_refusal() -> _LockedRefusal:
    """A.3/A.5: the right password on a locked account gets 423 `account_locked` with `locked_until`."""
    return _LockedRefusal()


class _NotAnApiAnswer(_ResponseMatcher):
    rule = "an answer that carries nothing of the API (no JSON error, no user data)"

    def problem(self, response: ApiResponse) -> str | None:
        body = response.body
        if isinstance(body, Mapping) and ({"error", "detail", "username", "access_token"} & set(body)):
            return "the API answered over plain HTTP"
        return None


def not_an_api_answer() -> _NotAnApiAnswer:
    """Part B: the plain-HTTP port only redirects; the API never answers there."""
    return _NotAnApiAnswer()


class _LockEndingWithin(_ResponseMatcher):
    def __init__(self, window_s: float, skew_s: float) -> None:
        self.window_s, self.skew_s = window_s, skew_s
        self.rule = (f"a locked_until between now and the end of the {window_s:g} s lockout window "
                     f"(give or take {skew_s:g} s of clock skew) (A.5)")

    def problem(self, response: ApiResponse) -> str | None:
        until = parse_timestamp(locked_until_of(response))
        if until is None:
            return "no ISO-8601 locked_until"
        now = datetime.now(UTC)
        if not within(now, until, before=timedelta(seconds=self.skew_s),
                      after=timedelta(seconds=self.window_s + self.skew_s)):
            return f"locked_until {until.isoformat()} is not within the window from now ({now.isoformat()})"
        return None


def a_lock_ending_within(window_s: float, skew_s: float = 60.0) -> _LockEndingWithin:
    """A.5: `locked_until` names the end of the lockout window: after now, at most the window ahead."""
    return _LockEndingWithin(window_s, skew_s)


class _LockedOrRateLimited(_ResponseMatcher):
    rule = ("a stop: 423 account_locked, or a rate limit (429 rate_limit_exceeded, or the front's 503) "
            "(guide, as upper bound; A.5, Part B)")

    def problem(self, response: ApiResponse) -> str | None:
        if response.status == 423 and response.get("error") == "account_locked":
            return None
        if response.status == 429 and response.get("error") == "rate_limit_exceeded":
            return None
        if response.status == 503 and response.body is None:
            return None
        return "neither account_locked nor rate_limit_exceeded"


def locked_or_rate_limited() -> _LockedOrRateLimited:
    """The guide's lockout check: the attempt is stopped with `account_locked` or `rate_limit_exceeded`."""
    return _LockedOrRateLimited()


class _AnsweredWithin(BaseMatcher[Sequence[ApiResponse]]):
    def __init__(self, budget_ms: float, label: str) -> None:
        self.budget_ms, self.label = budget_ms, label

    def _matches(self, item: Any) -> bool:
        return bool(item) and median_ms(item) <= self.budget_ms

    def describe_to(self, description: Description) -> None:
        description.append_text(f"a median answer time within the {self.label} of {self.budget_ms:g} ms")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        if not item:
            mismatch_description.append_text("no answers were timed")
            return
        times = ", ".join(f"{r.elapsed_ms:.1f}" for r in item)
        mismatch_description.append_text(f"median {median_ms(item):.1f} ms of [{times}] ms")


def answered_within(budget_ms: float, label: str) -> _AnsweredWithin:
    """Guide: typical (median) answer time of a check within its PERF_*_THRESHOLD_MS budget."""
    return _AnsweredWithin(budget_ms, label)


class _IndistinguishableRefusals(BaseMatcher[Sequence[ApiResponse]]):
    def _matches(self, item: Any) -> bool:
        prints = [refusal_fingerprint(r) for r in item]
        return len(prints) >= 2 and all(p == prints[0] for p in prints[1:])

    def describe_to(self, description: Description) -> None:
        description.append_text("refusals with the same status, body and WWW-Authenticate challenge")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        for response in item:
            www = response.headers.get("www-authenticate")
            mismatch_description.append_text(
                f"\n     - WWW-Authenticate {www!r}, {describe_response(response)}")


def cannot_be_told_apart() -> _IndistinguishableRefusals:
    """A.3: unknown user and wrong password (unknown client and wrong secret) answer identically."""
    return _IndistinguishableRefusals()


def within(now: datetime, value: datetime, *, before: timedelta, after: timedelta) -> bool:
    """True when ``value`` lies in ``[now - before, now + after]``."""
    return now - before <= value <= now + after
