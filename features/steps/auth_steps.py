"""Signing in and out: the token response and its claims, the current user, refusals, disabled accounts,
devices of one person.

Contract parts: A.3 (`/auth/token`: the token response, `Cache-Control: no-store`, 401 invalid_grant
identical for a wrong password and an unknown user, 403 account_disabled; `/auth/logout`: the
presented access token and all refresh tokens of the user are refused, the session is ended), A.4 (the
claims of an access token), A.5 (disabled accounts), A.6 (`/users/me`: the user JSON, never a password),
and decisions.md (logout ends only the presented session: another device keeps working).
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import (
    all_of,
    assert_that,
    contains_inanyorder,
    equal_to,
    greater_than_or_equal_to,
    has_entries,
    instance_of,
)

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error
from support.checks.matchers import has_status, is_user_json
from support.checks.token_matchers import is_jwt_with_claims, is_token_response
from support.people import flows
from support.people.identities import Identity, ProtectedAccountError, require

register_type(Who=flows.parse_who, Their=flows.parse_their)
register_type(Device=flows.parse_device)


def _identity(context: Any, who: str) -> Identity:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity), f"{who} is not a person with an account"
    return identity


# ---------------------------------------------------------------------------------------- sign-in
@when("{who:Who} signs in with {their:Their} email address and password")
def when_person_signs_in_with_email(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    identity = _identity(context, who)
    context.response = someone.client.sign_in(identity.email, identity.password)


@then("{who:Who} receives a well-formed token response")
def then_person_receives_token_response(context: Any, who: str) -> None:
    assert_that(context.response, is_token_response(refresh=True))


@then("{who:Who}'s access token names {their:Their} and carries {their2:Their} roles and scopes")
def then_access_token_names_person(context: Any, who: str, their: str, their2: str) -> None:
    identity = _identity(context, who)
    body = context.response.body
    granted = flows.scopes_of(context.response)
    assert_that(body["access_token"], is_jwt_with_claims(
        iss="permiso-auth", sub=identity.id, type="access", username=identity.username,
        email=identity.email, is_superuser=False, roles=contains_inanyorder(*identity.roles),
        scopes=contains_inanyorder(*granted), jti=instance_of(str),
        exp=instance_of(int), iat=instance_of(int), nbf=instance_of(int)))
    claims = flows.claims_of(body["access_token"])
    assert_that(claims["exp"] - claims["iat"], equal_to(body["expires_in"]),
                "the token's lifetime (exp - iat) is the expires_in of the response")
    account = flows.present_token(flows.person(context, who), body["access_token"])
    assert_that(account, has_status(200))
    assert_that(granted, contains_inanyorder(*account.body.get("scope_names", [])),
                "with no scope asked for, the sign-in grants every scope the account holds")


# ---------------------------------------------------------------------------------------- current user
@when("{who:Who} asks who is signed in")
def when_person_asks_who_is_signed_in(context: Any, who: str) -> None:
    context.response = flows.person(context, who).client.me()


@then("{who:Who} is shown {their:Their} own account")
def then_person_is_shown_own_account(context: Any, who: str, their: str) -> None:
    identity = _identity(context, who)
    expected: dict[str, Any] = {"username": identity.username.lower(), "email": identity.email}
    if identity.id:
        expected["id"] = identity.id
    assert_that(context.response, all_of(has_status(200), is_user_json(**expected)))


@then("{their:Their} account shows no password")
def then_account_shows_no_password(context: Any, their: str) -> None:
    # is_user_json refuses any password/hash/secret field; also no submitted password text at all
    identity = _identity(context, flows.notebook(context).last_actor or "she")
    assert_that(context.response, is_user_json())
    assert identity.password not in context.response.text, "the user JSON contains the password"


# ---------------------------------------------------------------------------------------- refusals
def _try_wrong_password(context: Any, who: str) -> None:
    identity = _identity(context, who)
    guess = flows.wrong_password(identity.password)
    answer = flows.attacker(context).client.sign_in(identity.username, guess)
    flows.notebook(context).refusals.append(answer)


def _try_unknown_username(context: Any) -> None:
    answer = flows.attacker(context).client.sign_in(flows.unknown_username(context.settings),
                                                    flows.wrong_password(""))
    flows.notebook(context).refusals.append(answer)


@when("Mallory tries to sign in as {who:Who} with a wrong password")
def when_mallory_signs_in_with_wrong_password(context: Any, who: str) -> None:
    _try_wrong_password(context, who)


@when("Mallory tries a wrong password for {who:Who} and a username nobody has")
def when_mallory_tries_wrong_password_and_unknown_username(context: Any, who: str) -> None:
    _try_wrong_password(context, who)
    _try_unknown_username(context)


# ---------------------------------------------------------------------------------------- disabled
@when("the administrator disables {who:Who}'s account")
def when_administrator_disables_account(context: Any, who: str) -> None:
    answer = context.identities.deactivate(_identity(context, who))
    assert_that(answer, has_status(200))


@then("the sign-in is refused because the account is disabled")
def then_sign_in_refused_disabled(context: Any) -> None:
    assert_that(context.response, is_oauth_error("account_disabled", 403))


# ---------------------------------------------------------------------------------------- sign-out
@then("{who:Who} is told {pronoun:Who} was signed out")
def then_person_told_signed_out_of_one_session(context: Any, who: str, pronoun: str) -> None:
    assert_that(context.response, has_status(200))
    # A.3: sessions_terminated is >= 1 for a signed-in caller; how it counts is not promised
    assert_that(context.response.body, has_entries(message=instance_of(str),
                                                   sessions_terminated=greater_than_or_equal_to(1)))


@when("a visitor who is not signed in tries to sign out")
def when_visitor_tries_to_sign_out(context: Any) -> None:
    context.response = flows.visitor(context).client.request("POST", "/auth/logout", token=None)


@then("the visitor is told to sign in first")
def then_visitor_refused_with_challenge(context: Any) -> None:
    assert_that(context.response, is_bearer_refusal())


@then("{who:Who} can still sign out")
def then_person_can_still_sign_out(context: Any, who: str) -> None:
    assert_that(flows.sign_out(context, flows.person(context, who)), has_status(200))


# ---------------------------------------------------------------------------------------- devices
@given("{who:Who} has signed in on {their:Their} {first:Device} and on {their2:Their} {second:Device}")
def given_person_signed_in_on_two_devices(context: Any, who: str, their: str, first: str, their2: str,
                                          second: str) -> None:
    identity = _identity(context, who)
    book = flows.notebook(context)
    for device in (first, second):
        client = flows.new_device(context.settings, context.log, context.target.base_url,
                                  f"{who}'s {device}")
        context.add_cleanup(client.close)
        require(client.sign_in(identity.username, identity.password), 200, what=f"sign {who} in on the {device}")
        book.devices[device] = client
        book.remember_sign_in(device, client)
    book.last_actor = who


@when("{who:Who} signs out on {their:Their} {device:Device}")
def when_person_signs_out_on_device(context: Any, who: str, their: str, device: str) -> None:
    book = flows.notebook(context)
    client = book.devices[device]
    if getattr(flows.person(context, who).identity, "configured", False):
        raise ProtectedAccountError(f"refusing to sign out {who}: a logout ends every session of a "
                                    "configured account (contract D.3)")
    book.remember_previous(device, client)
    context.response = client.sign_out()
    assert_that(context.response, has_status(200))


@then("the {device:Device}'s old access token is refused")
def then_device_old_access_token_refused(context: Any, device: str) -> None:
    book = flows.notebook(context)
    answer = book.devices[device].request("GET", "/users/me", token=book.old_access(device))
    assert_that(answer, is_bearer_refusal())


@then("the {device:Device}'s access token is still accepted")
def then_device_access_token_still_accepted(context: Any, device: str) -> None:
    assert_that(flows.notebook(context).devices[device].me(), flows.accepted_for())


@then("the {device:Device}'s refresh token is refused as invalid_grant")
def then_device_refresh_token_refused(context: Any, device: str) -> None:
    book = flows.notebook(context)
    answer = book.devices[device].refresh(book.old_refresh(device))
    assert_that(answer, is_oauth_error("invalid_grant", 401))

