"""Named actors of the features (Dana, Mallory, the configured administrator) and their clients.

Why: features speak of people ("Given Dana has signed in"), not of tokens. An :class:`Actor` ties a
name to an identity and its own :class:`~support.client.PermisoClient`, so each actor keeps its own
tokens and every call lands in the scenario's evidence log. :func:`actor` creates a throwaway regular
user on first use of a name, so a step never needs to know how accounts are provisioned.

``context`` is duck-typed (no behave import): it needs ``settings``, ``identities``, ``log`` and, once
set or created here, ``actors``; ``target.base_url`` is used when present.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from support.client import ApiResponse, PermisoClient
from support.identities import (
    Identity,
    ServiceIdentity,
    configured_admin,
    configured_service_client,
    configured_user,
)

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

    @property
    def is_service(self) -> bool:
        return isinstance(self.identity, ServiceIdentity)

    @property
    def signed_in(self) -> bool:
        return self.client.token is not None

    def sign_in(self, scope: str | None = None) -> ApiResponse:
        """Sign in with the actor's own credentials (user or service client)."""
        if isinstance(self.identity, ServiceIdentity):
            return self.client.service_sign_in(self.identity.client_id, self.identity.secret, scope)
        if isinstance(self.identity, Identity):
            return self.client.sign_in(self.identity.username, self.identity.password, scope)
        raise ValueError(f"{self.name} has no credentials")

    def ensure_signed_in(self) -> Actor:
        """Sign in unless already holding a token; raises AssertionError if the target refuses."""
        if not self.signed_in:
            response = self.sign_in()
            if response.status != 200:
                raise AssertionError(f"{self.name} could not sign in: status {response.status}")
        return self

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


def actor(context: Any, name: str, *, roles: tuple[str, ...] = (), **fields: Any) -> Actor:
    """The actor called ``name``; on first use a throwaway regular user (or the configured account for
    "the configured user/administrator/service client") with a fresh client."""
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
        identity = context.identities.user(key, roles=roles, **fields)
    created = Actor(key, identity, _client(context, key))
    actors[key] = created
    return created


def service_actor(context: Any, name: str, *, scopes: tuple[str, ...] = (), **fields: Any) -> Actor:
    """An actor that is a throwaway service client (created on first use)."""
    actors = _actors(context)
    if name in actors:
        return actors[name]
    identity = context.identities.service_client(name, scopes=scopes, **fields)
    created = Actor(name, identity, _client(context, name))
    actors[name] = created
    return created


def anonymous(context: Any, name: str = "a visitor") -> Actor:
    """An actor with no account (unauthenticated calls, hostile probes)."""
    actors = _actors(context)
    if name not in actors:
        actors[name] = Actor(name, None, _client(context, name))
    return actors[name]


def sign_out_all(context: Any) -> None:
    """Sign out every signed-in actor (scenario teardown); answers are ignored."""
    for each in list(_actors(context).values()):
        if each.client.token and not each.is_service:
            with contextlib.suppress(Exception):  # teardown must go on; the target may be down
                each.client.sign_out()
        each.client.close()
