"""Who tries each administrative function: the callers of the access-control matrix and of the
availability table (a visitor, Dana, a service client, the administrator), each signed in as they need,
and the calls that need more than the catalogue's body (a sign-in, a token refresh, a password change).

A module of its own because it puts people in front of the catalogue: it signs callers in and drives
several of them through the same request, while :mod:`support.domains.admin_catalogue` (what to call) and
:mod:`support.domains.admin_flows` (the scenario's memory) know nothing of it. Contract parts: A.2 (the
guards each caller meets), A.1 (every documented endpoint answers the caller it is meant for), D.1 (the
configured service client, and a target that refuses to create throwaways).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from support.checks.causes import PreconditionRefused
from support.domains.admin_catalogue import (
    _configured_client_usable,
    admin_targets,
    call,
    endpoint,
    made_up_targets,
    needs_of,
    subject_targets,
)
from support.domains.admin_flows import Targets, admin_book, subject_client
from support.people.actors import Actor, actor, anonymous, service_actor
from support.people.identities import Identity, configured_service_client, generate_password, require
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

# ---------------------------------------------------------------------------------------- callers

CALLERS = ("a visitor", "Dana", "a service client", "the administrator")


def caller(context: Any, who: str) -> Actor:
    """The actor for a caller of the matrix / availability tables, signed in when it has an account.

    ``a visitor``: nobody signed in; ``Dana`` (any capitalised name): a throwaway regular user;
    ``a service client``: the configured service client (it exists on every deployment the suite
    signs off, D.1), or a throwaway client owning ``service:api`` when it is missing or holds an
    administrative scope; ``the administrator``: the configured administrator (its feature-wide
    client, already signed in by the hooks' helper).
    """
    if who == "a visitor":
        return anonymous(context, "a visitor")
    if who == "a service client":
        return service_caller(context)
    if who == "the administrator":
        from support.wire.admin_session import ensure_admin

        return Actor("the administrator", None, ensure_admin(context))
    return actor(context, who).ensure_signed_in()


def service_caller(context: Any) -> Actor:
    """The service client of the matrix: the configured one when usable, else a throwaway."""
    actors = getattr(context, "actors", None)
    if actors is not None and "a service client" in actors:
        return actors["a service client"]  # type: ignore[no-any-return]
    if _configured_client_usable(context):
        someone = Actor("a service client", configured_service_client(context.settings),
                        PermisoClient(context.settings, log=getattr(context, "log", None),
                                      base_url=getattr(getattr(context, "target", None), "base_url", None),
                                      name="a service client"))
        answer = require(someone.sign_in(), 200, what="a token for the configured service client")
        granted = answer.get("scope")
        if not (isinstance(granted, str) and any(s.startswith("admin:") for s in granted.split())):
            if actors is None:
                context.actors = actors = {}
            actors["a service client"] = someone
            return someone
        someone.client.close()
    return service_actor(context, "a service client", scopes=("service:api",)).ensure_signed_in()


def own_targets(context: Any, someone: Actor, wanted: Iterable[str]) -> Targets:
    """Targets for a caller acting on their own account and session (self endpoints)."""
    targets = subject_targets(context, set(wanted) - {"user_id", "session_id"})
    identity = someone.identity
    if isinstance(identity, Identity):
        targets.user_id = str(identity.id)
    targets.session_id = someone.client.session_id or ""
    return targets


def availability_call(context: Any, who: str, key: str) -> ApiResponse:
    """Call the documented endpoint ``key`` as the caller it is meant for, with a meaningful request."""
    item = endpoint(key)
    someone = caller(context, who)
    wanted = needs_of(item)
    special = _SPECIAL_CALLS.get(item.key)
    if special is not None:
        return special(context, someone)
    if item.guard in ("user", "self", "public", "bearer") and who not in ("a visitor", "the administrator"):
        targets = own_targets(context, someone, wanted)
    elif who == "the administrator":
        targets = admin_targets(context, item)
    else:
        targets = subject_targets(context, wanted)
    return call(context, someone.client, item, targets)


def _token_call(context: Any, someone: Actor) -> ApiResponse:
    dana = actor(context, "Dana")
    assert isinstance(dana.identity, Identity)
    return someone.client.request("POST", "/auth/token", token=None, paced=True,
                                  data={"username": dana.identity.username,
                                        "password": dana.identity.password})


def _service_token_call(context: Any, someone: Actor) -> ApiResponse:
    client = configured_service_client(context.settings) if _configured_client_usable(context) \
        else subject_client(context)
    return someone.client.request("POST", "/auth/service-token", token=None, paced=True,
                                  data={"client_id": client.client_id, "client_secret": client.secret})


def _refresh_call(context: Any, someone: Actor) -> ApiResponse:
    dana = actor(context, "Dana").ensure_signed_in()
    return someone.client.request("POST", "/auth/refresh", token=None, paced=True,
                                  json={"refresh_token": dana.client.refresh_token})


def _introspect_call(context: Any, someone: Actor) -> ApiResponse:
    return someone.client.introspect(str(someone.client.token))


def _revoke_call(context: Any, someone: Actor) -> ApiResponse:
    return someone.client.revoke("not-a-token-" + secrets.token_hex(4))


def _password_call(context: Any, someone: Actor) -> ApiResponse:
    identity = someone.identity
    assert isinstance(identity, Identity), "only a person with an account changes a password"
    new = generate_password()
    answer = someone.client.change_password(str(identity.id), identity.password, new)
    if answer.status == 200:
        identity.password = new
    return answer


_SPECIAL_CALLS: dict[str, Callable[[Any, Actor], ApiResponse]] = {
    "POST /auth/token": _token_call,
    "POST /auth/service-token": _service_token_call,
    "POST /auth/refresh": _refresh_call,
    "POST /auth/introspect": _introspect_call,
    "POST /auth/revoke": _revoke_call,
    "PUT /users/{user_id}/password": _password_call,
}


def attempt_by_each_caller(context: Any, function: str) -> dict[str, ApiResponse]:
    """Every kind of caller tries the same administrative function.

    A visitor, Dana and a service client go first, each addressed to objects that do not exist
    (:func:`made_up_targets`): the guard must refuse them before any lookup, a broken guard changes
    nothing real, and their guards are judged even on a target that refuses to create throwaways.
    Then the administrator, on seeded objects for reads and throwaways for changes
    (:func:`admin_targets`); when the target refuses to prepare those, the refusal is kept in
    ``admin_book(context).admin_refusal`` for the administrator's step to report."""
    item = endpoint(function)
    book = admin_book(context)
    answers: dict[str, ApiResponse] = {}
    book.attempts = answers
    outsiders = made_up_targets(context, needs_of(item))
    for who in CALLERS[:-1]:
        answers[who] = call(context, caller(context, who).client, item, outsiders)
    try:
        targets = admin_targets(context, item)
    except PreconditionRefused as refusal:
        book.admin_refusal = refusal
        return answers
    answers["the administrator"] = call(context, caller(context, "the administrator").client, item, targets)
    return answers
