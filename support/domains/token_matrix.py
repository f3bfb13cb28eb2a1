"""Every bad token at every place that consumes one: the token-defect matrix of ``features/tokens``.

Why a matrix: a rule checked where it was first thought of (an expired token refused when asking who is
signed in) says nothing about the other places that take a token. Today's Permiso shows exactly that
kind of gap: refresh tokens work as bearer tokens (D5), a refresh token rotated away still works as a
bearer (D7), introspection calls a revoked token active (D8), a token without ``exp`` never expires
(D31). Each cell of {defect} x {use} is one example row, and its expected outcome comes from the
contract (Part A):

- asking who is signed in and revoking a token, with the bad token as the caller's credential: refused
  as not signed in (A.2 bearer/user guard, 401);
- introspection of the bad token by a legitimate caller: reported inactive (A.3), except a genuine
  refresh token presented where an access token belongs, which introspection reports truthfully as a
  refresh token (RFC 7662), never as an access token;
- refreshing the session with the bad token: refused as ``invalid_grant`` (A.3).

The bad token is made from the person's own tokens, changing one thing: a refresh use starts from her
refresh token, every other use from her access token. Tokens that need the server's key
(``@needs.signing_key``) come from :class:`support.wire.jwt_forge.SigningForge`.

Nothing here imports behave; the caller passes clients and tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hamcrest.core.matcher import Matcher

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error
from support.checks.matchers import has_status
from support.domains.security_checks import introspects_as
from support.wire import jwt_forge
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

#: the places that take a token, as the feature names them
USES = ("asking who is signed in", "introspection", "refreshing the session", "revoking a token")

#: defects that need the server's signing key to make
SIGNED_DEFECTS = ("expired", "not yet valid", "for another audience", "without an expiry",
                  "from another issuer")
#: defects made from genuine tokens by using them (revoking, rotating) or by the wrong kind
USED_DEFECTS = ("revoked", "a refresh token rotated away", "of the wrong type", "forged")
DEFECTS = (*SIGNED_DEFECTS, *USED_DEFECTS)

OUTCOMES = ("refused as not signed in", "refused as invalid_grant", "reported inactive",
            "reported as a refresh token")


def starts_from_refresh(use: str) -> bool:
    """A refresh use is handed a (bad) refresh token; every other use a (bad) access token."""
    _known(use, USES)
    return use == "refreshing the session"


def _known(value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise AssertionError(f"{value!r} is not one of {', '.join(options)}")


@dataclass
class Holder:
    """A person's genuine tokens and a way to open another device of hers."""

    access: str
    refresh: str
    second_device: Callable[[], PermisoClient]  # a new client already signed in as her


def make_bad_token(defect: str, use: str, holder: Holder, forge: jwt_forge.SigningForge | None) -> str:
    """The token Mallory holds: the person's token for ``use`` with exactly one thing wrong."""
    _known(defect, DEFECTS)
    refresh_use = starts_from_refresh(use)
    base = holder.refresh if refresh_use else holder.access
    if defect in SIGNED_DEFECTS:
        if forge is None:
            raise AssertionError(f"a token that is {defect} can only be made with the server's signing key")
        made = {"expired": forge.expired, "not yet valid": forge.not_yet_valid,
                "for another audience": forge.wrong_audience, "from another issuer": forge.wrong_issuer,
                "without an expiry": lambda t: forge.without(t, "exp")}[defect]
        return made(base)
    if defect == "forged":
        return jwt_forge.wrong_key(base)
    if defect == "of the wrong type":
        return holder.access if refresh_use else holder.refresh
    device = holder.second_device()  # revoking or rotating must never touch her own tokens
    if defect == "revoked":
        token = device.refresh_token if refresh_use else device.token
        assert token, "the second device holds no token"
        answer = device.revoke(token)
        if answer.status != 200:
            raise AssertionError(f"the token could not be revoked to prepare the row (status {answer.status})")
        return token
    old = device.refresh_token
    assert old, "the second device holds no refresh token"
    answer = device.refresh()
    if answer.status != 200:
        raise AssertionError(f"the session could not be refreshed to prepare the row (status {answer.status})")
    return old


def present(client: PermisoClient, use: str, token: str, caller_access: str) -> ApiResponse:
    """Present ``token`` for ``use``; introspection is asked by a legitimate caller (``caller_access``)."""
    _known(use, USES)
    if use == "asking who is signed in":
        return client.request("GET", "/users/me", token=token)
    if use == "introspection":
        return client.request("POST", "/auth/introspect", json={"token": token}, token=caller_access)
    if use == "refreshing the session":
        return client.request("POST", "/auth/refresh", json={"refresh_token": token}, token=None)
    return client.request("POST", "/auth/revoke", json={"token": "a-token-that-was-never-issued"}, token=token)


def present_genuine(client: PermisoClient, use: str, holder: Holder) -> ApiResponse:
    """The positive control: the person's genuine token for the same use."""
    token = holder.refresh if starts_from_refresh(use) else holder.access
    return present(client, use, token, holder.access)


def outcome(name: str) -> Matcher[Any]:
    """The matcher of an expected outcome named in the Examples table."""
    _known(name, OUTCOMES)
    if name == "refused as not signed in":
        return is_bearer_refusal()
    if name == "refused as invalid_grant":
        return is_oauth_error("invalid_grant", 401)
    if name == "reported inactive":
        return introspects_as(False)
    return introspects_as(True, "refresh")


def accepted(use: str) -> Matcher[Any]:
    """What the genuine token gets for ``use``: 200, and an active answer for introspection."""
    return introspects_as(True) if use == "introspection" else has_status(200)
