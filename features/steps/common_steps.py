"""Shared phrases of the authentication domains: people, signing in and out, tokens accepted or refused.

Contract parts: A.2 (the bearer guard: a refused token is 401 with a Bearer challenge), A.3 (sign-in,
sign-out, the OAuth-style refusals of the token endpoints), A.5 (accounts). People are
`support.people.actors` actors: "Dana" and "Erin" are throwaway regular users created on first mention,
"the configured user" is the account from settings (never locked, disabled or changed), and
"she"/"he"/"they" is whoever acted last. Mallory, the attacker, has no account. What a scenario
remembers between steps lives in one `support.people.flows.Notebook`.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error
from support.checks.matchers import has_status
from support.people import flows
from support.people.identities import require

register_type(Who=flows.parse_who, Their=flows.parse_their)


# ---------------------------------------------------------------------------------------- people
@given("{who:Who} has an account")
def given_person_has_account(context: Any, who: str) -> None:
    flows.person(context, who)


@given("{who:Who} has signed in")
def given_person_has_signed_in(context: Any, who: str) -> None:
    flows.sign_in_and_remember(context, who)


@given("{who:Who} has then signed in with {their:Their} password")
@when("{who:Who} signs in with {their:Their} password")
def when_person_signs_in_with_password(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    context.response = someone.sign_in()
    if context.response.status == 200:
        flows.notebook(context).remember_sign_in(someone.name, someone.client)


@then("{who:Who} can still sign in with {their:Their} password")
def then_person_can_still_sign_in(context: Any, who: str, their: str) -> None:
    assert_that(flows.person(context, who).sign_in(), has_status(200))


# ---------------------------------------------------------------------------------------- tokens
@given("{who:Who}'s access token is accepted")
@then("{who:Who}'s access token is accepted")
def then_persons_access_token_is_accepted(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    assert someone.client.token, f"{someone.name} holds no access token"
    assert_that(someone.client.me(), flows.accepted_for(getattr(someone.identity, "username", None)))


@then("{who:Who}'s old access token is refused")
def then_persons_old_access_token_is_refused(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    old = flows.notebook(context).old_access(someone.name)
    assert_that(flows.present_token(someone, old), is_bearer_refusal())


# ---------------------------------------------------------------------------------------- sign-out
@when("{who:Who} signs out")
def when_person_signs_out(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    flows.notebook(context).remember_previous(someone.name, someone.client)
    context.response = flows.sign_out(context, someone)
    assert_that(context.response, has_status(200))


@given("{who:Who} has signed out")
def given_person_has_signed_out(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    flows.notebook(context).remember_previous(someone.name, someone.client)
    context.response = require(flows.sign_out(context, someone), 200, what=f"sign {someone.name} out")


@then("{who:Who} can revoke {their:Their} own access token")
def then_person_can_revoke_own_token(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    flows.notebook(context).remember_previous(someone.name, someone.client)
    context.response = someone.client.revoke_own_tokens()
    assert_that(context.response, has_status(200))


# ---------------------------------------------------------------------------------------- refusals
@then("both attempts are refused as {code}")
def then_both_attempts_refused_as(context: Any, code: str) -> None:
    refusals = flows.notebook(context).refusals
    assert len(refusals) >= 2, f"only {len(refusals)} attempt(s) were made"
    for refusal in refusals:
        assert_that(refusal, is_oauth_error(code, 401))


@then("the two refusals cannot be told apart")
def then_refusals_cannot_be_told_apart(context: Any) -> None:
    assert_that(flows.notebook(context).refusals, flows.cannot_be_told_apart())
