"""Response-time budgets and the short load: the performance domain (issue 8).

Contract parts: the deployment guide's budgets PERF_HEALTH_THRESHOLD_MS, PERF_AUTH_THRESHOLD_MS,
PERF_CRUD_THRESHOLD_MS, PERF_ADMIN_THRESHOLD_MS (design.md §6), judged at the 95th percentile of
PERMISO_PERF_SAMPLES calls (support/domains/perf.py), and Part B (the front's per-IP rate limits, which a load
from one machine meets). Every figure goes to the Allure report as a text attachment and to the
sign-off summary through ``RunSummary.record_budget``. The load itself runs Locust in a subprocess
(support/domains/load.py): gevent never meets this process's ``requests``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import allure
from behave import then, when
from hamcrest import assert_that

from support.checks.causes import PreconditionRefused
from support.domains import load, load_results, perf
from support.people.identities import configured_service_client
from support.wire.admin_session import ensure_admin

#: where the behave-driven load writes its Locust reports (apart from `permiso-acceptance load`'s own)
LOAD_REPORTS_DIR = Path("reports") / "load" / "behave"


#: Part B: the front limits the API to 10 requests/s per client IP (burst 20); budget samples on a
#: deployment are spaced under it so that no sample meets the limit (its 503 is not a response time)
API_SAMPLES_PER_SECOND = 8.0


def _callers(context: Any) -> perf.Callers:
    if getattr(context, "perf_callers", None) is None:
        callers = perf.Callers(context.settings, context.identities, lambda: ensure_admin(context), context.log)
        caps = getattr(context, "capabilities", None) or {}
        if "configured_client" in caps and not caps["configured_client"]:
            # asking for tokens changes nothing: the configured client serves the service-token samples
            # (a deployment may refuse to create a throwaway one, contract D.1)
            callers.__dict__["_service_identity"] = configured_service_client(context.settings)
        context.perf_callers = callers
    return context.perf_callers


def paced(context: Any, call: Callable[[], perf.Response]) -> Callable[[], perf.Response]:
    """``call``, spaced at most :data:`API_SAMPLES_PER_SECOND` apart on a deployment (the embedded
    target has no front and stays fast). The waiting is never part of a sample: each answer is timed
    on its own transport time."""
    if getattr(getattr(context, "target", None), "embedded", True):
        return call
    interval = 1.0 / API_SAMPLES_PER_SECOND
    last = [0.0]

    def spaced() -> perf.Response:
        wait = last[0] + interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last[0] = time.monotonic()
        return call()

    return spaced


def _measurements(context: Any) -> dict[str, perf.Measurement]:
    if getattr(context, "perf_measurements", None) is None:
        context.perf_measurements = {}
    return context.perf_measurements


def _record_budget(context: Any, name: str, p50: float, p95: float, budget: float) -> None:
    summary = getattr(getattr(context, "run_state", None), "summary", None)
    if summary is not None:
        summary.record_budget(name, p50, p95, budget)


# ---------------------------------------------------------------------------------------- budgets
@when("the response time of {endpoint} is sampled the configured number of times")
def when_endpoint_is_timed(context: Any, endpoint: str) -> None:
    entry = perf.endpoint(endpoint)
    callers = _callers(context)
    for need in entry.needs:  # sign in / create the callers before timing starts
        getattr(callers, need)
    samples = int(context.settings.permiso_perf_samples)
    _measurements(context)[endpoint] = perf.measure(endpoint, paced(context, lambda: entry.call(callers)), samples)


@then("every timed call of the {endpoint} endpoint succeeded")
def then_every_timed_call_succeeded(context: Any, endpoint: str) -> None:
    assert_that(_measurements(context)[endpoint], perf.all_calls_succeeded())


@then("the 95th percentile of the {endpoint} endpoint is within the {budget} budget")
def then_p95_within_budget(context: Any, endpoint: str, budget: str) -> None:
    measurement = _measurements(context)[endpoint]
    measurement.judge(budget, perf.budget_ms(context.settings, budget))
    allure.attach(measurement.render(), name=f"{endpoint}: response times (p50/p95/max)",
                  attachment_type=allure.attachment_type.TEXT)
    _record_budget(context, endpoint, measurement.p50, measurement.p95, float(measurement.budget_ms or 0))
    assert_that(measurement, perf.p95_within_budget())


# ---------------------------------------------------------------------------------------- load
@when("{users:d} simulated users run the everyday journeys for {seconds:d} seconds")
def when_users_run_journeys(context: Any, users: int, seconds: int) -> None:
    # Ramp up over the first few seconds, as real traffic does, rather than all users in one burst.
    options = load.LoadOptions(users=users, spawn_rate=max(1.0, users / 4), duration_s=seconds,
                               reports_dir=LOAD_REPORTS_DIR)
    lines: list[str] = []
    try:
        result = load.run_load(context.settings, options, embedded=context.target.embedded,
                               target_description=context.target.describe(), echo=lines.append)
    except load_results.LoadError as exc:
        # the account pool was refused (a deployment may refuse throwaway service clients, D.1): a
        # refused precondition of the load, named as such, not an error of the suite
        refusal = exc.__cause__ or exc.__context__
        if isinstance(refusal, PreconditionRefused):
            raise refusal from None
        raise
    context.load_result = result
    allure.attach("\n".join([*lines, result.render()]), name="load summary",
                  attachment_type=allure.attachment_type.TEXT)
    for step in result.steps:
        if step.requests:
            _record_budget(context, f"load {step.name}", step.p50, step.p95, step.budget_ms)


@then("at most {percent:d} % of the load's requests failed")
def then_failure_ratio_at_most(context: Any, percent: int) -> None:
    assert_that(context.load_result, perf.failure_ratio_at_most(percent / 100.0))


@then("every step of the load answered within its budget at the 95th percentile")
def then_every_step_within_budget(context: Any) -> None:
    assert_that(context.load_result, perf.every_step_within_budget())
