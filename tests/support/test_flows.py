"""Unit tests of support/people/flows.py: the bounded unlock poll, the notebook, and the matchers it adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hamcrest import assert_that, is_not
from requests.structures import CaseInsensitiveDict

from support.people import flows
from support.wire.evidence import ApiResponse, Exchange


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None,
           elapsed_ms: float = 1.0, url: str = "https://host/api/v1/x") -> ApiResponse:
    import json

    text = json.dumps(body) if body is not None else ""
    exchange = Exchange("GET", url, status, {}, None, dict(headers or {}), text, elapsed_ms,
                        datetime.now(UTC))
    return ApiResponse(status, CaseInsensitiveDict(headers or {}), body, text, elapsed_ms, exchange)


class FakeClient:
    """Answers sign-ins from a script; records how often it was asked."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls = 0

    def sign_in(self, username: str, password: str) -> ApiResponse:
        self.calls += 1
        status = self.statuses[min(self.calls - 1, len(self.statuses) - 1)]
        return answer(status, {"error": "account_locked"} if status == 423 else {})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_for_sign_in_stops_as_soon_as_the_account_opens() -> None:
    client, clock = FakeClient([423, 423, 200]), FakeClock()
    result = flows.wait_for_sign_in(client, "dana", "pw", timeout_s=10, interval_s=0.5,  # type: ignore[arg-type]
                                    clock=clock, sleep=clock.sleep)
    assert result.status == 200 and client.calls == 3 and clock.now == 1.0


def test_wait_for_sign_in_gives_up_at_the_deadline() -> None:
    client, clock = FakeClient([423]), FakeClock()
    result = flows.wait_for_sign_in(client, "dana", "pw", timeout_s=2, interval_s=0.5,  # type: ignore[arg-type]
                                    clock=clock, sleep=clock.sleep)
    assert result.status == 423
    assert clock.now <= 2.0 and client.calls == 5


def test_notebook_old_tokens_prefer_what_was_held_before_sign_out() -> None:
    class Holder:
        token, refresh_token = "access-1", "refresh-1"

    book = flows.Notebook()
    book.remember_sign_in("Dana", Holder())  # type: ignore[arg-type]
    Holder.token, Holder.refresh_token = "access-2", "refresh-2"
    book.remember_previous("Dana", Holder())  # type: ignore[arg-type]
    assert book.old_access("Dana") == "access-2" and book.old_refresh("Dana") == "refresh-2"
    assert book.last_actor == "Dana"


def test_redirect_matcher_compares_scheme_host_and_path_but_not_port() -> None:
    moved = answer(301, headers={"Location": "https://127.0.0.1/api/v1/users/me"})
    assert_that(moved, flows.a_permanent_redirect_to("https", "127.0.0.1", "/api/v1/users/me"))
    assert_that(moved, is_not(flows.a_permanent_redirect_to("https", "127.0.0.1", "/health")))
    assert_that(answer(302, headers={"Location": "https://127.0.0.1/x"}),
                is_not(flows.a_permanent_redirect_to("https", "127.0.0.1", "/x")))
    assert_that(answer(301, headers={"Location": "http://127.0.0.1/x"}),
                is_not(flows.a_permanent_redirect_to("https", "127.0.0.1", "/x")))


def test_locked_refusal_needs_the_oauth_shape_and_a_timestamp() -> None:
    until = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    body = {"error": "account_locked", "error_description": "locked", "error_code": "account_locked",
            "status_code": 423, "details": {}, "locked_until": until}
    locked = answer(423, body, {"WWW-Authenticate": "Bearer"})
    assert_that(locked, flows.a_locked_account_refusal())
    assert_that(locked, flows.a_lock_ending_within(900))
    assert_that(answer(500, {"error": "internal_server_error"}), is_not(flows.a_locked_account_refusal()))
    no_time = dict(body, locked_until=None)
    assert_that(answer(423, no_time, {"WWW-Authenticate": "Bearer"}), is_not(flows.a_locked_account_refusal()))


def test_refusals_that_differ_in_description_can_be_told_apart() -> None:
    same = {"error": "invalid_grant", "error_description": "Invalid credentials"}
    a = answer(401, same, {"WWW-Authenticate": "Bearer"})
    b = answer(401, dict(same), {"WWW-Authenticate": "Bearer"})
    c = answer(401, dict(same, error_description="User not found"), {"WWW-Authenticate": "Bearer"})
    assert_that([a, b], flows.cannot_be_told_apart())
    assert_that([a, c], is_not(flows.cannot_be_told_apart()))


def test_budget_is_judged_on_the_median() -> None:
    samples = [answer(200, elapsed_ms=ms) for ms in (10, 12, 500, 11, 9)]
    assert_that(samples, flows.answered_within(100, "health budget"))
    assert_that([answer(200, elapsed_ms=150)] * 3, is_not(flows.answered_within(100, "health budget")))


def test_guide_upper_bound_accepts_lock_or_rate_limit_only() -> None:
    assert_that(answer(423, {"error": "account_locked"}), flows.locked_or_rate_limited())
    assert_that(answer(429, {"error": "rate_limit_exceeded"}), flows.locked_or_rate_limited())
    assert_that(answer(200, {"access_token": "x"}), is_not(flows.locked_or_rate_limited()))


def test_api_base_placeholder_is_expanded() -> None:
    class S:
        permiso_api_base = "/api/v2"

    assert flows.with_api_base("{api}/users/me", S()) == "/api/v2/users/me"  # type: ignore[arg-type]
    assert flows.with_api_base("/health", S()) == "/health"  # type: ignore[arg-type]


def test_a_configured_account_is_never_signed_out_only_its_tokens_revoked(server: Any, settings: Any) -> None:
    """Contract D.3: a logout ends every session of the account, so configured accounts are never
    signed out; the suite revokes its own tokens instead (also when tearing actors down)."""
    from types import SimpleNamespace

    import pytest
    from support_testkit import Reply

    from support.people.actors import Actor, sign_out_all
    from support.people.identities import ProtectedAccountError, configured_user
    from support.wire.client import PermisoClient

    server.script("POST", "/api/v1/auth/revoke", Reply(200, {"message": "Token revoked successfully"}))
    client = PermisoClient(settings, name="the configured user")
    client.token, client.refresh_token = "tok-configured", "ref-configured"
    someone = Actor("the configured user", configured_user(settings), client)
    context = SimpleNamespace(actors={"the configured user": someone})
    with pytest.raises(ProtectedAccountError, match="refusing to sign out the configured user"):
        flows.sign_out(context, someone)
    sign_out_all(context)
    assert server.hits("POST", "/api/v1/auth/logout") == []
    revoked = [hit.body for hit in server.hits("POST", "/api/v1/auth/revoke")]
    assert revoked == [b'{"token": "ref-configured", "token_type_hint": "refresh_token"}',
                       b'{"token": "tok-configured", "token_type_hint": "access_token"}']
    assert client.token is None and client.refresh_token is None


def test_a_refused_sign_in_of_a_given_step_is_a_named_precondition(server: Any, settings: Any) -> None:
    from types import SimpleNamespace

    import pytest
    from support_testkit import Reply

    from support.checks.causes import PreconditionRefused
    from support.people.identities import Identity

    server.script("POST", "/api/v1/auth/token", Reply(401, {"error": "invalid_grant",
                                                            "error_description": "Invalid credentials"}))
    dana = Identity("pa_dana", "pa_dana@example.com", "Secret-Passw0rd!", id="u1")
    identities = SimpleNamespace(user=lambda label, **kw: dana)
    context = SimpleNamespace(settings=settings, identities=identities, actors={}, log=None,
                              target=SimpleNamespace(base_url=server.url))
    with pytest.raises(PreconditionRefused) as info:
        flows.sign_in_and_remember(context, "Dana")
    assert str(info.value) == ("could not prepare (sign Dana in): POST /api/v1/auth/token answered 401 "
                               "(invalid_grant: Invalid credentials)")
