"""Domain helpers of the administration and access-control features: what one scenario remembers
between its steps (:class:`AdminBook`), the names and bodies of the throwaway objects an administrative
call acts on, their tracking for cleanup, the ids a call is addressed to, and acting on one person's
account (own or another person's).

The rest of the domain has modules of its own, none of them imported here:
:mod:`support.domains.admin_catalogue` (the documented endpoints and how to call each),
:mod:`support.domains.admin_callers` (who tries each function: the access-control matrix),
:mod:`support.domains.registration` (self-registration and its hourly limit) and
:mod:`support.domains.admin_matchers` (reading administration answers, and matchers named after the
rules they check).

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from support.checks.causes import PreconditionRefused
from support.people.identities import (
    Identity,
    Role,
    Scope,
    ServiceIdentity,
    generate_password,
    next_suffix,
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
