"""Throwaway identities (users, service clients, roles, scopes) with unique names and guaranteed cleanup.

Why: scenarios must be independent and idempotent, and must never lock, disable, change or delete the
configured accounts of a real deployment. So every object a scenario needs is created fresh through
the administrator's API (not self-registration: that is limited to 3 per hour per IP, contract Part B),
named ``pa_<runid>_<pid>_<n>`` so parallel runs and behavex workers never collide, and recorded for
cleanup the moment the server confirms it exists. Cleanup deletes users and clients before roles and
roles before scopes (a role in use cannot be deleted, A.7), tolerates 404 (already gone), and refuses
outright to touch the configured accounts.
"""

from __future__ import annotations

import itertools
import os
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from support.checks.causes import PreconditionRefused, refusal_reason
from support.wire import redaction
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse
from support.wire.settings import Settings

PASSWORD_SPECIALS = "!@#$%^&*(),.?:{}|<>"
_NAME_LOCK = threading.Lock()
_COUNTER = itertools.count(1)


class ProvisioningError(PreconditionRefused):
    """The target refused (or could not supply) something the scenario needs.

    A :class:`~support.checks.causes.PreconditionRefused` (an AssertionError): the scenario is reported as
    *failed* with ``could not prepare (<what>): <METHOD> <path> answered <status> (<reason>)``, one
    redacted line naming the refused call, never as an error of the suite.
    """


class ProtectedAccountError(Exception):
    """An attempt to delete or modify one of the configured accounts."""


class CleanupError(Exception):
    """Some created objects could not be removed (each failure listed, redacted)."""


# ---------------------------------------------------------------------------------------- names
def next_suffix(run_id: str) -> str:
    """``<runid>_<pid>_<n>``: unique per run, per process (behavex workers) and per call (threads)."""
    with _NAME_LOCK:
        n = next(_COUNTER)
    return f"{run_id}_{os.getpid()}_{n}"


def unique_username(run_id: str) -> str:
    return f"pa_{next_suffix(run_id)}"


def unique_client_id(run_id: str) -> str:
    return "pa-" + next_suffix(run_id).replace("_", "-")


def unique_role_name(run_id: str) -> str:
    return f"pa_role_{next_suffix(run_id)}"


def unique_scope_name(run_id: str) -> str:
    return f"pa:{next_suffix(run_id)}"


def generate_password(length: int = 20) -> str:
    """A random password meeting A.5 (8-128 chars, upper, lower, digit, special); registered secret."""
    length = max(8, min(length, 128))
    alphabet = string.ascii_letters + string.digits + PASSWORD_SPECIALS
    while True:
        chars = [secrets.choice(string.ascii_uppercase), secrets.choice(string.ascii_lowercase),
                 secrets.choice(string.digits), secrets.choice(PASSWORD_SPECIALS)]
        chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
        secrets.SystemRandom().shuffle(chars)
        password = "".join(chars)
        if "admin" not in password.lower() and "pass" not in password.lower():
            redaction.register_secret(password)
            return password


def meets_password_policy(password: str) -> bool:
    """A.5 password policy, as the suite understands it."""
    return (8 <= len(password) <= 128 and any(c.isupper() for c in password)
            and any(c.islower() for c in password) and any(c.isdigit() for c in password)
            and any(c in PASSWORD_SPECIALS + '"' for c in password))


# ---------------------------------------------------------------------------------------- records
@dataclass
class Identity:
    """A user account the suite knows the password of."""

    username: str
    email: str
    password: str = field(repr=False)
    id: str | None = None
    roles: tuple[str, ...] = ()
    label: str = ""
    configured: bool = False

    def __repr__(self) -> str:
        return f"Identity({self.label or self.username!r}, username={self.username!r}, id={self.id!r})"


@dataclass
class ServiceIdentity:
    """A service client the suite knows the secret of."""

    client_id: str
    secret: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    name: str = ""
    label: str = ""
    configured: bool = False
    #: the scopes to ask for when no scope is named (a configured client standing in for a throwaway)
    ask_scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"ServiceIdentity({self.label or self.client_id!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class Role:
    id: str
    name: str


@dataclass(frozen=True)
class Scope:
    id: str
    name: str


def configured_user(settings: Settings) -> Identity:
    return Identity(settings.test_user_username, settings.test_user_email,
                    settings.test_user_password.get_secret_value(), label="the configured user",
                    configured=True)


def configured_admin(settings: Settings) -> Identity:
    return Identity(settings.test_admin_username, settings.test_admin_email,
                    settings.test_admin_password.get_secret_value(), roles=("admin",),
                    label="the configured administrator", configured=True)


def configured_service_client(settings: Settings) -> ServiceIdentity:
    return ServiceIdentity(settings.test_client_id, settings.test_client_secret.get_secret_value(),
                           label="the configured service client", configured=True)


def is_protected(settings: Settings, *, username: str | None = None, client_id: str | None = None) -> bool:
    """True for the configured administrator, user and service client."""
    return bool((username and username.lower() in settings.protected_usernames)
                or (client_id and client_id.lower() in settings.protected_client_ids))


def ensure_not_protected(settings: Settings, *, username: str | None = None,
                         client_id: str | None = None, action: str = "change") -> None:
    """Raise :class:`ProtectedAccountError` before anything would delete/modify a configured account."""
    if is_protected(settings, username=username, client_id=client_id):
        who = username or client_id
        raise ProtectedAccountError(f"refusing to {action} the configured account {who!r}")


def _roles_of(user: Any) -> list[Mapping[str, Any]]:
    """The ``roles`` objects of a user JSON (A.6), or none."""
    roles = user.get("roles") if isinstance(user, Mapping) else None
    return [r for r in roles if isinstance(r, Mapping)] if isinstance(roles, list) else []


def items_of_body(body: Any, key: str) -> list[Mapping[str, Any]]:
    """The objects of a list answer's body (``{key: [...]}`` or a bare list); anything else: none."""
    if isinstance(body, list):
        return [b for b in body if isinstance(b, Mapping)]
    if isinstance(body, Mapping) and isinstance(body.get(key), list):
        return [b for b in body[key] if isinstance(b, Mapping)]
    return []


def refused(response: ApiResponse, what: str, reason: str | None = None) -> ProvisioningError:
    """The precondition failure for a refused setup call (``raise refused(answer, "create a role")``):
    the call, its status and a short reason read from the body, redacted and on one line."""
    exchange = getattr(response, "exchange", None)
    method = getattr(exchange, "method", "?")
    path = urlsplit(redaction.redact_url(getattr(exchange, "url", "") or "")).path or "?"
    text = reason if reason is not None else refusal_reason(getattr(response, "body", None))
    text = redaction.redact_text(" ".join(str(text).split()))[:200]
    return ProvisioningError(method, path, int(getattr(response, "status", 0) or 0), text, what=what)


def require(response: ApiResponse, *ok: int, what: str) -> ApiResponse:
    """``response`` when its status is one of ``ok`` (default: any 2xx), else :func:`refused`.
    For Given steps and the helpers that prepare a scenario's world."""
    status = int(getattr(response, "status", 0) or 0)
    if (status in ok) if ok else 200 <= status < 300:
        return response
    raise refused(response, what)


def _refusal(what: str, response: ApiResponse) -> ProvisioningError:
    return refused(response, f"create {what}")


# ---------------------------------------------------------------------------------------- factory
@dataclass
class _Tracked:
    kind: str  # "user" | "client" | "role" | "scope"
    key: str  # user id, client_id, role id, scope id
    name: str  # username / client_id / role or scope name (for the guard and messages)


_CLEANUP_ORDER = {"user": 0, "client": 1, "role": 2, "scope": 3}


class Identities:
    """Creates throwaway objects through the administrator client and removes them at cleanup.

    ``cleanup`` registers a callable to run at the end of the scenario (behave's
    ``context.add_cleanup``); it is called once, the first time something is created, with a
    callable that removes everything created so far and later (users, clients, roles, scopes).
    """

    def __init__(self, admin: PermisoClient, settings: Settings,
                 cleanup: Callable[[Callable[[], None]], None]) -> None:
        self.admin = admin
        self.settings = settings
        self._register_cleanup = cleanup
        self._tracked: list[_Tracked] = []
        self._lock = threading.Lock()
        self._cleanup_registered = False
        self._role_ids: dict[str, str] = {}
        self._scope_ids: dict[str, str] = {}
        self.users: list[Identity] = []
        self.clients: list[ServiceIdentity] = []

    # ------------------------------------------------------------------ tracking
    def _track(self, kind: str, key: str, name: str) -> None:
        with self._lock:
            self._tracked.append(_Tracked(kind, key, name))
            register = not self._cleanup_registered
            self._cleanup_registered = True
        if register:
            self._register_cleanup(self.cleanup)

    def track_user(self, user_id: str, username: str | None = None) -> None:
        """Record a user created by other means (registration) for deletion at cleanup."""
        if username is not None:
            ensure_not_protected(self.settings, username=username, action="track for deletion")
        self._track("user", user_id, username or "")

    def track_client(self, client_id: str) -> None:
        ensure_not_protected(self.settings, client_id=client_id, action="track for deletion")
        self._track("client", client_id, client_id)

    def track_role(self, role_id: str, name: str = "") -> None:
        """Record a role created by other means (a scenario's own API call) for deletion at cleanup."""
        self._track("role", role_id, name)

    def track_scope(self, scope_id: str, name: str = "") -> None:
        """Record a scope created by other means for deletion at cleanup."""
        self._track("scope", scope_id, name)

    def forget(self, kind: str, key: str) -> None:
        """Stop tracking an object that is already gone (deleted on purpose before the cleanup)."""
        with self._lock:
            self._tracked = [t for t in self._tracked if (t.kind, t.key) != (kind, key)]

    @property
    def tracked(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of everything awaiting cleanup, in creation order."""
        with self._lock:
            return [(t.kind, t.key) for t in self._tracked]

    # ------------------------------------------------------------------ lookups
    def role_id(self, role: str | Role) -> str:
        """The id of a role given by name (default roles included) or as a :class:`Role`.

        Read from the role list; when the target refuses the list (contract D.1: the release asks the
        administrator for a ``current_user`` query parameter), from the user routes instead: the
        roles the administrator and the listed accounts hold carry their ids (A.6 user JSON). A role
        found nowhere fails the scenario as a precondition naming the refused list call.
        """
        if isinstance(role, Role):
            return role.id
        if role in self._role_ids:
            return self._role_ids[role]
        listing = self.admin.list_roles()
        if listing.status == 200:
            for item in items_of_body(listing.body, "roles"):
                self._role_ids[str(item.get("name"))] = str(item.get("id"))
            if role in self._role_ids:
                return self._role_ids[role]
        self._learn_roles_from_users(role)
        if role in self._role_ids:
            return self._role_ids[role]
        if listing.status == 200:
            raise refused(listing, f"the role {role!r}",
                          f"no role named {role!r} among {len(items_of_body(listing.body, 'roles'))} listed")
        raise refused(listing, f"the id of the role {role!r}")

    def _learn_roles_from_users(self, wanted: str) -> None:
        """Note the ids of the roles the administrator and the listed accounts hold (user JSON)."""
        me = self.admin.me()
        users: list[Any] = [me.body] if me.status == 200 else []
        if not any(r.get("name") == wanted for u in users for r in _roles_of(u)):
            listing = self.admin.list_users(per_page=100)
            if listing.status == 200:
                users += items_of_body(listing.body, "users")
        for user in users:
            for item in _roles_of(user):
                if item.get("name") and item.get("id"):
                    self._role_ids.setdefault(str(item["name"]), str(item["id"]))

    def scope_id(self, scope: str | Scope) -> str:
        """The id of a scope given by name or as a :class:`Scope`.

        Read from the scope list; a refused list (D.1) or a scope the list lacks fails the scenario as
        a precondition that names the list call (the scope may well exist: only its id is unknown).
        """
        if isinstance(scope, Scope):
            return scope.id
        if scope in self._scope_ids:
            return self._scope_ids[scope]
        listing = self.admin.list_scopes()
        if listing.status != 200:
            raise refused(listing, f"the id of the scope {scope!r}")
        for item in items_of_body(listing.body, "scopes"):
            self._scope_ids[str(item.get("name"))] = str(item.get("id"))
        if scope not in self._scope_ids:
            raise refused(listing, f"the scope {scope!r}",
                          f"no scope named {scope!r} among {len(items_of_body(listing.body, 'scopes'))} listed")
        return self._scope_ids[scope]

    # ------------------------------------------------------------------ creation
    def user(self, label: str = "", *, roles: Iterable[str | Role] = (), active: bool = True,
             verified: bool = True, password: str | None = None, **fields: Any) -> Identity:
        """A fresh user created through ``POST /users/`` (A.6), recorded for cleanup at creation."""
        username = unique_username(self.settings.permiso_run_id)
        password = password or generate_password()
        redaction.register_secret(password)
        roles = tuple(roles)
        body: dict[str, Any] = {
            "username": username, "email": f"{username}@example.com", "password": password,
            "first_name": label or "Test", "last_name": "Acceptance", "is_active": active,
            "is_verified": verified, "role_ids": [self.role_id(r) for r in roles],
        }
        body.update(fields)
        response = self.admin.create_user(**body)
        if response.status != 201 or not isinstance(response.body, Mapping) or "id" not in response.body:
            raise _refusal(f"user {username!r}", response)
        user_id = str(response.body["id"])
        self._track("user", user_id, username)
        identity = Identity(username=str(body["username"]).lower(), email=str(body["email"]),
                            password=password, id=user_id,
                            roles=tuple(r.name if isinstance(r, Role) else r for r in roles), label=label)
        self.users.append(identity)
        return identity

    def service_client(self, label: str = "", *, scopes: Iterable[str | Scope] = (),
                       **fields: Any) -> ServiceIdentity:
        """A fresh confidential service client (A.8), recorded for cleanup at creation."""
        client_id = unique_client_id(self.settings.permiso_run_id)
        scopes = tuple(scopes)
        body: dict[str, Any] = {
            "name": f"{label or 'Acceptance'} client {client_id}"[:100], "client_id": client_id,
            "client_type": "confidential", "is_active": True, "is_trusted": False,
            "scope_ids": [self.scope_id(s) for s in scopes],
            "description": "throwaway client of the acceptance suite",
        }
        body.update(fields)
        response = self.admin.create_client(**body)
        payload = response.body if isinstance(response.body, Mapping) else {}
        client = payload.get("client") if isinstance(payload.get("client"), Mapping) else {}
        secret = payload.get("client_secret")
        if response.status != 201 or not secret:
            raise _refusal(f"service client {client_id!r}", response)
        actual_id = str(client.get("client_id") or body["client_id"])
        self._track("client", actual_id, actual_id)
        redaction.register_secret(secret)
        identity = ServiceIdentity(client_id=actual_id, secret=str(secret),
                                   scopes=tuple(s.name if isinstance(s, Scope) else s for s in scopes),
                                   name=str(body["name"]), label=label)
        self.clients.append(identity)
        return identity

    def role(self, label: str = "", *, scopes: Iterable[str | Scope] = (), description: str | None = None,
             name: str | None = None) -> Role:
        """A fresh role (A.7) holding the given scopes, recorded for cleanup at creation."""
        name = name or unique_role_name(self.settings.permiso_run_id)
        response = self.admin.create_role(name, description or f"acceptance role {label}".strip(),
                                          [self.scope_id(s) for s in scopes])
        if response.status != 201 or not isinstance(response.body, Mapping) or "id" not in response.body:
            raise _refusal(f"role {name!r}", response)
        role = Role(str(response.body["id"]), name)
        self._track("role", role.id, name)
        self._role_ids[name] = role.id
        return role

    def scope(self, label: str = "", *, resource: str | None = None, action: str | None = None,
              description: str | None = None, name: str | None = None) -> Scope:
        """A fresh scope ``pa:<suffix>`` (A.7), recorded for cleanup at creation."""
        if name is None:
            name = unique_scope_name(self.settings.permiso_run_id)
        res, _, act = name.partition(":")
        response = self.admin.create_scope(name, description or f"acceptance scope {label}".strip(),
                                           resource or res, action or act or "use")
        if response.status != 201 or not isinstance(response.body, Mapping) or "id" not in response.body:
            raise _refusal(f"scope {name!r}", response)
        scope = Scope(str(response.body["id"]), name)
        self._track("scope", scope.id, name)
        self._scope_ids[name] = scope.id
        return scope

    # ------------------------------------------------------------------ guarded changes
    def deactivate(self, identity: Identity) -> ApiResponse:
        """Disable a throwaway user (``is_active: false``); never a configured account."""
        ensure_not_protected(self.settings, username=identity.username, action="disable")
        return self.admin.update_user(str(identity.id), is_active=False)

    def delete(self, identity: Identity) -> ApiResponse:
        """Delete a throwaway user now (the later cleanup then tolerates the 404)."""
        ensure_not_protected(self.settings, username=identity.username, action="delete")
        return self.admin.delete_user(str(identity.id))

    def assign_roles(self, identity: Identity, roles: Iterable[str | Role]) -> ApiResponse:
        ensure_not_protected(self.settings, username=identity.username, action="change the roles of")
        return self.admin.set_user_roles(str(identity.id), [self.role_id(r) for r in roles])

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> None:
        """Remove everything created: users, clients, roles, scopes (each newest first); 404 is fine."""
        with self._lock:
            tracked = list(self._tracked)
            self._tracked.clear()
            self._cleanup_registered = False
        ordered = sorted(reversed(tracked), key=lambda t: _CLEANUP_ORDER[t.kind])
        failures: list[str] = []
        for item in ordered:
            try:
                self._remove(item)
            except ProtectedAccountError as exc:
                failures.append(str(exc))
            except Exception as exc:  # keep cleaning the rest; report every failure at the end
                failures.append(f"{item.kind} {item.name or item.key}: "
                                f"{redaction.redact_text(' '.join(str(exc).split()))[:200]}")
        if failures:
            raise CleanupError("cleanup incomplete: " + "; ".join(failures))

    def _remove(self, item: _Tracked) -> None:
        if item.kind == "user":
            name = item.name
            if not name:  # tracked without a username: learn it before deleting anything
                found = self._call(lambda: self.admin.get_user(item.key))
                if found.status == 404:
                    return
                name = str(found.body.get("username", "")) if isinstance(found.body, Mapping) else ""
                if not name:
                    raise CleanupError(f"cannot tell who user {item.key} is (status {found.status})")
            ensure_not_protected(self.settings, username=name, action="delete")
            response = self._call(lambda: self.admin.delete_user(item.key))
        elif item.kind == "client":
            ensure_not_protected(self.settings, client_id=item.key, action="delete")
            response = self._call(lambda: self.admin.delete_client(item.key))
        elif item.kind == "role":
            response = self._call(lambda: self.admin.delete_role(item.key))
        else:
            response = self._call(lambda: self.admin.delete_scope(item.key))
        if response.status not in (200, 202, 204, 404):
            raise CleanupError(f"delete answered {response.status}")

    def _call(self, fn: Callable[[], ApiResponse]) -> ApiResponse:
        """Call; on 401 (administrator token expired) sign the administrator in again once."""
        response = fn()
        if response.status == 401:
            signed = self.admin.sign_in(self.settings.test_admin_username,
                                        self.settings.test_admin_password.get_secret_value())
            if signed.status == 200:
                response = fn()
        return response
