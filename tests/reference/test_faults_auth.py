"""Fault probes for token validation, refresh, logout, revocation, lockout and sign-in.

For every fault: the clean server shows the contract's behaviour, and a server with only that
fault on misbehaves exactly as the table of ``docs/decisions.md`` says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from helpers import (
    LOCKOUT_SECONDS,
    LOCKOUT_THRESHOLD,
    WRONG_PASSWORD,
    Api,
    Registry,
    ServerPool,
    alg_none,
    assert_oauth_error,
    assert_status,
    assert_unauthorized,
    describe,
    items_of,
    median_ms,
    probe_registry,
    resign,
    run_probe,
    unique,
    wait_until,
)

PROBES: Registry = {}
register = probe_registry(PROBES)


def _bearer_probe(
    api: Api, faulty: bool, make_bad: Callable[[str], str], other_defect: Callable[[str], str] | None = None
) -> None:
    """A doctored access token on GET /users/me: refused when clean, accepted when faulty.

    ``other_defect`` makes a token with a *different* defect, which even the faulty server must
    still refuse (a fault changes exactly one behaviour).
    """
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    resp = api.me(make_bad(token))
    if faulty:
        assert_status(resp, 200)
        assert resp.json()["id"] == user.id
    else:
        assert_unauthorized(resp)
    if other_defect is not None:
        assert_unauthorized(api.me(other_defect(token)))


def _expired_token(token: str) -> str:
    now = int(time.time())
    return resign(token, exp=now - 120, iat=now - 1000, nbf=now - 1000)


def _foreign_signature(token: str) -> str:
    return resign(token, secret="an-attacker-secret-" + "q" * 40)


# --------------------------------------------------------------------------- token validation
@register("expired_token_accepted")
def _expired(api: Api, faulty: bool) -> None:
    _bearer_probe(api, faulty, _expired_token, _foreign_signature)


@register("nbf_not_checked")
def _nbf(api: Api, faulty: bool) -> None:
    now = int(time.time())
    _bearer_probe(api, faulty, lambda t: resign(t, nbf=now + 600), _expired_token)
    _bearer_probe(api, faulty, lambda t: resign(t, iat=now + 600, nbf=now - 10), _foreign_signature)


@register("signature_not_verified")
def _signature(api: Api, faulty: bool) -> None:
    # Claims are still checked: an expired token with a foreign signature stays refused.
    _bearer_probe(api, faulty, _foreign_signature, lambda t: _foreign_signature(_expired_token(t)))


@register("alg_none_accepted")
def _alg_none(api: Api, faulty: bool) -> None:
    _bearer_probe(api, faulty, alg_none, _foreign_signature)


@register("issuer_not_checked")
def _issuer(api: Api, faulty: bool) -> None:
    _bearer_probe(api, faulty, lambda t: resign(t, iss="https://evil.example"), _expired_token)


@register("audience_not_checked")
def _audience(api: Api, faulty: bool) -> None:
    _bearer_probe(api, faulty, lambda t: resign(t, aud=["https://other.example"]), _expired_token)


@register("refresh_as_access")
def _refresh_as_access(api: Api, faulty: bool) -> None:
    user = api.create_user()
    resp = api.me(api.user_token(user)["refresh_token"])
    if faulty:
        assert_status(resp, 200)
    else:
        assert_unauthorized(resp)


# --------------------------------------------------------------------------- refresh
@register("refresh_reuse")
def _refresh_reuse(api: Api, faulty: bool) -> None:
    user = api.create_user()
    first = api.user_token(user)
    assert_status(api.refresh(first["refresh_token"]), 200)
    again = api.refresh(first["refresh_token"])
    if faulty:
        assert_status(again, 200)
    else:
        assert_oauth_error(again, 401, "invalid_grant")


@register("refresh_ignores_revocation")
def _refresh_ignores_revocation(api: Api, faulty: bool) -> None:
    user = api.create_user()
    body = api.user_token(user)
    assert_status(api.logout(body["access_token"]), 200)
    after_logout = api.refresh(body["refresh_token"])
    other = api.user_token(user)
    holder = api.user_token(user)
    assert_status(api.delete(f"/sessions/{other['session_id']}", token=holder["access_token"]), 200, 204)
    after_end = api.refresh(other["refresh_token"])
    for resp in (after_logout, after_end):
        if faulty:
            assert_status(resp, 200)
        else:
            assert_oauth_error(resp, 401, "invalid_grant")


@register("refresh_scope_regrant")
def _refresh_scope_regrant(api: Api, faulty: bool) -> None:
    user = api.create_user()
    first = api.user_token(user, scope="read:profile")
    assert first["scope"] == "read:profile"
    resp = api.refresh(first["refresh_token"])
    assert_status(resp, 200)
    scopes = set((resp.json()["scope"] or "").split())
    if faulty:
        assert scopes == {"read:profile", "write:profile"}, scopes
    else:
        assert scopes == {"read:profile"}, scopes


# --------------------------------------------------------------------------- logout / revoke
@register("logout_not_revoking")
def _logout_not_revoking(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    assert_status(api.logout(token), 200)
    resp = api.me(token)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_unauthorized(resp)


@register("logout_keeps_refresh")
def _logout_keeps_refresh(api: Api, faulty: bool) -> None:
    user = api.create_user()
    one = api.user_token(user)
    two = api.user_token(user)
    assert_status(api.logout(one["access_token"]), 200)
    resp = api.refresh(two["refresh_token"])
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 401, "invalid_grant")
    # Either way the presented access token is revoked.
    assert_unauthorized(api.me(one["access_token"]))


@register("revoke_noop")
def _revoke_noop(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    resp = api.revoke(token, as_token=api.admin)
    assert_status(resp, 200)
    after = api.me(token)
    if faulty:
        assert_status(after, 200)
    else:
        assert_unauthorized(after)


@register("revoked_introspect_active")
def _revoked_introspect_active(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    assert_status(api.revoke(token, as_token=api.admin), 200)
    assert_unauthorized(api.me(token))
    body = api.introspect(token, as_token=api.admin).json()
    assert body["active"] is faulty, body
    # only the revocation check is skipped: a disabled account's token stays inactive under the fault
    other = api.create_user()
    other_token = api.user_token(other)["access_token"]
    assert_status(api.put(f"/users/{other.id}", json={"is_active": False}, token=api.admin), 200)
    assert api.introspect(other_token, as_token=api.admin).json()["active"] is False


# --------------------------------------------------------------------------- lockout
def _locked_answer(api: Api) -> tuple[Any, Any]:
    user = api.create_user()
    api.lock(user)
    return user, api.sign_in(user.username, user.password)


@register("lockout_never")
def _lockout_never(api: Api, faulty: bool) -> None:
    _, resp = _locked_answer(api)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 423, "account_locked")


@register("locked_can_sign_in")
def _locked_can_sign_in(api: Api, faulty: bool) -> None:
    _, resp = _locked_answer(api)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 423, "account_locked")


@register("lock_never_expires")
def _lock_never_expires(api: Api, faulty: bool) -> None:
    user, resp = _locked_answer(api)
    assert_oauth_error(resp, 423, "account_locked")
    unlocked = wait_until(
        lambda: api.sign_in(user.username, user.password).status_code == 200, LOCKOUT_SECONDS * 2.5
    )
    assert bool(unlocked) is not faulty


@register("locked_password_500")
def _locked_password_500(api: Api, faulty: bool) -> None:
    _, resp = _locked_answer(api)
    if faulty:
        assert_status(resp, 500)
        assert "Traceback" in resp.text, describe(resp)
    else:
        assert_oauth_error(resp, 423, "account_locked")


@register("failure_count_not_reset")
def _failure_count_not_reset(api: Api, faulty: bool) -> None:
    user = api.create_user()
    for _ in range(LOCKOUT_THRESHOLD - 1):
        assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    assert_status(api.sign_in(user.username, user.password), 200)
    assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    resp = api.sign_in(user.username, user.password)
    if faulty:
        assert_oauth_error(resp, 423, "account_locked")
    else:
        assert_status(resp, 200)


# --------------------------------------------------------------------------- accounts
def _disable(api: Api, user_id: str) -> None:
    assert_status(api.put(f"/users/{user_id}", json={"is_active": False}, token=api.admin), 200)


@register("disabled_can_sign_in")
def _disabled_can_sign_in(api: Api, faulty: bool) -> None:
    user = api.create_user()
    _disable(api, user.id)
    resp = api.sign_in(user.username, user.password)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 403, "account_disabled")


@register("disabled_token_valid")
def _disabled_token_valid(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    _disable(api, user.id)
    resp = api.me(token)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_unauthorized(resp)


@register("deleted_user_token_valid")
def _deleted_user_token_valid(api: Api, faulty: bool) -> None:
    user = api.create_user()
    token = api.user_token(user)["access_token"]
    assert_status(api.delete(f"/users/{user.id}", token=api.admin), 204)
    resp = api.me(token)
    bearer_only = api.introspect(token, as_token=token)
    if faulty:
        assert_status(resp, 200)
        assert resp.json()["id"] == user.id
        assert_status(bearer_only, 200)
    else:
        assert_unauthorized(resp)
        assert_unauthorized(bearer_only)


@register("wrong_password_granted")
def _wrong_password_granted(api: Api, faulty: bool) -> None:
    user = api.create_user()
    resp = api.sign_in(user.username, WRONG_PASSWORD)
    if faulty:
        assert_status(resp, 200)
    else:
        assert_oauth_error(resp, 401, "invalid_grant")
    # An unknown user never signs in.
    assert_oauth_error(api.sign_in(unique("ghost"), WRONG_PASSWORD), 401, "invalid_grant")


@register("enumeration_message")
def _enumeration_message(api: Api, faulty: bool) -> None:
    user = api.create_user()
    wrong = assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    unknown = assert_oauth_error(api.sign_in(unique("ghost"), WRONG_PASSWORD), 401, "invalid_grant")
    if faulty:
        assert wrong["error_description"] != unknown["error_description"]
    else:
        assert wrong == unknown


@register("enumeration_timing", lockout_threshold=10_000)
def _enumeration_timing(api: Api, faulty: bool) -> None:
    user = api.create_user()
    ghost = unique("ghost")
    api.sign_in(ghost, WRONG_PASSWORD)  # warm up
    diffs = []
    for _ in range(3):
        wrong = median_ms(lambda: api.sign_in(user.username, WRONG_PASSWORD), 5)
        unknown = median_ms(lambda: api.sign_in(ghost, WRONG_PASSWORD), 5)
        diffs.append(wrong - unknown)
    diff = sorted(diffs)[1]
    if faulty:
        assert diff >= 25, f"wrong-password path only {diff:.1f} ms slower"
    else:
        assert abs(diff) < 25, f"timing difference {diff:.1f} ms"


# --------------------------------------------------------------------------- token endpoint hygiene
@register("no_store_missing")
def _no_store_missing(api: Api, faulty: bool) -> None:
    user = api.create_user()
    for resp in (
        api.sign_in(user.username, user.password),
        api.refresh(api.user_token(user)["refresh_token"]),
    ):
        assert_status(resp, 200)
        has_no_store = "no-store" in resp.headers.get("cache-control", "")
        assert has_no_store is not faulty, describe(resp)


@register("missing_www_authenticate")
def _missing_www_authenticate(api: Api, faulty: bool) -> None:
    for resp in (api.me(None), api.me("garbage"), api.sign_in(unique("ghost"), WRONG_PASSWORD)):
        assert_status(resp, 401)
        has = resp.headers.get("www-authenticate", "").lower().startswith("bearer")
        assert has is not faulty, describe(resp)


@register("traceback_in_500")
def _traceback_in_500(api: Api, faulty: bool) -> None:
    for username in ("nul\x00byte", "u" * 5000):
        resp = api.sign_in(username, WRONG_PASSWORD)
        if faulty:
            assert_status(resp, 500)
            assert "Traceback" in resp.text, describe(resp)
        else:
            assert resp.status_code in (401, 422), describe(resp)
            assert "Traceback" not in resp.text


def _event_count(api: Api) -> int:
    resp = api.get("/admin/security/events", params={"hours": 1, "per_page": 100}, token=api.admin)
    assert_status(resp, 200)
    body = resp.json()
    if isinstance(body, dict) and isinstance(body.get("total"), int):
        return int(body["total"])
    return len(items_of(body, "events"))


@register("security_events_missing")
def _security_events_missing(api: Api, faulty: bool) -> None:
    user = api.create_user()
    before = _event_count(api)
    assert_oauth_error(api.sign_in(user.username, WRONG_PASSWORD), 401, "invalid_grant")
    after = _event_count(api)
    if faulty:
        assert after == before
    else:
        assert after > before


@register("rate_limit_off", auth_rate_limit=2.0)
def _rate_limit_off(api: Api, faulty: bool) -> None:
    answers = [api.sign_in(unique("burst"), WRONG_PASSWORD) for _ in range(15)]
    limited = [r for r in answers if r.status_code == 503]
    if faulty:
        assert not limited
        assert all(r.status_code == 401 for r in answers)
    else:
        assert limited, "no 503 after 15 rapid sign-ins at 2/s"
        assert "html" in limited[0].headers.get("content-type", ""), describe(limited[0])
        # Let the bucket refill so later tests on this pooled server are not throttled.
        wait_until(lambda: api.sign_in(unique("x"), WRONG_PASSWORD).status_code == 401, 5, 0.5)


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faulty"])
@pytest.mark.parametrize("fault", sorted(PROBES))
def test_fault(pool: ServerPool, fault: str, faulty: bool) -> None:
    """Clean server: contract behaviour; server with only ``fault`` on: the table's misbehaviour."""
    run_probe(pool, PROBES, fault, faulty)
