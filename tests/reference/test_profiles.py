"""Profiles of the reference server: ``contract`` (default) and ``release-1.0`` (contract Part D).

The release profile is checked end to end over HTTP (a handful of Part D answers), and through the CLI:
the ``profiles`` listing, ``--profile`` / ``PERMISO_REFERENCE_PROFILE``, and refusal of an unknown name.
"""

from __future__ import annotations

import os
import re

import httpx
import pytest
from helpers import Api, ServerPool, assert_status, describe, free_port
from test_faults_catalogue import _serve, _stop, run_cli

from permiso_reference.config import ReferenceSettings
from permiso_reference.faults import BEHAVIOURS, FAULTS, VARIANTS, kind_of
from permiso_reference.profiles import PROFILES, RELEASE_1_0_VARIANTS, apply_profile, get_profile

NAIVE_TEXT = "can't compare offset-naive and offset-aware datetimes"


@pytest.fixture(scope="module")
def release(pool: ServerPool) -> Api:
    """A server playing the release (its own, not pooled with fault servers of other tests)."""
    return pool.api(profile="release-1.0", tls=True)


def test_profiles_are_data() -> None:
    """Profiles name registered behaviours only; the default plays nothing; variants are marked."""
    assert get_profile(None).name == "contract" and not get_profile("contract").faults
    release = get_profile("release-1.0")
    assert release.faults <= set(BEHAVIOURS)
    assert release.faults >= RELEASE_1_0_VARIANTS and set(VARIANTS) >= RELEASE_1_0_VARIANTS
    assert {kind_of(n) for n in RELEASE_1_0_VARIANTS} == {"variant"}
    assert not set(FAULTS) & set(VARIANTS)
    with pytest.raises(ValueError, match="unknown profile: nope"):
        get_profile("nope")


def test_faults_add_to_a_profile() -> None:
    """``faults`` given explicitly are added to the profile's, never replace them."""
    settings = apply_profile(ReferenceSettings(profile="release-1.0", faults=frozenset({"slow_health"})))
    assert "slow_health" in settings.faults and "admin_guard_query_param" in settings.faults
    assert apply_profile(ReferenceSettings()).faults == frozenset()


def test_release_admin_route_asks_for_current_user(release: Api) -> None:
    """D1: the administrator's token is not read; 422 names ``query.current_user``."""
    resp = release.get("/roles/", token=release.admin)
    assert_status(resp, 422)
    assert resp.json()["details"][0]["loc"] == ["query", "current_user"], describe(resp)
    assert_status(release.get("/users/", token=release.admin), 200)  # the /users routes read the token


def test_release_lock_gives_500(release: Api) -> None:
    """D2: after 5 wrong passwords the right one answers 500 with the datetime comparison's text."""
    user = release.create_user(roles=())
    release.lock(user)
    resp = release.sign_in(user.username, user.password)
    assert_status(resp, 500)
    body = resp.json()
    assert body["error"] == "internal_error" and NAIVE_TEXT in body["error_description"], describe(resp)
    assert "traceback" in body


def test_release_challenges(release: Api) -> None:
    """D9 as on the release: a bearer 401 has no challenge, a failed refresh keeps ``WWW-Authenticate``."""
    bearer = release.me(None)
    assert_status(bearer, 401)
    assert "www-authenticate" not in bearer.headers, dict(bearer.headers)
    refused = release.refresh("not-a-token")
    assert_status(refused, 401)
    body = refused.json()
    assert refused.headers.get("www-authenticate", "").lower().startswith("bearer"), dict(refused.headers)
    assert body["error"] == "invalid_grant" and body["error_code"] == "invalid_token"  # A.3 variant


def test_release_token_answers(release: Api) -> None:
    """D28 and D34, D30 on the release."""
    token = release.sign_in("testuser", "TestPass123!")
    assert_status(token, 200)
    assert "no-store" not in token.headers.get("cache-control", ""), dict(token.headers)
    grant = release.post("/auth/token", data={"username": "testuser", "password": "TestPass123!",
                                               "grant_type": "client_credentials"})
    assert_status(grant, 422)
    unknown = release.service_sign_in("no-such-client", "x")
    assert_status(unknown, 401)
    assert unknown.json()["status_code"] == 404, describe(unknown)


def test_release_redirect_lacks_permissions_policy(release: Api) -> None:
    """D32: the plain-HTTP 301 carries the other headers but no Permissions-Policy."""
    assert release.http_url
    resp = httpx.get(release.http_url + "/health", follow_redirects=False, timeout=5)
    assert_status(resp, 301)
    assert "permissions-policy" not in resp.headers and resp.headers.get("x-frame-options") == "DENY"


def test_cli_lists_profiles() -> None:
    """``permiso-reference profiles``: one ``name  summary`` line per profile, default first."""
    result = run_cli("profiles")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    names = [re.split(r"\s{2,}", line, maxsplit=1)[0] for line in lines]
    assert names == ["contract", *sorted(n for n in PROFILES if n != "contract")]
    assert all(len(re.split(r"\s{2,}", line, maxsplit=1)) == 2 for line in lines), lines


def test_cli_lists_kinds() -> None:
    """``permiso-reference faults`` shows each entry's kind (fault or variant)."""
    result = run_cli("faults")
    kinds = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert kinds == {name: kind_of(name) for name in BEHAVIOURS}


def test_cli_unknown_profile_refused() -> None:
    """An unknown profile exits 2 with one clear line (by option and by environment)."""
    result = run_cli("serve", "--port", str(free_port()), "--profile", "release-9", "--quiet")
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip().count("\n") == 0 and "release-9" in result.stderr, result.stderr
    env = {**os.environ, "PERMISO_REFERENCE_PROFILE": "no-such-profile"}
    result = run_cli("serve", "--port", str(free_port()), "--quiet", env=env)
    assert result.returncode == 2 and "no-such-profile" in result.stderr, result.stderr


def test_cli_env_profile_served() -> None:
    """PERMISO_REFERENCE_PROFILE picks the profile: the startup line names it and the server plays it."""
    env = {**os.environ, "PERMISO_REFERENCE_PROFILE": "release-1.0", "PERMISO_REFERENCE_FAULTS": ""}
    proc, base_url = _serve(env=env)
    try:
        resp = httpx.get(base_url + "/api/v1/service-clients/", timeout=5)
        assert resp.status_code == 422, resp.text
        assert httpx.get(base_url + "/health", timeout=5).json()["status"] == "healthy"
    finally:
        _stop(proc)


def test_cli_startup_line_names_profile() -> None:
    """The startup line says which profile plays (the only place it shows)."""
    import subprocess
    import sys

    argv = [sys.executable, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())",
            "serve", "--port", str(free_port()), "--profile", "release-1.0", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("permiso-reference listening on http://127.0.0.1:"), line
        assert line.rstrip().endswith("(profile release-1.0)"), line
    finally:
        _stop(proc)
