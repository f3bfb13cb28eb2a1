"""Every account state on every credential path: the account-state matrix of ``features/authentication``.

Why a matrix: a rule checked on one path says nothing about the others. "A disabled account cannot sign
in" was checked, but whether the access token it held before, its refresh token, introspection of that
token and its session list follow suit was not, and today's Permiso lets a wrong password on a disabled
or locked account count (D3) and answers a locked account with server errors (D2). Each cell of
{state} x {path} is one example row; the expected outcome of each comes from the contract:

- A.3/A.5: a disabled account's right password gets 403 ``account_disabled``, a locked one's 423
  ``account_locked``; a deleted account, or an old password, gets 401 ``invalid_grant``;
- A.2/A.5/A.6: tokens of a disabled, locked or deleted account are refused (401), refresh with
  ``invalid_grant`` (A.3), introspection reports them inactive (A.3);
- A.7: a role taken away changes the *next* token only: the token held before keeps working, while a new
  sign-in or refresh no longer carries the role's permissions;
- the contract says nothing about tokens issued before a password change: the reference keeps them
  (the person changed her password on a device she keeps using); docs/decisions.md records the choice.

The account is always a throwaway made for the row (``@destructive``); the configured accounts are never
touched. Nothing here imports behave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hamcrest.core.matcher import Matcher

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error
from support.checks.matchers import _Rule, has_status
from support.domains.security_checks import introspects_as
from support.people import flows
from support.people.identities import Identity, generate_password
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

#: the role a person holds so that "stripped of its role" can take it away: a default role every Permiso
#: seeds, and one the release lets the suite find (its id is read from an account that holds it)
ROLE = "user"
#: a permission that only the role gives (a throwaway account without roles has no scope at all)
ROLE_SCOPE = "read:profile"

STATES = ("left active", "disabled", "locked", "deleted", "given a new password", "stripped of its role")
PATHS = ("signing in with her password", "using the access token she had", "refreshing with the refresh token "
         "she had", "having that access token introspected", "listing her sessions with that access token")
OUTCOMES = ("signed in", "signed in without the role's permissions", "refused as a disabled account",
            "refused as a locked account", "refused as invalid_grant", "accepted", "refused as not signed in",
            "refreshed", "refreshed without the role's permissions", "reported active", "reported inactive")


def _known(value: str, options: Sequence[str]) -> None:
    if value not in options:
        raise AssertionError(f"{value!r} is not one of {', '.join(options)}")


def needs_role(state: str) -> bool:
    """Only the role-taken-away rows give the person a role before she signs in."""
    _known(state, STATES)
    return state == "stripped of its role"


@dataclass
class Before:
    """What the person held before her account changed, and the password she signed in with then."""

    identity: Identity
    access: str
    refresh: str
    old_password: str
    notes: dict[str, Any] = field(default_factory=dict)


def apply_state(state: str, before: Before, admin: PermisoClient, own: PermisoClient, *,
                lock_threshold: int, stranger: Callable[[], PermisoClient]) -> None:
    """Bring the account into ``state`` the way it happens in real life; raise AssertionError (the
    precondition) when the target refuses the change itself."""
    _known(state, STATES)
    who = before.identity
    assert who.id, "the account has no id"
    if state == "left active":
        return
    if state == "disabled":
        _done(admin.update_user(who.id, is_active=False), "the administrator could not disable the account")
    elif state == "deleted":
        _done(admin.delete_user(who.id), "the administrator could not delete the account")
    elif state == "stripped of its role":
        _done(admin.set_user_roles(who.id, []), "the administrator could not take the role away")
    elif state == "given a new password":
        new = generate_password()
        _done(own.change_password(who.id, before.old_password, new), "she could not change her password")
        who.password = new
    else:  # locked: wrong passwords from somewhere else, as an attacker would
        flows.guess_wrongly(stranger(), who.username, before.old_password, lock_threshold)


def _done(answer: ApiResponse, what: str) -> None:
    if not 200 <= answer.status < 300:
        from support.checks.causes import could_not_prepare

        raise could_not_prepare(answer, what)


def attempt(path: str, before: Before, own: PermisoClient, introspector: PermisoClient) -> ApiResponse:
    """Take ``path`` with what the person held before the change."""
    _known(path, PATHS)
    if path == "signing in with her password":
        return own.sign_in(before.identity.username, before.old_password)
    if path == "using the access token she had":
        return own.request("GET", "/users/me", token=before.access)
    if path.startswith("refreshing"):
        return own.request("POST", "/auth/refresh", json={"refresh_token": before.refresh}, token=None)
    if path == "having that access token introspected":
        return introspector.introspect(before.access)
    return own.request("GET", "/sessions/", token=before.access)


def _without_role_scope(signed_in: bool) -> Matcher[Any]:
    def check(item: Any) -> list[str]:
        if getattr(item, "status", None) != 200:
            return [f"status was {getattr(item, 'status', None)}, expected 200"]
        granted = flows.scopes_of(item)
        return [f"the new token still carries {ROLE_SCOPE!r} ({' '.join(granted)})"] if ROLE_SCOPE in granted else []

    what = "a sign-in" if signed_in else "a refresh"
    return _Rule(f"{what} whose token no longer carries the role's permission {ROLE_SCOPE!r}", check)


def outcome(name: str) -> Matcher[Any]:
    """The matcher of an expected outcome named in the Examples table."""
    _known(name, OUTCOMES)
    table: dict[str, Callable[[], Matcher[Any]]] = {
        "signed in": lambda: has_status(200),
        "accepted": lambda: has_status(200),
        "refreshed": lambda: has_status(200),
        "signed in without the role's permissions": lambda: _without_role_scope(True),
        "refreshed without the role's permissions": lambda: _without_role_scope(False),
        "refused as a disabled account": lambda: is_oauth_error("account_disabled", 403),
        "refused as a locked account": flows.a_locked_account_refusal,
        "refused as invalid_grant": lambda: is_oauth_error("invalid_grant", 401),
        "refused as not signed in": lambda: is_bearer_refusal(),
        "reported active": lambda: introspects_as(True),
        "reported inactive": lambda: introspects_as(False),
    }
    return table[name]()
