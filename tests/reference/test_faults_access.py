"""Fault probes for guards (admin, self-or-admin, user), service clients and data exposure."""

from __future__ import annotations

import pytest
from helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    Api,
    Registry,
    ServerPool,
    assert_error,
    assert_oauth_error,
    assert_status,
    assert_unauthorized,
    describe,
    probe_registry,
    run_probe,
)

PROBES: Registry = {}
register = probe_registry(PROBES)

ADMIN_ONLY = ["/users/", "/users/stats/overview", "/roles/", "/service-clients/", "/admin/dashboard/stats"]


@register("admin_open_to_users")
def _admin_open(api: Api, faulty: bool) -> None:
    token = api.user_token(api.create_user())["access_token"]
    for path in ADMIN_ONLY:
        resp = api.get(path, token=token)
        if faulty:
            assert_status(resp, 200)
        else:
            body = assert_error(resp, 403, "http_error")
            assert body["error_description"] == "Access denied"
        assert_unauthorized(api.get(path))


@register("bola_user_profile")
def _bola_profile(api: Api, faulty: bool) -> None:
    attacker = api.user_token(api.create_user())["access_token"]
    victim = api.create_user()
    read = api.get(f"/users/{victim.id}", token=attacker)
    write = api.put(f"/users/{victim.id}", json={"bio": "pwned"}, token=attacker)
    if faulty:
        assert_status(read, 200)
        assert read.json()["id"] == victim.id
        assert_status(write, 200)
    else:
        assert_error(read, 403, "http_error")
        assert_error(write, 403, "http_error")


@register("bola_sessions")
def _bola_sessions(api: Api, faulty: bool) -> None:
    attacker = api.user_token(api.create_user())["access_token"]
    victim = api.user_token(api.create_user())
    resp = api.delete(f"/sessions/{victim['session_id']}", token=attacker)
    if faulty:
        assert_status(resp, 200, 204)
        assert_unauthorized(api.me(victim["access_token"]))
    else:
        assert_error(resp, 403, "access_denied")
        assert_status(api.me(victim["access_token"]), 200)


@register("mass_assignment")
def _mass_assignment(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    resp = api.put(
        f"/users/{user.id}",
        json={"is_verified": True, "is_superuser": True, "role_ids": [api.role_id("admin")]},
        token=token,
    )
    after = api.get(f"/users/{user.id}", token=api.admin).json()
    if faulty:
        assert_status(resp, 200)
        assert after["is_verified"] is True
        assert after["is_superuser"] is True
        assert "admin" in [r["name"] for r in after["roles"]]
    else:
        assert resp.status_code in (200, 403), describe(resp)
        assert after["is_verified"] is False
        assert after["is_superuser"] is False
        assert [r["name"] for r in after["roles"]] == ["user"]


@register("service_token_on_user_endpoint")
def _service_on_user(api: Api, faulty: bool) -> None:
    token = api.service_sign_in(CLIENT_ID, CLIENT_SECRET).json()["access_token"]
    resp = api.me(token)
    if faulty:
        assert resp.status_code != 401, describe(resp)
    else:
        assert_unauthorized(resp)


@register("service_scope_escalation")
def _service_scope_escalation(api: Api, faulty: bool) -> None:
    client = api.create_client(scopes=("read:profile",))
    resp = api.service_sign_in(client.client_id, client.secret, "read:profile admin:system")
    assert_status(resp, 200)
    scopes = set(resp.json()["scope"].split())
    assert scopes == ({"read:profile", "admin:system"} if faulty else {"read:profile"}), scopes


@register("client_disabled_allowed")
def _client_disabled(api: Api, faulty: bool) -> None:
    client = api.create_client()
    upd = api.put(f"/service-clients/{client.client_id}", json={"is_active": False}, token=api.admin)
    assert_status(upd, 200)
    resp = api.service_sign_in(client.client_id, client.secret)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 403, "client_disabled")


@register("old_secret_valid")
def _old_secret(api: Api, faulty: bool) -> None:
    client = api.create_client()
    rot = api.post(
        f"/service-clients/{client.client_id}/rotate-secret",
        json={"current_secret": client.secret},
        token=api.admin,
    )
    assert_status(rot, 200)
    assert_status(api.service_sign_in(client.client_id, rot.json()["client_secret"]), 200)
    resp = api.service_sign_in(client.client_id, client.secret)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 401, "invalid_client")


@register("client_secret_exposed")
def _secret_exposed(api: Api, faulty: bool) -> None:
    client = api.create_client()
    one = api.get(f"/service-clients/{client.client_id}", token=api.admin)
    listing = api.get("/service-clients/", params={"per_page": 100}, token=api.admin)
    assert_status(one, 200)
    assert_status(listing, 200)
    assert ("client_secret" in one.json()) is faulty, one.text
    listed = [c for c in listing.json()["clients"] if c["client_id"] == client.client_id]
    if listed:
        assert ("client_secret" in listed[0]) is faulty, listed[0]


@register("password_hash_exposed")
def _hash_exposed(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    for resp in (api.me(token), api.get(f"/users/{user.id}", token=api.admin)):
        assert_status(resp, 200)
        assert ("password_hash" in resp.json()) is faulty, resp.text
        assert user.password not in resp.text


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
@pytest.mark.parametrize("fault", sorted(PROBES))
def test_fault(pool: ServerPool, fault: str, faulty: bool) -> None:
    """Clean server: contract behaviour; server with only ``fault`` on: the table's misbehaviour."""
    run_probe(pool, PROBES, fault, faulty)
