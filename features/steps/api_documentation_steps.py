"""The API description on a production deployment: a visitor finds nothing at its usual addresses.

Contract parts: A.1 (`/openapi.json` exists; `/health` names the environment), Part C D17 (the
description is public in production). The rule and its matcher live in `support.domains.api_documentation`;
scenarios carry `@needs.production` and are skipped elsewhere with the deployment's own word for why.
"""

from __future__ import annotations

from typing import Any

from behave import then, when
from hamcrest import assert_that

from support.domains import api_documentation
from support.people import flows


@when('a visitor opens the interface description at "{address}"')
def when_visitor_opens_description(context: Any, address: str) -> None:
    context.response = api_documentation.open_description(flows.visitor(context).client, address)


@then("the visitor finds nothing there")
def then_visitor_finds_nothing(context: Any) -> None:
    assert_that(context.response, api_documentation.finds_nothing())


@then("the service's health report still answers the visitor")
def then_health_still_answers_visitor(context: Any) -> None:
    assert_that(flows.visitor(context).client.health(), flows.a_healthy_report())
