"""Contract tests of ``/sessions`` (A.9) and the session gating of decisions.md."""

from __future__ import annotations

import uuid

from helpers import (
    Api,
    User,
    assert_error,
    assert_iso_utc,
    assert_oauth_error,
    assert_status,
    assert_unauthorized,
    parse_time,
    wait_until,
)

SESSION_KEYS = {"session_id", "user_id", "username", "ip_address", "user_agent"} | {
    "created_at",
    "last_activity",
    "expires_at",
}


def test_list_own_sessions(api: Api, user: User) -> None:
    """Each sign-in creates a session listed for its user only."""
    resp = api.post(
        "/auth/token",
        data={"username": user.username, "password": user.password},
        headers={"User-Agent": "pa-agent/1.0"},
    )
    one = resp.json()
    two = api.user_token(user)
    listed = api.get("/sessions/", token=one["access_token"])
    assert_status(listed, 200)
    body = listed.json()
    assert set(body) >= {"sessions", "total"}
    assert body["total"] == 2
    ids = {s["session_id"] for s in body["sessions"]}
    assert ids == {one["session_id"], two["session_id"]}
    mine = next(s for s in body["sessions"] if s["session_id"] == one["session_id"])
    assert set(mine) >= SESSION_KEYS
    assert mine["user_id"] == user.id
    uuid.UUID(mine["user_id"])
    assert mine["username"] == user.username
    assert mine["user_agent"] == "pa-agent/1.0"
    assert mine["ip_address"] == "127.0.0.1"
    for key in ("created_at", "last_activity", "expires_at"):
        assert_iso_utc(mine[key])
    assert_unauthorized(api.get("/sessions/"))


def test_renew_session(api: Api, user: User) -> None:
    """Renew answers {message, session_id, expires_at} later than before."""
    body = api.user_token(user)
    token, sid = body["access_token"], body["session_id"]
    before = next(s for s in api.get("/sessions/", token=token).json()["sessions"] if s["session_id"] == sid)

    def renewed() -> bool:
        resp = api.post(f"/sessions/{sid}/renew", token=token)
        assert_status(resp, 200)
        got = resp.json()
        assert {"message", "session_id", "expires_at"} <= set(got)
        assert got["session_id"] == sid
        return parse_time(got["expires_at"]) > parse_time(before["expires_at"])

    assert wait_until(renewed, 3.0, 0.25), "renew never moved expires_at"


def test_end_session_refuses_its_tokens(api: Api, user: User) -> None:
    """DELETE /sessions/{id} ends it; that session's access and refresh tokens are refused."""
    one = api.user_token(user)
    two = api.user_token(user)
    resp = api.delete(f"/sessions/{two['session_id']}", token=one["access_token"])
    assert_status(resp, 200, 204)
    assert_unauthorized(api.me(two["access_token"]))
    assert_oauth_error(api.refresh(two["refresh_token"]), 401, "invalid_grant")
    assert_status(api.me(one["access_token"]), 200)
    listed = api.get("/sessions/", token=one["access_token"]).json()
    assert [s["session_id"] for s in listed["sessions"]] == [one["session_id"]]


def test_end_session_errors(api: Api, user: User, other_user: User) -> None:
    """Another user's session → 403 access_denied; unknown → 404 session_not_found."""
    mine = api.user_token(user)["access_token"]
    theirs = api.user_token(other_user)
    assert_error(api.delete(f"/sessions/{theirs['session_id']}", token=mine), 403, "access_denied")
    assert_status(api.me(theirs["access_token"]), 200)
    assert_error(api.delete(f"/sessions/{uuid.uuid4()}", token=mine), 404, "session_not_found")
    assert_error(api.post(f"/sessions/{theirs['session_id']}/renew", token=mine), 403, "access_denied")


def test_end_all_sessions_keeps_current(api: Api, user: User) -> None:
    """DELETE /sessions/ ends all other sessions, not the current one."""
    current = api.user_token(user)
    others = [api.user_token(user) for _ in range(2)]
    resp = api.delete("/sessions/", token=current["access_token"])
    assert_status(resp, 200)
    body = resp.json()
    assert "message" in body
    assert body["sessions_terminated"] == 2
    assert_status(api.me(current["access_token"]), 200)
    for other in others:
        assert_unauthorized(api.me(other["access_token"]))


def test_session_admin_routes(api: Api, admin_token: str, user_token: str) -> None:
    """Stats and cleanup need admin:sessions (admin passes, user 403, anonymous 401)."""
    assert_status(api.get("/sessions/stats", token=admin_token), 200)
    assert_status(api.post("/sessions/cleanup", token=admin_token), 200)
    assert_error(api.get("/sessions/stats", token=user_token), 403)
    assert_error(api.post("/sessions/cleanup", token=user_token), 403)
    assert_unauthorized(api.get("/sessions/stats"))


def test_logout_ends_session(api: Api, user: User) -> None:
    """Logout removes the session from the list."""
    one = api.user_token(user)
    two = api.user_token(user)
    assert_status(api.logout(one["access_token"]), 200)
    listed = api.get("/sessions/", token=two["access_token"]).json()
    assert one["session_id"] not in [s["session_id"] for s in listed["sessions"]]
