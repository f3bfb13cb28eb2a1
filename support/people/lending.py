"""Wiring of the people pool (support/people/pool.py) into a behave run: who makes and removes its people, which
scenarios may borrow, and when they hand back.

Kept apart from support/lifecycle/run.py so the hooks stay readable: ``start`` in ``before_all``, ``scenario_started``
in ``before_scenario``, ``scenario_ended`` in ``after_scenario``, ``stop`` in ``after_all``.

- The pool's people are made through the administrator's API by a run-wide
  :class:`~support.people.identities.Identities`, whose cleanup is registered in the run's
  :class:`~support.lifecycle.run.CleanupLedger` at the first creation: swept in ``after_all`` (and by ``fail_fast``,
  and after a Ctrl-C), so every pooled person is deleted at the end of the run whatever happens.
- A retired person is deleted at once (and forgotten by that cleanup).
- A scenario tagged ``@destructive`` never borrows. Each lease's hand-back is registered as a scenario
  cleanup (also in the ledger), so it happens after ``after_scenario`` has told the lease whether the
  scenario passed; an interrupted run's leases are handed back by the sweep (and, not known to have
  passed, retired).
"""

from __future__ import annotations

from typing import Any

from support.people.identities import Identities, Identity
from support.people.pool import Lease, PeoplePool
from support.wire.client import PermisoClient

#: the tag that keeps a scenario from borrowing (it locks, disables or deletes the people it uses)
DESTRUCTIVE = "destructive"


def start(state: Any) -> PeoplePool:
    """The run's pool (``state`` is the run's RunState: settings, admin_session, ledger)."""
    admin = PermisoClient(state.settings, name="administrator (people pool)")

    def signed_in_admin() -> PermisoClient:
        state.admin_session.learn(admin)
        if admin.token != state.admin_session.token or not state.admin_session.fresh:
            state.admin_session.lend(admin)
        return admin

    identities = Identities(admin, state.settings, lambda fn: state.ledger.register(lambda _run: None, fn))

    def make(label: str, roles: tuple[str, ...]) -> Identity:
        identities.admin = signed_in_admin()
        return identities.user(label, roles=roles)

    def retire(person: Identity) -> None:
        identities.admin = signed_in_admin()
        answer = identities.delete(person)
        if answer.status in (200, 202, 204, 404):
            identities.forget("user", str(person.id))

    pool = PeoplePool(make, retire)
    pool.admin = admin  # type: ignore[attr-defined]  # its log follows the scenario (scenario_started)
    return pool


def scenario_started(context: Any, state: Any, scenario: Any) -> None:
    """Let the scenario borrow (unless it is destructive); hand-backs go through the ledger."""
    pool: PeoplePool | None = getattr(state, "pool", None)
    context.leases = []
    if pool is None or DESTRUCTIVE in set(scenario.effective_tags):
        context.pool = None
        return
    context.pool = pool
    pool.admin.log = getattr(context, "log", None)  # type: ignore[attr-defined]

    def hand_back(lease: Lease, client: PermisoClient) -> None:
        context.leases.append(lease)
        state.ledger.register(context.add_cleanup, lambda: pool.hand_back(lease, client))

    context.hand_back = hand_back


def scenario_ended(context: Any, status: str) -> None:
    """Tell the scenario's leases whether it passed (before its cleanups hand them back)."""
    for lease in getattr(context, "leases", None) or []:
        lease.passed = status == "passed"


def stop(state: Any) -> None:
    pool: PeoplePool | None = getattr(state, "pool", None)
    if pool is not None:
        pool.close()
