"""Unit tests of the coverage matrices' support modules: token defects, account states, isolation and
caller-written permissions (support/domains/token_matrix.py, account_states.py, isolation.py, claims.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hamcrest import assert_that, is_not
from requests.structures import CaseInsensitiveDict
from support_testkit import Reply, ScriptedServer

from support.domains import account_states, claims, isolation, token_matrix
from support.people.identities import Identity
from support.wire import jwt_forge
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse, Exchange
from support.wire.settings import Settings

SECRET = "unit-test-signing-key-0123456789abcdef"


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> ApiResponse:
    text = json.dumps(body) if body is not None else ""
    exchange = Exchange("GET", "https://permiso.example.com/api/v1/x", status, {}, None,
                        headers or {}, text, 1.0, datetime.now(UTC))
    return ApiResponse(status, CaseInsensitiveDict(headers or {}), body, text, 1.0, exchange)


def _token(kind: str = "access", **claims: Any) -> str:
    payload = {"sub": "u-1", "iss": "permiso-auth", "type": kind, "exp": 4_000_000_000, "iat": 1, "jti": kind}
    payload.update(claims)
    return jwt.encode(payload, SECRET, algorithm="HS256")


def _holder(device: Any = None) -> token_matrix.Holder:
    def second_device() -> Any:
        if device is None:
            raise AssertionError("no second device in this test")
        return device

    return token_matrix.Holder(_token("access"), _token("refresh"), second_device)


# ---------------------------------------------------------------------------------------- token matrix
def test_every_defect_is_made_from_the_right_token_and_changes_it() -> None:
    holder, forge = _holder(), jwt_forge.SigningForge(SECRET)
    for use in token_matrix.USES:
        for defect in (*token_matrix.SIGNED_DEFECTS, "forged", "of the wrong type"):
            bad = token_matrix.make_bad_token(defect, use, holder, forge)
            base = holder.refresh if token_matrix.starts_from_refresh(use) else holder.access
            assert bad != base, (defect, use)
    expired = jwt_forge.claims_of(token_matrix.make_bad_token("expired", "introspection", holder, forge))
    assert expired["type"] == "access" and expired["exp"] < 4_000_000_000
    assert "exp" not in jwt_forge.claims_of(token_matrix.make_bad_token("without an expiry", "asking who is "
                                                                        "signed in", holder, forge))
    # a refresh use is handed the access token as "the wrong type", every other use the refresh token
    assert token_matrix.make_bad_token("of the wrong type", "refreshing the session", holder, None) == holder.access
    assert token_matrix.make_bad_token("of the wrong type", "revoking a token", holder, None) == holder.refresh


def test_signed_defects_need_the_key_and_unknown_names_are_refused() -> None:
    with pytest.raises(AssertionError, match="signing key"):
        token_matrix.make_bad_token("expired", "introspection", _holder(), None)
    with pytest.raises(AssertionError, match="is not one of"):
        token_matrix.make_bad_token("mouldy", "introspection", _holder(), None)
    with pytest.raises(AssertionError, match="is not one of"):
        token_matrix.outcome("probably fine")


def test_revoked_and_rotated_tokens_come_from_a_second_device(server: ScriptedServer, settings: Settings) -> None:
    device = PermisoClient(settings, name="tablet")
    device.token, device.refresh_token = "device-access", "device-refresh"
    server.script("POST", "/api/v1/auth/revoke", Reply(200, {"message": "Token revoked successfully"}))
    assert token_matrix.make_bad_token("revoked", "introspection", _holder(device), None) == "device-access"
    assert json.loads(server.hits("POST", "/api/v1/auth/revoke")[0].body)["token"] == "device-access"
    server.script("POST", "/api/v1/auth/refresh", Reply(200, {"access_token": "a2", "refresh_token": "r2"}))
    assert token_matrix.make_bad_token("a refresh token rotated away", "refreshing the session",
                                       _holder(device), None) == "device-refresh"
    server.script("POST", "/api/v1/auth/refresh", Reply(401, {"error": "invalid_grant"}))
    with pytest.raises(AssertionError, match="could not be refreshed"):
        token_matrix.make_bad_token("a refresh token rotated away", "revoking a token", _holder(device), None)


def test_each_use_presents_the_token_where_it_belongs(server: ScriptedServer, settings: Settings) -> None:
    client = PermisoClient(settings, name="mallory")
    for use in token_matrix.USES:
        token_matrix.present(client, use, "bad-token", "caller-access")
    assert server.hits("GET", "/api/v1/users/me")[0].headers["Authorization"] == "Bearer bad-token"
    introspect = server.hits("POST", "/api/v1/auth/introspect")[0]
    assert json.loads(introspect.body) == {"token": "bad-token"}
    assert introspect.headers["Authorization"] == "Bearer caller-access"
    refresh = server.hits("POST", "/api/v1/auth/refresh")[0]
    assert json.loads(refresh.body) == {"refresh_token": "bad-token"} and "Authorization" not in refresh.headers
    assert server.hits("POST", "/api/v1/auth/revoke")[0].headers["Authorization"] == "Bearer bad-token"


def test_token_outcomes_judge_only_their_rule() -> None:
    inactive = {"active": False, "sub": None, "token_type": None}
    assert_that(_answer(401, {"error": "http_error", "error_description": "Token expired"}),
                token_matrix.outcome("refused as not signed in"))
    assert_that(_answer(200, {"id": "u-1"}), is_not(token_matrix.outcome("refused as not signed in")))
    assert_that(_answer(200, inactive), token_matrix.outcome("reported inactive"))
    assert_that(_answer(200, {"active": True, "sub": "u-1"}), is_not(token_matrix.outcome("reported inactive")))
    assert_that(_answer(200, {"active": False, "sub": "u-1"}), is_not(token_matrix.outcome("reported inactive")))
    refresh = {"active": True, "sub": "u-1", "token_type": "refresh"}
    assert_that(_answer(200, refresh), token_matrix.outcome("reported as a refresh token"))
    assert_that(_answer(200, {**refresh, "token_type": "access"}),
                is_not(token_matrix.outcome("reported as a refresh token")))
    assert_that(_answer(401, {"error": "invalid_grant", "error_description": "bad"}),
                token_matrix.outcome("refused as invalid_grant"))
    assert_that(_answer(500, {"error": "internal_error"}), is_not(token_matrix.outcome("refused as invalid_grant")))
    assert_that(_answer(200, {"active": True, "sub": "u-1"}), token_matrix.accepted("introspection"))
    assert_that(_answer(200, {"active": False}), is_not(token_matrix.accepted("introspection")))


# ---------------------------------------------------------------------------------------- account states
def test_account_outcomes_follow_the_contract() -> None:
    assert_that(_answer(403, {"error": "account_disabled", "error_description": "Account disabled"}),
                account_states.outcome("refused as a disabled account"))
    assert_that(_answer(401, {"error": "invalid_grant", "error_description": "Bad credentials"}),
                is_not(account_states.outcome("refused as a disabled account")))
    locked = {"error": "account_locked", "error_description": "Locked", "locked_until": "2030-01-01T00:00:00Z"}
    assert_that(_answer(423, locked), account_states.outcome("refused as a locked account"))
    assert_that(_answer(500, {"error": "internal_error", "error_description": "naive datetimes"}),
                is_not(account_states.outcome("refused as a locked account")))
    assert_that(_answer(200, {"access_token": "x", "scope": None}),
                account_states.outcome("signed in without the role's permissions"))
    assert_that(_answer(200, {"access_token": "x", "scope": f"{account_states.ROLE_SCOPE} write:profile"}),
                is_not(account_states.outcome("refreshed without the role's permissions")))
    assert_that(_answer(200, {"active": False}), account_states.outcome("reported inactive"))
    assert_that(_answer(200, {"active": True}), is_not(account_states.outcome("reported inactive")))


class _Recorder:
    """Stands in for a client: records the calls a state change makes and answers 2xx."""

    def __init__(self, status: int = 200) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.status = status

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> ApiResponse:
            self.calls.append((name, args, kwargs))
            return _answer(self.status, {})
        return call


def _before() -> account_states.Before:
    who = Identity("pa_x_1", "pa_x_1@example.com", "Old-Passw0rd!", id="u-1")
    return account_states.Before(who, "access", "refresh", who.password)


def test_each_state_is_reached_the_way_it_happens() -> None:
    for state, expected in (("disabled", "update_user"), ("deleted", "delete_user"),
                            ("stripped of its role", "set_user_roles")):
        admin = _Recorder()
        account_states.apply_state(state, _before(), admin, _Recorder(), lock_threshold=5, stranger=_Recorder)
        assert [c[0] for c in admin.calls] == [expected]
    own, before = _Recorder(), _before()
    account_states.apply_state("given a new password", before, _Recorder(), own, lock_threshold=5,
                               stranger=_Recorder)
    assert own.calls[0][0] == "change_password" and before.identity.password != before.old_password
    stranger = _Recorder(401)
    account_states.apply_state("locked", _before(), _Recorder(), _Recorder(), lock_threshold=5,
                               stranger=lambda: stranger)
    assert [c[0] for c in stranger.calls] == ["sign_in"] * 5
    assert all(c[1][1] != "Old-Passw0rd!" for c in stranger.calls)


def test_a_refused_state_change_is_a_named_precondition() -> None:
    from support.checks.causes import PreconditionRefused

    with pytest.raises(PreconditionRefused, match="could not prepare"):
        account_states.apply_state("disabled", _before(), _Recorder(422), _Recorder(), lock_threshold=5,
                                   stranger=_Recorder)


# ---------------------------------------------------------------------------------------- isolation
def _reader(name: str, user_id: str, session: str) -> isolation.Reader:
    return isolation.Reader(name, user_id, name.lower(), session, None)  # type: ignore[arg-type]


def test_a_read_naming_someone_else_is_caught() -> None:
    dana, erin = _reader("Dana", "u-d", "s-d"), _reader("Erin", "u-e", "s-e")
    assert isolation.problems(dana, "who they are", _answer(200, {"id": "u-d", "username": "dana"}), [erin]) == []
    found = isolation.problems(dana, "who they are", _answer(200, {"id": "u-e", "username": "erin"}), [erin])
    assert any("names Erin" in f for f in found)
    assert isolation.problems(dana, "what their token allows", _answer(200, {"sub": "u-d", "username": None}),
                              [erin]) == []
    sessions = {"sessions": [{"session_id": "s-d", "username": "dana"}, {"session_id": "s-e", "username": "erin"}]}
    found = isolation.problems(dana, "their sessions", _answer(200, sessions), [erin])
    assert any("session of Erin" in f for f in found)
    assert isolation.problems(dana, "their sessions", _answer(200, {"sessions": []}), [erin]) == [
        "Dana's current session is missing from their own list"]
    assert isolation.problems(dana, "their profile", _answer(401, {}), [erin]) == [
        "Dana's read of their profile answered 401"]


# ---------------------------------------------------------------------------------------- claims
def test_claims_are_written_into_the_body_of_a_read(server: ScriptedServer, settings: Settings) -> None:
    client = PermisoClient(settings, name="visitor")
    for function, (path, scope) in claims.GUARDED_READS.items():
        claims.ask(client, function, "u-1", token=None)
        seen = server.hits("GET", "/api/v1" + path.format(user_id="u-1"))[-1]
        assert scope in json.loads(seen.body)["token_payload"]["scopes"]
        assert "Authorization" not in seen.headers
    with pytest.raises(AssertionError):
        claims.ask(client, "delete everything", "u-1")
