"""Admin console: dashboard statistics, system health, security events, audit activity, usage
report, maintenance and configuration.

Contract parts: A.10 (`/admin/dashboard/stats` users, roles_and_permissions, service_clients,
authentication, system; `/admin/system/health` `{status: healthy|degraded, timestamp, components:
{database, redis, jwt_service}, metrics}`; `/admin/security/events`; `/admin/audit/activity`;
`/admin/reports/usage?days=1..365` (422 outside); `/admin/maintenance/cleanup` `{timestamp,
operations}`; `/admin/maintenance/backup`; `/admin/config/reload`; `/admin/logs/errors`), A.11
(422 validation errors). Part C: D1 (console guards), D24 (fixed sample data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from behave import then, when
from hamcrest import assert_that, greater_than_or_equal_to, has_entries, has_item, is_in

from support.domains import admin_matchers
from support.people import flows
from support.people.identities import Identity
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

PAGES: dict[str, Callable[[PermisoClient], ApiResponse]] = {
    "dashboard statistics": lambda admin: admin.dashboard_stats(),
    "system health": lambda admin: admin.system_health(),
    "security events": lambda admin: admin.security_events(),
    "audit activity": lambda admin: admin.audit_activity(),
    "usage report": lambda admin: admin.usage_report(),
    "maintenance cleanup": lambda admin: admin.maintenance_cleanup(),
    "maintenance backup": lambda admin: admin.maintenance_backup(),
    "configuration reload": lambda admin: admin.reload_config(),
    "error log": lambda admin: admin.error_logs(),
}


@when("the administrator opens the {page}")
def when_administrator_opens_page(context: Any, page: str) -> None:
    assert page in PAGES, f"no console page {page!r}; known: {', '.join(PAGES)}"
    context.response = PAGES[page](context.identities.admin)


@then("the answer has the parts {parts}")
def then_answer_has_parts(context: Any, parts: str) -> None:
    assert_that(context.response, admin_matchers.has_parts(*admin_matchers.words(parts)))


@then("Permiso reports itself healthy or degraded")
def then_reports_healthy_or_degraded(context: Any) -> None:
    assert_that(context.response, admin_matchers.has_parts("status", "timestamp", "components", "metrics"))
    assert_that(context.response.body["status"], is_in(["healthy", "degraded"]))


@then("the health names the database, the cache and the token service")
def then_health_names_components(context: Any) -> None:
    assert_that(context.response, admin_matchers.has_parts("components"))
    components = context.response.body["components"]
    for name in ("database", "redis", "jwt_service"):
        assert name in components, f"no {name} component"


@then("the administrator finds the failed sign-in for {who} among the security events")
def then_failed_sign_in_among_events(context: Any, who: str) -> None:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity)
    answer = context.identities.admin.security_events(hours=1, per_page=100)
    assert_that(answer, admin_matchers.a_failed_sign_in_event_for(identity.username))


@then("the audit activity shows the creation of {who}'s account")
def then_audit_shows_creation(context: Any, who: str) -> None:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity)
    answer = context.identities.admin.audit_activity(hours=1, per_page=100)
    assert_that(answer, admin_matchers.has_parts("activities"))
    touched = [a.get("resource_id") for a in admin_matchers.items_of(answer, "activities")
               if "creat" in str(a.get("action", ""))]
    assert_that(touched, has_item(identity.id))


@then("the dashboard counts at least one user and one active session")
def then_dashboard_counts(context: Any) -> None:
    assert_that(context.response, admin_matchers.has_parts("users", "authentication"))
    body = context.response.body
    assert_that(body["users"], has_entries(total=greater_than_or_equal_to(1)))
    assert_that(body["authentication"], has_entries(active_sessions=greater_than_or_equal_to(1)))


@when("the administrator asks for the usage report of the last {days:d} days")
def when_administrator_asks_usage_report(context: Any, days: int) -> None:
    context.response = context.identities.admin.usage_report(days)


@then("the report covers {days:d} days")
def then_report_covers_days(context: Any, days: int) -> None:
    assert_that(context.response, admin_matchers.has_parts("period", "users", "authentication"))
    assert_that(context.response.body["period"], has_entries(days=days))


@then("the usage report of the last {days:d} days is available")
def then_usage_report_available(context: Any, days: int) -> None:
    assert_that(context.identities.admin.usage_report(days), admin_matchers.has_parts("period"))



