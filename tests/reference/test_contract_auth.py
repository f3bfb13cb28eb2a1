"""Contract tests of ``/auth`` (A.3), tokens (A.4) and lockout/disabled accounts (A.5)."""

from __future__ import annotations

import time

import jwt
import pytest
from helpers import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_ROLE_SCOPES,
    JWT_SECRET,
    LOCKOUT_SECONDS,
    LOCKOUT_THRESHOLD,
    USER_PASSWORD,
    USER_USERNAME,
    WRONG_PASSWORD,
    Api,
    User,
    alg_none,
    assert_error,
    assert_oauth_error,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
    bearer,
    decode_unverified,
    describe,
    parse_time,
    resign,
    unique,
    wait_until,
)

TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_token", "scope", "session_id"}


# --------------------------------------------------------------------------- POST /auth/token
def test_token_success_shape(api: Api, user: User) -> None:
    """A sign-in answers the documented token body with ``Cache-Control: no-store``."""
    resp = api.sign_in(user.username, user.password)
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= TOKEN_KEYS, body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert isinstance(body["session_id"], str) and body["session_id"]
    assert set(body["scope"].split()) == DEFAULT_ROLE_SCOPES["user"]
    assert "no-store" in resp.headers.get("cache-control", "")


def test_token_claims(api: Api, user: User) -> None:
    """Access and refresh tokens are HS256 JWTs with the claims of A.4."""
    body = api.user_token(user)
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = decode_unverified(body["access_token"])
    assert claims["iss"] == "permiso-auth"
    assert claims["aud"] in (["permiso-auth"], "permiso-auth")
    assert claims["sub"] == user.id
    assert claims["type"] == "access"
    assert claims["username"] == user.username
    assert claims["email"] == user.email
    assert claims["is_superuser"] is False
    assert set(claims["scopes"]) == DEFAULT_ROLE_SCOPES["user"]
    assert claims["roles"] == ["user"]
    for key in ("exp", "iat", "nbf", "jti"):
        assert key in claims, key
    assert claims["exp"] - claims["iat"] == 900
    refresh = decode_unverified(body["refresh_token"])
    assert refresh["type"] == "refresh"
    assert refresh["sub"] == user.id
    assert refresh["username"] == user.username
    assert 604800 - 5 <= refresh["exp"] - refresh["iat"] <= 604800 + 5


def test_token_by_email(api: Api, user: User) -> None:
    """The ``username`` field also accepts the email address."""
    resp = api.sign_in(user.email, user.password)
    assert_status(resp, 200)
    assert decode_unverified(resp.json()["access_token"])["sub"] == user.id


def test_token_username_case_insensitive(api: Api, user: User) -> None:
    """Usernames are stored lower-case, so an upper-case spelling signs in too."""
    resp = api.sign_in(user.username.upper(), user.password)
    assert_status(resp, 200)


def test_token_scope_request_intersects(api: Api, user: User) -> None:
    """Requested scopes are intersected with owned scopes."""
    body = api.tokens(user.username, user.password, scope="read:profile admin:system")
    assert body["scope"] == "read:profile"
    assert decode_unverified(body["access_token"])["scopes"] == ["read:profile"]


def test_token_grant_type_password_accepted(api: Api, user: User) -> None:
    """``grant_type=password`` is accepted."""
    resp = api.post(
        "/auth/token", data={"username": user.username, "password": user.password, "grant_type": "password"}
    )
    assert_status(resp, 200)


def test_token_wrong_password_and_unknown_user_identical(api: Api, user: User) -> None:
    """Unknown user and wrong password give the same 401 ``invalid_grant``."""
    wrong = api.sign_in(user.username, WRONG_PASSWORD)
    unknown = api.sign_in(unique("nobody"), WRONG_PASSWORD)
    b1 = assert_oauth_error(wrong, 401, "invalid_grant")
    b2 = assert_oauth_error(unknown, 401, "invalid_grant")
    assert b1 == b2


@pytest.mark.parametrize(
    "data",
    [
        {"username": "someone"},
        {"password": "Whatever1!"},
        {},
    ],
    ids=["no-password", "no-username", "empty"],
)
def test_token_missing_fields_422(api: Api, data: dict[str, str]) -> None:
    """Missing form fields give the 422 validation shape."""
    assert_validation_error(api.post("/auth/token", data=data), *data.values())


def test_token_json_body_422(api: Api, user: User) -> None:
    """The token endpoint takes a form; a JSON body is a validation error (Part B)."""
    resp = api.post("/auth/token", json={"username": user.username, "password": user.password})
    assert_validation_error(resp, user.password)


def test_token_mislabelled_body_422(api: Api, user: User) -> None:
    """A form body sent as ``text/plain`` is a validation error, never a 500."""
    resp = api.post(
        "/auth/token",
        content=f"username={user.username}&password={user.password}",
        headers={"Content-Type": "text/plain"},
    )
    assert_validation_error(resp, user.password)


@pytest.mark.parametrize(
    "username",
    ["nul\x00byte", "x" * 10000, "ünïcödé-名前", "' OR 1=1 --", "%00", " "],
    ids=["nul", "long", "unicode", "sql", "pct", "space"],
)
def test_token_odd_usernames_never_500(api: Api, username: str) -> None:
    """Odd usernames are a 401 or 422 in the contract's shape, never a 500."""
    resp = api.sign_in(username, "Whatever1!")
    assert resp.status_code in (401, 422), describe(resp)
    if resp.status_code == 401:
        assert_oauth_error(resp, 401, "invalid_grant")
    else:
        assert_validation_error(resp, "Whatever1!")


def test_token_oversized_password_never_500(api: Api, user: User) -> None:
    """A 100 kB password is refused cleanly."""
    resp = api.sign_in(user.username, "A1!" + "a" * 100_000)
    assert resp.status_code in (401, 413, 422), describe(resp)
    assert "Traceback" not in resp.text


# --------------------------------------------------------------------------- lockout / disabled
def test_lockout_after_threshold_then_unlock(api: Api, user: User) -> None:
    """5 wrong passwords lock the account (423 + locked_until); after the window it signs in again."""
    api.lock(user)
    locked = api.sign_in(user.username, user.password)
    body = assert_oauth_error(locked, 423, "account_locked")
    locked_until = body.get("locked_until") or (body.get("details") or {}).get("locked_until")
    assert locked_until, f"no locked_until: {body}"
    # Wrong password while locked still answers exactly like any wrong password.
    assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    ok = wait_until(lambda: api.sign_in(user.username, user.password).status_code == 200, LOCKOUT_SECONDS * 4)
    assert ok, "account was not unlocked after the lockout window"


def test_lockout_further_failure_extends(api: Api, user: User) -> None:
    """Each further failure while locked extends the lock (locked_until moves later)."""
    api.lock(user)

    def locked_until() -> float:
        body = assert_oauth_error(api.sign_in(user.username, user.password), 423, "account_locked")
        value = body.get("locked_until") or (body.get("details") or {}).get("locked_until")
        return parse_time(value)

    first = locked_until()
    assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    assert locked_until() > first


def test_lockout_refuses_existing_tokens(api: Api, user: User) -> None:
    """While locked, the user's existing tokens are refused."""
    token = api.user_token(user)["access_token"]
    assert_status(api.me(token), 200)
    api.lock(user)
    assert_unauthorized(api.me(token))


def test_below_threshold_does_not_lock(api: Api, user: User) -> None:
    """Four failures do not lock; a success resets the count."""
    for _ in range(LOCKOUT_THRESHOLD - 1):
        assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    assert_status(api.sign_in(user.username, user.password), 200)
    for _ in range(LOCKOUT_THRESHOLD - 1):
        assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    assert_status(api.sign_in(user.username, user.password), 200)


def test_disabled_account(api: Api, admin_token: str, user: User) -> None:
    """A disabled account gets 403 account_disabled with the right password; its tokens are refused."""
    token = api.user_token(user)["access_token"]
    resp = api.put(f"/users/{user.id}", json={"is_active": False}, token=admin_token)
    assert_status(resp, 200)
    assert_oauth_error(api.sign_in(user.username, user.password), 403, "account_disabled")
    assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    assert_unauthorized(api.me(token))


# --------------------------------------------------------------------------- bearer guard
def test_bearer_scheme_case_insensitive(api: Api, user_token: str) -> None:
    """The bearer scheme is case-insensitive."""
    resp = api.get("/users/me", headers={"Authorization": f"bearer {user_token}"})
    assert_status(resp, 200)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Token abc"],
    ids=["none", "empty", "garbage", "basic", "bad-segments", "other-scheme"],
)
def test_bearer_missing_or_malformed(api: Api, header: str | None) -> None:
    """Missing or malformed credentials give 401 http_error with WWW-Authenticate: Bearer."""
    headers = {"Authorization": header} if header else {}
    assert_unauthorized(api.get("/users/me", headers=headers))


def test_bearer_tampered_tokens(api: Api, user: User) -> None:
    """Forged, expired, future, wrong-issuer and alg-none tokens are refused."""
    token = api.user_token(user)["access_token"]
    now = int(time.time())
    forged = [
        resign(token, secret="not-the-server-secret-" + "x" * 40),
        resign(token, exp=now - 60, iat=now - 120, nbf=now - 120),
        resign(token, nbf=now + 600),
        resign(token, iat=now + 600, nbf=now - 1),
        resign(token, iss="evil-issuer"),
        resign(token, type="refresh"),
        alg_none(token),
        jwt.encode(decode_unverified(token), JWT_SECRET, algorithm="HS512"),
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
    ]
    for bad in forged:
        assert_unauthorized(api.me(bad))
    assert_status(api.me(token), 200)


def test_refresh_token_not_a_bearer(api: Api, user: User) -> None:
    """A refresh token is refused as a bearer token."""
    body = api.user_token(user)
    assert_unauthorized(api.me(body["refresh_token"]))


# --------------------------------------------------------------------------- service token
def test_service_token_configured_client(api: Api) -> None:
    """The configured client gets a service token of the documented shape."""
    resp = api.service_sign_in(CLIENT_ID, CLIENT_SECRET)
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= TOKEN_KEYS, body
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] is None
    assert body["session_id"] is None
    assert body["expires_in"] == 3600
    claims = decode_unverified(body["access_token"])
    assert claims["type"] == "service"
    assert claims["sub"] == CLIENT_ID
    assert claims["client_id"] == CLIENT_ID
    assert "is_trusted" in claims
    assert isinstance(claims["scopes"], list)
    assert "no-store" in resp.headers.get("cache-control", "")


def test_service_token_errors(api: Api) -> None:
    """Unknown client and wrong secret are 401 invalid_client."""
    assert_oauth_error(api.service_sign_in(CLIENT_ID, "wrong-secret-000000"), 401, "invalid_client")
    assert_oauth_error(api.service_sign_in(unique("nope"), CLIENT_SECRET), 401, "invalid_client")


def test_service_token_scopes(api: Api) -> None:
    """A client gets only owned scopes; none owned requested → 400 invalid_scope; lifetime is its own."""
    client = api.create_client(scopes=("read:profile", "service:api"), access_token_lifetime=600)
    body = api.service_sign_in(client.client_id, client.secret, "read:profile admin:system").json()
    assert body["scope"] == "read:profile"
    assert body["expires_in"] == 600
    assert decode_unverified(body["access_token"])["scopes"] == ["read:profile"]
    refused = api.service_sign_in(client.client_id, client.secret, "admin:system")
    assert_oauth_error(refused, 400, "invalid_scope")


def test_service_token_refused_on_user_endpoints(api: Api) -> None:
    """Service tokens pass bearer guards but not user guards."""
    token = api.service_sign_in(CLIENT_ID, CLIENT_SECRET).json()["access_token"]
    assert_unauthorized(api.me(token))
    assert_status(api.introspect(token, as_token=token), 200)


def test_service_token_disabled_client(api: Api) -> None:
    """A disabled client gets 403 client_disabled."""
    client = api.create_client()
    resp = api.put(f"/service-clients/{client.client_id}", json={"is_active": False}, token=api.admin)
    assert_status(resp, 200)
    assert_oauth_error(api.service_sign_in(client.client_id, client.secret), 403, "client_disabled")


def test_service_token_json_body_422(api: Api) -> None:
    """The service-token endpoint takes a form only."""
    resp = api.post("/auth/service-token", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert_validation_error(resp, CLIENT_SECRET)


# --------------------------------------------------------------------------- refresh
def test_refresh_rotates_and_refuses_reuse(api: Api, user: User) -> None:
    """Refresh returns the login shape with a new refresh token; the old one is refused afterwards."""
    first = api.user_token(user)
    resp = api.refresh(first["refresh_token"])
    assert_status(resp, 200)
    second = resp.json()
    assert set(second) >= TOKEN_KEYS
    assert second["token_type"] == "Bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "no-store" in resp.headers.get("cache-control", "")
    assert_status(api.me(second["access_token"]), 200)
    assert_oauth_error(api.refresh(first["refresh_token"]), 401, "invalid_grant")
    assert_status(api.refresh(second["refresh_token"]), 200)


def test_refresh_keeps_granted_scopes(api: Api, user: User) -> None:
    """Refresh grants the originally granted scopes, not all of the user's."""
    first = api.user_token(user, scope="read:profile")
    second = api.refresh(first["refresh_token"]).json()
    assert second["scope"] == "read:profile"


@pytest.mark.parametrize("kind", ["garbage", "access", "service", "forged", "expired"])
def test_refresh_bad_tokens(api: Api, user: User, kind: str) -> None:
    """Bad, wrong-type, forged and expired refresh tokens are 401 invalid_grant."""
    body = api.user_token(user)
    now = int(time.time())
    token = {
        "garbage": "not-a-token",
        "access": body["access_token"],
        "service": api.service_sign_in(CLIENT_ID, CLIENT_SECRET).json()["access_token"],
        "forged": resign(body["refresh_token"], secret="another-secret-" + "y" * 40),
        "expired": resign(body["refresh_token"], exp=now - 10, iat=now - 100, nbf=now - 100),
    }[kind]
    assert_oauth_error(api.refresh(token), 401, "invalid_grant")


def test_refresh_disabled_user(api: Api, user: User) -> None:
    """Refresh of a disabled user is refused."""
    body = api.user_token(user)
    assert_status(api.put(f"/users/{user.id}", json={"is_active": False}, token=api.admin), 200)
    assert_oauth_error(api.refresh(body["refresh_token"]), 401, "invalid_grant")


def test_refresh_deleted_user(api: Api, user: User) -> None:
    """Refresh of a deleted user is refused."""
    body = api.user_token(user)
    assert_status(api.delete(f"/users/{user.id}", token=api.admin), 204)
    assert_oauth_error(api.refresh(body["refresh_token"]), 401, "invalid_grant")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {}},
        {"json": {"refresh_token": None}},
        {"json": {"refresh_token": 12}},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"data": {"refresh_token": "abc"}},
    ],
    ids=["missing", "null", "number", "bad-json", "form"],
)
def test_refresh_malformed_422(api: Api, kwargs: dict[str, object]) -> None:
    """Malformed refresh bodies are 422 validation errors."""
    assert_validation_error(api.post("/auth/refresh", **kwargs))


# --------------------------------------------------------------------------- introspect / revoke
def test_introspect_active_shape(api: Api, user: User, admin_token: str) -> None:
    """Introspection of a live token reports its claims."""
    token = api.user_token(user)["access_token"]
    resp = api.introspect(token, as_token=admin_token)
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= {"active", "sub", "username", "client_id", "scope", "exp", "iat", "token_type"}
    assert body["active"] is True
    assert body["sub"] == user.id
    assert body["username"] == user.username
    assert body["token_type"] == "access"
    assert set(body["scope"].split()) == DEFAULT_ROLE_SCOPES["user"]


def test_introspect_service_token(api: Api, admin_token: str) -> None:
    """Introspection of a service token reports its client."""
    token = api.service_sign_in(CLIENT_ID, CLIENT_SECRET).json()["access_token"]
    body = api.introspect(token, as_token=admin_token).json()
    assert body["active"] is True
    assert body["client_id"] == CLIENT_ID
    assert body["sub"] == CLIENT_ID
    assert body["token_type"] == "service"


def test_introspect_inactive(api: Api, admin_token: str, user: User) -> None:
    """Garbage, forged and expired tokens introspect as inactive with null claims."""
    token = api.user_token(user)["access_token"]
    now = int(time.time())
    for bad in ("garbage", resign(token, secret="z" * 48), resign(token, exp=now - 5, iat=now - 50)):
        body = api.introspect(bad, as_token=admin_token).json()
        assert body["active"] is False, body
        assert body["sub"] is None and body["username"] is None, body


def test_introspect_requires_bearer(api: Api) -> None:
    """Introspect and revoke require a bearer token."""
    assert_unauthorized(api.post("/auth/introspect", json={"token": "x"}))
    assert_unauthorized(api.post("/auth/revoke", json={"token": "x"}))


def test_revoke_then_refused(api: Api, user: User, admin_token: str) -> None:
    """A revoked token is refused and introspects inactive; unknown tokens revoke fine (RFC 7009)."""
    token = api.user_token(user)["access_token"]
    resp = api.revoke(token, as_token=admin_token)
    assert_status(resp, 200)
    assert resp.json() == {"message": "Token revoked successfully"}
    assert_unauthorized(api.me(token))
    assert api.introspect(token, as_token=admin_token).json()["active"] is False
    unknown = api.revoke("not-a-token-at-all", as_token=admin_token)
    assert_status(unknown, 200)


def test_revoke_refresh_token(api: Api, user: User, admin_token: str) -> None:
    """A revoked refresh token can no longer refresh."""
    body = api.user_token(user)
    assert_status(api.revoke(body["refresh_token"], as_token=admin_token), 200)
    assert_oauth_error(api.refresh(body["refresh_token"]), 401, "invalid_grant")


# --------------------------------------------------------------------------- logout
def test_logout(api: Api, user: User) -> None:
    """Logout ends the session, revokes the access token and every refresh token of the user."""
    one = api.user_token(user)
    two = api.user_token(user)
    resp = api.logout(one["access_token"])
    assert_status(resp, 200)
    body = resp.json()
    assert body["message"] == "Logged out successfully"
    assert body["sessions_terminated"] == 1
    assert_unauthorized(api.me(one["access_token"]))
    assert_oauth_error(api.refresh(one["refresh_token"]), 401, "invalid_grant")
    assert_oauth_error(api.refresh(two["refresh_token"]), 401, "invalid_grant")
    # decisions.md: another session's access token keeps working.
    assert_status(api.me(two["access_token"]), 200)


def test_logout_requires_user_token(api: Api) -> None:
    """Logout without a token or with a service token is 401."""
    assert_unauthorized(api.post("/auth/logout"))
    service = api.service_sign_in(CLIENT_ID, CLIENT_SECRET).json()["access_token"]
    assert_unauthorized(api.logout(service))


def test_configured_accounts_sign_in(api: Api) -> None:
    """The configured administrator and test user exist and sign in."""
    admin = api.tokens(ADMIN_USERNAME, ADMIN_PASSWORD)
    claims = decode_unverified(admin["access_token"])
    assert claims["is_superuser"] is True
    assert "admin" in claims["roles"]
    assert_status(api.sign_in(USER_USERNAME, USER_PASSWORD), 200)


def test_error_bodies_have_no_traceback(api: Api) -> None:
    """401 answers from a bearer guard carry the http_error shape."""
    body = assert_error(api.get("/users/me", headers=bearer("x.y.z")), 401, "http_error")
    assert body["error_description"]
