"""Wrong passwords tried on a disabled account are not held against it once it is enabled again (D3).

Why: a disabled account is already closed, so a wrong password on it is refused like any other and must
not count towards the lockout (A.5: the failures that lock are those of an account that could otherwise
sign in). Today's Permiso counts them (Part C D3), so the owner of an account that was disabled while
someone kept guessing finds it locked the moment it is opened again. The preparation (disable, guess as
often as the lockout threshold, enable again) is done here; a target that refuses any of it fails the
scenario as a refused precondition, never as a finding about the rule.

Nothing here imports behave.
"""

from __future__ import annotations

from collections.abc import Sequence

from support.checks.causes import could_not_prepare
from support.checks.error_matchers import is_oauth_error
from support.people import flows
from support.people.identities import Identity
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse


def _throwaway(identity: Identity) -> None:
    if identity.configured:
        raise AssertionError("the suite never disables or locks a configured account")


def guess_while_disabled(guesser: PermisoClient, identity: Identity, times: int) -> list[ApiResponse]:
    """``times`` wrong passwords for the (disabled) account; each must be refused as a wrong password.

    A guess that is not refused as invalid_grant means the target did not play the situation (it let a
    wrong password in, or answered something else): a refused precondition, naming that answer.
    """
    _throwaway(identity)
    if times < 1:
        raise AssertionError(f"the lockout threshold must be at least 1, not {times}")
    answers = flows.guess_wrongly(guesser, identity.username, identity.password, times)
    odd = first_not_refused(answers)
    if odd is not None:
        raise could_not_prepare(odd, "refuse a wrong password on the disabled account as invalid_grant")
    return answers


def first_not_refused(answers: Sequence[ApiResponse]) -> ApiResponse | None:
    """The first answer that is not a 401 invalid_grant refusal, or None."""
    refusal = is_oauth_error("invalid_grant", 401)
    return next((a for a in answers if not refusal.matches(a)), None)


def enable_again(admin: PermisoClient, identity: Identity) -> ApiResponse:
    """The administrator opens the account again; a refusal is a refused precondition."""
    _throwaway(identity)
    answer = admin.update_user(str(identity.id), is_active=True)
    if answer.status != 200:
        raise could_not_prepare(answer, "enable the account again")
    return answer
