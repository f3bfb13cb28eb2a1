"""Response-time budgets: percentiles, the budget classes, the load journeys' step catalogue, and the
endpoint catalogue that `features/performance/budgets.feature` measures.

Why one module for both the budget scenarios and the Locust load:
- both judge the same thing (a p95 against a ``PERF_*_THRESHOLD_MS`` budget) and must agree on which
  endpoint belongs to which budget class (health, auth, CRUD, admin);
- the Locust side runs in a gevent-patched subprocess, so this module imports nothing but the standard
  library and PyHamcrest at import time (``locustfile.py`` imports it; the suite's ``requests`` stack
  must never load there before gevent patches). The endpoint catalogue only *describes* calls: it
  receives the suite's clients from the caller, and :class:`Callers` imports the client lazily.

Percentiles: one sample of an endpoint proves nothing, so budgets are judged on the 95th percentile of
N samples (``PERMISO_PERF_SAMPLES``). We use the nearest-rank definition (the smallest sample at or above
the given fraction of the ordered samples): it always returns a time that was really measured, and it is
what Locust reports from its histograms, so budgets.feature and the load summary read the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description

# ------------------------------------------------------------------------------------- budget classes
#: budget class -> the setting (lower-case env name) that holds its threshold in milliseconds
BUDGET_SETTINGS: dict[str, str] = {
    "health": "perf_health_threshold_ms",
    "auth": "perf_auth_threshold_ms",
    "crud": "perf_crud_threshold_ms",
    "admin": "perf_admin_threshold_ms",
}


def budget_class(name: str) -> str:
    """Normalise a budget class as a product owner writes it ("CRUD", "Auth", "admin") to its key."""
    key = name.strip().lower()
    if key not in BUDGET_SETTINGS:
        known = ", ".join(sorted(BUDGET_SETTINGS))
        raise ValueError(f"unknown budget class {name!r}; known classes: {known}")
    return key


def budget_ms(settings: Any, klass: str) -> float:
    """The budget in ms of a class, read from the suite settings (``PERF_*_THRESHOLD_MS``)."""
    return float(getattr(settings, BUDGET_SETTINGS[budget_class(klass)]))


def budget_env_name(klass: str) -> str:
    """The environment name of a class's budget, for messages (``PERF_AUTH_THRESHOLD_MS``)."""
    return BUDGET_SETTINGS[budget_class(klass)].upper()


# ---------------------------------------------------------------------------------------- percentiles
def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in [0, 1]); raises ValueError when empty."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def histogram_percentile(histogram: Mapping[Any, int], fraction: float) -> float:
    """Nearest-rank percentile of a ``{response time: count}`` histogram (Locust's ``response_times``)."""
    items = sorted((float(k), int(c)) for k, c in histogram.items() if int(c) > 0)
    total = sum(c for _, c in items)
    if total == 0:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in items:
        seen += count
        if seen >= rank:
            return value
    return items[-1][0]  # pragma: no cover - unreachable: seen reaches total


def merge_histograms(histograms: Iterable[Mapping[Any, int]]) -> dict[float, int]:
    """Sum several ``{response time: count}`` histograms (e.g. every step of one journey)."""
    merged: dict[float, int] = {}
    for histogram in histograms:
        for key, count in histogram.items():
            merged[float(key)] = merged.get(float(key), 0) + int(count)
    return merged


@dataclass
class Measurement:
    """N timed calls of one endpoint: their elapsed times (transport only) and statuses.

    The budget is attached when it is judged (:meth:`judge`), so the same measurement can be read
    against whichever class a feature names.
    """

    name: str
    samples_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    budget_class: str | None = None
    budget_ms: float | None = None

    def add(self, elapsed_ms: float, status: int) -> None:
        self.samples_ms.append(float(elapsed_ms))
        self.statuses.append(int(status))

    def judge(self, klass: str, budget: float) -> Measurement:
        self.budget_class = budget_class(klass)
        self.budget_ms = float(budget)
        return self

    @property
    def count(self) -> int:
        return len(self.samples_ms)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 0.95)

    @property
    def max(self) -> float:
        return max(self.samples_ms)

    @property
    def unexpected_statuses(self) -> dict[int, int]:
        """Statuses outside 2xx with how often each came: a failing endpoint is not a fast one."""
        counts: dict[int, int] = {}
        for status in self.statuses:
            if not 200 <= status < 300:
                counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def within_budget(self) -> bool:
        if self.budget_ms is None:
            raise ValueError(f"{self.name}: no budget to judge against yet")
        return self.p95 <= self.budget_ms

    def verdict(self) -> str:
        word = "within" if self.within_budget else "OVER"
        return (f"{self.name}: p95 {self.p95:.1f} ms {word} the {self.budget_class} budget of "
                f"{self.budget_ms:.0f} ms (p50 {self.p50:.1f} ms, max {self.max:.1f} ms, "
                f"{self.count} samples)")

    def render(self) -> str:
        """Plain-text report of the figures and every sample, for the Allure attachment."""
        lines = [f"endpoint       {self.name}"]
        if self.budget_class is not None and self.budget_ms is not None:
            lines.append(f"budget class   {self.budget_class} "
                         f"({budget_env_name(self.budget_class)} = {self.budget_ms:.0f} ms)")
        lines += [
            f"samples        {self.count}",
            f"p50            {self.p50:.1f} ms",
            f"p95            {self.p95:.1f} ms",
            f"max            {self.max:.1f} ms",
        ]
        if self.budget_ms is not None:
            lines.append(f"verdict        {'within budget' if self.within_budget else 'OVER BUDGET'}")
        lines += ["", "elapsed ms per call (transport time only; client-side pacing waits excluded):"]
        lines += [f"  {i:>3}  {ms:8.1f}  HTTP {status}"
                  for i, (ms, status) in enumerate(zip(self.samples_ms, self.statuses, strict=True), 1)]
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ load journeys (Locust request names)
@dataclass(frozen=True)
class JourneyStep:
    """One named request of a Locust journey; requests are named ``"<journey>: <step>"`` so they group."""

    journey: str
    step: str
    budget_class: str

    @property
    def name(self) -> str:
        return f"{self.journey}: {self.step}"


#: Every request the locustfile makes, by name. The load summary maps a Locust stats entry to its
#: journey and budget class through this table; a name missing here is judged against the strictest
#: budget that fits its journey (see ``step_for``), so a new step never escapes judgement.
JOURNEY_STEPS: tuple[JourneyStep, ...] = (
    JourneyStep("user", "sign-in", "auth"),
    JourneyStep("user", "me", "crud"),
    JourneyStep("user", "refresh", "auth"),
    JourneyStep("user", "sign-out", "auth"),
    JourneyStep("service", "token", "auth"),
    JourneyStep("service", "introspect", "auth"),
    JourneyStep("admin", "sign-in", "auth"),
    JourneyStep("admin", "user list", "admin"),
    JourneyStep("admin", "user stats", "admin"),
    JourneyStep("admin", "dashboard", "admin"),
    JourneyStep("admin", "sign-out", "auth"),
    JourneyStep("monitor", "health", "health"),
)
STEPS_BY_NAME: dict[str, JourneyStep] = {s.name: s for s in JOURNEY_STEPS}
JOURNEYS: tuple[str, ...] = tuple(dict.fromkeys(s.journey for s in JOURNEY_STEPS))


def step_for(name: str) -> JourneyStep:
    """The catalogue entry of a request name; unknown names fall back to their journey's prefix."""
    if name in STEPS_BY_NAME:
        return STEPS_BY_NAME[name]
    journey, _, step = name.partition(": ")
    if not step:
        journey, step = "other", name
    klass = "health" if "health" in name.lower() else "auth" if journey in {"user", "service"} else "crud"
    return JourneyStep(journey, step, klass)


# ------------------------------------------------------------------ endpoint catalogue (budgets.feature)
class Response(Protocol):
    """What the catalogue needs of an answer (support.wire.evidence.ApiResponse satisfies it)."""

    status: int
    elapsed_ms: float


class Subjects(Protocol):
    """The callers a budget measurement uses; features/steps/performance_steps.py provides them.

    Each attribute is a support.wire.client.PermisoClient: ``anonymous`` (no token), ``user`` (a throwaway
    regular user, signed in), ``admin`` (the configured administrator, signed in), ``service``
    (a throwaway service client, signed in). ``user_id`` / ``user_username`` / ``user_password``
    describe the throwaway user; ``service_client_id`` / ``service_secret`` the service client.
    """

    anonymous: Any
    user: Any
    admin: Any
    service: Any
    user_id: str
    user_username: str
    user_password: str
    service_client_id: str
    service_secret: str


@dataclass(frozen=True)
class Endpoint:
    """How to call one endpoint for a budget sample; ``needs`` names the callers it uses."""

    description: str
    call: Callable[[Subjects], Response]
    needs: tuple[str, ...]


def _sign_in(s: Subjects) -> Response:
    return s.user.sign_in(s.user_username, s.user_password)


def _refresh(s: Subjects) -> Response:
    return s.user.refresh()  # rotation: the client keeps the new pair for the next sample


def _service_token(s: Subjects) -> Response:
    return s.service.service_sign_in(s.service_client_id, s.service_secret)


#: Endpoint names a product owner may use in the Examples table of budgets.feature.
ENDPOINTS: dict[str, Endpoint] = {
    "health": Endpoint("GET /health (anonymous)", lambda s: s.anonymous.health(), ()),
    "service root": Endpoint("GET / (anonymous)", lambda s: s.anonymous.root(), ()),
    "sign-in": Endpoint("POST /auth/token as a regular user", _sign_in, ("user",)),
    "token refresh": Endpoint("POST /auth/refresh with the user's refresh token", _refresh, ("user",)),
    "service token": Endpoint("POST /auth/service-token as a service client", _service_token, ("service",)),
    "token introspection": Endpoint("POST /auth/introspect of the user's own token",
                                    lambda s: s.user.introspect(s.user.token), ("user",)),
    "current user": Endpoint("GET /users/me as the user", lambda s: s.user.me(), ("user",)),
    "get user": Endpoint("GET /users/{id} as the user, for their own id",
                         lambda s: s.user.get_user(s.user_id), ("user",)),
    "update profile": Endpoint("PUT /users/me (bio) as the user",
                               lambda s: s.user.update_me(bio="budget sample"), ("user",)),
    "own sessions": Endpoint("GET /sessions/ as the user", lambda s: s.user.list_sessions(), ("user",)),
    "admin user list": Endpoint("GET /users/ as the administrator",
                                lambda s: s.admin.list_users(), ("admin",)),
    "user statistics": Endpoint("GET /users/stats/overview as the administrator",
                                lambda s: s.admin.user_stats(), ("admin",)),
    "role list": Endpoint("GET /roles/ as the administrator", lambda s: s.admin.list_roles(), ("admin",)),
    "service client list": Endpoint("GET /service-clients/ as the administrator",
                                    lambda s: s.admin.list_clients(), ("admin",)),
    "admin dashboard": Endpoint("GET /admin/dashboard/stats as the administrator",
                                lambda s: s.admin.dashboard_stats(), ("admin",)),
    "system health": Endpoint("GET /admin/system/health as the administrator",
                              lambda s: s.admin.system_health(), ("admin",)),
}


def endpoint(name: str) -> Endpoint:
    """The catalogue entry for an endpoint name from a feature file (case-insensitive)."""
    key = " ".join(name.strip().lower().split())
    if key not in ENDPOINTS:
        known = ", ".join(sorted(ENDPOINTS))
        raise KeyError(f"unknown endpoint {name!r}; the budget catalogue knows: {known}")
    return ENDPOINTS[key]


def measure(name: str, call: Callable[[], Response], samples: int) -> Measurement:
    """Call ``call`` ``samples`` times, recording each answer's own ``elapsed_ms`` and status.

    Latency comes from each call's transport time, never from wall time: sign-ins are paced by the
    client (PERMISO_AUTH_RATE_PER_SECOND) and that waiting is not the service's response time.
    """
    if samples < 1:
        raise ValueError(f"need at least one sample, got {samples}")
    result = Measurement(name)
    for _ in range(samples):
        answer = call()
        result.add(answer.elapsed_ms, answer.status)
    return result


def summarise(values: Sequence[float]) -> tuple[float, float, float, float]:
    """(p50, p95, p99, max) of a list of times in ms."""
    return percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99), max(values)


class Callers:
    """The callers a budget measurement uses (satisfies :class:`Subjects`), each created on first use.

    ``identities`` is the scenario's :class:`support.people.identities.Identities`, so the throwaway user and
    service client are cleaned up with the scenario; ``admin`` returns the configured administrator's
    client, signed in; ``log`` is the scenario's exchange log (evidence and the timings attachment).
    """

    def __init__(self, settings: Any, identities: Any, admin: Callable[[], Any], log: Any = None) -> None:
        self._settings = settings
        self._identities = identities
        self._admin = admin
        self._log = log

    def _client(self, name: str) -> Any:
        from support.wire.client import PermisoClient  # lazy: this module stays importable under gevent

        return PermisoClient(self._settings, log=self._log, name=name)

    @cached_property
    def anonymous(self) -> Any:
        return self._client("visitor")

    @cached_property
    def _user_identity(self) -> Any:
        return self._identities.user("budget")

    @cached_property
    def user(self) -> Any:
        client = self._client("budget user")
        answer = client.sign_in(self.user_username, self.user_password)
        if answer.status != 200:
            raise AssertionError(f"the throwaway user could not sign in (HTTP {answer.status})")
        return client

    @property
    def user_id(self) -> str:
        return str(self._user_identity.id)

    @property
    def user_username(self) -> str:
        return str(self._user_identity.username)

    @property
    def user_password(self) -> str:
        return str(self._user_identity.password)

    @cached_property
    def _service_identity(self) -> Any:
        return self._identities.service_client("budget")

    @cached_property
    def service(self) -> Any:
        return self._client("budget service client")

    @property
    def service_client_id(self) -> str:
        return str(self._service_identity.client_id)

    @property
    def service_secret(self) -> str:
        return str(self._service_identity.secret)

    @cached_property
    def admin(self) -> Any:
        return self._admin()


# ---------------------------------------------------------------------------------------- matchers
class _MeasurementWithinBudget(BaseMatcher[Any]):
    """A measurement whose 95th percentile is at most its budget (judged beforehand)."""

    def _matches(self, item: Any) -> bool:
        return isinstance(item, Measurement) and item.count > 0 and item.within_budget

    def describe_to(self, description: Description) -> None:
        description.append_text("a 95th percentile within the budget")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        text = item.verdict() if isinstance(item, Measurement) and item.count else f"no samples in {item!r}"
        mismatch_description.append_text(text)


class _AllCallsSucceeded(BaseMatcher[Any]):
    """Every sampled call answered 2xx: a failing endpoint is not a fast endpoint."""

    def _matches(self, item: Any) -> bool:
        return isinstance(item, Measurement) and item.count > 0 and not item.unexpected_statuses

    def describe_to(self, description: Description) -> None:
        description.append_text("every timed call answered with a 2xx status")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        if isinstance(item, Measurement):
            counts = ", ".join(f"HTTP {s} x{n}" for s, n in sorted(item.unexpected_statuses.items()))
            mismatch_description.append_text(f"{item.name}: {counts or 'no samples'} of {item.count} calls")
        else:
            mismatch_description.append_text(f"not a measurement: {item!r}")


def p95_within_budget() -> BaseMatcher[Any]:
    """Matcher: the measurement's p95 is at most the budget it was judged against (issue 8)."""
    return _MeasurementWithinBudget()


def all_calls_succeeded() -> BaseMatcher[Any]:
    """Matcher: every sample of the measurement answered 2xx."""
    return _AllCallsSucceeded()


class _LoadFailureRatioAtMost(BaseMatcher[Any]):
    """A load result (support.domains.load_results.LoadResult) whose failure ratio is at most ``ratio``."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio

    def _matches(self, item: Any) -> bool:
        return int(getattr(item, "total_requests", 0)) > 0 and float(item.failure_ratio) <= self.ratio

    def describe_to(self, description: Description) -> None:
        description.append_text(f"a load with requests and a failure ratio of at most {self.ratio:.0%}")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        reasons = "; ".join(f"{n}: {r} x{c}" for n, r, c in getattr(item, "failure_reasons", [])[:5])
        mismatch_description.append_text(
            f"{getattr(item, 'total_failures', '?')} of {getattr(item, 'total_requests', '?')} requests "
            f"failed ({float(getattr(item, 'failure_ratio', 0.0)):.2%})" + (f": {reasons}" if reasons else ""))


class _LoadStepsWithinBudget(BaseMatcher[Any]):
    """A load result in which every step's p95 is within its budget class."""

    def _matches(self, item: Any) -> bool:
        return bool(getattr(item, "steps", None)) and not item.budget_breaches

    def describe_to(self, description: Description) -> None:
        description.append_text("every journey step with a p95 within its budget")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        breaches = getattr(item, "budget_breaches", [])
        mismatch_description.append_text("; ".join(
            f"{s.name}: p95 {s.p95:.0f} ms > {s.budget_class} budget {s.budget_ms:.0f} ms" for s in breaches)
            or "no steps were measured")


def failure_ratio_at_most(ratio: float) -> BaseMatcher[Any]:
    """Matcher: the load's failed requests are at most ``ratio`` of all requests."""
    return _LoadFailureRatioAtMost(ratio)


def every_step_within_budget() -> BaseMatcher[Any]:
    """Matcher: every journey step of the load kept its p95 within its PERF_* budget."""
    return _LoadStepsWithinBudget()
