"""The service and the stores behind it, and the TLS front.

Contract parts: A.1 (`GET /health` answers `{"status": "healthy", ...}`; HTTPS answers carry
`Strict-Transport-Security`), A.6 (`GET /users/stats/overview` with `total_users`: the guide's database
check), A.3 and Part B (revocation lives in the session store: a signed-out token refused shows the
store works), Part B (the front: HTTPS; plain HTTP answers 301 to `https://<host><path>`, the port
dropped, so scheme, host and path are compared). The guide's budgets PERF_HEALTH_THRESHOLD_MS and
PERF_CRUD_THRESHOLD_MS are judged on the median of a few answers, not on one unlucky call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from behave import given, register_type, then, when
from hamcrest import assert_that, greater_than_or_equal_to, has_entries, instance_of, matches_regexp, starts_with

from support.checks.error_matchers import is_bearer_refusal
from support.checks.matchers import has_json_fields, has_status
from support.people import flows
from support.people.actors import Actor, actor, anonymous
from support.people.identities import require
from support.wire.admin_session import ensure_admin
from support.wire.client import PermisoClient

register_type(Who=flows.parse_who)

#: how many answers a response-time budget is judged on (their median)
BUDGET_SAMPLES = 5


def _plain_http(context: Any) -> PermisoClient:
    """A client speaking to the target's plain-HTTP port (PERMISO_HTTP_URL)."""
    http_url = context.settings.permiso_http_url
    assert http_url, "PERMISO_HTTP_URL is not set"
    client = PermisoClient(context.settings, log=context.log, base_url=http_url, name="a visitor over HTTP")
    context.add_cleanup(client.close)
    return client


def _visitor(context: Any) -> Actor:
    return anonymous(context, "a visitor")


# ---------------------------------------------------------------------------------------- health
@when("a visitor asks the service whether it is healthy")
def when_visitor_asks_health(context: Any) -> None:
    client = _visitor(context).client
    samples = flows.sample(client.health, BUDGET_SAMPLES)
    flows.notebook(context).samples = samples
    context.response = samples[-1]


@then("the service reports that it is healthy")
def then_service_reports_healthy(context: Any) -> None:
    for answer in flows.notebook(context).samples or [context.response]:
        assert_that(answer, flows.a_healthy_report())


@then("the typical answer came within the {budget} budget")
def then_typical_answer_within_budget(context: Any, budget: str) -> None:
    limits = {"health": context.settings.perf_health_threshold_ms,
              "CRUD": context.settings.perf_crud_threshold_ms,
              "authentication": context.settings.perf_auth_threshold_ms,
              "admin": context.settings.perf_admin_threshold_ms}
    assert budget in limits, f"no budget called {budget!r}; known: {', '.join(limits)}"
    assert_that(flows.notebook(context).samples, flows.answered_within(limits[budget], f"{budget} budget"))


# ---------------------------------------------------------------------------------------- database
@when("the configured administrator reads the user statistics")
def when_administrator_reads_user_statistics(context: Any) -> None:
    admin = ensure_admin(context)
    samples = flows.sample(admin.user_stats, BUDGET_SAMPLES)
    flows.notebook(context).samples = samples
    context.response = samples[-1]


@then("the statistics tell how many users there are")
def then_statistics_tell_total_users(context: Any) -> None:
    assert_that(context.response, has_status(200))
    assert_that(context.response, has_json_fields("total_users", "active_users", "locked_users"))
    assert_that(context.response.body,
                has_entries(total_users=greater_than_or_equal_to(1)))


@given("the configured administrator has read the user statistics")
def given_administrator_read_user_statistics(context: Any) -> None:
    answer = require(ensure_admin(context).user_stats(), 200, what="read the user statistics")
    assert_that(answer.body, has_entries(total_users=instance_of(int)))
    flows.notebook(context).total_users = answer.body["total_users"]


@when("a new account is created for {who:Who}")
def when_new_account_created(context: Any, who: str) -> None:
    actor(context, who, own=True)  # a new account is the point: never one borrowed from the people pool
    flows.notebook(context).last_actor = who


@then("the user statistics count at least one more user than before")
def then_statistics_count_one_more(context: Any) -> None:
    before = flows.notebook(context).total_users
    assert before is not None, "the statistics were not read before"
    answer = ensure_admin(context).user_stats()
    assert_that(answer, has_status(200))
    assert_that(answer.body, has_entries(total_users=greater_than_or_equal_to(before + 1)))


# ---------------------------------------------------------------------------------------- TLS front
@then("the answer came over an encrypted connection")
def then_answer_came_encrypted(context: Any) -> None:
    assert_that(context.response.exchange.url, starts_with("https://"))
    # HSTS is what makes the browser keep to HTTPS; the other security headers are a rule of their own
    assert_that(context.response.headers.get("Strict-Transport-Security") or "",
                matches_regexp(r"max-age=\d+"))


@when('a visitor opens "{address}" over plain HTTP')
def when_visitor_opens_over_plain_http(context: Any, address: str) -> None:
    path = flows.with_api_base(address, context.settings)
    context.response = _plain_http(context).request("GET", path, api=False, token=None)


@then('the visitor is sent on permanently to "{address}" over HTTPS on the same host')
def then_visitor_sent_on_to_https(context: Any, address: str) -> None:
    path = flows.with_api_base(address, context.settings)
    host = urlsplit(context.settings.permiso_http_url or "").hostname or ""
    assert_that(context.response, flows.a_permanent_redirect_to("https", host, path))


@when("a visitor asks for the current user over plain HTTP")
def when_visitor_asks_current_user_over_http(context: Any) -> None:
    context.response = _plain_http(context).request("GET", "/users/me", token=None)


@then("the visitor is sent on to HTTPS instead of being answered by the API")
def then_visitor_sent_on_instead_of_api(context: Any) -> None:
    path = context.settings.permiso_api_base + "/users/me"
    host = urlsplit(context.settings.permiso_http_url or "").hostname or ""
    assert_that(context.response, flows.a_permanent_redirect_to("https", host, path))
    assert_that(context.response, flows.not_an_api_answer())


@then("the same request over HTTPS is answered by the API")
def then_same_request_over_https_answered(context: Any) -> None:
    answer = _visitor(context).client.request("GET", "/users/me", token=None)
    assert_that(answer, is_bearer_refusal())
