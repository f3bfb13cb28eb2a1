"""The people pool: who is lent, what a scenario's exchanges do to a borrowed person, how they go back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from support_testkit import Reply, ScriptedServer

from support.people.identities import Identity
from support.people.pool import PeoplePool, harmless
from support.wire.client import PermisoClient
from support.wire.evidence import Exchange, ExchangeLog
from support.wire.pacing import AuthPacer
from support.wire.settings import Settings

API = "https://permiso.example/api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class People:
    """Stands in for the run's make/retire: numbered people, a list of the retired."""

    def __init__(self) -> None:
        self.made: list[Identity] = []
        self.retired: list[str] = []

    def make(self, label: str, roles: tuple[str, ...]) -> Identity:
        n = len(self.made) + 1
        person = Identity(f"pa_run_1_{n}", f"pa_run_1_{n}@example.com", "Pw-1234567!", id=f"id-{n:04d}",
                          roles=roles, label=label)
        self.made.append(person)
        return person

    def retire(self, person: Identity) -> None:
        self.retired.append(person.username)


@pytest.fixture
def people() -> People:
    return People()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pool(people: People, clock: Clock) -> Iterator[PeoplePool]:
    pool = PeoplePool(people.make, people.retire, clock)
    yield pool
    pool.close()


def exchange(method: str, path: str, status: int = 200, *, body: Any = None, token: str | None = None,
             answer: Any = None, retried: bool = False) -> Exchange:
    """Publish one exchange to every subscriber, as a client would."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ex = Exchange(method, API + path, status, headers, body, {"content-type": "application/json"},
                  json.dumps(answer) if answer is not None else "", 1.0, datetime.now(UTC), retried=retried)
    ExchangeLog._publish(ex)
    return ex


def signed_in(person: Identity, n: int, *, scope: str | None = None) -> dict[str, Any]:
    """A successful sign-in of ``person`` (session ``s-<n>``); returns the answer."""
    answer = {"access_token": f"access-{person.username}-{n}", "refresh_token": f"refresh-{person.username}-{n}",
              "session_id": f"s-{n}", "expires_in": 900, "token_type": "Bearer"}
    form = {"username": person.username, "password": person.password} | ({"scope": scope} if scope else {})
    exchange("POST", "/auth/token", 200, body=form, answer=answer)
    return answer


def test_people_are_made_per_role_set_and_lent_again_after_a_clean_hand_back(pool: PeoplePool,
                                                                              people: People) -> None:
    dana = pool.borrow("Dana")
    admin = pool.borrow("Ada", ("admin",))
    assert dana.identity.label == "Dana" and admin.pooled.roles == ("admin",)
    exchange("GET", f"/users/{dana.identity.id}", token="admin-token")  # reads change nothing
    for lease in (dana, admin):
        lease.passed = True
        assert pool.hand_back(lease, None) is None
    again = pool.borrow("Erin")
    assert again.identity.username == dana.identity.username and again.identity.label == "Erin"
    assert len(people.made) == 2 and not people.retired


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    ("POST", "/auth/token", 401, {"username": "{username}", "password": "wrong"}),   # counts towards lockout
    ("POST", "/auth/token", 401, {"username": "{email}", "password": "wrong"}),
    ("PUT", "/users/{id}", 200, {"display_name": "x"}),                               # a profile change
    ("PUT", "/users/{id}/password", 200, {}),
    ("PUT", "/users/{id}/roles", 200, {"role_ids": []}),
    ("POST", "/users/{id}/anything", 500, None),                                      # the server broke
])
def test_an_account_change_retires_the_person(pool: PeoplePool, people: People, method: str, path: str,
                                              status: int, body: Any) -> None:
    lease = pool.borrow("Dana")
    person = lease.identity
    fill = {"username": person.username.upper(), "email": person.email, "id": person.id}
    body = {k: str(v).format(**fill) for k, v in body.items()} if body else body
    exchange(method, path.format(**fill), status, body=body)
    lease.passed = True
    assert pool.hand_back(lease, None) is not None
    assert people.retired == [person.username]
    assert pool.borrow("Dana").identity.username != person.username


def test_a_scenario_that_did_not_pass_retires_its_people(pool: PeoplePool, people: People) -> None:
    lease = pool.borrow("Dana")
    assert pool.hand_back(lease, None) == "the scenario did not pass"  # passed is unknown: not passed
    assert people.retired == [lease.identity.username]


def test_what_does_not_name_the_person_or_was_retried_is_no_evidence(pool: PeoplePool, people: People) -> None:
    lease = pool.borrow("Dana")  # pa_run_1_1
    other = people.make("Other", ())
    for _ in range(2, 11):
        people.make("filler", ())  # pa_run_1_11 exists: its name starts with Dana's
    exchange("POST", "/auth/token", 401, body={"username": "pa_run_1_11", "password": "x"})
    exchange("PUT", f"/users/{other.id}", 200, body={"bio": "changed"})
    exchange("POST", "/auth/token", 503, body={"username": lease.identity.username, "password": "x"}, retried=True)
    lease.passed = True
    assert pool.hand_back(lease, None) is None


def test_a_sign_in_is_kept_and_the_next_borrower_adopts_it_without_signing_in(
        pool: PeoplePool, settings: Settings, server: ScriptedServer, clock: Clock) -> None:
    lease = pool.borrow("Dana")
    answer = signed_in(lease.identity, 1)
    exchange("GET", "/users/me", token=answer["access_token"])
    lease.passed = True
    assert pool.hand_back(lease, None) is None
    client = PermisoClient(settings, pacer=AuthPacer())
    nxt = pool.borrow("Erin")
    assert nxt.adopt(client)
    assert (client.token, client.refresh_token, client.session_id) == (answer["access_token"],
                                                                       answer["refresh_token"], "s-1")
    assert not server.seen  # adopting costs no call
    nxt.passed = True
    pool.hand_back(nxt, client)
    clock.now += 451  # past half the token's lifetime: the next borrower signs in for itself
    assert not pool.borrow("Frank").adopt(PermisoClient(settings, pacer=AuthPacer()))


def test_older_sessions_are_ended_so_one_goes_back(pool: PeoplePool, settings: Settings,
                                                   server: ScriptedServer) -> None:
    server.script("DELETE", "/api/v1/sessions/s-1", Reply(204))
    lease = pool.borrow("Dana")
    signed_in(lease.identity, 1)
    newest = signed_in(lease.identity, 2)  # "Dana can still sign in"
    lease.passed = True
    client = PermisoClient(settings, pacer=AuthPacer())
    assert pool.hand_back(lease, client) is None
    ended = server.hits("DELETE", "/api/v1/sessions/s-1")
    assert len(ended) == 1 and ended[0].headers["Authorization"] == f"Bearer {newest['access_token']}"
    assert lease.pooled.session is not None and lease.pooled.session.session_id == "s-2"


@pytest.mark.parametrize("change", ["refresh", "revoke", "scoped sign-in", "end a session"])
def test_other_session_changes_are_signed_out(pool: PeoplePool, settings: Settings, server: ScriptedServer,
                                              change: str) -> None:
    server.script("POST", "/api/v1/auth/logout", Reply(200, {"message": "Logged out successfully"}))
    lease = pool.borrow("Dana")
    answer = signed_in(lease.identity, 1, scope="read:profile" if change == "scoped sign-in" else None)
    if change == "refresh":
        exchange("POST", "/auth/refresh", 200, body={"refresh_token": answer["refresh_token"]},
                 answer={**answer, "access_token": "access-rotated"})
    elif change == "revoke":
        exchange("POST", "/auth/revoke", 200, body={"token": answer["refresh_token"]}, token=answer["access_token"])
    elif change == "end a session":
        exchange("DELETE", "/sessions/s-1", 204, token=answer["access_token"])
    lease.passed = True
    assert pool.hand_back(lease, PermisoClient(settings, pacer=AuthPacer())) is None
    logout = server.hits("POST", "/api/v1/auth/logout")
    assert len(logout) == 1
    if change == "refresh":
        assert logout[0].headers["Authorization"] == "Bearer access-rotated"  # the newest token
    assert lease.pooled.session is None  # back without a session


def test_a_refused_sign_out_retires_the_person(pool: PeoplePool, people: People, settings: Settings,
                                               server: ScriptedServer) -> None:
    server.script("POST", "/api/v1/auth/logout", Reply(401, {"error": "http_error"}))
    lease = pool.borrow("Dana")
    answer = signed_in(lease.identity, 1)
    exchange("POST", "/auth/revoke", 200, body={"token": answer["access_token"]}, token=answer["access_token"])
    lease.passed = True
    assert pool.hand_back(lease, PermisoClient(settings, pacer=AuthPacer())) is not None
    assert people.retired == [lease.identity.username]


def test_the_scenarios_own_logout_needs_no_clean_up(pool: PeoplePool, settings: Settings,
                                                    server: ScriptedServer) -> None:
    lease = pool.borrow("Dana")
    answer = signed_in(lease.identity, 1)
    exchange("POST", "/auth/logout", 200, token=answer["access_token"])
    exchange("GET", "/users/me", 401, token=answer["access_token"])  # refused: nothing changed
    lease.passed = True
    assert pool.hand_back(lease, PermisoClient(settings, pacer=AuthPacer())) is None
    assert not server.seen and lease.pooled.session is None


@pytest.mark.parametrize(("method", "path", "status", "expected"), [
    ("GET", "/users/me", 200, True), ("POST", "/auth/introspect", 200, True), ("POST", "/auth/token", 301, True),
    ("PUT", "/users/x", 403, True), ("POST", "/auth/refresh", 401, True), ("POST", "/auth/token", 401, False),
    ("POST", "/auth/token", 200, False), ("DELETE", "/users/x", 204, False), ("PUT", "/users/x", 500, False),
])
def test_harmless(method: str, path: str, status: int, expected: bool) -> None:
    ex = Exchange(method, API + path, status, {}, None, {}, "", 1.0, datetime.now(UTC))
    assert harmless(ex) is expected
