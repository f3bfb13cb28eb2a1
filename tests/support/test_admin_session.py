"""AdminSession: one sign-in of the configured administrator per run, lent to every feature's client."""

from __future__ import annotations

import pytest
from support_testkit import Reply, ScriptedServer

from support.wire.admin_session import AdminSession, AdminSignInRefused
from support.wire.client import PermisoClient
from support.wire.pacing import AuthPacer
from support.wire.settings import Settings

TOKENS = {"access_token": "admin-access-token-0001", "token_type": "Bearer", "expires_in": 900,
          "refresh_token": "admin-refresh-token-0001", "scope": "admin:system", "session_id": "s-1"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(settings: Settings) -> PermisoClient:
    return PermisoClient(settings, name="administrator", pacer=AuthPacer())


def test_many_clients_share_one_sign_in(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKENS))
    session = AdminSession(Clock())
    first, second = session.lend(client(settings)), session.lend(client(settings))
    assert first.token == second.token == "admin-access-token-0001"
    assert second.refresh_token == "admin-refresh-token-0001" and second.session_id == "s-1"
    assert len(server.hits("POST", "/api/v1/auth/token")) == 1


def test_the_token_is_renewed_half_way_through_its_lifetime(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKENS),
                  Reply(200, {**TOKENS, "access_token": "admin-access-token-0002"}))
    clock = Clock()
    session = AdminSession(clock)
    session.lend(client(settings))
    clock.now += 449
    assert session.lend(client(settings)).token == "admin-access-token-0001"
    clock.now += 2
    assert session.lend(client(settings)).token == "admin-access-token-0002"
    assert len(server.hits("POST", "/api/v1/auth/token")) == 2


def test_a_refused_sign_in_is_an_error_carrying_the_answer(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(401, {"error": "invalid_grant"}))
    with pytest.raises(AdminSignInRefused) as refused:
        AdminSession(Clock()).lend(client(settings))
    assert refused.value.answer.status == 401


def test_the_end_revokes_and_never_signs_out(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKENS))
    server.script("POST", "/api/v1/auth/revoke", Reply(200, {"message": "Token revoked successfully"}))
    session = AdminSession(Clock())
    session.lend(client(settings))
    session.end(lambda: client(settings))
    assert len(server.hits("POST", "/api/v1/auth/revoke")) == 2
    assert not server.hits("POST", "/api/v1/auth/logout")
    assert session.token is None


def test_a_worker_uses_the_handed_off_tokens_and_leaves_them_to_the_main_process(
        settings: Settings, server: ScriptedServer) -> None:
    clock = Clock()
    main = AdminSession(clock)
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKENS))
    main.lend(client(settings))
    worker = AdminSession.from_handoff(main.handoff(), clock)
    assert worker.lend(client(settings)).token == "admin-access-token-0001"
    worker.end(lambda: client(settings))
    assert len(server.hits("POST", "/api/v1/auth/token")) == 1  # the worker never signed in
    assert not server.hits("POST", "/api/v1/auth/revoke")  # nor revoked the main process's tokens
    assert not AdminSession.from_handoff(None).fresh


def test_a_token_got_after_a_401_is_learned(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKENS),
                  Reply(200, {**TOKENS, "access_token": "admin-access-token-0002"}))
    session = AdminSession(Clock())
    admin = session.lend(client(settings))
    admin.sign_in_administrator()  # what Identities._call does after a 401
    session.learn(admin)
    assert session.token == "admin-access-token-0002"
