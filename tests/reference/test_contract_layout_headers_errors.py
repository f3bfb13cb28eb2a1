"""Contract tests of the layout (A.1), security headers and error shapes (A.11)."""

from __future__ import annotations

import httpx
import pytest
from helpers import (
    Api,
    ServerPool,
    User,
    assert_error,
    assert_security_headers,
    assert_status,
    assert_validation_error,
    describe,
    unique,
    wait_until,
)


def test_health(api: Api) -> None:
    """GET /health."""
    resp = api.get("/health", api=False)
    assert_status(resp, 200)
    body = resp.json()
    # Extra keys are tolerated; the four documented ones must have these values.
    assert {k: body.get(k) for k in ("status", "service", "version", "environment")} == {
        "status": "healthy",
        "service": "permiso-auth",
        "version": "1.0.0",
        "environment": "reference",
    }, body


def test_root_and_openapi(api: Api) -> None:
    """GET / and /openapi.json."""
    root = api.get("/", api=False)
    assert_status(root, 200)
    assert set(root.json()) >= {"message", "version", "docs", "health"}
    assert_status(api.get("/openapi.json", api=False), 200)


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/users/me/extra/x"])
def test_unknown_path_404(api: Api, path: str) -> None:
    """Unknown paths → 404 {"detail": "Not Found"}."""
    resp = api.get(path, api=False)
    assert_status(resp, 404)
    assert resp.json() == {"detail": "Not Found"}


def test_wrong_method_405(api: Api) -> None:
    """Wrong method → 405 {"detail": "Method Not Allowed"}."""
    resp = api.call("DELETE", "/health", api=False)
    assert_status(resp, 405)
    assert resp.json() == {"detail": "Method Not Allowed"}
    resp = api.get("/auth/token")
    assert_status(resp, 405)


def test_trailing_slash_no_redirect(api: Api, admin_token: str) -> None:
    """Paths are exact: no redirects for a missing slash."""
    resp = api.get("/roles", token=admin_token)
    assert resp.status_code not in (301, 302, 307, 308), describe(resp)


JSON_CT = {"Content-Type": "application/json"}


def _response_classes(api: Api, user: User, admin_token: str) -> dict[str, httpx.Response]:
    """One response of every class the contract names."""
    token = api.user_token(user)["access_token"]
    disposable = api.create_user()
    locked = api.create_user()
    api.lock(locked)
    return {
        "200": api.get("/health", api=False),
        "200-api": api.me(token),
        "201": api.post("/users/", json=api.user_body(), token=admin_token),
        "204": api.delete(f"/users/{disposable.id}", token=admin_token),
        "400": api.post("/users/password-reset/confirm", json={"token": "x", "new_password": "Aa1!aaaaaa"}),
        "401": api.me(None),
        "401-token": api.sign_in(user.username, "Wrong!Pass1"),
        "403": api.get("/users/", token=token),
        "404": api.get("/nope", api=False),
        "405": api.call("PATCH", "/health", api=False),
        "409": api.post("/users/", json=api.user_body(username=user.username), token=admin_token),
        "422": api.post("/auth/token", data={}),
        "423": api.sign_in(locked.username, locked.password),
    }


def test_security_headers_every_class(api: Api, user: User, admin_token: str) -> None:
    """All five security headers on every response class; no HSTS over plain HTTP."""
    for label, resp in _response_classes(api, user, admin_token).items():
        assert resp.status_code == int(label.split("-")[0]), describe(resp)
        assert_security_headers(resp)
        assert "strict-transport-security" not in resp.headers, label


def test_no_server_banner(api: Api) -> None:
    """No Server: uvicorn or X-Powered-By banner."""
    resp = api.get("/health", api=False)
    assert "uvicorn" not in resp.headers.get("server", "").lower()
    assert "x-powered-by" not in resp.headers


def test_cors_does_not_reflect_any_origin(api: Api) -> None:
    """An arbitrary Origin is not reflected with credentials."""
    origin = "https://evil.example"
    simple = api.get("/health", api=False, headers={"Origin": origin})
    pre = api.call(
        "OPTIONS",
        "/users/me",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    for resp in (simple, pre):
        reflected = resp.headers.get("access-control-allow-origin") in (origin, "*")
        creds = resp.headers.get("access-control-allow-credentials", "").lower() == "true"
        assert not (reflected and creds), describe(resp)
        assert resp.status_code < 500


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/users/", {"content": b"\x00\x01\x02", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/users/", {"content": b'{"username": "a\\u0000b"}', "headers": JSON_CT}),
        ("POST", "/users/", {"json": {"username": "x" * 100_000, "email": "a@example.com"}}),
        ("POST", "/auth/refresh", {"content": b"[1,2", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/auth/introspect", {"content": b"token=x", "headers": {"Content-Type": "text/plain"}}),
        ("PUT", "/users/me", {"json": {"email": 5}}),
        ("PUT", "/users/me", {"json": {"bio": "\x00" * 10}}),
        ("POST", "/roles/", {"json": {"name": None}}),
        ("POST", "/service-clients/", {"json": {"name": ["x"]}}),
        ("POST", "/sessions/not-a-uuid/renew", {}),
        ("GET", "/users/not-a-uuid", {}),
        ("GET", "/users/", {"params": {"is_active": "maybe"}}),
        ("PUT", "/users/%00/password", {"json": {}}),
    ],
    ids=[
        "binary", "nul-json", "huge-username", "truncated-json", "wrong-ctype", "email-int", "nul-bio",
        "role-null", "client-list", "session-id", "user-id", "bool-query", "nul-path",
    ],
)  # fmt: skip
def test_malformed_input_never_500(
    api: Api, admin_token: str, method: str, path: str, kwargs: dict[str, object]
) -> None:
    """Malformed input gets a 4xx in the contract's shape, never a 500."""
    resp = api.call(method, path, token=admin_token, **kwargs)
    assert 400 <= resp.status_code < 500, describe(resp)
    assert_security_headers(resp)
    if resp.status_code == 422:
        assert_validation_error(resp)
    elif resp.status_code not in (404, 405):
        assert_error(resp, resp.status_code)


def test_validation_does_not_echo(api: Api, admin_token: str) -> None:
    """422 bodies list {type, loc, msg} and never echo the submitted password."""
    secret = "nouppercase-" + unique()
    resp = api.post("/users/", json=api.user_body(password=secret), token=admin_token)
    body = assert_validation_error(resp, secret)
    assert any("password" in [str(p) for p in d["loc"]] for d in body["details"]), body


def test_not_admin_shape(api: Api, user: User) -> None:
    """Not admin → 403 {"error": "http_error", "error_description": "Access denied"}."""
    token = api.user_token(user)["access_token"]
    body = assert_error(api.get("/users/", token=token), 403, "http_error")
    assert body["error_description"] == "Access denied"


def test_security_headers_on_500_and_shape(pool: ServerPool) -> None:
    """A 500 (forced by a fault) carries the security headers and the A.11 server-error shape."""
    api = pool.api(faults=["bad_reset_token_500"])
    resp = api.post("/users/password-reset/confirm", json={"token": "bogus", "new_password": "Aa1!aaaaaa"})
    assert_status(resp, 500)
    assert_security_headers(resp)
    assert resp.json() == {
        "error": "internal_server_error",
        "error_description": "An internal server error occurred",
    }


def test_security_headers_on_503_rate_limit(pool: ServerPool) -> None:
    """Auth rate-limit rejections are 503 HTML (like the front) and carry the security headers."""
    api = pool.api(auth_rate_limit=2.0)
    answers = [api.sign_in(unique("burst"), "Wrong!Pass1") for _ in range(15)]
    limited = [r for r in answers if r.status_code == 503]
    assert limited, [r.status_code for r in answers]
    assert "html" in limited[0].headers.get("content-type", "")
    assert_security_headers(limited[0])
    # Leave the bucket refilled for later users of this pooled server.
    wait_until(lambda: api.sign_in(unique("x"), "Wrong!Pass1").status_code == 401, 5, 0.5)


def test_security_headers_on_redirect_and_tls(pool: ServerPool) -> None:
    """The 301 of the plain-HTTP port and HTTPS errors carry the security headers too."""
    api = pool.api(tls=True)
    assert api.http_url
    redirect = httpx.get(api.http_url + "/api/v1/users/me", follow_redirects=False, timeout=5)
    assert_status(redirect, 301)
    assert_security_headers(redirect)
    for resp in (api.me(None), api.get("/nope", api=False), api.post("/auth/token", data={})):
        assert_security_headers(resp)
        assert "strict-transport-security" in resp.headers, describe(resp)
