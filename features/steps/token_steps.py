"""Refreshing a session, and which tokens the bearer guard accepts.

Contract parts: A.3 (`/auth/refresh`: a new pair with rotation, the used refresh token refused from then
on, 401 invalid_grant for used, revoked or wrong-type tokens; refresh keeps the originally granted
scopes), A.2 and A.4 (only valid, unexpired **access** tokens pass the user guard: a refresh token or a
correctly signed expired token is refused as not signed in), decisions.md (`@needs.signing_key`:
expired tokens are minted with the target's own key, so the refusal cannot be blamed on the signature).
Part C: D5 (refresh tokens accepted as access tokens), D7 (refresh ignores revocation and re-grants all
scopes), D9 (401 without WWW-Authenticate).
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that, contains_inanyorder, equal_to, is_not

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error
from support.checks.matchers import has_status
from support.checks.token_matchers import is_jwt_with_claims, is_token_response
from support.people import flows
from support.people.actors import actor
from support.wire.jwt_forge import SigningForge

register_type(Who=flows.parse_who, Their=flows.parse_their)


# ---------------------------------------------------------------------------------------- refresh
@when("{who:Who} refreshes {their:Their} session")
def when_person_refreshes_session(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    book = flows.notebook(context)
    book.previous_access[someone.name] = book.access.get(someone.name) or someone.client.token or ""
    book.previous_refresh[someone.name] = book.old_refresh(someone.name)
    context.response = someone.client.refresh(book.previous_refresh[someone.name])
    if context.response.status == 200:
        book.remember_sign_in(someone.name, someone.client)


@then("{who:Who} receives a new access token and a new refresh token")
def then_person_receives_new_pair(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    book = flows.notebook(context)
    assert_that(context.response, is_token_response(refresh=True))
    body = context.response.body
    assert_that(body["access_token"], is_not(equal_to(book.previous_access[someone.name])),
                "the refreshed access token differs from the old one")
    assert_that(body["refresh_token"], is_not(equal_to(book.previous_refresh[someone.name])),
                "the refresh token was rotated")
    assert_that(body["access_token"], is_jwt_with_claims(type="access"))
    assert_that(body["refresh_token"], is_jwt_with_claims(type="refresh"))


@then("{who:Who}'s new access token is accepted")
def then_new_access_token_accepted(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    assert_that(context.response, has_status(200))
    new = context.response.body["access_token"]
    assert_that(flows.present_token(someone, new), flows.accepted_for(someone.identity.username))


@then("the previous refresh token is refused")
def then_previous_refresh_token_refused(context: Any) -> None:
    book = flows.notebook(context)
    who = book.last_actor
    assert who is not None, "nobody refreshed in this scenario"
    answer = flows.attacker(context).client.refresh(book.previous_refresh[who])
    assert_that(answer, is_oauth_error("invalid_grant", 401))


@then("the refresh is refused as invalid_grant")
def then_refresh_refused(context: Any) -> None:
    assert_that(context.response, is_oauth_error("invalid_grant", 401))


@then("{who:Who} can still refresh {their:Their} session")
def then_person_can_still_refresh(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    assert_that(someone.client.refresh(), is_token_response(refresh=True))


# ---------------------------------------------------------------------------------------- wrong token types
@when("{who:Who} presents {their:Their} refresh token as if it were an access token")
def when_person_presents_refresh_as_access(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    context.response = flows.present_token(someone, flows.notebook(context).old_refresh(someone.name))


@then("the refresh token is refused as not signed in")
@then("the expired token is refused as not signed in")
def then_presented_token_refused(context: Any) -> None:
    assert_that(context.response, is_bearer_refusal())


# ---------------------------------------------------------------------------------------- expiry
@given("Mallory holds a correctly signed copy of {who:Who}'s access token that has expired")
def given_mallory_holds_expired_copy(context: Any, who: str) -> None:
    someone = flows.sign_in_and_remember(context, who)
    secret = context.settings.permiso_jwt_secret
    assert secret is not None, "PERMISO_JWT_SECRET is needed to mint an honest expired token"
    forge = SigningForge(secret.get_secret_value())
    book = flows.notebook(context)
    book.forged["expired"] = forge.expired(someone.client.token or "", seconds_ago=120)
    book.forged["current"] = forge.genuine_copy(someone.client.token or "")


@when("Mallory uses the expired token to ask who is signed in")
def when_mallory_uses_expired_token(context: Any) -> None:
    mallory = flows.attacker(context)
    context.response = flows.present_token(mallory, flows.notebook(context).forged["expired"])


@then("the same token with an expiry in the future is accepted")
def then_same_token_with_future_expiry_accepted(context: Any) -> None:
    book = flows.notebook(context)
    mallory = flows.attacker(context)
    victim = book.last_actor or ""
    identity = flows.person(context, victim).identity
    assert_that(flows.present_token(mallory, book.forged["current"]), flows.accepted_for(identity.username))


# ---------------------------------------------------------------------------------------- scopes
@given('{who:Who} has an account with the "{role}" role')
def given_person_with_role(context: Any, who: str, role: str) -> None:
    actor(context, who, roles=(role,))
    flows.notebook(context).last_actor = who


@given('{who:Who} has signed in asking only for the scope "{scope}"')
def given_person_signed_in_with_scope(context: Any, who: str, scope: str) -> None:
    flows.sign_in_and_remember(context, who, scope=scope)
    response = flows.person(context, who).client.last
    assert response is not None
    assert_that(flows.scopes_of(response), equal_to([scope]), "the sign-in granted only the scope asked for")


@then('{who:Who}\'s new access token carries only the scope "{scope}"')
def then_new_access_token_carries_only_scope(context: Any, who: str, scope: str) -> None:
    assert_that(context.response, is_token_response(refresh=True))
    assert_that(flows.scopes_of(context.response), equal_to([scope]))
    assert_that(context.response.body["access_token"], is_jwt_with_claims(scopes=contains_inanyorder(scope)))
