"""Self-registration and its limit (A.6, Part B): the skip reason when this address's registration
budget is spent, and newcomers registering one after another until the hourly limit answers
(:class:`RegistrationRun`).

A module of its own because the registration limit is a budget of the client's address shared by the
whole run (contract Part B: 3 per hour per IP), not an administrative call: its loop is bounded and
testable without a server, and it only borrows the user bodies and the cleanup tracking of
:mod:`support.domains.admin_flows`. The matcher of the refusal it ends with is
:func:`support.domains.admin_matchers.refused_by_the_registration_limit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from support.domains.admin_flows import track_created, user_body
from support.wire.evidence import ApiResponse

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
