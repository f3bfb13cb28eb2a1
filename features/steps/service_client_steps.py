"""Service clients: client-credentials tokens, what they carry, and where they are refused.

Contract parts: A.3 (`/auth/service-token`: 200 with `refresh_token: null` and `session_id: null`,
`expires_in` the client's lifetime; 401 invalid_client identical for an unknown client and a wrong
secret; 403 client_disabled; 400 invalid_scope when none of the requested scopes is owned), A.4 (a
service token: `type: "service"`, `sub` = `client_id`, `scopes`), A.2 (service tokens pass the bearer
guard, e.g. introspection, but are refused by the user guard), A.8 (a service token carries only
scopes the client owns). Throwaway clients are created through the administrator and removed after
the scenario; the configured client is only ever asked for tokens.
"""

from __future__ import annotations

import re
from typing import Any

from behave import given, then, when
from hamcrest import assert_that, contains_inanyorder, equal_to, has_entries

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error
from support.checks.matchers import has_status
from support.checks.token_matchers import is_jwt_with_claims, is_token_response
from support.people import flows
from support.people.actors import Actor, actor, service_actor
from support.people.identities import ServiceIdentity, ensure_not_protected, require


def _scopes(phrase: str) -> tuple[str, ...]:
    """The quoted scope names of a phrase like `scopes "a" and "b"`."""
    names = tuple(re.findall(r'"([^"]+)"', phrase))
    assert names, f"no quoted scope name in {phrase!r}"
    return names


def _service(context: Any) -> Actor:
    client = flows.notebook(context).service
    assert client is not None, "no service client was introduced in this scenario"
    return client  # type: ignore[no-any-return]


def _credentials(context: Any) -> ServiceIdentity:
    identity = _service(context).identity
    assert isinstance(identity, ServiceIdentity)
    return identity


# ---------------------------------------------------------------------------------------- clients
@given("a service client that owns the {scope_phrase}")
def given_service_client_owning(context: Any, scope_phrase: str) -> None:
    scopes = _scopes(scope_phrase)
    # A scenario that never changes the client may run on the configured one when the target refuses
    # to create a throwaway (contract D.1); one that rotates, disables, deletes or re-scopes it may not.
    tags = set(getattr(getattr(context, "scenario", None), "effective_tags", ()) or ())
    may_use_configured = not tags & {"destructive", "admin"}
    flows.notebook(context).service = service_actor(context, "the service client", scopes=scopes,
                                                    may_use_configured=may_use_configured)


@when("the configured service client asks for a token")
def when_configured_client_asks_for_token(context: Any) -> None:
    client = actor(context, "the configured service client")
    flows.notebook(context).service = client
    context.response = client.sign_in()


@when("the service client asks for a token")
def when_service_client_asks_for_token(context: Any) -> None:
    context.response = _service(context).sign_in()


@when("the service client asks for a token with the {scope_phrase}")
def when_service_client_asks_for_scopes(context: Any, scope_phrase: str) -> None:
    context.response = _service(context).sign_in(" ".join(_scopes(scope_phrase)))


@given("the service client has a token")
def given_service_client_has_token(context: Any) -> None:
    require(_service(context).sign_in(), 200, what="a token for the service client")


# ---------------------------------------------------------------------------------------- the token
@then("the service client receives a service token without a refresh token")
def then_service_token_without_refresh(context: Any) -> None:
    credentials = _credentials(context)
    assert_that(context.response, is_token_response(refresh=False))
    client_id = credentials.client_id
    assert_that(context.response.body["access_token"],
                is_jwt_with_claims(type="service", sub=client_id, client_id=client_id))


@then("the service token carries exactly the {scope_phrase}")
def then_service_token_carries_exactly(context: Any, scope_phrase: str) -> None:
    wanted = _scopes(scope_phrase)
    assert_that(context.response, is_token_response(refresh=False))
    assert_that(flows.scopes_of(context.response), equal_to(sorted(wanted)))
    assert_that(context.response.body["access_token"],
                is_jwt_with_claims(scopes=contains_inanyorder(*wanted)))


@then("the service token is accepted where any valid token is")
def then_service_token_accepted_on_bearer_endpoint(context: Any) -> None:
    client = _service(context).client
    assert client.token, "the service client holds no token"
    answer = client.introspect(client.token)
    assert_that(answer, has_status(200))
    assert_that(answer.body, has_entries(active=True, token_type="service"))


@when("the service client asks who is signed in")
def when_service_client_asks_who_is_signed_in(context: Any) -> None:
    context.response = _service(context).client.me()


@then("the service token is refused as not signed in")
def then_service_token_refused(context: Any) -> None:
    assert_that(context.response, is_bearer_refusal())


# ---------------------------------------------------------------------------------------- refusals
def _try_wrong_secret(context: Any) -> None:
    credentials = _credentials(context)
    answer = flows.attacker(context).client.service_sign_in(credentials.client_id,
                                                             flows.wrong_password(credentials.secret))
    flows.notebook(context).refusals.append(answer)


def _try_unknown_client(context: Any) -> None:
    unknown = flows.unknown_username(context.settings).replace("_", "-")
    answer = flows.attacker(context).client.service_sign_in(unknown, flows.wrong_password(""))
    flows.notebook(context).refusals.append(answer)


@when("Mallory tries a wrong secret for that service client and a client id nobody has")
def when_mallory_tries_wrong_secret_and_unknown_client(context: Any) -> None:
    _try_wrong_secret(context)
    _try_unknown_client(context)


@then("the service client can still get a token with its own secret")
def then_service_client_still_gets_token(context: Any) -> None:
    assert_that(_service(context).sign_in(), is_token_response(refresh=False))


@given("the administrator has disabled the service client")
def given_administrator_has_disabled_client(context: Any) -> None:
    credentials = _credentials(context)
    ensure_not_protected(context.settings, client_id=credentials.client_id, action="disable")
    answer = context.identities.admin.update_client(credentials.client_id, is_active=False)
    assert_that(answer, has_status(200))


@then("the request is refused because the client is disabled")
def then_request_refused_client_disabled(context: Any) -> None:
    assert_that(context.response, is_oauth_error("client_disabled", 403))


@then("the request is refused as invalid_scope")
def then_request_refused_invalid_scope(context: Any) -> None:
    assert_that(context.response, is_oauth_error("invalid_scope", 400))
