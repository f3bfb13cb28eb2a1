"""Contract tests of TLS and the plain-HTTP redirect (A.1, Part B)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from helpers import Api, ServerPool, assert_security_headers, assert_status, describe


@pytest.fixture(scope="module")
def tls_api(pool: ServerPool) -> Iterator[Api]:
    """A clean server with TLS and a redirecting HTTP port."""
    yield pool.api(tls=True)


def test_https_serves_api(tls_api: Api) -> None:
    """The base URL is HTTPS and serves the API with HSTS and the security headers."""
    assert tls_api.base_url.startswith("https://")
    resp = tls_api.get("/health", api=False)
    assert_status(resp, 200)
    assert_security_headers(resp)
    hsts = resp.headers.get("strict-transport-security", "")
    assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) > 0, hsts
    err = tls_api.me(None)
    assert_status(err, 401)
    assert "strict-transport-security" in err.headers


@pytest.mark.parametrize(
    "path",
    ["/health", "/api/v1/users/me", "/api/v1/roles/?page=2&x=y", "/deep/unknown/path"],
)
def test_http_redirects_301_keeping_path(tls_api: Api, path: str) -> None:
    """HTTP answers 301 to https://<host><path> (port may differ; scheme, host, path and query kept)."""
    assert tls_api.http_url and tls_api.http_url.startswith("http://"), tls_api.http_url
    resp = httpx.get(tls_api.http_url + path, follow_redirects=False, timeout=5)
    assert_status(resp, 301)
    location = urlsplit(resp.headers["location"])
    wanted = urlsplit(path)
    assert location.scheme == "https", resp.headers["location"]
    assert location.hostname == urlsplit(tls_api.http_url).hostname
    assert location.path == wanted.path, describe(resp)
    assert location.query == wanted.query, describe(resp)
    assert "strict-transport-security" not in resp.headers


def test_redirect_followed_reaches_https(tls_api: Api) -> None:
    """Following the redirect to the HTTPS port (same host) reaches the API."""
    resp = httpx.get(tls_api.http_url + "/health", follow_redirects=False, timeout=5)
    location = urlsplit(resp.headers["location"])
    target = f"{tls_api.base_url}{location.path}"
    assert_status(httpx.get(target, verify=False, timeout=5), 200)


def test_http_post_redirected_not_served(tls_api: Api) -> None:
    """A sign-in over plain HTTP is redirected, never processed."""
    resp = httpx.post(
        tls_api.http_url + "/api/v1/auth/token",
        data={"username": "admin", "password": "AdminPass123!"},
        follow_redirects=False,
        timeout=5,
    )
    assert resp.status_code in (301, 308), describe(resp)
    assert "access_token" not in resp.text
