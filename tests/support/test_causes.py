"""Cause attribution: every failed scenario is given ONE cause (support/checks/causes.py).

(a) a Given step's refused setup call (PreconditionRefused) -> kind ``precondition``, its signature and
defect; (b) otherwise kind ``scenario``: the defect of the first ``@allure.issue`` tag, else the
scenario's own title (its rule); scenarios ending in behave status *error* are listed with the error.
The behave objects are stood in for by plain namespaces with the attributes behave 1.3.3 has.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from behave.model_core import Status

from support.checks.causes import (
    DEFECTS,
    PRECONDITION,
    SCENARIO,
    PreconditionRefused,
    attribute_failure,
    attribute_scenario,
    failing_step,
)


def step(status: Status, exception: BaseException | None = None, name: str = "a step") -> Any:
    message = None
    if exception is not None:
        message = f"Traceback (most recent call last):\n  ...\n{type(exception).__name__}: {exception}" \
            if status is Status.error else str(exception)
    return SimpleNamespace(keyword="Then", name=name, status=status, exception=exception, error_message=message)


def scenario(status: Status, steps: list[Any], tags: tuple[str, ...] = (), name: str = "A rule holds") -> Any:
    return SimpleNamespace(name=name, feature=SimpleNamespace(name="Feature"), status=status, all_steps=steps,
                           effective_tags=list(tags), hook_failed=False)


REFUSED = PreconditionRefused("POST", "/api/v1/roles/", 422, "query.current_user missing")


def test_a_refused_precondition_is_its_own_cause_with_its_defect() -> None:
    s = scenario(Status.failed, [step(Status.passed), step(Status.failed, REFUSED, "Given a role"),
                                 step(Status.skipped)], tags=("allure.issue:D9",))
    cause = attribute_scenario(s)
    assert cause is not None and cause.kind == PRECONDITION
    assert cause.cause == "could not prepare: POST /api/v1/roles/ answered 422 (query.current_user missing)"
    assert cause.defect == "D1"  # from the refusal's wire signature, not the scenario's own tag
    assert cause.message.startswith("could not prepare") and not cause.error


def test_a_precondition_without_a_known_defect_names_the_call_as_its_rule() -> None:
    refused = PreconditionRefused("POST", "/api/v1/users/pa_run_1_dana", 503, "busy")
    cause = attribute_failure("F › S", [], Status.failed, [step(Status.failed, refused)])
    assert cause is not None and cause.defect is None
    assert cause.rule == "the target accepts the setup call POST /api/v1/users/{id}"
    assert "/{id}" in cause.cause


def test_a_failure_of_the_scenario_is_grouped_by_its_defect_tag() -> None:
    s = scenario(Status.failed, [step(Status.failed, AssertionError("\nExpected: a challenge\n but: none"))],
                 tags=("critical", "allure.issue:D9", "allure.issue:D10"))
    cause = attribute_scenario(s)
    assert cause is not None and cause.kind == SCENARIO and cause.defect == "D9"
    assert cause.cause == f"D9: {DEFECTS['D9']}"
    assert cause.message == "Expected: a challenge"


def test_without_a_defect_tag_the_cause_is_the_scenarios_own_rule() -> None:
    s = scenario(Status.failed, [step(Status.failed, AssertionError("no"))], name="Dana signs in")
    cause = attribute_scenario(s)
    assert cause is not None and cause.cause == "Feature › Dana signs in" and cause.rule == cause.cause
    assert cause.defect is None


def test_an_error_is_listed_with_the_exception() -> None:
    s = scenario(Status.error, [step(Status.error, KeyError("users"))], tags=("allure.issue:D1",))
    cause = attribute_scenario(s)
    assert cause is not None and cause.error and cause.kind == SCENARIO
    assert cause.message == "KeyError: 'users'"


@pytest.mark.parametrize("status", [Status.passed, Status.skipped, Status.untested])
def test_no_cause_for_a_scenario_that_did_not_fail(status: Status) -> None:
    assert attribute_scenario(scenario(status, [step(Status.passed)])) is None


def test_a_hook_error_without_a_failing_step_is_an_error_of_the_scenario() -> None:
    s = scenario(Status.hook_error, [step(Status.untested)])
    s.hook_failed = True
    cause = attribute_scenario(s)
    assert cause is not None and cause.error and cause.cause == "Feature › A rule holds"


def test_the_failing_step_is_the_first_bad_one() -> None:
    steps = [step(Status.passed), step(Status.undefined, name="undefined"), step(Status.failed)]
    assert failing_step(steps).name == "undefined"
    assert failing_step([step(Status.passed)]) is None


def test_messages_are_redacted() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    cause = attribute_failure("F › S", [], Status.failed, [step(Status.failed, AssertionError(f"got {token}"))])
    assert cause is not None and token not in cause.message


def test_a_refusal_read_from_an_answer_names_the_call_and_masks_secrets() -> None:
    from datetime import UTC, datetime

    from requests.structures import CaseInsensitiveDict

    from support.checks.causes import could_not_prepare
    from support.wire.evidence import ApiResponse, Exchange

    body = {"error": "validation_error", "error_description": "Request validation failed",
            "details": [{"type": "missing", "loc": ["query", "current_user"], "msg": "Field required"}]}
    exchange = Exchange("POST", "https://permiso.example.com/api/v1/roles/?token=eyJhbGciOiJIUzI1NiJ9.e30.x",
                        422, {}, None, {}, "", 1.0, datetime.now(UTC))
    refused = could_not_prepare(ApiResponse(422, CaseInsensitiveDict(), body, "", 1.0, exchange), "create a role")
    assert str(refused) == ("could not prepare (create a role): POST /api/v1/roles/ answered 422 "
                            "(query.current_user missing)")
    assert refused.defect == "D1"
    leaky = {"error": "invalid_grant", "error_description": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig was refused"}
    assert "eyJ" not in str(could_not_prepare(ApiResponse(401, CaseInsensitiveDict(), leaky, "", 1.0, exchange)))


def test_the_scenarios_own_defect_tag_wins_over_its_features() -> None:
    """behave's effective_tags is a set: attribution must not depend on its order."""
    from support.checks.causes import ordered_tags

    for _ in range(20):
        tagged = SimpleNamespace(name="Permiso names its default roles", tags=["allure.issue:D13"],
                                 feature=SimpleNamespace(name="Roles", tags=["admin", "allure.issue:D1"]),
                                 status=Status.failed, all_steps=[step(Status.failed, AssertionError("422"))],
                                 effective_tags={"admin", "allure.issue:D1", "allure.issue:D13"}, hook_failed=False)
        assert ordered_tags(tagged)[:2] == ["allure.issue:D13", "admin"]
        cause = attribute_scenario(tagged)
        assert cause is not None and cause.defect == "D13"
