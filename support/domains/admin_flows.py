"""Domain helpers of the administration and access-control features: the endpoint catalogue, the
throwaway objects an administrative call acts on, and matchers named after the rules they check.

Contract parts: A.2 (guards: anonymous 401 with a Bearer challenge, signed-in but not allowed 403,
service tokens refused by the user guard), A.6 (users: registration, admin CRUD, profile, password,
statistics), A.7 (roles, scopes, permission checks), A.8 (service clients: the secret shown once,
rotation), A.9 (sessions), A.10 (admin console), A.11 (error families), Part B (registration is
limited to 3 per hour per IP: registration scenarios skip with the reason when the budget is spent).
Part C defects D1, D12-D15, D18 and D24 make the scenarios built on these helpers fail.

Nothing here imports behave; ``context`` is duck-typed like in :mod:`support.people.actors` (it needs
``settings``, ``identities``, ``log`` and ``target``). Every object created here is registered for
cleanup at the moment the server confirms it exists, including objects a call that should have been
refused created anyway (a faulty server must not leave leftovers either).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description

from support.checks.causes import PreconditionRefused
from support.checks.matchers import describe_response
from support.people.actors import Actor, actor, anonymous, service_actor
from support.people.identities import (
    Identity,
    Role,
    Scope,
    ServiceIdentity,
    configured_service_client,
    generate_password,
    items_of_body,  # re-exported: steps read list bodies kept from earlier answers
    next_suffix,
    require,
    unique_username,
)
from support.wire import redaction
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

# ---------------------------------------------------------------------------------------- memory


@dataclass
class AdminBook:
    """What one administration scenario remembers between its steps."""

    #: throwaway objects administrative calls act on (created on first need)
    subject: Identity | None = None
    role: Role | None = None
    scope: Scope | None = None
    client: ServiceIdentity | None = None
    #: named roles and scopes created by the scenario ("the new role", "reports")
    roles: dict[str, Role] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    #: a resource name unique to the scenario, per word used in the feature ("reports")
    resources: dict[str, str] = field(default_factory=dict)
    #: answers of each kind of caller to the same request (access-control matrix)
    attempts: dict[str, ApiResponse] = field(default_factory=dict)
    #: numbers noted before a change (statistics)
    noted: dict[str, Any] = field(default_factory=dict)
    #: secrets of a service client before and after rotation
    old_secret: str | None = None
    new_secret: str | None = None
    #: the body a registration or creation was attempted with
    attempted: dict[str, Any] = field(default_factory=dict)
    #: the last answer to a non-administrator's attempt (BOLA, mass assignment)
    attempt: ApiResponse | None = None
    #: why the administrator's part of a matrix row could not be prepared (its throwaway was refused)
    admin_refusal: PreconditionRefused | None = None


def admin_book(context: Any) -> AdminBook:
    """The scenario's :class:`AdminBook`, created on first use (behave drops it after the scenario)."""
    if getattr(context, "admin_book", None) is None:
        context.admin_book = AdminBook()
    return context.admin_book  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------- names


def unique_resource(context: Any, word: str) -> str:
    """A resource name unique to this scenario for a word of the feature ("reports" -> reports_<id>)."""
    book = admin_book(context)
    if word not in book.resources:
        suffix = next_suffix(context.settings.permiso_run_id).replace("_", "")
        book.resources[word] = f"{word}_{suffix}"
    return book.resources[word]


def new_email(context: Any, domain: str = "example.com") -> str:
    """A fresh email address in the throwaway namespace at ``domain``."""
    return f"{unique_username(context.settings.permiso_run_id)}@{domain}"


def user_body(context: Any, **overrides: Any) -> dict[str, Any]:
    """A complete, valid user-create body (A.6) with a fresh username, email and strong password."""
    username = unique_username(context.settings.permiso_run_id)
    body: dict[str, Any] = {"username": username, "email": f"{username}@example.com",
                            "password": generate_password(), "first_name": "Newcomer",
                            "last_name": "Acceptance"}
    body.update(overrides)
    if isinstance(body.get("password"), str):
        redaction.register_secret(body["password"])
    return body


#: passwords breaking exactly one rule of the A.5 policy, by the rule's name in the feature
WEAK_PASSWORDS: dict[str, str] = {
    "too short": "Ab1!xyz",
    "without an upper-case letter": "lower-case-only-1!",
    "without a lower-case letter": "UPPER-CASE-ONLY-1!",
    "without a digit": "No-Digits-Here!!",
    "without a special character": "NoSpecials12345",
    "too long": "Aa1!" + "x" * 125,
}


def weak_password(rule: str) -> str:
    """A password breaking the named rule (and only that one)."""
    if rule not in WEAK_PASSWORDS:
        raise AssertionError(f"no weak password for {rule!r}; known: {', '.join(WEAK_PASSWORDS)}")
    return WEAK_PASSWORDS[rule]


# ---------------------------------------------------------------------------------------- tracking


def track_created(context: Any, kind: str, response: ApiResponse) -> None:
    """Register an object a call created (201) for cleanup, whoever created it."""
    if response.status != 201 or not isinstance(response.body, Mapping):
        return
    identities = context.identities
    body = response.body
    if kind == "user" and body.get("id"):
        identities.track_user(str(body["id"]), str(body.get("username") or "") or None)
    elif kind == "client":
        client = body.get("client") if isinstance(body.get("client"), Mapping) else body
        if client.get("client_id"):
            identities.track_client(str(client["client_id"]))
    elif kind == "role" and body.get("id"):
        identities.track_role(str(body["id"]), str(body.get("name") or ""))
    elif kind == "scope" and body.get("id"):
        identities.track_scope(str(body["id"]), str(body.get("name") or ""))


# ---------------------------------------------------------------------------------------- targets


@dataclass
class Targets:
    """The ids an administrative call is addressed to, and what its body needs."""

    run_id: str
    user_id: str = ""
    role_id: str = ""
    scope_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    session_id: str = ""

    def fill(self, path: str) -> str:
        """The path with ``{user_id}``, ``{role_id}``... replaced."""
        return re.sub(r"\{(\w+)\}", lambda m: str(getattr(self, m.group(1))), path)


def subject(context: Any) -> Identity:
    """The throwaway user administrative calls act on ("Sam", created on first need)."""
    book = admin_book(context)
    if book.subject is None:
        book.subject = context.identities.user("Sam")
    return book.subject


def subject_role(context: Any) -> Role:
    book = admin_book(context)
    if book.role is None:
        book.role = context.identities.role("matrix")
    return book.role


def subject_scope(context: Any) -> Scope:
    book = admin_book(context)
    if book.scope is None:
        book.scope = context.identities.scope("matrix")
    return book.scope


#: a webhook address that is never a loopback host (the reference does not call out; a deployment's
#: call lands on a reserved documentation domain)
WEBHOOK_URL = "https://hooks.example.com/permiso-acceptance"


def subject_client(context: Any) -> ServiceIdentity:
    book = admin_book(context)
    if book.client is None:
        book.client = context.identities.service_client("matrix", scopes=("service:api",),
                                                        webhook_url=WEBHOOK_URL)
    return book.client


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


# ---------------------------------------------------------------------------------------- registration


def registration_budget_spent(response: ApiResponse) -> str | None:
    """The skip reason when self-registration answered 429 (Part B: 3 per hour per IP), else None."""
    if response.status == 429:
        return ("self-registration budget of this IP is spent (contract Part B: 3 registrations per "
                "hour per client IP); the scenario cannot run until the window passes")
    return None


#: A.6: self-registrations allowed per client IP per hour
REGISTRATION_LIMIT_PER_HOUR = 3


@dataclass
class RegistrationRun:
    """Newcomers registering from one address until the registration limit answers (A.6)."""

    #: bodies of the registrations that were accepted (201), in order
    accepted: list[dict[str, Any]] = field(default_factory=list)
    #: the first answer that was not 201 (None: every attempt was accepted)
    refusal: ApiResponse | None = None
    attempts: int = 0

    @property
    def budget_was_spent(self) -> bool:
        """The very first attempt met the limit: the budget was spent before the scenario started
        (Part B: on a shared deployment every client behind the front shares one budget)."""
        return not self.accepted and self.refusal is not None and self.refusal.status == 429

    def summary(self, limit: int = REGISTRATION_LIMIT_PER_HOUR) -> str:
        """One line for the report: what the attempts showed."""
        if self.budget_was_spent:
            return ("the registration budget of this address was already spent when the scenario "
                    "started: the first attempt met the limit, so no account was registered and the "
                    "sign-in control has nothing to check")
        if self.refusal is None:
            return (f"{self.attempts} registrations from one address were all accepted: the limit of "
                    f"{limit} per hour never answered")
        return (f"{len(self.accepted)} registration(s) accepted, then attempt {self.attempts} answered "
                f"{self.refusal.status}")


def register_until_limited(register: Callable[[dict[str, Any]], ApiResponse],
                           new_body: Callable[[], dict[str, Any]],
                           on_answer: Callable[[ApiResponse], None],
                           limit: int = REGISTRATION_LIMIT_PER_HOUR) -> RegistrationRun:
    """Register fresh newcomers (``new_body``) one after another until an attempt is not accepted,
    at most ``limit + 1`` times (bounded: a service without a limit costs one account too many, not
    an unbounded number). ``on_answer`` sees every answer first (tracking for cleanup)."""
    run = RegistrationRun()
    for _ in range(limit + 1):
        body = new_body()
        answer = register(body)
        on_answer(answer)
        run.attempts += 1
        if answer.status != 201:
            run.refusal = answer
            break
        run.accepted.append(body)
    return run


def newcomers_register_until_limited(context: Any) -> RegistrationRun:
    """Newcomers (fresh throwaway bodies) register from one address until the limit answers; every
    account that was created is tracked for cleanup. The registration-limit scenarios' When."""
    from support.people.actors import anonymous

    newcomer = anonymous(context, "a newcomer").client
    run = register_until_limited(lambda body: newcomer.register(**body), lambda: user_body(context),
                                 lambda answer: track_created(context, "user", answer))
    context.response = run.refusal
    return run


# ---------------------------------------------------------------------------------------- reading


def items_of(response: ApiResponse, key: str) -> list[Mapping[str, Any]]:
    """The objects of a list answer (``{key: [...]}`` or a bare list)."""
    return items_of_body(response.body, key)


def scope_names_of_role(role: Mapping[str, Any]) -> list[str]:
    return sorted(str(s.get("name")) for s in role.get("scopes", []) if isinstance(s, Mapping))


def timestamp(value: Any) -> datetime | None:
    from support.people.flows import parse_timestamp

    return parse_timestamp(value)


def words(phrase: str) -> list[str]:
    """``"a, b and c"`` -> ``["a", "b", "c"]`` (lists written in features)."""
    return [w.strip().strip('"') for w in re.split(r",|\band\b", phrase) if w.strip().strip('"')]


# ---------------------------------------------------------------------------------------- matchers


class _Rule(BaseMatcher[Any]):
    """A matcher from a rule text and a function returning the problem (None when it holds)."""

    def __init__(self, rule: str, problem: Callable[[Any], str | None]) -> None:
        self.rule = rule
        self._problem = problem

    def _matches(self, item: Any) -> bool:
        return self._problem(item) is None

    def describe_to(self, description: Description) -> None:
        description.append_text(self.rule)

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        problem = self._problem(item)
        mismatch_description.append_text(redaction.redact_text(str(problem)))
        if hasattr(item, "status"):
            mismatch_description.append_text("\n     in: ").append_text(describe_response(item))


def _status(item: Any) -> int | None:
    return getattr(item, "status", None)


def _body(item: Any) -> Any:
    return getattr(item, "body", item)


def a_success() -> _Rule:
    """A.6-A.10: the allowed caller's request is carried out (any 2xx)."""
    return _Rule("a successful answer (2xx)",
                 lambda r: None if 200 <= (_status(r) or 0) < 300 else f"status was {_status(r)}")


def an_answer_from_the_endpoint() -> _Rule:
    """A.1 (endpoint availability): the endpoint exists and works: neither 404/405 nor a 5xx."""

    def problem(item: Any) -> str | None:
        status = _status(item) or 0
        if status in (404, 405):
            return f"status was {status}: the endpoint is missing"
        if status >= 500 or status == 0:
            return f"status was {status}: the endpoint failed"
        return None

    return _Rule("an answer from the endpoint (not 404/405, not 5xx)", problem)


def refused_as_not_allowed() -> _Rule:
    """A.2: a signed-in caller without the right is refused 403 with an error body (http_error
    "Access denied" / "Insufficient scope" or the named access_denied of A.9)."""

    def problem(item: Any) -> str | None:
        if _status(item) != 403:
            return f"status was {_status(item)}, expected 403"
        body = _body(item)
        if not isinstance(body, Mapping) or not body.get("error") or not body.get("error_description"):
            return "no error and error_description in the body"
        return None

    return _Rule("a refusal: 403 with an error body (A.2)", problem)


def a_conflict() -> _Rule:
    """A.6/A.7: a taken name is refused 409. The body's shape (A.11's named error ``conflict``) is the
    run-wide rule of error shapes, reported once by its own scenario, not by every conflict."""

    def problem(item: Any) -> str | None:
        return None if _status(item) == 409 else f"status was {_status(item)}, expected 409"

    return _Rule("a conflict refusal (409)", problem)


def retry_after_problem(value: str | None) -> str | None:
    """RFC 9110 section 10.2.3: ``Retry-After`` is delay-seconds (a non-negative integer) or an
    HTTP-date; None when it is one of them."""
    if value is None:
        return "no Retry-After header"
    text = value.strip()
    if text.isdigit():
        return None
    try:
        parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return f"Retry-After was {text!r}, expected a number of seconds or an HTTP date"
    return None


def refused_by_the_registration_limit(*, retry_after: bool = True) -> _Rule:
    """A.6/A.11: a registration past the hourly limit is refused 429 with the named error
    ``rate_limit_exceeded`` (and a description) and a ``Retry-After`` header (D9 loses it).
    ``retry_after=False`` leaves the header to its own scenario (a rule of every 429, A.11)."""

    def problem(item: Any) -> str | None:
        if _status(item) != 429:
            return f"status was {_status(item)}, expected 429"
        body = _body(item)
        if not isinstance(body, Mapping) or body.get("error") != "rate_limit_exceeded":
            return "error is not 'rate_limit_exceeded'"
        if not isinstance(body.get("error_description"), str) or not body["error_description"].strip():
            return "no error_description"
        if not retry_after:
            return None
        headers = {str(k).lower(): v for k, v in (getattr(item, "headers", None) or {}).items()}
        return retry_after_problem(headers.get("retry-after"))

    what = "429 rate_limit_exceeded with Retry-After" if retry_after else "429 rate_limit_exceeded"
    return _Rule(f"a registration refused by the limit ({what})", problem)


def a_page_of(key: str, per_page: int | None = None) -> _Rule:
    """A.6/A.8 list answers: ``{<key>: [...], total, page, per_page, pages}`` with at most
    ``per_page`` items, and ``pages`` = ceil(total / per_page)."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if _status(item) != 200 or not isinstance(body, Mapping):
            return f"status was {_status(item)}, expected a 200 JSON object"
        missing = [k for k in (key, "total", "page", "per_page", "pages") if k not in body]
        if missing:
            return f"no {', '.join(missing)} field"
        size = body["per_page"]
        if per_page is not None and size != per_page:
            return f"per_page was {size}, expected {per_page}"
        if len(body[key]) > size:
            return f"{len(body[key])} items on a page of {size}"
        total = body["total"]
        expected_pages = -(-total // size) if total else 0
        if body["pages"] not in (expected_pages, max(1, expected_pages)):
            return f"pages was {body['pages']} for {total} items of {size} per page"
        return None

    return _Rule(f"a page of {key} (total, page, per_page, pages)", problem)


def lists_username(username: str, key: str = "users") -> _Rule:
    """The list answer contains an entry with this username."""

    def problem(item: Any) -> str | None:
        names = [str(u.get("username", "")).lower() for u in items_of(item, key)]
        return None if username.lower() in names else f"{username!r} is not among {names[:20]}"

    return _Rule(f"a list containing {username!r}", problem)


def lacks_username(username: str, key: str = "users") -> _Rule:
    """The list answer contains no entry with this username."""

    def problem(item: Any) -> str | None:
        names = [str(u.get("username", "")).lower() for u in items_of(item, key)]
        return f"{username!r} is listed" if username.lower() in names else None

    return _Rule(f"a list without {username!r}", problem)


#: keys that would carry a secret or its hash (``secret_rotated_at`` is a timestamp, not a secret)
SECRET_KEY = re.compile(r"^(client_)?secret$|secret_hash|hash$|^password", re.IGNORECASE)


def without_secret(secret: str | None = None) -> _Rule:
    """A.8: a client JSON (or a list of them) never contains a secret: no key named like a secret
    or hash, and not the secret's text."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        found: list[str] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, Mapping):
                for k, v in obj.items():
                    if SECRET_KEY.search(str(k)):
                        found.append(str(k))
                    walk(v)
            elif isinstance(obj, list):
                for v in obj:
                    walk(v)

        walk(body)
        if found:
            return f"the answer carries {sorted(set(found))}"
        text = getattr(item, "text", "") or ""
        if secret and secret in text:
            return "the answer contains the client's secret"
        return None

    return _Rule("an answer without any client secret or hash (A.8)", problem)


def later_than(before: Any) -> _Rule:
    """A.9: a renewed session's ``expires_at`` is later than before."""

    def problem(item: Any) -> str | None:
        old, new = timestamp(before), timestamp(item)
        if old is None or new is None:
            return f"not both timestamps: {before!r}, {item!r}"
        return None if new > old else f"expires_at {item!r} is not later than {before!r}"

    return _Rule(f"a moment later than {before!r}", problem)


def a_permission_answer(allowed: bool) -> _Rule:
    """A.7: ``{allowed, reason, matching_scopes, user_roles}`` with ``allowed`` as expected (an answer,
    or one result of a bulk check)."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if (not isinstance(item, Mapping) and _status(item) != 200) or not isinstance(body, Mapping):
            return f"status was {_status(item)}, expected 200"
        missing = [k for k in ("allowed", "reason", "matching_scopes", "user_roles") if k not in body]
        if missing:
            return f"no {', '.join(missing)} field"
        return None if body["allowed"] is allowed else f"allowed was {body['allowed']!r}"

    return _Rule(f"a permission answer allowed={allowed}", problem)


def has_parts(*names: str) -> _Rule:
    """A.10 console answers: a 200 JSON object with at least these parts."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if _status(item) != 200 or not isinstance(body, Mapping):
            return f"status was {_status(item)}, expected a 200 JSON object"
        missing = [n for n in names if n not in body]
        return f"no {', '.join(missing)}" if missing else None

    return _Rule(f"an answer with {', '.join(names)}", problem)


def a_failed_sign_in_event_for(username: str) -> _Rule:
    """A.10: the security events list a failed sign-in (``login_failed``-like) naming the user."""

    def problem(item: Any) -> str | None:
        if _status(item) != 200 or not isinstance(_body(item), Mapping) or "events" not in _body(item):
            return f"status was {_status(item)}, expected a 200 list of events"
        events = items_of(item, "events")
        for event in events:
            kind = str(event.get("event_type", ""))
            if str(event.get("username", "")).lower() == username.lower() and (
                    "fail" in kind or "invalid" in kind):
                return None
        return f"no failed sign-in event for {username!r} among {len(events)} event(s)"

    return _Rule(f"a failed sign-in event for {username!r}", problem)


def grew_by_at_least(before: Mapping[str, Any], after_names: Sequence[str], amount: int = 1) -> _Rule:
    """Statistics: each named count is at least ``amount`` higher than noted before."""

    def problem(item: Any) -> str | None:
        body = _body(item)
        if not isinstance(body, Mapping):
            return "not a JSON object"
        short = [f"{n}: {before.get(n)} -> {body.get(n)}" for n in after_names
                 if not isinstance(body.get(n), int) or not isinstance(before.get(n), int)
                 or body[n] < before[n] + amount]
        return f"did not grow by {amount}: {'; '.join(short)}" if short else None

    return _Rule(f"counts {', '.join(after_names)} grown by at least {amount}", problem)


# ---------------------------------------------------------------------------------------- accounts


def admin_read_user(context: Any, identity: Identity) -> ApiResponse:
    """The administrator's view of an account (the truth a refused attempt is checked against)."""
    from support.wire.admin_session import ensure_admin

    return ensure_admin(context).get_user(str(identity.id))


def act_on_account(context: Any, client: PermisoClient, action: str, thing: str, identity: Identity,
                   session_id: str | None, *, own: bool = False) -> ApiResponse:
    """``client`` does ``action`` to ``thing`` of the account ``identity`` (own or another person's).

    Acting on another person's password, the caller cannot know the current one: a policy-valid guess
    is sent, so a refusal must come from the guard (403), not from the password check (400).
    """
    user_id = str(identity.id)
    if (action, thing) == ("read", "profile"):
        return client.get_user(user_id)
    if (action, thing) == ("change", "profile"):
        return client.update_user(user_id, bio="changed by herself" if own else "changed by someone else")
    if (action, thing) == ("change", "password"):
        from support.people.flows import wrong_password

        new = generate_password()
        current = identity.password if own else wrong_password(identity.password)
        answer = client.change_password(user_id, current, new)
        if own and answer.status == 200:
            identity.password = new
        return answer
    if (action, thing) == ("end", "session"):
        assert session_id, "no session to end"
        return client.end_session(session_id)
    if (action, thing) == ("renew", "session"):
        assert session_id, "no session to renew"
        return client.renew_session(session_id)
    if (action, thing) == ("delete", "account"):
        return client.delete_user(user_id)
    raise AssertionError(f"no way to {action} a {thing}")


def expiries(sessions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``session_id -> expires_at`` of a session list."""
    return {str(s.get("session_id")): s.get("expires_at") for s in sessions}


def privileged_fields(context: Any, privilege: str) -> dict[str, Any]:
    """The admin-only fields (A.6) a person might slip into their own profile update."""
    if privilege == "the admin role":
        return {"role_ids": [context.identities.role_id("admin")]}
    table: dict[str, dict[str, Any]] = {
        "superuser rights": {"is_superuser": True},
        "a verified email": {"is_verified": True},
        "a deactivation": {"is_active": False},
    }
    if privilege not in table:
        raise AssertionError(f"unknown privilege {privilege!r}; known: the admin role, {', '.join(table)}")
    return table[privilege]


def unchanged_fields(phrase: str) -> dict[str, Any]:
    """What an account that was not given a privilege still shows (user JSON fields)."""
    table: dict[str, dict[str, Any]] = {
        "no roles": {"roles": []},
        "no superuser rights": {"is_superuser": False},
        "an unverified email": {"is_verified": False},
        "an active account": {"is_active": True},
    }
    if phrase not in table:
        raise AssertionError(f"unknown state {phrase!r}; known: {', '.join(table)}")
    return table[phrase]
