"""The endpoint catalogue of the administration and access-control features: every documented endpoint
(:data:`ENDPOINTS`) with its A.2 guard and a meaningful body, the features' names of the administrative
functions (:data:`FUNCTIONS`, the access-control matrix's rows), the targets a call is addressed to
(throwaways, made-up ids nobody has, the seeded objects an administrator reads) and :func:`call`, which
calls one endpoint and tracks whatever it created.

A module of its own because the catalogue is the domain's reference data: the access-control matrix,
the availability table and the unit tests of the guards all read it, and it changes only when the
contract's endpoint list does. It builds on :mod:`support.domains.admin_flows` (the throwaway objects and
their tracking), which knows nothing of it. Contract parts: A.1-A.3 and A.6-A.10 (the endpoints), A.2
(the guard names), D.1 (the seeded objects a target has).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from support.domains.admin_flows import (
    Targets,
    new_email,
    subject,
    subject_client,
    subject_role,
    subject_scope,
    track_created,
    user_body,
)
from support.people.identities import next_suffix
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

# ---------------------------------------------------------------------------------------- catalogue

Body = Callable[[Any, Targets], Any]


@dataclass(frozen=True)
class Endpoint:
    """One documented endpoint: how to call it meaningfully, and who may (A.2 guard names)."""

    method: str
    path: str  # relative to the API base (or the root when ``api`` is False), {placeholders} allowed
    guard: str  # public | bearer | user | self | admin | scope:<x> | admin_or_scope:<x>
    body: Body | None = None
    query: Mapping[str, Any] | None = None
    api: bool = True
    creates: str | None = None  # user | role | scope | client: a 201 is tracked for cleanup

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def placeholders(self) -> set[str]:
        return set(re.findall(r"\{(\w+)\}", self.path))


def _new_user(context: Any, t: Targets) -> dict[str, Any]:
    return user_body(context)


def _new_role(context: Any, t: Targets) -> dict[str, Any]:
    return {"name": f"pa_role_{next_suffix(t.run_id)}", "description": "acceptance", "scope_ids": []}


def _new_scope(context: Any, t: Targets) -> dict[str, Any]:
    suffix = next_suffix(t.run_id).replace("_", "")
    return {"name": f"read:pa{suffix}", "description": "acceptance", "resource": f"pa{suffix}",
            "action": "read"}


def _new_client(context: Any, t: Targets) -> dict[str, Any]:
    client_id = "pa-" + next_suffix(t.run_id).replace("_", "-")
    return {"name": f"Acceptance client {client_id}", "client_id": client_id,
            "client_type": "confidential", "is_active": True, "is_trusted": False, "scope_ids": []}


def _permission(context: Any, t: Targets) -> dict[str, Any]:
    return {"user_id": t.user_id, "resource": "profile", "action": "read"}


def _bulk(context: Any, t: Targets) -> dict[str, Any]:
    return {"user_id": t.user_id, "permissions": [{"resource": "profile", "action": "read"}]}


def _profile(context: Any, t: Targets) -> dict[str, Any]:
    return {"bio": "updated by the acceptance suite"}


def _no_email(context: Any, t: Targets) -> dict[str, Any]:
    return {"email": new_email(context)}


ENDPOINTS: tuple[Endpoint, ...] = (
    # root (A.1)
    Endpoint("GET", "/health", "public", api=False),
    Endpoint("GET", "/", "public", api=False),
    # auth (A.3)
    Endpoint("POST", "/auth/token", "public"),
    Endpoint("POST", "/auth/service-token", "public"),
    Endpoint("POST", "/auth/refresh", "public"),
    Endpoint("POST", "/auth/introspect", "bearer"),
    Endpoint("POST", "/auth/revoke", "bearer"),
    Endpoint("POST", "/auth/logout", "user"),
    # users (A.6)
    Endpoint("POST", "/users/register", "public", body=lambda c, t: {"username": "x"}),
    Endpoint("GET", "/users/", "admin"),
    Endpoint("POST", "/users/", "admin", body=_new_user, creates="user"),
    Endpoint("GET", "/users/me", "user"),
    Endpoint("GET", "/users/profile", "user"),
    Endpoint("PUT", "/users/me", "user", body=_profile),
    Endpoint("GET", "/users/stats/overview", "admin"),
    Endpoint("GET", "/users/{user_id}", "self"),
    Endpoint("PUT", "/users/{user_id}", "self", body=_profile),
    Endpoint("DELETE", "/users/{user_id}", "admin"),
    Endpoint("PUT", "/users/{user_id}/password", "self"),
    Endpoint("PUT", "/users/{user_id}/roles", "admin", body=lambda c, t: {"role_ids": []}),
    Endpoint("POST", "/users/password-reset/request", "public", body=_no_email),
    Endpoint("POST", "/users/password-reset/confirm", "public",
             body=lambda c, t: {"token": "not-a-reset-token", "new_password": "Val1d!Password"}),
    Endpoint("POST", "/users/email-verification/request", "public", body=_no_email),
    Endpoint("POST", "/users/email-verification/confirm", "public",
             body=lambda c, t: {"token": "not-a-verification-token"}),
    # roles and scopes (A.7)
    Endpoint("GET", "/roles/", "admin"),
    Endpoint("POST", "/roles/", "admin", body=_new_role, creates="role"),
    Endpoint("GET", "/roles/stats", "admin"),
    Endpoint("GET", "/roles/defaults", "admin"),
    Endpoint("GET", "/roles/{role_id}", "admin"),
    Endpoint("PUT", "/roles/{role_id}", "admin", body=lambda c, t: {"description": "renamed by the suite"}),
    Endpoint("PUT", "/roles/{role_id}/scopes", "admin", body=lambda c, t: {"scope_ids": [t.scope_id]}),
    Endpoint("DELETE", "/roles/{role_id}", "admin"),
    Endpoint("GET", "/roles/scopes/", "admin"),
    Endpoint("POST", "/roles/scopes/", "admin", body=_new_scope, creates="scope"),
    Endpoint("GET", "/roles/scopes/{scope_id}", "admin"),
    Endpoint("PUT", "/roles/scopes/{scope_id}", "admin", body=lambda c, t: {"description": "changed"}),
    Endpoint("DELETE", "/roles/scopes/{scope_id}", "admin"),
    Endpoint("POST", "/roles/permissions/check", "scope:admin:permissions", body=_permission),
    Endpoint("POST", "/roles/permissions/check-bulk", "scope:admin:permissions", body=_bulk),
    Endpoint("GET", "/roles/permissions/user/{user_id}", "scope:admin:permissions"),
    # service clients (A.8)
    Endpoint("GET", "/service-clients/", "admin"),
    Endpoint("POST", "/service-clients/", "admin", body=_new_client, creates="client"),
    Endpoint("GET", "/service-clients/stats/overview", "admin"),
    Endpoint("GET", "/service-clients/health/check", "admin"),
    Endpoint("GET", "/service-clients/{client_id}", "admin"),
    Endpoint("PUT", "/service-clients/{client_id}", "admin", body=lambda c, t: {"description": "changed"}),
    Endpoint("DELETE", "/service-clients/{client_id}", "admin"),
    Endpoint("PUT", "/service-clients/{client_id}/scopes", "admin", body=lambda c, t: {"scope_ids": []}),
    Endpoint("POST", "/service-clients/{client_id}/rotate-secret", "admin",
             body=lambda c, t: {"current_secret": t.client_secret}),
    Endpoint("GET", "/service-clients/{client_id}/permissions", "admin"),
    Endpoint("GET", "/service-clients/{client_id}/rate-limit", "admin"),
    Endpoint("POST", "/service-clients/{client_id}/webhook/test", "admin"),
    # sessions (A.9)
    Endpoint("GET", "/sessions/", "user"),
    Endpoint("DELETE", "/sessions/", "user"),
    Endpoint("GET", "/sessions/stats", "scope:admin:sessions"),
    Endpoint("POST", "/sessions/cleanup", "scope:admin:sessions"),
    Endpoint("POST", "/sessions/{session_id}/renew", "user"),
    Endpoint("DELETE", "/sessions/{session_id}", "user"),
    # admin console (A.10)
    Endpoint("GET", "/admin/dashboard/stats", "admin"),
    Endpoint("GET", "/admin/system/health", "admin"),
    Endpoint("GET", "/admin/security/events", "admin_or_scope:admin:security"),
    Endpoint("POST", "/admin/maintenance/cleanup", "admin"),
    Endpoint("POST", "/admin/maintenance/backup", "admin"),
    Endpoint("GET", "/admin/audit/activity", "admin_or_scope:admin:audit"),
    Endpoint("GET", "/admin/reports/usage", "admin", query={"days": 7}),
    Endpoint("POST", "/admin/config/reload", "admin_or_scope:admin:system"),
    Endpoint("GET", "/admin/logs/errors", "admin_or_scope:admin:logs"),
)

CATALOGUE: dict[str, Endpoint] = {e.key: e for e in ENDPOINTS}

#: what the features call each administrative function (the access-control matrix's rows)
FUNCTIONS: dict[str, str] = {
    "list the users": "GET /users/",
    "create a user": "POST /users/",
    "read the user statistics": "GET /users/stats/overview",
    "delete a user": "DELETE /users/{user_id}",
    "set a user's roles": "PUT /users/{user_id}/roles",
    "list the roles": "GET /roles/",
    "create a role": "POST /roles/",
    "read the role statistics": "GET /roles/stats",
    "read the default roles": "GET /roles/defaults",
    "read a role": "GET /roles/{role_id}",
    "change a role": "PUT /roles/{role_id}",
    "change a role's scopes": "PUT /roles/{role_id}/scopes",
    "delete a role": "DELETE /roles/{role_id}",
    "list the scopes": "GET /roles/scopes/",
    "create a scope": "POST /roles/scopes/",
    "read a scope": "GET /roles/scopes/{scope_id}",
    "change a scope": "PUT /roles/scopes/{scope_id}",
    "delete a scope": "DELETE /roles/scopes/{scope_id}",
    "check a user's permission": "POST /roles/permissions/check",
    "check several permissions at once": "POST /roles/permissions/check-bulk",
    "read a user's permissions": "GET /roles/permissions/user/{user_id}",
    "list the service clients": "GET /service-clients/",
    "register a service client": "POST /service-clients/",
    "read the service client statistics": "GET /service-clients/stats/overview",
    "check the service clients' health": "GET /service-clients/health/check",
    "read a service client": "GET /service-clients/{client_id}",
    "change a service client": "PUT /service-clients/{client_id}",
    "delete a service client": "DELETE /service-clients/{client_id}",
    "change a service client's scopes": "PUT /service-clients/{client_id}/scopes",
    "rotate a service client's secret": "POST /service-clients/{client_id}/rotate-secret",
    "read a service client's permissions": "GET /service-clients/{client_id}/permissions",
    "read a service client's rate limits": "GET /service-clients/{client_id}/rate-limit",
    "test a service client's webhook": "POST /service-clients/{client_id}/webhook/test",
    "read the session statistics": "GET /sessions/stats",
    "clean up expired sessions": "POST /sessions/cleanup",
    "open the dashboard": "GET /admin/dashboard/stats",
    "read the system health": "GET /admin/system/health",
    "read the security events": "GET /admin/security/events",
    "run the maintenance cleanup": "POST /admin/maintenance/cleanup",
    "take a backup": "POST /admin/maintenance/backup",
    "read the audit activity": "GET /admin/audit/activity",
    "read the usage report": "GET /admin/reports/usage",
    "reload the configuration": "POST /admin/config/reload",
    "read the error log": "GET /admin/logs/errors",
}


def endpoint(key_or_function: str) -> Endpoint:
    """The catalogue entry for ``"GET /users/"`` or for a function name of :data:`FUNCTIONS`."""
    key = FUNCTIONS.get(key_or_function, key_or_function)
    key = " ".join(key.split())
    if key not in CATALOGUE:
        raise AssertionError(f"{key_or_function!r} is not a documented endpoint or function of the catalogue")
    return CATALOGUE[key]


def subject_targets(context: Any, wanted: Iterable[str]) -> Targets:
    """Targets addressed to throwaway objects of the scenario (created only when ``wanted``)."""
    wanted = set(wanted)
    targets = Targets(run_id=context.settings.permiso_run_id)
    if wanted & {"user_id"}:
        targets.user_id = str(subject(context).id)
    if wanted & {"role_id"}:
        targets.role_id = subject_role(context).id
    if wanted & {"scope_id"}:
        targets.scope_id = subject_scope(context).id
    if wanted & {"client_id", "client_secret"}:
        client = subject_client(context)
        targets.client_id, targets.client_secret = client.client_id, client.secret
    return targets


def made_up_targets(context: Any, wanted: Iterable[str] = ("user_id", "role_id", "scope_id", "client_id",
                                                           "client_secret", "session_id")) -> Targets:
    """Targets no object has: fresh UUIDs, a client id nobody registered, a secret nobody holds.

    For callers who must be refused (A.2): a guard answers before any lookup, so the object need not
    exist, and a broken guard can never change a real object. It also lets the guards be judged on a
    target that refuses to create throwaways (contract D.1).
    """
    wanted = set(wanted)
    targets = Targets(run_id=context.settings.permiso_run_id)
    for name in ("user_id", "role_id", "scope_id", "session_id"):
        if name in wanted:
            setattr(targets, name, str(uuid.uuid4()))
    if wanted & {"client_id", "client_secret"}:
        targets.client_id = "pa-nobody-" + next_suffix(context.settings.permiso_run_id).replace("_", "-")
        targets.client_secret = "not-a-secret-" + secrets.token_hex(8)
    return targets


#: the seeded objects an administrator's read may address (contract D.1: the bootstrap seeds them)
SEEDED_ROLE = "admin"
SEEDED_SCOPE = "read:profile"


def _configured_client_usable(context: Any) -> bool:
    caps = getattr(context, "capabilities", None) or {}
    return "configured_client" in caps and not caps["configured_client"]


def admin_targets(context: Any, item: Endpoint) -> Targets:
    """Targets for the administrator's call of ``item``.

    A read (GET) addresses what the deployment already has: the seeded role ``admin`` (its id read
    from the administrator's own account when the role list is refused), the seeded scope
    ``read:profile`` and the configured service client. A change or deletion addresses a throwaway
    made for it; users are always throwaways (the configured accounts are never touched). A target
    that cannot be prepared raises :class:`~support.checks.causes.PreconditionRefused` naming the refusal.
    """
    wanted = needs_of(item)
    reads = item.method == "GET"
    targets = subject_targets(context, wanted & {"user_id"})
    if "role_id" in wanted:
        targets.role_id = context.identities.role_id(SEEDED_ROLE) if reads else subject_role(context).id
    if "scope_id" in wanted:
        keeps_scope = reads or item.key == "PUT /roles/{role_id}/scopes"
        targets.scope_id = context.identities.scope_id(SEEDED_SCOPE) if keeps_scope else subject_scope(context).id
    if wanted & {"client_id", "client_secret"}:
        if reads and _configured_client_usable(context):
            targets.client_id = context.settings.test_client_id
        else:
            client = subject_client(context)
            targets.client_id, targets.client_secret = client.client_id, client.secret
    return targets


def needs_of(item: Endpoint) -> set[str]:
    """The targets an endpoint's path and body need."""
    needs = set(item.placeholders)
    if item.key in ("POST /roles/permissions/check", "POST /roles/permissions/check-bulk"):
        needs.add("user_id")
    if item.key == "PUT /roles/{role_id}/scopes":
        needs.add("scope_id")
    if item.key == "POST /service-clients/{client_id}/rotate-secret":
        needs.add("client_secret")
    return needs


def call(context: Any, client: PermisoClient, item: Endpoint, targets: Targets) -> ApiResponse:
    """Call one endpoint as ``client`` (its own token, or none) and track whatever it created."""
    body = item.body(context, targets) if item.body else None
    response = client.request(item.method, targets.fill(item.path), json=body, params=item.query,
                              api=item.api)
    if item.creates:
        track_created(context, item.creates, response)
    return response
