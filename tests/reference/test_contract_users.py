"""Contract tests of ``/users`` (A.6) and the account rules of A.5."""

from __future__ import annotations

import uuid

import pytest
from helpers import (
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    Api,
    User,
    assert_error,
    assert_iso_utc,
    assert_oauth_error,
    assert_security_headers,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
    reference_server,
    unique,
)

USER_KEYS = {
    "id", "username", "email", "first_name", "last_name", "display_name", "bio", "is_active",
    "is_verified", "is_superuser", "full_name", "last_login", "created_at", "updated_at", "roles",
    "scope_names",
}  # fmt: skip


def assert_user_json(body: dict[str, object]) -> None:
    """The user JSON of A.6, without any password or hash."""
    assert set(body) >= USER_KEYS, sorted(body)
    uuid.UUID(str(body["id"]))
    assert_iso_utc(body["created_at"])
    assert_iso_utc(body["updated_at"])
    for key in body:
        assert "password" not in key and "hash" not in key, key
    for role in body["roles"]:  # type: ignore[attr-defined]
        assert {"id", "name", "description"} <= set(role)


# --------------------------------------------------------------------------- create / register
def test_admin_create_user(api: Api, admin_token: str) -> None:
    """Admin POST /users/ honours roles, is_verified and stores the username lower-case."""
    name = unique()
    body = api.user_body(username=name.upper(), is_verified=True, role_ids=[api.role_id("trader")])
    resp = api.post("/users/", json=body, token=admin_token)
    assert_status(resp, 201)
    user = resp.json()
    assert_user_json(user)
    assert user["username"] == name
    assert user["is_verified"] is True
    assert user["is_active"] is True
    assert [r["name"] for r in user["roles"]] == ["trader"]
    assert set(user["scope_names"]) >= {"read:trades", "write:trades"}
    assert STRONG_PASSWORD not in resp.text


def test_create_user_without_slash(api: Api, admin_token: str) -> None:
    """``/users`` works without the trailing slash too (Part B)."""
    resp = api.post("/users", json=api.user_body(), token=admin_token)
    assert_status(resp, 201)
    assert_status(api.get("/users", token=admin_token), 200)


def test_create_user_duplicates_409(api: Api, admin_token: str, user: User) -> None:
    """A taken username or email is 409 conflict."""
    dup_name = api.post("/users/", json=api.user_body(username=user.username), token=admin_token)
    assert_error(dup_name, 409, "conflict")
    dup_mail = api.post("/users/", json=api.user_body(email=user.email), token=admin_token)
    assert_error(dup_mail, 409, "conflict")
    dup_case = api.post("/users/", json=api.user_body(username=user.username.upper()), token=admin_token)
    assert_error(dup_case, 409, "conflict")


@pytest.mark.parametrize(
    "password",
    ["Sh0rt!", "alllower1!x", "ALLUPPER1!X", "NoDigits!!x", "NoSpecial12x", "A1!" + "a" * 126],
    ids=["short", "no-upper", "no-lower", "no-digit", "no-special", "too-long"],
)
def test_password_policy(api: Api, admin_token: str, password: str) -> None:
    """Weak passwords are 422 and not echoed."""
    resp = api.post("/users/", json=api.user_body(password=password), token=admin_token)
    assert_validation_error(resp, password)


@pytest.mark.parametrize("length", [8, 128])
def test_password_policy_bounds_accepted(api: Api, admin_token: str, length: int) -> None:
    """8 and 128 characters are accepted."""
    password = "Aa1!" + "b" * (length - 4)
    assert_status(api.post("/users/", json=api.user_body(password=password), token=admin_token), 201)


@pytest.mark.parametrize(
    "username",
    ["ab", "x" * 51, "has space", "bad!char", "dot.name", "nul\x00x"],
    ids=["short", "long", "space", "bang", "dot", "nul"],
)
def test_username_policy(api: Api, admin_token: str, username: str) -> None:
    """Usernames outside 3–50 of letters, digits, _ and - are 422."""
    resp = api.post("/users/", json=api.user_body(username=username), token=admin_token)
    assert_validation_error(resp)


@pytest.mark.parametrize("domain", ["test", "local", "localhost", "invalid", "onion", "arpa"])
def test_special_use_email_refused(api: Api, admin_token: str, domain: str) -> None:
    """Special-use email domains are 422."""
    resp = api.post("/users/", json=api.user_body(email=f"{unique()}@permiso.{domain}"), token=admin_token)
    assert_validation_error(resp)


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", ""])
def test_malformed_email_refused(api: Api, admin_token: str, email: str) -> None:
    """Malformed emails are 422."""
    assert_validation_error(api.post("/users/", json=api.user_body(email=email), token=admin_token))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": b"{oops", "headers": {"Content-Type": "application/json"}},
        {"content": b"username=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"json": []},
        {"json": {"username": None}},
        {"json": {"username": 5, "email": [], "password": {}}},
    ],
    ids=["bad-json", "form", "array", "nulls", "wrong-types"],
)
def test_create_user_malformed_422(api: Api, admin_token: str, kwargs: dict[str, object]) -> None:
    """Malformed bodies are 422 validation errors, never 500."""
    assert_validation_error(api.post("/users/", token=admin_token, **kwargs))


def test_register_ignores_privileged_fields() -> None:
    """Registration gives 201 active, unverified, no roles; duplicates 409; the 4th per hour is 429."""
    with reference_server(registration_limit_per_hour=3) as srv:
        first = srv.user_body(is_active=False, is_verified=True, role_ids=[srv.role_id("admin")])
        resp = srv.post("/users/register", json=first)
        assert_status(resp, 201)
        user = resp.json()
        assert_user_json(user)
        assert user["is_active"] is True
        assert user["is_verified"] is False
        assert user["is_superuser"] is False
        assert user["roles"] == []
        assert_status(srv.sign_in(first["username"], first["password"]), 200)
        dup = srv.post("/users/register", json=srv.user_body(username=first["username"]))
        assert_error(dup, 409, "conflict")
        assert_status(srv.post("/users/register", json=srv.user_body()), 201)
        assert_status(srv.post("/users/register", json=srv.user_body()), 201)
        limited = srv.post("/users/register", json=srv.user_body())
        assert_error(limited, 429, "rate_limit_exceeded")
        assert limited.headers.get("retry-after"), "429 without Retry-After"
        assert_security_headers(limited)


def test_register_policy_422(api: Api) -> None:
    """Registration enforces the password policy with 422."""
    assert_validation_error(api.post("/users/register", json=api.user_body(password="weakpass")), "weakpass")


# --------------------------------------------------------------------------- me / profile
def test_me_and_profile(api: Api, user: User, user_token: str) -> None:
    """GET /users/me and /users/profile return the caller."""
    for path in ("/users/me", "/users/profile"):
        resp = api.get(path, token=user_token)
        assert_status(resp, 200)
        body = resp.json()
        assert_user_json(body)
        assert body["id"] == user.id
        assert body["username"] == user.username
        assert set(body["scope_names"]) == {"read:profile", "write:profile"}
    assert_unauthorized(api.get("/users/me"))


def test_update_me(api: Api, admin_token: str, user: User, user_token: str) -> None:
    """PUT /users/me updates profile fields; a new email clears is_verified; taken email → 409."""
    assert_status(api.put(f"/users/{user.id}", json={"is_verified": True}, token=admin_token), 200)
    new_email = f"{unique()}@example.com"
    resp = api.put("/users/me", json={"first_name": "Ada", "bio": "hi", "email": new_email}, token=user_token)
    assert_status(resp, 200)
    body = resp.json()
    assert body["first_name"] == "Ada"
    assert body["bio"] == "hi"
    assert body["email"] == new_email
    assert body["is_verified"] is False
    other = api.create_user()
    assert_error(api.put("/users/me", json={"email": other.email}, token=user_token), 409, "conflict")


# --------------------------------------------------------------------------- by id
def test_get_user_self_other_admin(api: Api, admin_token: str, user: User, user_token: str) -> None:
    """Self and admin may read a user; another user gets 403; unknown id 404."""
    assert_status(api.get(f"/users/{user.id}", token=user_token), 200)
    assert_status(api.get(f"/users/{user.id}", token=admin_token), 200)
    other = api.create_user()
    denied = api.get(f"/users/{other.id}", token=user_token)
    body = assert_error(denied, 403, "http_error")
    assert body["error_description"] == "Access denied"
    missing = api.get(f"/users/{uuid.uuid4()}", token=admin_token)
    assert assert_error(missing, 404, "http_error")["error_description"] == "User not found"


def test_update_user_self_cannot_escalate(api: Api, admin_token: str, user: User, user_token: str) -> None:
    """A user sending is_active/is_verified/role_ids/is_superuser gets 403 or has them ignored."""
    resp = api.put(
        f"/users/{user.id}",
        json={
            "first_name": "Eve",
            "is_verified": True,
            "is_superuser": True,
            "is_active": True,
            "role_ids": [api.role_id("admin")],
        },
        token=user_token,
    )
    assert resp.status_code in (200, 403, 422), resp.text
    after = api.get(f"/users/{user.id}", token=admin_token).json()
    assert after["is_verified"] is False
    assert after["is_superuser"] is False
    assert [r["name"] for r in after["roles"]] == ["user"]


def test_update_user_admin_and_forbidden_fields(api: Api, admin_token: str, user: User) -> None:
    """Admin may set is_verified/role_ids; username and password are 422."""
    resp = api.put(
        f"/users/{user.id}",
        json={"is_verified": True, "role_ids": [api.role_id("trader")], "display_name": "T"},
        token=admin_token,
    )
    assert_status(resp, 200)
    assert resp.json()["is_verified"] is True
    assert [r["name"] for r in resp.json()["roles"]] == ["trader"]
    assert_validation_error(api.put(f"/users/{user.id}", json={"username": "newname"}, token=admin_token))
    assert_validation_error(
        api.put(f"/users/{user.id}", json={"password": OTHER_PASSWORD}, token=admin_token), OTHER_PASSWORD
    )


def test_update_user_other_403(api: Api, user_token: str, other_user: User) -> None:
    """A user cannot update another user."""
    resp = api.put(f"/users/{other_user.id}", json={"first_name": "X"}, token=user_token)
    assert_error(resp, 403, "http_error")


def test_delete_user(api: Api, admin_token: str, user: User, user_token: str) -> None:
    """Admin DELETE is 204; the deleted user can neither sign in nor use old tokens."""
    assert_error(api.delete(f"/users/{user.id}", token=user_token), 403, "http_error")
    resp = api.delete(f"/users/{user.id}", token=admin_token)
    assert_status(resp, 204)
    assert_oauth_error(api.sign_in(user.username, user.password), 401, "invalid_grant")
    assert_unauthorized(api.me(user_token))
    assert_error(api.get(f"/users/{user.id}", token=admin_token), 404, "http_error")


def test_delete_self_403(api: Api) -> None:
    """An administrator cannot delete themselves."""
    admin_user = api.create_user(roles=("admin",))
    token = api.user_token(admin_user)["access_token"]
    assert_error(api.delete(f"/users/{admin_user.id}", token=token), 403)


def test_change_password(api: Api, user: User, user_token: str) -> None:
    """PUT /users/{id}/password: wrong current → 400; success → new password works, old does not."""
    wrong = api.put(
        f"/users/{user.id}/password",
        json={"current_password": "Nope!1234x", "new_password": OTHER_PASSWORD},
        token=user_token,
    )
    assert_error(wrong, 400)
    weak = api.put(
        f"/users/{user.id}/password",
        json={"current_password": user.password, "new_password": "weak"},
        token=user_token,
    )
    assert_validation_error(weak, "weak", user.password)
    ok = api.put(
        f"/users/{user.id}/password",
        json={"current_password": user.password, "new_password": OTHER_PASSWORD},
        token=user_token,
    )
    assert_status(ok, 200)
    assert_status(api.sign_in(user.username, OTHER_PASSWORD), 200)
    assert_oauth_error(api.sign_in(user.username, user.password), 401, "invalid_grant")


def test_change_password_other_user_403(api: Api, user_token: str, other_user: User) -> None:
    """A user cannot change another user's password."""
    resp = api.put(
        f"/users/{other_user.id}/password",
        json={"current_password": other_user.password, "new_password": OTHER_PASSWORD},
        token=user_token,
    )
    assert_error(resp, 403, "http_error")


def test_set_roles(api: Api, admin_token: str, user: User, user_token: str) -> None:
    """PUT /users/{id}/roles replaces the set; unknown user 404; next token carries the new scopes."""
    resp = api.put(f"/users/{user.id}/roles", json={"role_ids": [api.role_id("trader")]}, token=admin_token)
    assert_status(resp, 200)
    assert [r["name"] for r in resp.json()["roles"]] == ["trader"]
    assert "read:trades" in api.user_token(user)["scope"].split()
    missing = api.put(f"/users/{uuid.uuid4()}/roles", json={"role_ids": []}, token=admin_token)
    assert_error(missing, 404)
    assert_error(api.put(f"/users/{user.id}/roles", json={"role_ids": []}, token=user_token), 403)


# --------------------------------------------------------------------------- list / stats
def test_list_users(api: Api, admin_token: str) -> None:
    """GET /users/ paginates and searches username, email, first and last name."""
    marker = unique("zq")
    made = [api.create_user(first_name=marker), api.create_user(last_name=marker.upper())]
    resp = api.get("/users/", params={"search": marker, "per_page": 1, "page": 1}, token=admin_token)
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= {"users", "total", "page", "per_page", "pages"}
    assert body["total"] == 2 and body["pages"] == 2 and body["per_page"] == 1 and body["page"] == 1
    assert len(body["users"]) == 1
    page2 = api.get("/users/", params={"search": marker, "per_page": 1, "page": 2}, token=admin_token).json()
    assert {body["users"][0]["id"], page2["users"][0]["id"]} == {u.id for u in made}
    by_name = api.get("/users/", params={"search": made[0].username.upper()}, token=admin_token).json()
    assert [u["id"] for u in by_name["users"]] == [made[0].id]
    default = api.get("/users/", token=admin_token).json()
    assert default["per_page"] == 20 and default["page"] == 1


@pytest.mark.parametrize("params", [{"page": 0}, {"per_page": 0}, {"per_page": 101}, {"page": "x"}])
def test_list_users_bad_query_422(api: Api, admin_token: str, params: dict[str, object]) -> None:
    """Out-of-range pagination is 422."""
    assert_validation_error(api.get("/users/", params=params, token=admin_token))


def test_list_users_filters(api: Api, admin_token: str) -> None:
    """is_active and role_id filters."""
    marker = unique("flt")
    active = api.create_user(first_name=marker)
    inactive = api.create_user(first_name=marker, is_active=False)
    trader = api.create_user(first_name=marker, roles=("trader",))
    got = api.get("/users/", params={"search": marker, "is_active": "false"}, token=admin_token).json()
    assert [u["id"] for u in got["users"]] == [inactive.id]
    got = api.get(
        "/users/", params={"search": marker, "role_id": api.role_id("trader")}, token=admin_token
    ).json()
    assert [u["id"] for u in got["users"]] == [trader.id]
    assert active.id not in [u["id"] for u in got["users"]]


def test_list_users_requires_admin(api: Api, user_token: str) -> None:
    """Non-admins get 403, anonymous 401."""
    assert_error(api.get("/users/", token=user_token), 403, "http_error")
    assert_unauthorized(api.get("/users/"))


def test_user_stats(api: Api, admin_token: str, user_token: str) -> None:
    """GET /users/stats/overview counts users, including new ones."""
    before = api.get("/users/stats/overview", token=admin_token)
    assert_status(before, 200)
    assert set(before.json()) >= {
        "total_users", "active_users", "verified_users", "locked_users", "recent_registrations",
    }  # fmt: skip
    api.create_user()
    after = api.get("/users/stats/overview", token=admin_token).json()
    assert after["total_users"] == before.json()["total_users"] + 1
    assert after["active_users"] == before.json()["active_users"] + 1
    assert_error(api.get("/users/stats/overview", token=user_token), 403, "http_error")


# --------------------------------------------------------------------------- reset / verification
@pytest.mark.parametrize("path", ["/users/password-reset/request", "/users/email-verification/request"])
def test_request_does_not_reveal_existence(api: Api, user: User, path: str) -> None:
    """Reset / verification requests answer the same for known and unknown emails."""
    known = api.post(path, json={"email": user.email})
    unknown = api.post(path, json={"email": f"{unique()}@example.com"})
    assert_status(known, 200)
    assert_status(unknown, 200)
    assert known.json() == unknown.json()
    assert "token" not in known.json()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/users/password-reset/confirm", {"token": "bogus-token", "new_password": STRONG_PASSWORD}),
        ("/users/email-verification/confirm", {"token": "bogus-token"}),
    ],
    ids=["reset", "verify"],
)
def test_confirm_bad_token_400(api: Api, path: str, body: dict[str, str]) -> None:
    """Bad tokens are 400 invalid_token."""
    assert_error(api.post(path, json=body), 400, "invalid_token")
