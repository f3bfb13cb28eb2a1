"""Contract tests of the admin console ``/admin`` (A.10)."""

from __future__ import annotations

import pytest
from helpers import (
    Api,
    assert_error,
    assert_iso_utc,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
)

ADMIN_ROUTES = [
    ("GET", "/admin/dashboard/stats"),
    ("GET", "/admin/system/health"),
    ("GET", "/admin/security/events"),
    ("POST", "/admin/maintenance/cleanup"),
    ("POST", "/admin/maintenance/backup"),
    ("GET", "/admin/audit/activity"),
    ("GET", "/admin/reports/usage"),
    ("POST", "/admin/config/reload"),
    ("GET", "/admin/logs/errors"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=[p for _, p in ADMIN_ROUTES])
def test_admin_routes_guarded(api: Api, admin_token: str, user_token: str, method: str, path: str) -> None:
    """Every console route: 200 for the administrator, 403 for a user, 401 anonymous."""
    assert_status(api.call(method, path, token=admin_token), 200)
    assert_error(api.call(method, path, token=user_token), 403)
    assert_unauthorized(api.call(method, path))


def test_dashboard_stats(api: Api, admin_token: str) -> None:
    """Dashboard sections."""
    body = api.get("/admin/dashboard/stats", token=admin_token).json()
    assert set(body) >= {"users", "roles_and_permissions", "service_clients", "authentication", "system"}


def test_system_health(api: Api, admin_token: str) -> None:
    """System health shape."""
    body = api.get("/admin/system/health", token=admin_token).json()
    assert body["status"] in ("healthy", "degraded")
    assert_iso_utc(body["timestamp"])
    assert set(body["components"]) >= {"database", "redis", "jwt_service"}
    assert "metrics" in body


def test_security_events_query(api: Api, admin_token: str) -> None:
    """hours must be 1–168."""
    assert_status(api.get("/admin/security/events", params={"hours": 168}, token=admin_token), 200)
    for hours in (0, 169):
        assert_validation_error(api.get("/admin/security/events", params={"hours": hours}, token=admin_token))


def test_usage_report_days(api: Api, admin_token: str) -> None:
    """days must be 1–365."""
    assert_status(api.get("/admin/reports/usage", params={"days": 365}, token=admin_token), 200)
    for days in (0, 366):
        assert_validation_error(api.get("/admin/reports/usage", params={"days": days}, token=admin_token))


def test_maintenance_cleanup_shape(api: Api, admin_token: str) -> None:
    """Cleanup answers {timestamp, operations}."""
    body = api.post("/admin/maintenance/cleanup", token=admin_token).json()
    assert {"timestamp", "operations"} <= set(body)


def test_admin_role_holder_passes(api: Api) -> None:
    """A non-superuser holding role admin passes the admin guard."""
    holder = api.create_user(roles=("admin",))
    token = api.user_token(holder)["access_token"]
    assert_status(api.get("/admin/dashboard/stats", token=token), 200)
    assert_status(api.get("/users/", token=token), 200)
