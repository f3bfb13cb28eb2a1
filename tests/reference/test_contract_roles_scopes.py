"""Contract tests of ``/roles`` and ``/roles/scopes`` and permission checks (A.7)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from helpers import (
    RUN_ID,
    Api,
    User,
    assert_error,
    assert_iso_utc,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
    items_of,
    unique,
)

ROLE_KEYS = {"id", "name", "description", "created_at", "updated_at", "scopes", "user_count"}
SCOPE_KEYS = {"id", "name", "description", "resource", "action", "created_at", "updated_at", "role_count"}


def _scope_name() -> str:
    return f"pa:{RUN_ID}{unique('s').rsplit('_', 1)[1]}"


def _create_scope(api: Api, **fields: Any) -> dict[str, Any]:
    name = _scope_name()
    action, resource = name.split(":", 1)
    body = {"name": name, "description": "throwaway", "resource": resource, "action": action}
    body.update(fields)
    resp = api.post("/roles/scopes/", json=body, token=api.admin)
    assert_status(resp, 201)
    return resp.json()


def _create_role(api: Api, scope_ids: list[str] | None = None) -> dict[str, Any]:
    body = {"name": unique("pa_role"), "description": "throwaway", "scope_ids": scope_ids or []}
    resp = api.post("/roles/", json=body, token=api.admin)
    assert_status(resp, 201)
    return resp.json()


def test_list_roles_defaults(api: Api, admin_token: str) -> None:
    """The four default roles exist with the documented scopes."""
    resp = api.get("/roles/", token=admin_token)
    assert_status(resp, 200)
    roles = {r["name"]: r for r in items_of(resp.json(), "roles")}
    assert {"admin", "user", "trader", "service"} <= set(roles)
    for role in roles.values():
        assert set(role) >= ROLE_KEYS, role
        uuid.UUID(role["id"])
        for scope in role["scopes"]:
            assert {"id", "name", "description", "resource", "action"} <= set(scope)
    assert {s["name"] for s in roles["user"]["scopes"]} == {"read:profile", "write:profile"}
    assert {s["name"] for s in roles["service"]["scopes"]} == {"service:mt5", "service:api"}
    assert {s["name"] for s in roles["admin"]["scopes"]} >= {"admin:users", "admin:system", "admin:clients"}


def test_role_crud(api: Api, admin_token: str) -> None:
    """Create, read, update, set scopes and delete a role."""
    scope = _create_scope(api)
    role = _create_role(api, [scope["id"]])
    assert set(role) >= ROLE_KEYS
    assert [s["name"] for s in role["scopes"]] == [scope["name"]]
    assert role["user_count"] == 0
    assert_iso_utc(role["created_at"])
    got = api.get(f"/roles/{role['id']}", token=admin_token)
    assert_status(got, 200)
    assert got.json()["name"] == role["name"]
    upd = api.put(f"/roles/{role['id']}", json={"description": "changed"}, token=admin_token)
    assert_status(upd, 200)
    assert upd.json()["description"] == "changed"
    other = _create_scope(api)
    scoped = api.put(f"/roles/{role['id']}/scopes", json={"scope_ids": [other["id"]]}, token=admin_token)
    assert_status(scoped, 200)
    assert [s["name"] for s in scoped.json()["scopes"]] == [other["name"]]
    assert_status(api.delete(f"/roles/{role['id']}", token=admin_token), 204)
    assert_error(api.get(f"/roles/{role['id']}", token=admin_token), 404, "not_found")


def test_role_duplicate_and_validation(api: Api, admin_token: str) -> None:
    """Duplicate name → 409; names outside 2–50 → 422."""
    role = _create_role(api)
    dup = api.post("/roles/", json={"name": role["name"], "scope_ids": []}, token=admin_token)
    assert_error(dup, 409, "conflict")
    for name in ("x", "y" * 51):
        assert_validation_error(api.post("/roles/", json={"name": name, "scope_ids": []}, token=admin_token))
    assert_validation_error(
        api.post("/roles/", content=b"{", headers={"Content-Type": "application/json"}, token=admin_token)
    )


def test_role_unknown_404(api: Api, admin_token: str) -> None:
    """Unknown role ids are 404 not_found (UUIDs in paths are accepted)."""
    rid = uuid.uuid4()
    assert_error(api.get(f"/roles/{rid}", token=admin_token), 404, "not_found")
    assert_error(api.put(f"/roles/{rid}", json={"description": "x"}, token=admin_token), 404, "not_found")
    assert_error(api.delete(f"/roles/{rid}", token=admin_token), 404, "not_found")


def test_role_delete_while_assigned_409(api: Api, admin_token: str) -> None:
    """A role assigned to a user cannot be deleted."""
    role = _create_role(api)
    api.create_user(roles=(), role_ids=[role["id"]])
    assert api.get(f"/roles/{role['id']}", token=admin_token).json()["user_count"] == 1
    assert_error(api.delete(f"/roles/{role['id']}", token=admin_token), 409)


def test_scope_crud(api: Api, admin_token: str) -> None:
    """Create, list, read, update and delete a scope; resource/action come from the name."""
    scope = _create_scope(api)
    assert set(scope) >= SCOPE_KEYS
    assert scope["action"] == "pa"
    assert scope["role_count"] == 0
    listed = api.get("/roles/scopes/", token=admin_token)
    assert_status(listed, 200)
    assert scope["id"] in [s["id"] for s in items_of(listed.json(), "scopes")]
    assert_status(api.get(f"/roles/scopes/{scope['id']}", token=admin_token), 200)
    upd = api.put(f"/roles/scopes/{scope['id']}", json={"description": "new"}, token=admin_token)
    assert_status(upd, 200)
    assert upd.json()["description"] == "new"
    dup = api.post(
        "/roles/scopes/",
        json={"name": scope["name"], "resource": scope["resource"], "action": scope["action"]},
        token=admin_token,
    )
    assert_error(dup, 409, "conflict")
    assert_status(api.delete(f"/roles/scopes/{scope['id']}", token=admin_token), 204)
    assert_error(api.get(f"/roles/scopes/{scope['id']}", token=admin_token), 404, "not_found")


def test_scope_delete_while_used_409(api: Api, admin_token: str) -> None:
    """A scope used by a role cannot be deleted."""
    scope = _create_scope(api)
    _create_role(api, [scope["id"]])
    assert_error(api.delete(f"/roles/scopes/{scope['id']}", token=admin_token), 409)


def test_roles_require_admin(api: Api, user_token: str) -> None:
    """Roles and scopes: 401 without token, 403 http_error for a regular user."""
    for path in ("/roles/", "/roles/scopes/", "/roles/stats"):
        assert_unauthorized(api.get(path))
        assert_error(api.get(path, token=user_token), 403, "http_error")
    assert_error(api.post("/roles/", json={"name": "zz", "scope_ids": []}, token=user_token), 403)


def test_roles_stats_and_defaults(api: Api, admin_token: str) -> None:
    """/roles/stats and /roles/defaults are reachable with the documented keys."""
    stats = api.get("/roles/stats", token=admin_token)
    assert_status(stats, 200)
    assert set(stats.json()) >= {"total_roles", "total_scopes", "most_common_roles", "least_used_scopes"}
    defaults = api.get("/roles/defaults", token=admin_token)
    assert_status(defaults, 200)
    assert defaults.json()["roles"] == ["user", "admin", "trader", "service"]
    assert "description" in defaults.json()


@pytest.mark.parametrize(
    ("resource", "action", "allowed"),
    [
        ("profile", "read", True),
        ("profile", "write", True),
        ("system", "admin", False),
        ("trades", "read", False),
    ],
)
def test_permission_check(
    api: Api, admin_token: str, user: User, resource: str, action: str, allowed: bool
) -> None:
    """Permission check of a plain user."""
    resp = api.post(
        "/roles/permissions/check",
        json={"user_id": user.id, "resource": resource, "action": action},
        token=admin_token,
    )
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= {"allowed", "reason", "matching_scopes", "user_roles"}
    assert body["allowed"] is allowed, body
    assert body["user_roles"] == ["user"]


def test_permission_check_implied_scopes(api: Api, admin_token: str) -> None:
    """admin:users implies read:users and write:users; admin:system implies trades scopes."""
    admin_user = api.create_user(roles=("admin",))
    for resource, action in (("users", "read"), ("users", "write"), ("trades", "read")):
        body = api.post(
            "/roles/permissions/check",
            json={"user_id": admin_user.id, "resource": resource, "action": action},
            token=admin_token,
        ).json()
        assert body["allowed"] is True, (resource, action, body)


def test_permission_check_bulk_and_user(api: Api, admin_token: str, user: User, user_token: str) -> None:
    """Bulk check and the user permission listing; plain users are refused (scope guard)."""
    resp = api.post(
        "/roles/permissions/check-bulk",
        json={
            "user_id": user.id,
            "permissions": [
                {"resource": "profile", "action": "read"},
                {"resource": "system", "action": "admin"},
            ],
        },
        token=admin_token,
    )
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= {"results", "user_roles", "user_scopes"}
    assert len(body["results"]) == 2
    assert set(body["user_scopes"]) == {"read:profile", "write:profile"}
    listing = api.get(f"/roles/permissions/user/{user.id}", token=admin_token)
    assert_status(listing, 200)
    denied = api.post(
        "/roles/permissions/check",
        json={"user_id": user.id, "resource": "profile", "action": "read", "scopes": ["admin:permissions"]},
        token=user_token,
    )
    assert_error(denied, 403)
    assert_unauthorized(api.post("/roles/permissions/check", json={"user_id": user.id}))


def test_role_change_applies_to_next_token(api: Api, admin_token: str, user: User) -> None:
    """Adding a scope to a user's role shows in the user's next token."""
    scope = _create_scope(api)
    role = _create_role(api, [scope["id"]])
    before = api.user_token(user)
    assert scope["name"] not in (before["scope"] or "").split()
    resp = api.put(
        f"/users/{user.id}/roles", json={"role_ids": [api.role_id("user"), role["id"]]}, token=admin_token
    )
    assert_status(resp, 200)
    after = api.user_token(user)
    assert scope["name"] in after["scope"].split()
