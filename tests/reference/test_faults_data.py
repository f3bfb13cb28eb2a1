"""Fault probes for input policies, registration, sessions, statistics, roles and error bodies."""

from __future__ import annotations

import pytest
from helpers import (
    STRONG_PASSWORD,
    Api,
    Registry,
    ServerPool,
    assert_error,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
    describe,
    parse_time,
    probe_registry,
    run_probe,
    unique,
    wait_until,
)

PROBES: Registry = {}
register = probe_registry(PROBES)


@register("password_policy_off")
def _policy_off(api: Api, faulty: bool) -> None:
    for weak in ("weakpass", "alllower1!x", "NoDigits!!x", "NoSpecial12x"):
        resp = api.post("/users/", json=api.user_body(password=weak), token=api.admin)
        if faulty:
            assert_status(resp, 201)
        else:
            assert_validation_error(resp, weak)


@register("duplicate_username")
def _duplicate_username(api: Api, faulty: bool) -> None:
    user = api.create_user()
    resp = api.post("/users/", json=api.user_body(username=user.username), token=api.admin)
    if faulty:
        assert_status(resp, 201)
    else:
        assert_error(resp, 409, "conflict")


@register("reserved_email_accepted")
def _reserved_email(api: Api, faulty: bool) -> None:
    for domain in ("test", "local"):
        resp = api.post("/users/", json=api.user_body(email=f"{unique()}@permiso.{domain}"), token=api.admin)
        if faulty:
            assert_status(resp, 201)
        else:
            assert_validation_error(resp)


@register("registration_limit_off", registration_limit_per_hour=3)
def _registration_limit(api: Api, faulty: bool) -> None:
    answers = [api.post("/users/register", json=api.user_body()) for _ in range(4)]
    for resp in answers[:3]:
        assert_status(resp, 201)
    if faulty:
        assert_status(answers[3], 201)
    else:
        assert_error(answers[3], 429, "rate_limit_exceeded")
        assert answers[3].headers.get("retry-after"), describe(answers[3])


@register("validation_echoes_input")
def _echoes(api: Api, faulty: bool) -> None:
    secret = "echo-marker-" + unique().replace("_", "")
    resp = api.post("/users/", json=api.user_body(password=secret), token=api.admin)
    if faulty:
        assert_status(resp, 422)
        assert secret in resp.text, describe(resp)
    else:
        assert_validation_error(resp, secret)


@register("bad_reset_token_500")
def _bad_reset(api: Api, faulty: bool) -> None:
    for path, body in (
        ("/users/password-reset/confirm", {"token": "bogus", "new_password": STRONG_PASSWORD}),
        ("/users/email-verification/confirm", {"token": "bogus"}),
    ):
        resp = api.post(path, json=body)
        if faulty:
            assert_status(resp, 500)
        else:
            assert_error(resp, 400, "invalid_token")


@register("session_renew_noop")
def _renew_noop(api: Api, faulty: bool) -> None:
    body = api.user_token(api.create_user())
    token, sid = body["access_token"], body["session_id"]
    before = next(s for s in api.get("/sessions/", token=token).json()["sessions"] if s["session_id"] == sid)

    def moved() -> bool:
        resp = api.post(f"/sessions/{sid}/renew", token=token)
        assert_status(resp, 200)
        return parse_time(resp.json()["expires_at"]) > parse_time(before["expires_at"])

    assert bool(wait_until(moved, 2.5, 0.25)) is not faulty


@register("sessions_not_gating")
def _sessions_gating(api: Api, faulty: bool) -> None:
    user = api.create_user()
    one = api.user_token(user)
    two = api.user_token(user)
    assert_status(api.delete(f"/sessions/{two['session_id']}", token=one["access_token"]), 200, 204)
    resp = api.me(two["access_token"])
    if faulty:
        assert_status(resp, 200)
    else:
        assert_unauthorized(resp)


@register("stats_not_counting")
def _stats(api: Api, faulty: bool) -> None:
    before = api.get("/users/stats/overview", token=api.admin).json()["total_users"]
    api.create_user()
    after = api.get("/users/stats/overview", token=api.admin).json()["total_users"]
    assert after == (before if faulty else before + 1)


@register("role_scopes_not_applied")
def _role_scopes(api: Api, faulty: bool) -> None:
    user = api.create_user()
    assert "read:trades" not in api.user_token(user)["scope"].split()
    resp = api.put(f"/users/{user.id}/roles", json={"role_ids": [api.role_id("trader")]}, token=api.admin)
    assert_status(resp, 200)
    scopes = set((api.user_token(user)["scope"] or "").split())
    assert ("read:trades" in scopes) is not faulty, scopes


@register("permission_check_wrong")
def _permission_check(api: Api, faulty: bool) -> None:
    user = api.create_user()
    resp = api.post(
        "/roles/permissions/check",
        json={"user_id": user.id, "resource": "system", "action": "admin"},
        token=api.admin,
    )
    assert_status(resp, 200)
    assert resp.json()["allowed"] is faulty, resp.json()


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
@pytest.mark.parametrize("fault", sorted(PROBES))
def test_fault(pool: ServerPool, fault: str, faulty: bool) -> None:
    """Clean server: contract behaviour; server with only ``fault`` on: the table's misbehaviour."""
    run_probe(pool, PROBES, fault, faulty)
