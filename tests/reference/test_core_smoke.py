"""Smoke tests of the reference Permiso core, over real HTTP on loopback.

They pin the behaviours everything else builds on: sign-in, refresh rotation, revocation, logout,
lockout and unlock (short window), TLS with the redirecting plain port, start-up time, health
latency, and the CLI (fault listing, unknown fault → exit 2, clean Ctrl-C).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from permiso_reference.config import ReferenceSettings
from permiso_reference.faults import BEHAVIOURS
from permiso_reference.server import ReferenceServer

API = "/api/v1"
SECRET = "core-smoke-secret-" + "x" * 40
WINDOW = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    """One clean server on a free port with a 1 s lockout window."""
    with ReferenceServer(ReferenceSettings(port=0, jwt_secret=SECRET, lockout_seconds=WINDOW,
                                           registration_limit_per_hour=1000)) as srv:
        yield srv


@pytest.fixture
def http(server: ReferenceServer) -> Iterator[httpx.Client]:
    """A client of :func:`server`."""
    with httpx.Client(base_url=server.base_url + API, timeout=5) as client:
        yield client


def _admin(http: httpx.Client) -> str:
    resp = http.post("/auth/token", data={"username": "admin", "password": "AdminPass123!"})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _new_user(http: httpx.Client, password: str = "Sm0ke!Passw0rd") -> tuple[str, str]:
    name = f"pa_smoke_{time.perf_counter_ns() % 10**9}"
    resp = http.post("/users/", headers={"Authorization": f"Bearer {_admin(http)}"},
                     json={"username": name, "email": f"{name}@example.com", "password": password})
    assert resp.status_code == 201, resp.text
    return name, password


def _sign_in(http: httpx.Client, username: str, password: str) -> httpx.Response:
    return http.post("/auth/token", data={"username": username, "password": password})


def _wait_until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_sign_in_shape_and_claims(http: httpx.Client) -> None:
    resp = _sign_in(http, "testuser", "TestPass123!")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert set(body["scope"].split()) == {"read:profile", "write:profile"}
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="permiso-auth")
    assert claims["type"] == "access" and claims["iss"] == "permiso-auth"
    assert claims["sid"] == body["session_id"] and claims["roles"] == ["user"]


def test_wrong_password_and_unknown_user_identical(http: httpx.Client) -> None:
    a = _sign_in(http, "testuser", "Wr0ng!Password")
    b = _sign_in(http, "nobody_here_at_all", "Wr0ng!Password")
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert a.headers["www-authenticate"] == "Bearer"


def test_refresh_rotation_refuses_reuse(http: httpx.Client) -> None:
    first = _sign_in(http, "testuser", "TestPass123!").json()
    second = http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    again = http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401 and again.json()["error"] == "invalid_grant"


def test_revocation_and_introspection(http: httpx.Client) -> None:
    caller = _sign_in(http, "testuser", "TestPass123!").json()["access_token"]
    victim = _sign_in(http, "testuser", "TestPass123!").json()["access_token"]
    auth = {"Authorization": f"Bearer {caller}"}
    assert http.post("/auth/introspect", json={"token": victim}, headers=auth).json()["active"] is True
    assert http.post("/auth/revoke", json={"token": victim}, headers=auth).status_code == 200
    assert http.post("/auth/introspect", json={"token": victim}, headers=auth).json()["active"] is False
    assert http.get("/users/me", headers={"Authorization": f"Bearer {victim}"}).status_code == 401


def test_logout_refuses_token_and_refresh(http: httpx.Client) -> None:
    tokens = _sign_in(http, "testuser", "TestPass123!").json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    resp = http.post("/auth/logout", headers=auth)
    assert resp.json() == {"message": "Logged out successfully", "sessions_terminated": 1}
    assert http.get("/users/me", headers=auth).status_code == 401
    assert http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_lockout_then_unlock_after_window(http: httpx.Client) -> None:
    name, password = _new_user(http)
    for _ in range(5):
        assert _sign_in(http, name, "Wr0ng!Password").status_code == 401
    locked = _sign_in(http, name, password)
    assert locked.status_code == 423 and locked.json()["error"] == "account_locked"
    assert locked.json()["locked_until"]
    _wait_until(lambda: _sign_in(http, name, password).status_code == 200, timeout=WINDOW + 3)


def test_service_token(http: httpx.Client) -> None:
    resp = http.post("/auth/service-token",
                     data={"client_id": "test-client-001", "client_secret": "test-secret-123456789"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["refresh_token"] is None and body["session_id"] is None and body["expires_in"] == 3600
    me = http.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 401


def test_malformed_input_never_500(http: httpx.Client) -> None:
    cases = [
        http.post("/auth/token", content=b"{not json", headers={"content-type": "application/json"}),
        http.post("/auth/refresh", content=b"\xff\xfe", headers={"content-type": "application/json"}),
        http.post("/auth/token", data={"username": "a\x00b", "password": "x"}),
        http.post("/auth/token", data={"username": "u" * 5000, "password": "x"}),
        http.post("/users/register", json={"username": None}),
        http.post("/auth/refresh", content=b"x" * 2_000_000, headers={"content-type": "application/json"}),
    ]
    for resp in cases:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
        assert "Traceback" not in resp.text


def test_tls_redirect_and_start_time() -> None:
    with ReferenceServer(ReferenceSettings(port=0, tls=True, http_port=0)) as srv:
        assert srv.startup_seconds is not None and srv.startup_seconds < 2
        assert srv.http_url and srv.base_url.startswith("https://")
        with httpx.Client(verify=False) as client:
            resp = client.get(srv.base_url + "/health")
            assert resp.status_code == 200 and "strict-transport-security" in resp.headers
            moved = client.get(srv.http_url + "/api/v1/users/me?x=1", follow_redirects=False)
            assert moved.status_code == 301
            assert moved.headers["location"] == f"{srv.base_url}/api/v1/users/me?x=1"
            assert client.get(srv.http_url + "/nginx-health").status_code == 200


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "permiso_reference.cli", *args]


def test_cli_lists_faults() -> None:
    out = subprocess.run(_cli("faults"), capture_output=True, text=True, timeout=30, check=True).stdout
    names = [line.split()[0] for line in out.splitlines()]
    assert names == sorted(BEHAVIOURS)


def test_cli_unknown_fault_exits_2() -> None:
    proc = subprocess.run(_cli("serve", "--port", "0", "--faults", "no_such_fault"),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "no_such_fault" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_serve_and_ctrl_c() -> None:
    env = {**os.environ, "PERMISO_REFERENCE_FAULTS": ""}
    proc = subprocess.Popen(_cli("serve", "--port", "0", "--quiet"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("permiso-reference listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        assert httpx.get(url + "/health", timeout=5).json()["status"] == "healthy"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
