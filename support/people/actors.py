"""Named actors of the features (Dana, Mallory, the configured administrator) and their clients.

Why: features speak of people ("Given Dana has signed in"), not of tokens. An :class:`Actor` ties a
name to an identity and its own :class:`~support.wire.client.PermisoClient`, so each actor keeps its own
tokens and every call lands in the scenario's evidence log. :func:`actor` creates a throwaway regular
user on first use of a name, so a step never needs to know how accounts are provisioned.

``context`` is duck-typed (no behave import): it needs ``settings``, ``identities``, ``log`` and, once
set or created here, ``actors``; ``target.base_url`` is used when present.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from support.checks.causes import PreconditionRefused
from support.people.identities import (
    Identity,
    ServiceIdentity,
    configured_admin,
    configured_service_client,
    configured_user,
    require,
)
from support.people.pool import Lease
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

#: phrases the features use for the configured accounts (lower case) -> kind
CONFIGURED = {
    "the configured user": "user",
    "the configured administrator": "admin",
    "the administrator": "admin",
    "the configured service client": "service",
}


@dataclass
class Actor:
    """A named participant of a scenario: who they are and how they talk to Permiso."""

    name: str
    identity: Identity | ServiceIdentity | None
    client: PermisoClient
    notes: dict[str, Any] = field(default_factory=dict)  # what the actor holds: old tokens, ids ...
    #: set when the person is borrowed from the run's people pool (support/people/pool.py)
    lease: Lease | None = None

    @property
    def is_service(self) -> bool:
        return isinstance(self.identity, ServiceIdentity)

    @property
    def signed_in(self) -> bool:
        return self.client.token is not None

    def sign_in(self, scope: str | None = None) -> ApiResponse:
        """Sign in with the actor's own credentials (user or service client). A service client standing
        in for a throwaway (the configured one, see :func:`service_actor`) asks for the scopes the
        scenario gave it unless a scope is named."""
        if isinstance(self.identity, ServiceIdentity):
            if scope is None and self.identity.ask_scopes:
                scope = " ".join(self.identity.ask_scopes)
            return self.client.service_sign_in(self.identity.client_id, self.identity.secret, scope)
        if isinstance(self.identity, Identity):
            return self.client.sign_in(self.identity.username, self.identity.password, scope)
        raise ValueError(f"{self.name} has no credentials")

    def ensure_signed_in(self) -> Actor:
        """Sign in unless already holding a token; a refusal fails the scenario as a precondition
        (``could not prepare (sign Dana in): POST .../auth/token answered 401 (...)``)."""
        if not self.signed_in:
            self.sign_in_as_precondition()
        return self

    def sign_in_as_precondition(self, scope: str | None = None) -> ApiResponse | None:
        """The sign-in of a Given ("Dana has signed in"), which must succeed. A person borrowed from the
        people pool takes over the session the pool keeps for them when it is fresh (no call: returns
        None); otherwise this is a real sign-in, whose session the pool may keep for the next borrower."""
        if self.lease is not None and scope is None and not self.signed_in and self.lease.adopt(self.client):
            return None
        return require(self.sign_in(scope), 200, what=f"sign {self.name} in")

    def __repr__(self) -> str:
        return f"<Actor {self.name} {self.identity!r}>"


def _client(context: Any, name: str) -> PermisoClient:
    target = getattr(context, "target", None)
    base_url = getattr(target, "base_url", None)
    return PermisoClient(context.settings, log=getattr(context, "log", None), base_url=base_url, name=name)


def _actors(context: Any) -> dict[str, Actor]:
    actors = getattr(context, "actors", None)
    if actors is None:
        actors = {}
        context.actors = actors
    return actors


def actor(context: Any, name: str, *, roles: tuple[str, ...] = (), own: bool = False, **fields: Any) -> Actor:
    """The actor called ``name``; on first use a throwaway regular user (or the configured account for
    "the configured user/administrator/service client") with a fresh client. The user is borrowed from
    the run's people pool unless the scenario is destructive, ``fields`` ask for a particular account or
    ``own`` says the step is about making it."""
    actors = _actors(context)
    key = name.strip()
    if key in actors:
        return actors[key]
    kind = CONFIGURED.get(key.lower())
    identity: Identity | ServiceIdentity
    if kind == "user":
        identity = configured_user(context.settings)
    elif kind == "admin":
        identity = configured_admin(context.settings)
    elif kind == "service":
        identity = configured_service_client(context.settings)
    else:
        client = _client(context, key)
        lease = None if fields or own else borrow(context, key, roles, client)
        identity = lease.identity if lease is not None else context.identities.user(key, roles=roles, **fields)
        actors[key] = Actor(key, identity, client, lease=lease)
        return actors[key]
    created = Actor(key, identity, _client(context, key))
    actors[key] = created
    return created


def borrow(context: Any, name: str, roles: tuple[str, ...], client: PermisoClient) -> Lease | None:
    """A person from the run's people pool for ``name`` (None when the scenario may not borrow: no pool,
    or a ``@destructive`` scenario). Handed back when the scenario ends (``context.hand_back``)."""
    pool = getattr(context, "pool", None)
    hand_back = getattr(context, "hand_back", None)
    if pool is None or hand_back is None:
        return None
    lease: Lease = pool.borrow(name, tuple(roles))
    hand_back(lease, client)
    return lease


def service_actor(context: Any, name: str, *, scopes: tuple[str, ...] = (), may_use_configured: bool = False,
                  **fields: Any) -> Actor:
    """An actor that is a throwaway service client (created on first use).

    With ``may_use_configured`` (only for scenarios that never change the client), when the target
    refuses to create one (contract D.1) the configured service client stands in, provided it owns
    every scope asked for and no administrative scope beyond them; it then asks for exactly those
    scopes. Otherwise the refusal fails the scenario as a precondition.
    """
    actors = _actors(context)
    if name in actors:
        return actors[name]
    try:
        identity = context.identities.service_client(name, scopes=scopes, **fields)
    except PreconditionRefused:
        stand_in = configured_stand_in(context, scopes) if may_use_configured else None
        if stand_in is None:
            raise
        identity = stand_in
    created = Actor(name, identity, _client(context, name))
    actors[name] = created
    return created


def configured_stand_in(context: Any, scopes: tuple[str, ...]) -> ServiceIdentity | None:
    """The configured service client, asking for ``scopes``, when it owns them all and no
    administrative scope beyond them (read from a token of its own); else None."""
    if (getattr(context, "capabilities", None) or {}).get("configured_client"):
        return None  # the run found it missing or unusable
    identity = configured_service_client(context.settings)
    probe = _client(context, "the configured service client (scopes)")
    try:
        answer = probe.service_sign_in(identity.client_id, identity.secret)
        if answer.status != 200:
            return None
        text = answer.get("scope")
        owned = set(text.split()) if isinstance(text, str) else set()
        with contextlib.suppress(Exception):
            probe.revoke(str(probe.token))  # the probe's token is not needed any more
    finally:
        probe.close()
    wanted = set(scopes)
    if not wanted <= owned or any(s.startswith("admin:") for s in owned - wanted):
        return None
    identity.ask_scopes = tuple(scopes)
    identity.scopes = tuple(scopes)
    return identity


def anonymous(context: Any, name: str = "a visitor") -> Actor:
    """An actor with no account (unauthenticated calls, hostile probes)."""
    actors = _actors(context)
    if name not in actors:
        actors[name] = Actor(name, None, _client(context, name))
    return actors[name]


def sign_out_all(context: Any) -> None:
    """Sign out every signed-in throwaway actor (scenario teardown); answers are ignored.

    A configured account is never signed out: on the release a logout ends every session of the
    account (contract D.3), including sessions that are not the suite's. Its tokens are revoked instead.
    """
    for each in list(_actors(context).values()):
        if each.client.token:
            configured = bool(getattr(each.identity, "configured", False))
            with contextlib.suppress(Exception):  # teardown must go on; the target may be down
                if configured or each.is_service:
                    each.client.revoke_own_tokens()
                else:
                    each.client.sign_out()
        each.client.close()
