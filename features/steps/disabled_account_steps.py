"""Wrong passwords tried while an account is disabled, and the account enabled again.

Contract parts: A.5 (lockout counts the wrong passwords of an account that could sign in; a disabled
account's right password gets 403 account_disabled, a wrong one 401 invalid_grant), A.6 (the
administrator enables and disables accounts), Part C D3 (the failures of a disabled account still count).
The preparation and its refusals live in `support.domains.disabled_accounts`; only throwaway accounts are used.
The sign-in itself is the shared step "<who> signs in with her password" (common_steps).
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then
from hamcrest import assert_that

from support.checks.token_matchers import is_token_response
from support.domains import disabled_accounts
from support.people import flows
from support.people.identities import Identity
from support.wire.admin_session import ensure_admin

register_type(Who=flows.parse_who, Their=flows.parse_their)


def _identity(context: Any, who: str) -> Identity:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity), f"{who} is not a person with an account"
    return identity


@given("Mallory has guessed {who:Who}'s password wrongly as often as the lockout threshold allows")
def given_mallory_guessed_threshold(context: Any, who: str) -> None:
    disabled_accounts.guess_while_disabled(flows.attacker(context).client, _identity(context, who),
                                           context.settings.permiso_lockout_threshold)


@given("the administrator has enabled {who:Who}'s account again")
def given_administrator_enabled_again(context: Any, who: str) -> None:
    disabled_accounts.enable_again(ensure_admin(context), _identity(context, who))


@then("{who:Who} is signed in")
def then_person_is_signed_in(context: Any, who: str) -> None:
    assert_that(context.response, is_token_response())
