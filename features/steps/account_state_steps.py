"""The account-state matrix: every state an account can be put in, on every path a credential takes.

Contract parts: A.2 (guards refuse tokens of disabled, locked or deleted accounts), A.3 (sign-in
refusals, refresh refusals, introspection), A.5 (lockout and disabled accounts), A.6 (delete, password
change), A.7 (role changes affect the next token). The catalogue and the expected outcomes live in
`support.domains.account_states`; each row of `features/authentication/account_states.feature` is one cell.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that

from support.domains import account_states
from support.people import flows
from support.wire.admin_session import ensure_admin

register_type(
    Who=flows.parse_who,
    AccountState=flows.choice_of(*account_states.STATES),
    CredentialPath=flows.choice_of(*account_states.PATHS),
    StateOutcome=flows.choice_of(*account_states.OUTCOMES),
)


@given("{who:Who} had signed in before her account was {state:AccountState}")
def given_signed_in_before_state(context: Any, who: str, state: str) -> None:
    roles = (account_states.ROLE,) if account_states.needs_role(state) else ()
    from support.people.actors import actor

    someone = actor(context, who, roles=roles)
    flows.sign_in_and_remember(context, someone.name)
    book = flows.notebook(context)
    identity = someone.identity
    before = account_states.Before(identity, book.access[someone.name], book.refresh[someone.name],
                                   identity.password)

    def stranger() -> Any:
        return flows.new_device(context.settings, context.log, context.target.base_url, "a stranger's browser")

    account_states.apply_state(state, before, ensure_admin(context), someone.client,
                               lock_threshold=context.settings.permiso_lockout_threshold, stranger=stranger)
    context.before_change = before


@when("{who:Who} tries {path:CredentialPath}")
def when_person_tries_path(context: Any, who: str, path: str) -> None:
    someone = flows.person(context, who)
    context.response = account_states.attempt(path, context.before_change, someone.client, ensure_admin(context))


@then("the attempt is {outcome:StateOutcome}")
def then_attempt_gets_outcome(context: Any, outcome: str) -> None:
    assert_that(context.response, account_states.outcome(outcome))
