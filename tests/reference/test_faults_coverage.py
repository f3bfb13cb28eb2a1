"""Probes of the faults added for systematic coverage: the API description in production (D17), service
client allow-lists (D24), "my own" reads that answer somebody else, and introspection of a changed
account (D8 family).

Each probe runs once on a clean server (the contract) and once with only its fault on. The allow-list
pure function and the production profile's settings are tested directly as well.
"""

from __future__ import annotations

import pytest
from helpers import (
    Api,
    Registry,
    ServerPool,
    assert_oauth_error,
    assert_security_headers,
    assert_status,
    body_of,
    describe,
    probe_registry,
    run_probe,
)

PROBES: Registry = {}
register = probe_registry(PROBES)

DOCS_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
ELSEWHERE = "203.0.113.7"  # a documentation address (RFC 5737): only a string in the client's record


# -- D17 -------------------------------------------------------------------------------------------
@register("docs_public_in_production", environment="production")
def _docs_public(api: Api, faulty: bool) -> None:
    for path in DOCS_PATHS:
        resp = api.get(path, api=False)
        if faulty:
            assert_status(resp, 200)
        else:
            assert_status(resp, 404)
            assert body_of(resp) == {"detail": "Not Found"}, describe(resp)
            assert_security_headers(resp)
    health = api.get("/health", api=False)
    assert_status(health, 200)
    assert health.json()["environment"] == "production", describe(health)


def test_docs_are_public_outside_production(api: Api) -> None:
    """The gate is about production only: the ordinary reference serves the description."""
    assert api.get("/health", api=False).json()["environment"] != "production"
    for path in DOCS_PATHS:
        assert_status(api.get(path, api=False), 200)


# -- D24 -------------------------------------------------------------------------------------------
@register("allow_list_not_enforced")
def _allow_list(api: Api, faulty: bool) -> None:
    elsewhere = api.create_client(scopes=("service:api",), allowed_ips=[ELSEWHERE])
    here = api.create_client(scopes=("service:api",), allowed_ips=["127.0.0.1", "::1"])
    anywhere = api.create_client(scopes=("service:api",))
    refused = api.service_sign_in(elsewhere.client_id, elsewhere.secret)
    wrong_secret = api.service_sign_in(elsewhere.client_id, elsewhere.secret + "x")
    assert_oauth_error(wrong_secret, 401, "invalid_client")
    if faulty:
        assert_status(refused, 200)
    else:
        body = assert_oauth_error(refused, 401, "invalid_client")
        # the allow-list is not revealed: the answer is exactly a wrong secret's
        assert body == wrong_secret.json(), (describe(refused), describe(wrong_secret))
        events = api.get("/admin/security/events", token=api.admin, params={"event_type": "client_auth_failed"})
        assert_status(events, 200)
        assert "allow-list" in events.text, describe(events)
    for client in (here, anywhere):
        assert_status(api.service_sign_in(client.client_id, client.secret), 200)


def test_address_allowed_rules() -> None:
    """No list allows everyone; addresses and networks match; IPv4-mapped IPv6 counts as IPv4."""
    from permiso_reference.accounts import address_allowed

    assert address_allowed("10.0.0.1", None)
    assert address_allowed("10.0.0.1", "[]")
    assert address_allowed("127.0.0.1", '["127.0.0.1", "::1"]')
    assert address_allowed("::1", ["127.0.0.1", "::1"])
    assert address_allowed("::ffff:127.0.0.1", ["127.0.0.1"])
    assert address_allowed("192.168.4.20", ["192.168.4.0/24"])
    assert not address_allowed("127.0.0.1", [ELSEWHERE])
    assert not address_allowed("unknown", ["127.0.0.1"])
    assert not address_allowed("192.168.5.20", ["192.168.4.0/24", "not-an-address"])


# -- isolation -------------------------------------------------------------------------------------
@register("whoami_last_signed_in")
def _whoami_last(api: Api, faulty: bool) -> None:
    first, last = api.create_user(), api.create_user()
    first_token = api.user_token(first)["access_token"]
    api.user_token(last)
    for path in ("/users/me", "/users/profile"):
        resp = api.get(path, token=first_token)
        assert_status(resp, 200)
        assert resp.json()["id"] == (last.id if faulty else first.id), describe(resp)


@register("sessions_list_everyone")
def _sessions_everyone(api: Api, faulty: bool) -> None:
    mine, theirs = api.create_user(), api.create_user()
    own = api.user_token(mine)
    other = api.user_token(theirs)
    resp = api.get("/sessions/", token=own["access_token"])
    assert_status(resp, 200)
    ids = {s["session_id"] for s in resp.json()["sessions"]}
    assert own["session_id"] in ids, describe(resp)
    assert (other["session_id"] in ids) is faulty, describe(resp)
    usernames = {s["username"] for s in resp.json()["sessions"]}
    assert (theirs.username in usernames) is faulty, describe(resp)


# -- introspection of a changed account (D8 family) ------------------------------------------------
@register("introspect_ignores_account")
def _introspect_account(api: Api, faulty: bool) -> None:
    disabled, revoked = api.create_user(), api.create_user()
    disabled_token = api.user_token(disabled)["access_token"]
    assert_status(api.put(f"/users/{disabled.id}", json={"is_active": False}, token=api.admin), 200)
    revoked_token = api.user_token(revoked)["access_token"]
    assert_status(api.revoke(revoked_token, as_token=api.admin), 200)
    assert api.introspect(disabled_token, as_token=api.admin).json()["active"] is faulty
    # only the account is ignored: a revoked token stays inactive
    assert api.introspect(revoked_token, as_token=api.admin).json()["active"] is False


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
@pytest.mark.parametrize("fault", sorted(PROBES))
def test_fault(pool: ServerPool, fault: str, faulty: bool) -> None:
    """Each fault: contract when off, exactly the fault's answer when on."""
    run_probe(pool, PROBES, fault, faulty)


def test_release_profile_plays_production() -> None:
    """The release profile runs as production and carries the new behaviours."""
    from permiso_reference.config import ReferenceSettings
    from permiso_reference.profiles import apply_profile

    settings = apply_profile(ReferenceSettings(profile="release-1.0"))
    assert settings.environment == "production"
    assert {"docs_public_in_production", "allow_list_not_enforced", "introspect_ignores_account",
            "revoked_introspect_active"} <= settings.faults
    assert apply_profile(ReferenceSettings()).environment == "reference"

