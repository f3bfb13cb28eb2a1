"""Smoke tests of the roles, service-client and admin-console routers of the reference Permiso.

Real HTTP over loopback against the shared clean server (``api`` fixture) or a server with one fault
(``pool.api(faults=[...])``). They complement the black-box ``test_contract_*`` modules with what the
owner of these routers wants pinned: real numbers instead of sample data (D24), no outbound webhook
calls, real maintenance actions, scope-based console guards, and the faults of this area.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import (
    Api,
    ServerPool,
    User,
    assert_error,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
    unique,
    unique_client_id,
)


def _role(api: Api, *scopes: str, **fields: Any) -> dict[str, Any]:
    body = {"name": unique("pa_role"), "description": "smoke", "scope_ids": [api.scope_id(s) for s in scopes]}
    body.update(fields)
    resp = api.post("/roles/", json=body, token=api.admin)
    assert_status(resp, 201)
    return resp.json()


def _service_token(api: Api, client_id: str, secret: str) -> str:
    resp = api.service_sign_in(client_id, secret)
    assert_status(resp, 200)
    return resp.json()["access_token"]


# -- roles and scopes ------------------------------------------------------------------------------
def test_role_shapes_and_not_found(api: Api) -> None:
    """Role JSON has every A.7 field; unknown UUID and non-UUID ids are 404 not_found, never 500."""
    role = _role(api, "read:profile")
    assert set(role) >= {"id", "name", "description", "created_at", "updated_at", "scopes", "user_count"}
    uuid.UUID(role["id"])
    assert role["user_count"] == 0
    assert set(role["scopes"][0]) == {"id", "name", "description", "resource", "action"}
    for bad in (str(uuid.uuid4()), "12345", "not-a-uuid"):
        assert_error(api.get(f"/roles/{bad}", token=api.admin), 404, "not_found")
        assert_error(api.get(f"/roles/scopes/{bad}", token=api.admin), 404, "not_found")
        assert_error(api.delete(f"/roles/{bad}", token=api.admin), 404, "not_found")


def test_roles_trailing_slash_and_unknown_scope(api: Api) -> None:
    """``/roles`` without slash is 404 (Part B); an unknown scope id is a 422 that does not echo it."""
    assert_status(api.get("/roles", token=api.admin), 404)
    assert_status(api.get("/roles/scopes", token=api.admin), 404)
    missing = str(uuid.uuid4())
    resp = api.post("/roles/", json={"name": unique("pa_role"), "scope_ids": [missing]}, token=api.admin)
    assert_validation_error(resp, missing)


def test_role_update_and_scope_replacement(api: Api) -> None:
    """PUT renames (409 on a taken name, case-insensitive); PUT /scopes replaces the set."""
    role = _role(api, "read:profile")
    other = _role(api)
    resp = api.put(f"/roles/{role['id']}", json={"name": other["name"].upper()}, token=api.admin)
    assert_error(resp, 409, "conflict")
    new_name = unique("pa_role")
    resp = api.put(f"/roles/{role['id']}", json={"name": new_name, "description": "changed"}, token=api.admin)
    assert_status(resp, 200)
    assert resp.json()["name"] == new_name
    assert [s["name"] for s in resp.json()["scopes"]] == ["read:profile"]
    resp = api.put(f"/roles/{role['id']}/scopes", json={"scope_ids": [api.scope_id("read:trades")]},
                   token=api.admin)
    assert_status(resp, 200)
    assert [s["name"] for s in resp.json()["scopes"]] == ["read:trades"]


def test_scope_derives_resource_and_action(api: Api) -> None:
    """A new scope named ``action:resource`` gets both parts; role_count follows role links."""
    name = f"pa:{unique('s')}"
    resp = api.post("/roles/scopes/", json={"name": name}, token=api.admin)
    assert_status(resp, 201)
    scope = resp.json()
    assert (scope["action"], scope["resource"], scope["role_count"]) == ("pa", name.split(":", 1)[1], 0)
    assert_error(api.post("/roles/scopes/", json={"name": name}, token=api.admin), 409, "conflict")
    role = _role(api)
    api.put(f"/roles/{role['id']}/scopes", json={"scope_ids": [scope["id"]]}, token=api.admin)
    assert api.get(f"/roles/scopes/{scope['id']}", token=api.admin).json()["role_count"] == 1
    assert_error(api.delete(f"/roles/scopes/{scope['id']}", token=api.admin), 409, "conflict")
    api.put(f"/roles/{role['id']}/scopes", json={"scope_ids": []}, token=api.admin)
    assert_status(api.delete(f"/roles/scopes/{scope['id']}", token=api.admin), 204)


def test_role_delete_after_unassign_and_next_token(api: Api, user: User) -> None:
    """A role grants its scopes from the next token on; it can be deleted once unassigned."""
    role = _role(api, "read:trades")
    before = api.user_token(user)["access_token"]
    resp = api.put(f"/users/{user.id}/roles", json={"role_ids": [api.role_id("user"), role["id"]]},
                   token=api.admin)
    assert_status(resp, 200)
    assert api.get(f"/roles/{role['id']}", token=api.admin).json()["user_count"] == 1
    assert "read:trades" in api.user_token(user)["scope"].split()
    assert before != api.user_token(user)["access_token"]
    assert_error(api.delete(f"/roles/{role['id']}", token=api.admin), 409, "conflict")
    api.put(f"/users/{user.id}/roles", json={"role_ids": [api.role_id("user")]}, token=api.admin)
    assert_status(api.delete(f"/roles/{role['id']}", token=api.admin), 204)
    assert_error(api.get(f"/roles/{role['id']}", token=api.admin), 404, "not_found")


def test_permission_routes(api: Api, user: User, user_token: str) -> None:
    """Checks answer from the user's roles; the guard is scope(admin:permissions)."""
    check = api.post("/roles/permissions/check",
                     json={"user_id": user.id, "resource": "trades", "action": "write"}, token=api.admin)
    assert_status(check, 200)
    assert check.json()["allowed"] is False and check.json()["user_roles"] == ["user"]
    bulk = api.post("/roles/permissions/check-bulk", token=api.admin, json={
        "user_id": user.id, "permissions": [{"resource": "profile", "action": "read"},
                                            {"resource": "trades", "action": "read"}]})
    assert_status(bulk, 200)
    assert [r["allowed"] for r in bulk.json()["results"]] == [True, False]
    assert set(bulk.json()["user_scopes"]) == {"read:profile", "write:profile"}
    perms = api.get(f"/roles/permissions/user/{user.id}", token=api.admin)
    assert_status(perms, 200)
    assert perms.json()["resources"] == [{"resource": "profile", "actions": ["read", "write"],
                                          "scopes": ["read:profile", "write:profile"]}]
    assert_error(api.get(f"/roles/permissions/user/{uuid.uuid4()}", token=api.admin), 404, "not_found")
    assert_error(api.post("/roles/permissions/check", token=user_token,
                          json={"user_id": user.id, "resource": "profile", "action": "read"}), 403)
    assert_unauthorized(api.get(f"/roles/permissions/user/{user.id}"))
    assert_validation_error(api.post("/roles/permissions/check-bulk", token=api.admin,
                                     json={"user_id": user.id, "permissions": []}))


def test_role_stats_count_live(api: Api) -> None:
    """/roles/stats counts grow with new roles (not sample data); /roles/defaults lists the four."""
    before = api.get("/roles/stats", token=api.admin).json()["total_roles"]
    _role(api)
    stats = api.get("/roles/stats", token=api.admin).json()
    assert stats["total_roles"] == before + 1
    assert {"name", "count"} <= set(stats["most_common_roles"][0])
    defaults = api.get("/roles/defaults", token=api.admin).json()
    assert defaults["roles"] == ["user", "admin", "trader", "service"]


# -- service clients -------------------------------------------------------------------------------
def test_client_json_never_carries_secret(api: Api) -> None:
    """The secret (or its hash) appears only in the create answer."""
    client = api.create_client()
    for resp in (api.get(f"/service-clients/{client.client_id}", token=api.admin),
                 api.get("/service-clients/", params={"search": client.client_id}, token=api.admin)):
        assert_status(resp, 200)
        assert client.secret not in resp.text and "$2b$" not in resp.text and "secret_hash" not in resp.text
        assert "client_secret" not in resp.text


def test_client_validation_does_not_echo(api: Api) -> None:
    """422 for out-of-range fields, bad URLs and bad IPs; the submitted secret is never echoed."""
    secret = "Sup3r-Secret-Value-0001"
    for extra in ({"access_token_lifetime": 10}, {"webhook_url": "ftp://x"}, {"allowed_ips": ["nope"]},
                  {"rate_limit_per_hour": 5}, {"client_type": "weird"}):
        body = {"name": "Smoke", "client_id": unique_client_id(), "client_secret": secret, **extra}
        assert_validation_error(api.post("/service-clients/", json=body, token=api.admin), secret)
    client = api.create_client()
    resp = api.put(f"/service-clients/{client.client_id}", json={"client_secret": secret}, token=api.admin)
    assert_validation_error(resp, secret)
    same = api.put(f"/service-clients/{client.client_id}", json={**client.body, "name": "Renamed"},
                   token=api.admin)
    assert_status(same, 200)
    assert same.json()["name"] == "Renamed"
    other = api.put(f"/service-clients/{client.client_id}", json={"client_id": unique_client_id()},
                    token=api.admin)
    assert_validation_error(other)


def test_client_filters_and_pagination(api: Api) -> None:
    """Filters narrow the list; pagination reports totals."""
    client = api.create_client(is_trusted=True, description="needle-" + unique())
    resp = api.get("/service-clients/", params={"search": client.body["description"], "is_trusted": "true"},
                   token=api.admin)
    assert_status(resp, 200)
    assert [c["client_id"] for c in resp.json()["clients"]] == [client.client_id]
    page = api.get("/service-clients/", params={"per_page": 1, "page": 1}, token=api.admin).json()
    assert page["per_page"] == 1 and len(page["clients"]) == 1 and page["pages"] == page["total"]
    assert_validation_error(api.get("/service-clients/", params={"per_page": 0}, token=api.admin))


def test_rotate_secret_and_permissions(api: Api) -> None:
    """Wrong current secret → 400 invalid_secret; after rotation only the new secret works."""
    client = api.create_client(scopes=("read:profile", "service:api"))
    wrong = api.post(f"/service-clients/{client.client_id}/rotate-secret",
                     json={"current_secret": "wrong-secret-000000"}, token=api.admin)
    assert_error(wrong, 400, "invalid_secret")
    resp = api.post(f"/service-clients/{client.client_id}/rotate-secret",
                    json={"current_secret": client.secret}, token=api.admin)
    assert_status(resp, 200)
    new_secret = resp.json()["client_secret"]
    assert new_secret != client.secret and resp.json()["message"]
    assert_status(api.service_sign_in(client.client_id, new_secret), 200)
    assert_error(api.service_sign_in(client.client_id, client.secret), 401, "invalid_client")
    perms = api.get(f"/service-clients/{client.client_id}/permissions", token=api.admin).json()
    assert perms["scopes"] == ["read:profile", "service:api"]
    assert perms["resources"] == {"profile": ["read"], "api": ["service"]}
    limit = api.get(f"/service-clients/{client.client_id}/rate-limit", token=api.admin).json()
    assert (limit["rate_limit_per_minute"], limit["rate_limit_per_hour"]) == (60, 1000)


def test_deleted_client_tokens_refused(api: Api) -> None:
    """DELETE 204; the client's service token is refused afterwards and the client is 404."""
    client = api.create_client(scopes=("admin:security",))
    token = _service_token(api, client.client_id, client.secret)
    assert_status(api.get("/admin/security/events", token=token), 200)
    assert_status(api.delete(f"/service-clients/{client.client_id}", token=api.admin), 204)
    assert_unauthorized(api.get("/admin/security/events", token=token))
    assert_error(api.get(f"/service-clients/{client.client_id}", token=api.admin), 404, "not_found")


def test_webhook_without_url_and_non_loopback(api: Api) -> None:
    """No URL → 400 no_webhook; a non-loopback URL is answered without being contacted."""
    client = api.create_client()
    assert_error(api.post(f"/service-clients/{client.client_id}/webhook/test", token=api.admin),
                 400, "no_webhook")
    api.put(f"/service-clients/{client.client_id}", json={"webhook_url": "https://203.0.113.7/hook"},
            token=api.admin)
    resp = api.post(f"/service-clients/{client.client_id}/webhook/test", token=api.admin)
    assert_status(resp, 200)
    assert resp.json()["delivered"] is False and resp.json()["success"] is False
    assert resp.elapsed.total_seconds() < 1.0


@pytest.fixture
def webhook_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback HTTP server recording the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_loopback_delivery(api: Api, webhook_sink: tuple[str, list[dict[str, Any]]]) -> None:
    """A loopback webhook is really called and its status reported."""
    url, received = webhook_sink
    client = api.create_client(webhook_url=url)
    resp = api.post(f"/service-clients/{client.client_id}/webhook/test", json={"event_type": "ping"},
                    token=api.admin)
    assert_status(resp, 200)
    assert (resp.json()["success"], resp.json()["status_code"]) == (True, 204)
    assert received and received[0]["event"] == "ping" and received[0]["client_id"] == client.client_id


def test_client_stats_and_health_are_live(api: Api) -> None:
    """Stats and health count real clients: a new disabled client moves the numbers."""
    before = api.get("/service-clients/stats/overview", token=api.admin).json()
    client = api.create_client(is_active=False)
    after = api.get("/service-clients/stats/overview", token=api.admin).json()
    assert after["total_clients"] == before["total_clients"] + 1
    assert after["inactive_clients"] == before["inactive_clients"] + 1
    health = api.get("/service-clients/health/check", token=api.admin).json()
    entry = next(c for c in health["health_checks"] if c["client_id"] == client.client_id)
    assert entry["is_healthy"] is False and "client is disabled" in entry["issues"]
    assert health["total_count"] == after["total_clients"]
    assert health["healthy_count"] + health["unhealthy_count"] == health["total_count"]


# -- admin console ---------------------------------------------------------------------------------
def test_dashboard_counts_are_live(api: Api) -> None:
    """Dashboard sections exist and user counts follow creations."""
    before = api.get("/admin/dashboard/stats", token=api.admin).json()
    assert set(before) >= {"users", "roles_and_permissions", "service_clients", "authentication", "system"}
    api.create_user()
    after = api.get("/admin/dashboard/stats", token=api.admin).json()
    assert after["users"]["total"] == before["users"]["total"] + 1
    assert after["system"]["uptime_seconds"] >= before["system"]["uptime_seconds"]


def test_system_health_reports_sqlite_revocation_store(api: Api) -> None:
    """Health names the real backends (no Redis in the reference)."""
    body = api.get("/admin/system/health", token=api.admin).json()
    assert body["status"] == "healthy"
    assert body["components"]["redis"]["backend"] == "sqlite"
    assert {c["status"] for c in body["components"].values()} == {"healthy"}
    assert "uptime_seconds" in body["metrics"]


def test_security_events_record_failed_sign_in(api: Api, user: User) -> None:
    """A failed sign-in appears (filterable); ``hours`` outside 1..168 is 422."""
    api.sign_in(user.username, "Wr0ng!Password")
    resp = api.get("/admin/security/events", params={"event_type": "login_failed", "hours": 1},
                   token=api.admin)
    assert_status(resp, 200)
    assert any(e["user_id"] == user.id for e in resp.json()["events"])
    for hours in (0, 169):
        assert_validation_error(api.get("/admin/security/events", params={"hours": hours}, token=api.admin))


def test_console_scope_guards(api: Api, user_token: str) -> None:
    """Named-scope routes accept a service token with that scope and refuse one without."""
    holder = api.create_client(scopes=("admin:audit",))
    token = _service_token(api, holder.client_id, holder.secret)
    assert_status(api.get("/admin/audit/activity", token=token), 200)
    assert_error(api.get("/admin/logs/errors", token=token), 403)
    assert_error(api.post("/admin/config/reload", token=token), 403)
    assert_error(api.get("/admin/dashboard/stats", token=token), 401)
    assert_error(api.get("/admin/security/events", token=user_token), 403)


def test_audit_activity_records_changes(api: Api) -> None:
    """Administrative changes land in the audit log."""
    role = _role(api)
    resp = api.get("/admin/audit/activity", params={"action": "role_created"}, token=api.admin)
    assert_status(resp, 200)
    assert any(a["resource_id"] == role["id"] for a in resp.json()["activities"])


def test_maintenance_cleanup_and_backup(api: Api, user: User) -> None:
    """Cleanup removes ended sessions; backup writes a real SQLite copy next to the database."""
    tokens = api.user_token(user)
    assert_status(api.logout(tokens["access_token"]), 200)
    cleanup = api.post("/admin/maintenance/cleanup", token=api.admin).json()
    sessions = next(op for op in cleanup["operations"] if op["operation"] == "cleanup_expired_sessions")
    assert sessions["items_removed"] >= 1
    backup = api.post("/admin/maintenance/backup", token=api.admin)
    assert_status(backup, 200)
    body = backup.json()
    assert body["status"] == "completed" and os.path.getsize(body["path"]) == body["size_bytes"] > 0
    assert body["tables"]["users"] >= 2
    with open(body["path"], "rb") as handle:
        assert handle.read(16) == b"SQLite format 3\x00"


def test_usage_report_config_and_error_logs(api: Api) -> None:
    """Usage report bounds, config reload and error logs shapes."""
    assert_status(api.get("/admin/reports/usage", params={"days": 365}, token=api.admin), 200)
    assert_validation_error(api.get("/admin/reports/usage", params={"days": 366}, token=api.admin))
    assert api.get("/admin/reports/usage", params={"days": 1}, token=api.admin).json()["period"]["days"] == 1
    assert_status(api.post("/admin/config/reload", token=api.admin), 200)
    logs = api.get("/admin/logs/errors", token=api.admin).json()
    assert {"errors", "total", "page", "per_page"} <= set(logs)


# -- faults of this area (each probe: contract on a clean server, the defect under the fault) -----
FAULTY = pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])


@FAULTY
def test_fault_permission_check_wrong(pool: ServerPool, faulty: bool) -> None:
    """Under the fault every check is allowed."""
    api = pool.api(faults=["permission_check_wrong"] if faulty else [])
    user = api.create_user()
    resp = api.post("/roles/permissions/check", token=api.admin,
                    json={"user_id": user.id, "resource": "system", "action": "admin"})
    assert_status(resp, 200)
    assert resp.json()["allowed"] is faulty


@FAULTY
def test_fault_client_secret_exposed(pool: ServerPool, faulty: bool) -> None:
    """Under the fault the client JSON carries the plaintext secret."""
    api = pool.api(faults=["client_secret_exposed"] if faulty else [])
    client = api.create_client()
    resp = api.get(f"/service-clients/{client.client_id}", token=api.admin)
    assert (resp.json().get("client_secret") == client.secret) is faulty


@FAULTY
def test_fault_old_secret_valid(pool: ServerPool, faulty: bool) -> None:
    """Under the fault the pre-rotation secret still gets tokens."""
    api = pool.api(faults=["old_secret_valid"] if faulty else [])
    client = api.create_client()
    resp = api.post(f"/service-clients/{client.client_id}/rotate-secret",
                    json={"current_secret": client.secret}, token=api.admin)
    assert_status(resp, 200)
    assert_status(api.service_sign_in(client.client_id, client.secret), 200 if faulty else 401)


@FAULTY
def test_fault_security_events_missing(pool: ServerPool, faulty: bool) -> None:
    """Under the fault failed sign-ins are absent from the security events."""
    api = pool.api(faults=["security_events_missing"] if faulty else [])
    user = api.create_user()
    api.sign_in(user.username, "Wr0ng!Password")
    events = api.get("/admin/security/events", params={"per_page": 100}, token=api.admin).json()["events"]
    recorded = any(e["user_id"] == user.id and e["event_type"] == "login_failed" for e in events)
    assert recorded is not faulty


@pytest.mark.parametrize("path", ["/roles/", "/roles/scopes/", "/service-clients/", "/admin/security/events",
                                  "/admin/audit/activity", "/admin/logs/errors"])
def test_huge_page_is_422_not_500(api: Api, path: str) -> None:
    """A page number beyond SQLite's integer range is a validation error, not a 500."""
    assert_validation_error(api.get(path, params={"page": 10**30}, token=api.admin))


def test_names_refuse_control_characters(api: Api) -> None:
    """Role and client names with a NUL byte are 422."""
    assert_validation_error(api.post("/roles/", json={"name": "ab\x00cd"}, token=api.admin))
    assert_validation_error(api.post("/service-clients/", json={"name": "ab\x00cd"}, token=api.admin))
