"""Identities and actors: unique names, policy-compliant passwords, cleanup order, 404 tolerance, and
the configured accounts never touched. The administrator is a fake (no network)."""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from support.checks.causes import PreconditionRefused
from support.people.actors import actor, anonymous, service_actor
from support.people.identities import (
    CleanupError,
    Identities,
    Identity,
    ProtectedAccountError,
    ProvisioningError,
    generate_password,
    meets_password_policy,
    unique_username,
)
from support.wire import redaction
from support.wire.evidence import ApiResponse, Exchange, ExchangeLog
from support.wire.settings import Settings


def reply(status: int, body: Any = None, method: str = "GET", path: str = "/") -> ApiResponse:
    text = json.dumps(body) if body is not None else ""
    ex = Exchange(method, f"https://h/api/v1{path}", status, {}, None, {}, text, 1.0, datetime.now(UTC))
    return ApiResponse(status, CaseInsensitiveDict(), body, text, 1.0, ex)


class FakeAdmin:
    """Enough of PermisoClient's admin surface, keeping state and a call journal."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.roles = {"user": "role-user", "admin": "role-admin"}
        self.scopes = {"read:profile": "scope-read"}
        self.clients: set[str] = set()
        self.journal: list[tuple[str, str]] = []
        self.refuse_users = False
        self.signed_in = 0
        self.expired = False
        #: play the release (contract D.1): role/scope/client routes answer 422 query.current_user
        self.release = False
        self.my_roles = [{"id": "role-admin", "name": "admin"}]

    def _d1(self, method: str, path: str) -> ApiResponse | None:
        if not self.release:
            return None
        return reply(422, {"error": "validation_error", "error_description": "Request validation failed",
                           "details": [{"type": "missing", "loc": ["query", "current_user"],
                                        "msg": "Field required"}]}, method, path)

    def me(self) -> ApiResponse:
        return reply(200, {"id": "u-admin", "username": "admin", "roles": self.my_roles}, "GET", "/users/me")

    def list_users(self, **query: Any) -> ApiResponse:
        users = [{"id": "u-trader", "username": "tina", "roles": [{"id": "role-trader", "name": "trader"}]}]
        return reply(200, {"users": users, "total": 1, "page": 1, "per_page": 100, "pages": 1}, "GET", "/users/")

    def _auth(self) -> ApiResponse | None:
        return reply(401, {"error": "http_error", "error_description": "Token expired"}) if self.expired \
            else None

    def list_roles(self) -> ApiResponse:
        if (refused := self._d1("GET", "/roles/")) is not None:
            return refused
        return reply(200, [{"id": i, "name": n} for n, i in self.roles.items()])

    def list_scopes(self) -> ApiResponse:
        if (refused := self._d1("GET", "/roles/scopes/")) is not None:
            return refused
        return reply(200, [{"id": i, "name": n} for n, i in self.scopes.items()])

    def create_user(self, **body: Any) -> ApiResponse:
        if self.refuse_users:
            return reply(422, {"error": "validation_error",
                               "error_description": f"bad password {body['password']}"}, "POST", "/users/")
        user_id = str(uuid.uuid4())
        self.users[user_id] = body
        self.journal.append(("create_user", user_id))
        return reply(201, {"id": user_id, "username": body["username"]})

    def get_user(self, user_id: str) -> ApiResponse:
        if user_id in self.users:
            return reply(200, {"id": user_id, "username": self.users[user_id]["username"]})
        return reply(404, {"error": "http_error", "error_description": "User not found"})

    def delete_user(self, user_id: str) -> ApiResponse:
        if (refused := self._auth()) is not None:
            return refused
        self.journal.append(("delete_user", user_id))
        return reply(204) if self.users.pop(user_id, None) else reply(404, {"error": "http_error"})

    def update_user(self, user_id: str, **fields: Any) -> ApiResponse:
        self.journal.append(("update_user", user_id))
        return reply(200, {"id": user_id})

    def set_user_roles(self, user_id: str, role_ids: list[str]) -> ApiResponse:
        self.journal.append(("set_user_roles", user_id))
        return reply(200, {"id": user_id})

    def create_role(self, name: str, description: str | None, scope_ids: list[str]) -> ApiResponse:
        if (refused := self._d1("POST", "/roles/")) is not None:
            return refused
        role_id = str(uuid.uuid4())
        self.roles[name] = role_id
        self.journal.append(("create_role", role_id))
        return reply(201, {"id": role_id, "name": name})

    def delete_role(self, role_id: str) -> ApiResponse:
        self.journal.append(("delete_role", role_id))
        return reply(204)

    def create_scope(self, name: str, description: str | None, resource: str | None,
                     action: str | None) -> ApiResponse:
        if (refused := self._d1("POST", "/roles/scopes/")) is not None:
            return refused
        scope_id = str(uuid.uuid4())
        self.scopes[name] = scope_id
        self.journal.append(("create_scope", scope_id))
        return reply(201, {"id": scope_id, "name": name, "resource": resource, "action": action})

    def delete_scope(self, scope_id: str) -> ApiResponse:
        self.journal.append(("delete_scope", scope_id))
        return reply(204)

    def create_client(self, **body: Any) -> ApiResponse:
        if (refused := self._d1("POST", "/service-clients/")) is not None:
            return refused
        self.clients.add(body["client_id"])
        self.journal.append(("create_client", body["client_id"]))
        return reply(201, {"client": {"client_id": body["client_id"], "name": body["name"]},
                           "client_secret": "generated-client-secret-" + body["client_id"]})

    def delete_client(self, client_id: str) -> ApiResponse:
        self.journal.append(("delete_client", client_id))
        return reply(204) if client_id in self.clients else reply(404, {"error": "not_found"})

    def sign_in(self, username: str, password: str, scope: Any = None) -> ApiResponse:
        self.signed_in += 1
        self.expired = False
        return reply(200, {})


@pytest.fixture
def cfg(clean_env: Path) -> Settings:
    return Settings.load({"PERMISO_BASE_URL": "https://permiso.example.com", "PERMISO_RUN_ID": "abc123"},
                         env_file=None)


@pytest.fixture
def made(cfg: Settings) -> tuple[FakeAdmin, Identities, list[Callable[[], None]]]:
    admin = FakeAdmin()
    registered: list[Callable[[], None]] = []
    return admin, Identities(admin, cfg, registered.append), registered  # type: ignore[arg-type]


def run_cleanups(registered: list[Callable[[], None]]) -> None:
    while registered:
        registered.pop()()  # LIFO, like behave


def test_names_are_unique_across_threads_and_carry_run_and_process() -> None:
    names: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        batch = [unique_username("abc123") for _ in range(200)]
        with lock:
            names.extend(batch)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 1600
    assert all(re.fullmatch(r"pa_abc123_\d+_\d+", n) and len(n) <= 50 for n in names)


def _names_in_child(queue: Any) -> None:
    queue.put([unique_username("abc123") for _ in range(50)])


def test_names_do_not_collide_across_processes() -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_names_in_child, args=(queue,)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join()
    ours = [unique_username("abc123") for _ in range(50)]
    flat = [n for batch in [*results, ours] for n in batch]
    assert len(set(flat)) == len(flat)


def test_passwords_meet_policy_are_random_and_registered() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(meets_password_policy(p) and "admin" not in p.lower() for p in passwords)
    sample = next(iter(passwords))
    assert redaction.redact_text(f"x {sample} y") == f"x {redaction.MASK} y"
    assert not meets_password_policy("alllowercase1!") and not meets_password_policy("Sh0rt!")


def test_user_is_created_with_example_email_and_cleanup_registered_at_creation(made: Any) -> None:
    admin, ids, registered = made
    dana = ids.user("Dana", roles=("user",))
    assert re.fullmatch(r"pa_abc123_\d+_\d+", dana.username)
    assert dana.email == f"{dana.username}@example.com"
    assert admin.users[dana.id]["role_ids"] == ["role-user"]
    assert admin.users[dana.id]["password"] == dana.password and meets_password_policy(dana.password)
    assert len(registered) == 1 and ids.tracked == [("user", dana.id)]
    assert dana.password not in repr(dana)
    other = ids.user("Erin")
    assert dana.password != other.password
    assert len(registered) == 1  # one sweep covers everything of the scenario
    run_cleanups(registered)
    assert admin.users == {} and ids.tracked == []


def test_cleanup_order_users_clients_roles_scopes(made: Any) -> None:
    admin, ids, registered = made
    scope = ids.scope("reports")
    role = ids.role("auditor", scopes=[scope])
    user = ids.user("Dana", roles=[role])
    client = ids.service_client("billing", scopes=[scope])
    late_role = ids.role("late")  # created after the user that might hold it
    run_cleanups(registered)
    deletes = [entry for entry in admin.journal if entry[0].startswith("delete")]
    assert deletes == [("delete_user", user.id), ("delete_client", client.client_id),
                       ("delete_role", late_role.id), ("delete_role", role.id), ("delete_scope", scope.id)]


def test_cleanup_tolerates_404(made: Any) -> None:
    admin, ids, registered = made
    dana = ids.user("Dana")
    assert ids.delete(dana).status == 204  # deleted by the scenario itself
    run_cleanups(registered)  # no error: 404 means already gone
    assert ("delete_user", dana.id) in admin.journal


def test_cleanup_signs_the_administrator_in_again_on_401(made: Any) -> None:
    admin, ids, registered = made
    ids.user("Dana")
    admin.expired = True
    run_cleanups(registered)
    assert admin.signed_in == 1 and admin.users == {}


def test_protected_accounts_are_never_deleted_or_changed(made: Any, cfg: Settings) -> None:
    admin, ids, registered = made
    configured = Identity("TestUser", "testuser@example.com", "TestPass123!", id="u-configured")
    for action in (ids.delete, ids.deactivate, lambda i: ids.assign_roles(i, ["admin"])):
        with pytest.raises(ProtectedAccountError):
            action(configured)
    with pytest.raises(ProtectedAccountError):
        ids.track_user("u-admin", username="admin")
    with pytest.raises(ProtectedAccountError):
        ids.track_client("test-client-001")
    # tracked without a name: the sweep learns the username and refuses to delete the configured one
    admin.users["u-configured"] = {"username": "testuser"}
    other = ids.user("Dana")
    ids.track_user("u-configured")
    with pytest.raises(CleanupError, match="configured account 'testuser'"):
        run_cleanups(registered)
    assert "u-configured" in admin.users and other.id not in admin.users
    assert not any(entry == ("delete_user", "u-configured") for entry in admin.journal)


def test_refused_creation_is_a_one_line_redacted_error(made: Any) -> None:
    admin, ids, registered = made
    admin.refuse_users = True
    with pytest.raises(ProvisioningError) as info:
        ids.user("Dana")
    message = str(info.value)
    assert "answered 422" in message and "\n" not in message
    password = admin.__dict__.get("last_password")
    assert password is None or password not in message
    assert "bad password ***" in message
    assert registered == []


def test_service_client_secret_is_kept_and_registered(made: Any) -> None:
    _admin, ids, _registered = made
    svc = ids.service_client("billing", scopes=["read:profile"])
    assert re.fullmatch(r"pa-abc123-\d+-\d+", svc.client_id)
    assert svc.secret == "generated-client-secret-" + svc.client_id
    assert redaction.redact_text(svc.secret) == redaction.MASK
    assert svc.secret not in repr(svc)


def test_unknown_role_is_a_clear_error(made: Any) -> None:
    _, ids, _ = made
    with pytest.raises(ProvisioningError, match="no role named 'wizard'"):
        ids.user("Dana", roles=("wizard",))


D1_REFUSAL = "answered 422 (query.current_user missing)"


def test_a_refused_role_creation_is_a_named_precondition(made: Any) -> None:
    admin, ids, registered = made
    admin.release = True
    with pytest.raises(PreconditionRefused) as info:
        ids.role("granting")
    refusal = info.value
    assert isinstance(refusal, AssertionError)  # behave: failed, not error
    assert str(refusal).startswith("could not prepare (create role 'pa_role_abc123_")
    assert str(refusal).endswith("POST /api/v1/roles/ " + D1_REFUSAL)
    assert refusal.defect == "D1" and refusal.status == 422
    assert refusal.signature == "could not prepare: POST /api/v1/roles/ " + D1_REFUSAL
    assert registered == []


@pytest.mark.parametrize("make", [lambda ids: ids.scope("reports"),
                                  lambda ids: ids.service_client("billing"),
                                  lambda ids: ids.service_client("billing", scopes=["service:api"])])
def test_refused_scope_and_client_creations_are_named(made: Any, make: Callable[[Identities], Any]) -> None:
    admin, ids, _ = made
    admin.release = True
    with pytest.raises(PreconditionRefused, match="could not prepare .*" + re.escape(D1_REFUSAL)) as info:
        make(ids)
    assert info.value.defect == "D1"


def test_a_refused_scope_list_is_named_not_blamed_on_the_scope(made: Any) -> None:
    admin, ids, _ = made
    admin.release = True
    with pytest.raises(PreconditionRefused) as info:
        ids.scope_id("service:api")
    message = str(info.value)
    assert message == ("could not prepare (the id of the scope 'service:api'): GET /api/v1/roles/scopes/ "
                       + D1_REFUSAL)
    assert "no scope named" not in message


def test_seeded_roles_are_found_through_the_user_routes_when_the_role_list_is_refused(made: Any) -> None:
    admin, ids, _ = made
    admin.release = True
    assert ids.role_id("admin") == "role-admin"  # the administrator's own account
    assert ids.role_id("trader") == "role-trader"  # an account of the user list
    dana = ids.user("Dana", roles=("trader",))
    assert admin.users[dana.id]["role_ids"] == ["role-trader"]
    with pytest.raises(PreconditionRefused, match=r"the id of the role 'wizard'\): GET /api/v1/roles/ "
                                                  + re.escape(D1_REFUSAL)):
        ids.role_id("wizard")


def test_actor_duck_types_context(made: Any, cfg: Settings) -> None:
    admin, ids, _registered = made
    context = SimpleNamespace(settings=cfg, identities=ids, log=ExchangeLog(),
                              target=SimpleNamespace(base_url="https://embedded.example:8443"))
    dana = actor(context, "Dana")
    assert actor(context, "Dana") is dana and context.actors == {"Dana": dana}
    assert isinstance(dana.identity, Identity) and dana.identity.label == "Dana"
    assert dana.client.base_url == "https://embedded.example:8443" and dana.client.log is context.log
    assert dana.client.name == "Dana" and not dana.signed_in
    configured = actor(context, "the configured user")
    assert configured.identity.configured and configured.identity.username == "testuser"
    assert len(admin.users) == 1  # the configured user was not created
    svc = service_actor(context, "Billing")
    assert svc.is_service and svc.identity.client_id in admin.clients
    assert anonymous(context).identity is None
    service = actor(context, "the configured service client")
    assert service.is_service and service.identity.client_id == "test-client-001"
