"""Probes of the behaviours the ``release-1.0`` profile plays (contract Part D), faults and acceptable
variants alike: each runs once on a clean server (the contract) and once with only its behaviour on.

Probes of a server with ``admin_guard_query_param`` on create their users without roles: listing roles
is exactly what that fault breaks.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from helpers import (
    SECURITY_HEADERS,
    Api,
    Registry,
    ServerPool,
    User,
    assert_error,
    assert_oauth_error,
    assert_security_headers,
    assert_status,
    assert_unauthorized,
    body_of,
    describe,
    probe_registry,
    resign,
    run_probe,
    unique,
    unique_client_id,
    wait_until,
)

PROBES: Registry = {}
register = probe_registry(PROBES)

NAIVE = "can't compare offset-naive and offset-aware datetimes"


def _plain_user(api: Api) -> tuple[User, dict[str, Any]]:
    """A fresh user without roles, signed in once."""
    user = api.create_user(roles=())
    return user, api.user_token(user)


def _leaky(resp: Any, status: int, error: str | None = None) -> dict[str, Any]:
    """An error body that may carry a traceback (the release's leaks, D10)."""
    assert_status(resp, status)
    body = body_of(resp)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), describe(resp)
    if error is not None:
        assert body["error"] == error, describe(resp)
    return body


def _first_detail(resp: Any) -> dict[str, Any]:
    body = body_of(resp)
    assert isinstance(body, dict) and body.get("details"), describe(resp)
    return body["details"][0]


# -- D.1 guards ----------------------------------------------------------------------------------
@register("admin_guard_query_param")
def _admin_guard(api: Api, faulty: bool) -> None:
    as_admin = api.get("/roles/", token=api.admin)
    visitor = api.get("/service-clients/")
    with_param = api.get("/admin/dashboard/stats", params={"current_user": "admin"})
    users = api.get("/users/", token=api.admin)
    assert_status(users, 200)  # the /users routes read the token either way (Part D.1)
    if faulty:
        for resp in (as_admin, visitor):
            assert_status(resp, 422)
            first = _first_detail(resp)
            assert first["loc"] == ["query", "current_user"] and first["type"] == "missing", describe(resp)
        assert_error(with_param, 500, "http_error")
        assert with_param.json()["error_description"].startswith("Role check failed"), describe(with_param)
    else:
        assert_status(as_admin, 200)
        assert_unauthorized(visitor)
        assert_unauthorized(with_param)


@register("scope_guard_trusts_body")
def _scope_guard(api: Api, faulty: bool) -> None:
    bare = api.get("/sessions/stats")
    trusted = api.call("GET", "/sessions/stats", json={"token_payload": {"scopes": ["admin:system"]}})
    own_scope = api.post("/sessions/cleanup", json={"token_payload": {"scopes": ["admin:sessions"]}})
    other = api.call("GET", "/admin/logs/errors", json={"token_payload": {"scopes": ["read:profile"]}})
    if faulty:
        assert_status(bare, 422)
        assert _first_detail(bare)["loc"] == ["body"], describe(bare)
        assert_status(trusted, 200)
        assert "total_sessions" in trusted.json(), describe(trusted)
        assert_status(own_scope, 200)
        assert_status(other, 500)
    else:
        for resp in (bare, trusted, own_scope, other):
            assert_unauthorized(resp)


@register("role_ids_integer")
def _role_ids_integer(api: Api, faulty: bool) -> None:
    roles = api.get("/roles/", token=api.admin)
    assert_status(roles, 200)
    role_id = roles.json()["roles"][0]["id"]
    for resp in (api.get("/roles/defaults", token=api.admin), api.get(f"/roles/{role_id}", token=api.admin)):
        if faulty:
            assert_status(resp, 422)
            first = _first_detail(resp)
            assert first["loc"] == ["path", "role_id"] and first["type"] == "int_parsing", describe(resp)
        else:
            assert_status(resp, 200)


# -- D.2 lockout and accounts -------------------------------------------------------------------
@register("lock_naive_datetime")
def _lock_naive(api: Api, faulty: bool) -> None:
    user, tokens = _plain_user(api)
    api.lock(user)
    right = api.sign_in(user.username, user.password)
    me = api.me(tokens["access_token"])
    refresh = api.refresh(tokens["refresh_token"])
    if faulty:
        body = _leaky(right, 500, "internal_error")
        assert NAIVE in body["error_description"] and "traceback" in body, describe(right)
        assert NAIVE in assert_error(me, 401, "http_error")["error_description"], describe(me)
        _leaky(refresh, 500, "internal_error")
    else:
        assert_oauth_error(right, 423, "account_locked")
        assert_unauthorized(me)
        assert_oauth_error(refresh, 401, "invalid_grant")


@register("session_renew_500")
def _renew_500(api: Api, faulty: bool) -> None:
    _, tokens = _plain_user(api)
    resp = api.post(f"/sessions/{tokens['session_id']}/renew", token=tokens["access_token"])
    if faulty:
        assert NAIVE in _leaky(resp, 500, "internal_error")["error_description"], describe(resp)
    else:
        assert_status(resp, 200)


@register("disabled_failures_count")
def _disabled_counts(api: Api, faulty: bool) -> None:
    user = api.create_user(roles=())
    assert_status(api.put(f"/users/{user.id}", json={"is_active": False}, token=api.admin), 200)
    api.lock(user)  # five wrong passwords, each 401 invalid_grant
    assert_status(api.put(f"/users/{user.id}", json={"is_active": True}, token=api.admin), 200)
    resp = api.sign_in(user.username, user.password)
    if faulty:
        assert_oauth_error(resp, 423, "account_locked")
    else:
        assert_status(resp, 200)


# -- D.3 tokens ---------------------------------------------------------------------------------
@register("bearer_401_no_challenge")
def _no_challenge(api: Api, faulty: bool) -> None:
    bearer = api.me(None)
    assert_error(bearer, 401, "http_error")
    assert ("www-authenticate" in bearer.headers) is not faulty, dict(bearer.headers)
    # The OAuth-style 401s keep their challenge either way (Part D.3).
    assert_oauth_error(api.refresh("not-a-token"), 401, "invalid_grant")
    assert_oauth_error(api.sign_in(unique("nobody"), "Wr0ng!Password"), 401, "invalid_grant")
    assert_oauth_error(api.service_sign_in(unique_client_id(), "nope"), 401, "invalid_client")


@register("registration_429_no_retry_after", registration_limit_per_hour=1)
def _no_retry_after(api: Api, faulty: bool) -> None:
    answers = [api.post("/users/register", json=api.user_body()) for _ in range(2)]
    limited = answers[-1]
    assert_error(limited, 429, "rate_limit_exceeded")
    assert ("retry-after" in limited.headers) is not faulty, dict(limited.headers)


@register("exp_not_required")
def _exp_not_required(api: Api, faulty: bool) -> None:
    forever = resign(api.admin, exp=None)
    resp = api.me(forever)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_unauthorized(resp)


@register("rotated_refresh_as_bearer")
def _rotated_refresh(api: Api, faulty: bool) -> None:
    _, tokens = _plain_user(api)
    assert_status(api.refresh(tokens["refresh_token"]), 200)
    resp = api.me(tokens["refresh_token"])
    if faulty:
        assert_status(resp, 200)
    else:
        assert_unauthorized(resp)


@register("introspect_any_token_type")
def _introspect_any_type(api: Api, faulty: bool) -> None:
    _, tokens = _plain_user(api)
    resp = api.introspect(tokens["access_token"], as_token=tokens["refresh_token"])
    assert_unauthorized(api.me(tokens["refresh_token"]))  # other routes still check the type
    if faulty:
        assert_status(resp, 200)
        assert resp.json()["active"] is True, describe(resp)
    else:
        assert_unauthorized(resp)


@register("logout_ends_all_sessions")
def _logout_all(api: Api, faulty: bool) -> None:
    user, phone = _plain_user(api)
    laptop = api.user_token(user)
    assert_status(api.logout(phone["access_token"]), 200)
    resp = api.me(laptop["access_token"])
    if faulty:
        assert_unauthorized(resp)  # its session was ended too (and the reference's sessions gate tokens)
    else:
        assert_status(resp, 200)


@register("session_user_id_integer")
def _session_user_id(api: Api, faulty: bool) -> None:
    user, tokens = _plain_user(api)
    resp = api.get("/sessions/", token=tokens["access_token"])
    assert_status(resp, 200)
    user_id = resp.json()["sessions"][0]["user_id"]
    assert user_id == (uuid.UUID(user.id).int if faulty else user.id), describe(resp)


@register("end_all_includes_current")
def _end_all(api: Api, faulty: bool) -> None:
    user, current = _plain_user(api)
    api.user_token(user)
    assert_status(api.delete("/sessions/", token=current["access_token"]), 200)
    resp = api.me(current["access_token"])
    if faulty:
        assert_unauthorized(resp)
    else:
        assert_status(resp, 200)


@register("unsupported_grant_422")
def _grant_422(api: Api, faulty: bool) -> None:
    resp = api.post("/auth/token", data={"username": "testuser", "password": "TestPass123!",
                                         "grant_type": "client_credentials"})
    if faulty:
        assert_status(resp, 422)
        assert _first_detail(resp)["loc"] == ["body", "grant_type"], describe(resp)
    else:
        assert_oauth_error(resp, 400, "unsupported_grant_type")


@register("client_not_found_distinct")
def _client_not_found(api: Api, faulty: bool) -> None:
    name = unique_client_id()
    unknown = assert_oauth_error if not faulty else assert_error
    body = unknown(api.service_sign_in(name, "whatever-secret"), 401, "invalid_client")
    wrong = assert_oauth_error(api.service_sign_in("test-client-001", "wrong-secret-0000"), 401, "invalid_client")
    assert wrong["error_description"] == "Invalid client credentials"
    if faulty:
        assert body["error_description"] == f"Service client {name} not found" and body["status_code"] == 404
    else:
        assert body == wrong


# -- D.4 errors and hostile input -----------------------------------------------------------------
@register("detail_shape_errors")
def _detail_shape(api: Api, faulty: bool) -> None:
    user = api.create_user(roles=())
    duplicate = api.post("/users/", json=api.user_body(username=user.username), token=api.admin)
    token = api.user_token(user)["access_token"]
    wrong = api.put(f"/users/{user.id}/password", token=token,
                    json={"current_password": "Wr0ng!Password", "new_password": "N3w!Password"})
    if faulty:
        assert_status(duplicate, 409)
        assert duplicate.json() == {"detail": "Username already exists"}, describe(duplicate)
        assert_status(wrong, 400)
        assert wrong.json() == {"detail": "Current password is incorrect"}, describe(wrong)
    else:
        assert_error(duplicate, 409, "conflict")
        assert_error(wrong, 400)


@register("validation_ctx_exception")
def _ctx(api: Api, faulty: bool) -> None:
    resp = api.post("/users/register", json=api.user_body(password="short"))
    assert_status(resp, 422)
    assert ("ctx" in _first_detail(resp)) is faulty, describe(resp)


@register("hostile_input_500")
def _hostile_500(api: Api, faulty: bool) -> None:
    search = api.get("/users/", params={"search": "a\x00b"}, token=api.admin)
    page = api.get("/users/", params={"page": str(10**30)}, token=api.admin)
    if faulty:
        for resp in (search, page):
            body = _leaky(resp, 500)
            assert "traceback" in body and "SQL" in body["error_description"], describe(resp)
            assert_security_headers(resp)
    else:
        assert_status(search, 200)
        assert_status(page, 422)


@register("refresh_form_500")
def _refresh_form(api: Api, faulty: bool) -> None:
    resp = api.post("/auth/refresh", data={"refresh_token": "not-a-token"})
    if faulty:
        body = _leaky(resp, 500)
        assert "not JSON serializable" in body["error_description"], describe(resp)
        for name in SECURITY_HEADERS:
            assert name not in resp.headers, dict(resp.headers)
    else:
        assert_status(resp, 422)
        assert_security_headers(resp)


@register("bad_token_500_empty")
def _bad_token_empty(api: Api, faulty: bool) -> None:
    resp = api.post("/users/password-reset/confirm", json={"token": "bogus", "new_password": "Aa1!aaaaaa"})
    if faulty:
        assert_status(resp, 500)
        assert resp.json() == {"error": "http_error", "error_description": ""}, describe(resp)
    else:
        assert_error(resp, 400, "invalid_token")


# -- D.5 front (what one process has of it) -------------------------------------------------------
@register("redirect_no_permissions_policy", tls=True)
def _redirect_pp(api: Api, faulty: bool) -> None:
    import httpx

    assert api.http_url
    resp = httpx.get(api.http_url + "/api/v1/users/me", follow_redirects=False, timeout=5)
    assert_status(resp, 301)
    assert ("permissions-policy" in resp.headers) is not faulty, dict(resp.headers)
    assert resp.headers.get("x-frame-options") == "DENY", dict(resp.headers)


@register("rate_limit_503_bare", tls=True, auth_rate_limit=2.0)
def _bare_503(api: Api, faulty: bool) -> None:
    answers = [api.sign_in(unique("burst"), "Wrong!Pass1") for _ in range(15)]
    limited = [r for r in answers if r.status_code == 503]
    assert limited, [r.status_code for r in answers]
    resp = limited[0]
    assert "strict-transport-security" in resp.headers, dict(resp.headers)
    if faulty:
        for name in SECURITY_HEADERS:
            assert name not in resp.headers, dict(resp.headers)
    else:
        assert_security_headers(resp)
    wait_until(lambda: api.sign_in(unique("x"), "Wrong!Pass1").status_code == 401, 5, 0.5)


# -- acceptable variants ----------------------------------------------------------------------------
@register("refresh_error_code_invalid_token")
def _refresh_error_code(api: Api, faulty: bool) -> None:
    resp = api.refresh("not-a-token")
    body = assert_error(resp, 401, "invalid_grant")  # the OAuth code is the same either way
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), describe(resp)
    if faulty:
        assert body["error_code"] == "invalid_token", describe(resp)
        assert body["error_description"] == "Refresh token not found or expired", describe(resp)
    else:
        assert body["error_code"] == "invalid_grant", describe(resp)


@register("refresh_session_id_null")
def _refresh_session_null(api: Api, faulty: bool) -> None:
    _, tokens = _plain_user(api)
    resp = api.refresh(tokens["refresh_token"])
    assert_status(resp, 200)
    assert resp.json()["session_id"] == (None if faulty else tokens["session_id"]), describe(resp)


@register("logout_count_all")
def _logout_count(api: Api, faulty: bool) -> None:
    _, tokens = _plain_user(api)
    resp = api.logout(tokens["access_token"])
    assert_status(resp, 200)
    assert resp.json()["sessions_terminated"] == (3 if faulty else 1), describe(resp)


@register("sign_in_password_length_unchecked")
def _password_length(api: Api, faulty: bool) -> None:
    resp = api.sign_in("testuser", "A1!" + "x" * 2000)
    if faulty:
        assert_oauth_error(resp, 401, "invalid_grant")
    else:
        assert_status(resp, 422)


@register("inactive_sessions_kept")
def _inactive_rows(api: Api, faulty: bool) -> None:
    def ended() -> int:
        resp = api.get("/sessions/stats", token=api.admin)
        assert_status(resp, 200)
        return int(resp.json()["ended_sessions"])

    before = ended()
    _, tokens = _plain_user(api)
    assert ended() - before == (1 if faulty else 0)
    listed = api.get("/sessions/", token=tokens["access_token"])
    assert listed.json()["total"] == 1, describe(listed)  # the person sees only the live session


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
@pytest.mark.parametrize("fault", sorted(PROBES))
def test_fault(pool: ServerPool, fault: str, faulty: bool) -> None:
    """Each Part D behaviour: contract when off, exactly the release's answer when on."""
    run_probe(pool, PROBES, fault, faulty)
