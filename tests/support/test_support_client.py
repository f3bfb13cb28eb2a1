"""PermisoClient against a scripted local server: bodies, slashes, timing, retries, pacing, evidence."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from support_testkit import Reply, ScriptedServer

from support.wire import redaction
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse, Exchange, ExchangeLog
from support.wire.pacing import AuthPacer
from support.wire.settings import Settings
from support.wire.transport import TargetUnreachable

TOKEN_BODY = {
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnLWFjY2Vzcy0xMjM0NTY3ODk",
    "token_type": "Bearer", "expires_in": 900, "refresh_token": "opaque-refresh-value-0001",
    "scope": "read:profile", "session_id": "6f1c7a1e-0000-4000-8000-000000000001",
}


def make_client(settings: Settings, **kw: Any) -> PermisoClient:
    kw.setdefault("pacer", AuthPacer())
    kw.setdefault("front_backoff_seconds", 0.01)
    return PermisoClient(settings, **kw)


def test_sign_in_sends_a_form_and_keeps_tokens(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKEN_BODY, {"Cache-Control": "no-store"}))
    server.script("GET", "/api/v1/users/me", Reply(200, {"id": "u1"}))
    client = make_client(settings)
    response = client.sign_in("dana", "Dana-Pa55word!", scope=["read:profile", "write:profile"])
    assert response.status == 200 and response.body["token_type"] == "Bearer"
    seen = server.hits("POST", "/api/v1/auth/token")[0]
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in seen.headers
    form = parse_qs(seen.body.decode())
    assert form == {"username": ["dana"], "password": ["Dana-Pa55word!"], "grant_type": ["password"],
                    "scope": ["read:profile write:profile"]}
    assert client.token == TOKEN_BODY["access_token"]
    assert client.refresh_token == TOKEN_BODY["refresh_token"]
    assert client.session_id == TOKEN_BODY["session_id"]
    client.me()
    assert server.hits("GET", "/api/v1/users/me")[0].headers["Authorization"] == \
        f"Bearer {TOKEN_BODY['access_token']}"
    # every received token is registered for redaction at once
    assert redaction.redact_text(TOKEN_BODY["refresh_token"]) == redaction.MASK


def test_failed_sign_in_keeps_no_token(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(401, {"error": "invalid_grant"}))
    client = make_client(settings)
    assert client.sign_in("dana", "wrong-Passw0rd!").status == 401
    assert client.token is None


def test_refresh_and_introspect_send_json(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/refresh",
                  Reply(200, {**TOKEN_BODY, "refresh_token": "new-refresh-2"}))
    server.script("POST", "/api/v1/auth/introspect", Reply(200, {"active": True}))
    client = make_client(settings)
    client.refresh_token = "old-refresh-1"
    client.refresh()
    seen = server.hits("POST", "/api/v1/auth/refresh")[0]
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"refresh_token": "old-refresh-1"}
    assert client.refresh_token == "new-refresh-2"
    client.introspect("tok-abc-123")
    assert json.loads(server.hits("POST", "/api/v1/auth/introspect")[0].body) == {"token": "tok-abc-123"}


def test_sign_out_clears_token_on_200(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/logout", Reply(200, {"message": "Logged out successfully"}))
    client = make_client(settings)
    client.token, client.refresh_token = "a-token-value", "r-token-value"
    assert client.sign_out().status == 200
    assert client.token is None and client.refresh_token is None


@pytest.mark.parametrize(("call", "method", "path"), [
    (lambda c: c.list_roles(), "GET", "/api/v1/roles/"),
    (lambda c: c.list_scopes(), "GET", "/api/v1/roles/scopes/"),
    (lambda c: c.list_clients(), "GET", "/api/v1/service-clients/"),
    (lambda c: c.list_sessions(), "GET", "/api/v1/sessions/"),
    (lambda c: c.end_all_sessions(), "DELETE", "/api/v1/sessions/"),
    (lambda c: c.list_users(), "GET", "/api/v1/users/"),
    (lambda c: c.get_role("r1"), "GET", "/api/v1/roles/r1"),
    (lambda c: c.delete_scope("s1"), "DELETE", "/api/v1/roles/scopes/s1"),
    (lambda c: c.user_stats(), "GET", "/api/v1/users/stats/overview"),
    (lambda c: c.client_stats(), "GET", "/api/v1/service-clients/stats/overview"),
    (lambda c: c.clients_health(), "GET", "/api/v1/service-clients/health/check"),
    (lambda c: c.rotate_client_secret("c1", "old-secret-x"), "POST",
     "/api/v1/service-clients/c1/rotate-secret"),
    (lambda c: c.renew_session("s1"), "POST", "/api/v1/sessions/s1/renew"),
    (lambda c: c.session_stats(), "GET", "/api/v1/sessions/stats"),
    (lambda c: c.dashboard_stats(), "GET", "/api/v1/admin/dashboard/stats"),
    (lambda c: c.usage_report(days=7), "GET", "/api/v1/admin/reports/usage"),
    (lambda c: c.health(), "GET", "/health"),
    (lambda c: c.root(), "GET", "/"),
])
def test_paths_follow_part_b(settings: Settings, server: ScriptedServer, call: Any, method: str,
                             path: str) -> None:
    server.script(method, path, Reply(200, {}))
    assert call(make_client(settings)).status == 200
    assert server.hits(method, path)


def test_every_call_is_timed_and_logged(settings: Settings, server: ScriptedServer) -> None:
    server.script("GET", "/health", Reply(200, {"status": "healthy"}, delay=0.05))
    log = ExchangeLog()
    seen: list[Exchange] = []
    ExchangeLog.subscribe_all(seen.append)
    try:
        response = make_client(settings, log=log, name="probe").health()
    finally:
        ExchangeLog.unsubscribe_all(seen.append)
    assert isinstance(response, ApiResponse)
    assert 50 <= response.elapsed_ms < 5000
    assert response.exchange.elapsed_ms == response.elapsed_ms
    assert log.records == [response.exchange] and seen == [response.exchange]
    assert response.headers["CONTENT-TYPE"] == "application/json"  # case-insensitive
    assert response.body == {"status": "healthy"}


class FlakySession(requests.Session):
    """Raises a connection error for the first ``failures`` requests."""

    def __init__(self, failures: int, exc: type[Exception] = requests.exceptions.ConnectionError) -> None:
        super().__init__()
        self.failures, self.exc, self.calls = failures, exc, 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc("Connection refused")
        return super().request(*args, **kwargs)


def test_connection_errors_are_retried(settings: Settings, server: ScriptedServer) -> None:
    server.script("GET", "/health", Reply(200, {"status": "healthy"}))
    session = FlakySession(2)
    assert make_client(settings, session=session).health().status == 200
    assert session.calls == 3


def test_timeouts_and_http_errors_are_not_retried(settings: Settings, server: ScriptedServer) -> None:
    server.script("GET", "/health", Reply(500, {"error": "internal_server_error"}))
    session = FlakySession(0)
    assert make_client(settings, session=session).health().status == 500
    assert session.calls == 1
    session = FlakySession(1, requests.exceptions.ReadTimeout)
    with pytest.raises(TargetUnreachable, match="no answer within"):
        make_client(settings, session=session).health()
    assert session.calls == 1


def test_unreachable_target_gives_one_line(clean_env: Any) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    settings = Settings.load({"PERMISO_BASE_URL": f"http://127.0.0.1:{port}", "TEST_RETRY_ATTEMPTS": "3",
                              "TEST_RETRY_DELAY": "0.05"}, env_file=None)
    t0 = time.monotonic()
    with pytest.raises(TargetUnreachable) as info:
        make_client(settings).health()
    assert time.monotonic() - t0 >= 0.1  # two delays between three attempts
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert "after 3 attempt(s)" in message and "connection refused" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_front_503_html_is_retried_with_backoff(settings: Settings, server: ScriptedServer) -> None:
    page = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    server.script("POST", "/api/v1/auth/token", Reply(503, page, content_type="text/html"),
                  Reply(503, page, content_type="text/html"), Reply(200, TOKEN_BODY))
    log = ExchangeLog()
    response = make_client(settings, log=log).sign_in("dana", "Dana-Pa55word!")
    assert response.status == 200
    assert len(server.hits("POST", "/api/v1/auth/token")) == 3
    assert [r.retried for r in log.records] == [True, True, False]
    assert response.exchange.attempt == 3


def test_a_retried_front_503_is_marked_before_anyone_sees_it(settings: Settings, server: ScriptedServer) -> None:
    """Subscribers (the run-wide watch, the pool's evidence, timings) judge each exchange as it arrives:
    a front page that will be retried must already say so, or it would count as an answer."""
    page = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    server.script("GET", "/api/v1/users/me", Reply(503, page, content_type="text/html"), Reply(200, {"id": "u1"}))
    seen: list[tuple[int, bool]] = []

    def watch(exchange: Exchange) -> None:
        seen.append((exchange.status, exchange.retried))

    ExchangeLog.subscribe_all(watch)
    try:
        assert make_client(settings).me().status == 200
    finally:
        ExchangeLog.unsubscribe_all(watch)
    assert seen == [(503, True), (200, False)]


def test_front_503_retries_are_bounded(settings: Settings, server: ScriptedServer) -> None:
    server.script("GET", "/health", Reply(503, "<html>busy</html>", content_type="text/html"))
    response = make_client(settings, front_retry_attempts=3).health()
    assert response.status == 503 and len(server.hits("GET", "/health")) == 3


def test_json_503_is_an_answer_not_retried(settings: Settings, server: ScriptedServer) -> None:
    server.script("GET", "/api/v1/admin/system/health", Reply(503, {"status": "degraded"}))
    assert make_client(settings).system_health().status == 503
    assert len(server.hits("GET", "/api/v1/admin/system/health")) == 1


def test_rate_limit_probe_can_switch_front_retry_off(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(503, "<html>x</html>", content_type="text/html"))
    client = make_client(settings)
    client.retry_front_503 = False
    assert client.sign_in("dana", "Dana-Pa55word!").status == 503
    assert len(server.hits("POST", "/api/v1/auth/token")) == 1


class StampingSession(requests.Session):
    """Records the monotonic time at which each request leaves the client."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, float]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((url, time.monotonic()))
        return super().request(method, url, *args, **kwargs)


def test_auth_calls_are_paced_process_wide(clean_env: Any, server: ScriptedServer) -> None:
    """Every /auth/* call shares one bucket: one second's worth at once, then one every 1/rate s."""
    rate = 20.0
    settings = Settings.load({"PERMISO_BASE_URL": server.url, "PERMISO_AUTH_RATE_PER_SECOND": str(rate),
                              "PERMISO_API_RATE_PER_SECOND": "0"}, env_file=None)
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKEN_BODY))
    server.script("POST", "/api/v1/auth/service-token", Reply(200, {**TOKEN_BODY, "refresh_token": None}))
    server.script("POST", "/api/v1/auth/refresh", Reply(200, TOKEN_BODY))
    server.script("POST", "/api/v1/auth/introspect", Reply(200, {"active": True}))
    server.script("GET", "/health", Reply(200, {}))
    pacer, session = AuthPacer(), StampingSession()
    a = make_client(settings, pacer=pacer, session=session)
    b = make_client(settings, pacer=pacer, session=session)
    for _ in range(15):
        a.sign_in("dana", "Dana-Pa55word!")
        b.service_sign_in("svc-1", "svc-secret-value")
    a.refresh()
    b.introspect("some-token-value")
    times = [t for _, t in session.sent]
    assert len(times) == 32
    # at most the burst (20) plus rate x elapsed calls in any window starting at the first call
    for i, t in enumerate(times):
        assert i + 1 <= rate + rate * (t - times[0]) + 1, f"call {i + 1} went {t - times[0]:.3f} s in"
    assert times[-1] - times[0] >= (32 - 20) / rate - 0.02
    # non-auth calls are not in that bucket (and pacing never counts in elapsed_ms)
    session.sent.clear()
    for _ in range(5):
        a.health()
    assert session.sent[-1][1] - session.sent[0][1] < 4 / rate


def test_other_calls_are_paced_by_the_api_bucket(clean_env: Any, server: ScriptedServer) -> None:
    settings = Settings.load({"PERMISO_BASE_URL": server.url, "PERMISO_API_RATE_PER_SECOND": "10",
                              "PERMISO_AUTH_RATE_PER_SECOND": "0"}, env_file=None)
    server.script("GET", "/health", Reply(200, {}))
    session = StampingSession()
    client = make_client(settings, session=session)
    for _ in range(13):
        client.health()
    times = [t for _, t in session.sent]
    assert times[-1] - times[0] >= 0.3 - 0.02  # 10 at once, then 3 more at 0.1 s each
    assert times[9] - times[0] < 0.15


def test_pacer_spacing_with_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(d: float) -> None:
        slept.append(d)

    pacer = AuthPacer(clock=lambda: now[0], sleep=sleep)
    assert [pacer.wait(4) for _ in range(3)] == [0.0, 0.25, 0.5]
    assert pacer.wait(0) == 0.0


def test_bucket_allows_its_burst_then_spaces_and_refills_with_time() -> None:
    now = [100.0]
    pacer = AuthPacer(clock=lambda: now[0], sleep=lambda d: None)
    assert [pacer.wait(4, 3) for _ in range(5)] == [0.0, 0.0, 0.0, 0.25, 0.5]
    now[0] += 10  # idle: the bucket is full again, never more than its capacity
    assert [pacer.wait(4, 3) for _ in range(4)] == [0.0, 0.0, 0.0, 0.25]
    now[0] += 10
    pacer.drain()  # after a flood: start empty
    assert pacer.wait(4, 3) == 0.25


def test_render_is_redacted_and_readable(settings: Settings, server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKEN_BODY, {"Cache-Control": "no-store"}))
    server.script("GET", "/api/v1/users/me", Reply(200, {"id": "u1", "username": "dana"}))
    client = make_client(settings, name="Dana")
    sign_in = client.sign_in("dana", "Render-Pa55word!")
    text = sign_in.exchange.render() + client.me().exchange.render()
    assert "Render-Pa55word!" not in text and "Render-Pa55word%21" not in text
    assert TOKEN_BODY["access_token"] not in text and TOKEN_BODY["refresh_token"] not in text
    assert f"POST {server.url}/api/v1/auth/token [Dana]" in text
    assert "--> 200 in" in text and " ms" in text and "Cache-Control: no-store" in text
    assert "Authorization: Bearer ***" in text and '"username": "dana"' in text


def test_explicit_token_and_no_token(settings: Settings, server: ScriptedServer) -> None:
    server.script("GET", "/api/v1/users/me", Reply(401, {"error": "http_error"}))
    client = make_client(settings)
    client.token = "kept-token-value"
    client.request("GET", "/users/me", token=None)
    client.request("GET", "/users/me", token="other-token-value")
    hits = server.hits("GET", "/api/v1/users/me")
    assert "Authorization" not in hits[0].headers
    assert hits[1].headers["Authorization"] == "Bearer other-token-value"


def test_https_pools_share_one_ssl_context_per_verification_mode(settings: Settings) -> None:
    """Building an SSL context per connection loaded the CA store every time (~50 ms each): the clients'
    HTTPS pools get one shared context instead, which still verifies when verification is on."""
    import ssl

    from support.wire.transport import SharedTLSAdapter, _ssl_context

    one, two = PermisoClient(settings), PermisoClient(settings)
    pool_one = one.session.get_adapter("https://x").poolmanager.connection_pool_kw["ssl_context"]
    pool_two = two.session.get_adapter("https://x").poolmanager.connection_pool_kw["ssl_context"]
    assert isinstance(one.session.get_adapter("https://x"), SharedTLSAdapter)
    assert pool_one is pool_two is _ssl_context(settings.verify)
    assert _ssl_context(False).verify_mode == ssl.CERT_NONE
    assert _ssl_context(True).verify_mode == ssl.CERT_REQUIRED and _ssl_context(True).check_hostname
