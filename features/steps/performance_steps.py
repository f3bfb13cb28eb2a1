"""Response-time budgets and the short load: the performance domain (issue 8).

Contract parts: the deployment guide's budgets PERF_HEALTH_THRESHOLD_MS, PERF_AUTH_THRESHOLD_MS,
PERF_CRUD_THRESHOLD_MS, PERF_ADMIN_THRESHOLD_MS (design.md §6), judged at the 95th percentile of
PERMISO_PERF_SAMPLES calls (support/perf.py), and Part B (the front's per-IP rate limits, which a load
from one machine meets). Every figure goes to the Allure report as a text attachment and to the
sign-off summary through ``RunSummary.record_budget``. The load itself runs Locust in a subprocess
(support/load.py): gevent never meets this process's ``requests``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import allure
from behave import then, when
from hamcrest import assert_that

from support import load, perf
from support.run import ensure_admin

#: where the behave-driven load writes its Locust reports (apart from `permiso-acceptance load`'s own)
LOAD_REPORTS_DIR = Path("reports") / "load" / "behave"


def _callers(context: Any) -> perf.Callers:
    if getattr(context, "perf_callers", None) is None:
        context.perf_callers = perf.Callers(context.settings, context.identities,
                                            lambda: ensure_admin(context), context.log)
    return context.perf_callers


def _measurements(context: Any) -> dict[str, perf.Measurement]:
    if getattr(context, "perf_measurements", None) is None:
        context.perf_measurements = {}
    return context.perf_measurements


def _record_budget(context: Any, name: str, p50: float, p95: float, budget: float) -> None:
    summary = getattr(getattr(context, "run_state", None), "summary", None)
    if summary is not None:
        summary.record_budget(name, p50, p95, budget)


# ---------------------------------------------------------------------------------------- budgets
@when("the {endpoint} endpoint is timed over the configured number of samples")
def when_endpoint_is_timed(context: Any, endpoint: str) -> None:
    entry = perf.endpoint(endpoint)
    callers = _callers(context)
    for need in entry.needs:  # sign in / create the callers before timing starts
        getattr(callers, need)
    samples = int(context.settings.permiso_perf_samples)
    _measurements(context)[endpoint] = perf.measure(endpoint, lambda: entry.call(callers), samples)


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
    result = load.run_load(context.settings, options, embedded=context.target.embedded,
                           target_description=context.target.describe(), echo=lines.append)
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
