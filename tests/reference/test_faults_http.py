"""Fault probes for HTTP hygiene: headers, TLS/redirect, banners, CORS and /health latency."""

from __future__ import annotations

import httpx
import pytest
from helpers import (
    SECURITY_HEADERS,
    Api,
    Registry,
    ServerPool,
    assert_security_headers,
    assert_status,
    describe,
    median_ms,
    probe_registry,
    run_probe,
)

PROBES: Registry = {}
register = probe_registry(PROBES)


@register("missing_security_headers")
def _missing_headers(api: Api, faulty: bool) -> None:
    for resp in (api.get("/health", api=False), api.me(None), api.get("/nope", api=False)):
        if faulty:
            for name in SECURITY_HEADERS:
                assert name not in resp.headers, describe(resp)
        else:
            assert_security_headers(resp)


@register("hsts_missing", tls=True)
def _hsts(api: Api, faulty: bool) -> None:
    for resp in (api.get("/health", api=False), api.me(None)):
        assert ("strict-transport-security" in resp.headers) is not faulty, dict(resp.headers)
        assert_security_headers(resp)


@register("server_version_leak")
def _banner(api: Api, faulty: bool) -> None:
    resp = api.get("/health", api=False)
    leaked = "uvicorn" in resp.headers.get("server", "").lower() or "x-powered-by" in resp.headers
    assert leaked is faulty, dict(resp.headers)


@register("http_not_redirected", tls=True)
def _not_redirected(api: Api, faulty: bool) -> None:
    assert api.http_url, "TLS server without an HTTP port"
    resp = httpx.get(api.http_url + "/health", follow_redirects=False, timeout=5)
    if faulty:
        assert_status(resp, 200)
        assert resp.json()["status"] == "healthy"
    else:
        assert_status(resp, 301)
        assert resp.headers["location"].startswith("https://")


@register("cors_any_origin")
def _cors(api: Api, faulty: bool) -> None:
    origin = "https://evil.example"
    resp = api.get("/health", api=False, headers={"Origin": origin})
    reflected = resp.headers.get("access-control-allow-origin") == origin
    creds = resp.headers.get("access-control-allow-credentials", "").lower() == "true"
    assert (reflected and creds) is faulty, dict(resp.headers)


@register("slow_health")
def _slow_health(api: Api, faulty: bool) -> None:
    elapsed = median_ms(lambda: api.get("/health", api=False), 5)
    if faulty:
        assert elapsed >= 140, f"/health took {elapsed:.0f} ms"
    else:
        assert elapsed < 100, f"/health took {elapsed:.0f} ms"


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
@pytest.mark.parametrize("fault", sorted(PROBES))
def test_fault(pool: ServerPool, fault: str, faulty: bool) -> None:
    """Clean server: contract behaviour; server with only ``fault`` on: the table's misbehaviour."""
    run_probe(pool, PROBES, fault, faulty)
