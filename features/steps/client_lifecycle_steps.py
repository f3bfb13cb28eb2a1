"""Service-client lifecycle: registration with the secret shown once, rotation, scopes, rate limits,
enabling and deleting.

Contract parts: A.8 (`POST /service-clients/` 201 `{client, client_secret}`: the secret shown once,
client JSON never contains it; `PUT /{client_id}/scopes`; `POST /{client_id}/rotate-secret`
`{current_secret}` -> new secret, old refused, wrong current 400 `invalid_secret`;
`GET /{client_id}/rate-limit`; DELETE 204, then 404 `not_found`), A.3 (`/auth/service-token`:
401 `invalid_client`, 403 `client_disabled`). Part C: D11, D12, D24. Only throwaway clients are
changed; the configured client is never touched.
"""

from __future__ import annotations

from typing import Any

from behave import given, then, when
from hamcrest import all_of, assert_that, has_entries

from support.checks.error_matchers import is_named_error, is_oauth_error
from support.checks.matchers import has_status
from support.checks.token_matchers import is_token_response
from support.domains import admin_flows, admin_matchers
from support.people import flows
from support.people.actors import Actor
from support.people.identities import ServiceIdentity, ensure_not_protected, unique_client_id
from support.wire.client import PermisoClient
from support.wire.redaction import register_secret


def _service(context: Any) -> Actor:
    service = flows.notebook(context).service
    assert service is not None, "no service client was introduced in this scenario"
    return service  # type: ignore[no-any-return]


def _credentials(context: Any) -> ServiceIdentity:
    book = admin_flows.admin_book(context)
    if book.client is not None:
        return book.client
    identity = _service(context).identity
    assert isinstance(identity, ServiceIdentity)
    ensure_not_protected(context.settings, client_id=identity.client_id, action="change")
    return identity


def _token_with(context: Any, client_id: str, secret: str) -> Any:
    client = PermisoClient(context.settings, log=context.log, base_url=context.target.base_url,
                           name=f"service client {client_id}")
    context.add_cleanup(client.close)
    return client.service_sign_in(client_id, secret)


@when('the administrator registers a service client with the scope "{scope}"')
def when_administrator_registers_client(context: Any, scope: str) -> None:
    admin = context.identities.admin
    client_id = unique_client_id(context.settings.permiso_run_id)
    context.response = admin.create_client(
        name=f"Acceptance client {client_id}", client_id=client_id, client_type="confidential",
        is_active=True, is_trusted=False, scope_ids=[context.identities.scope_id(scope)])
    admin_flows.track_created(context, "client", context.response)
    secret = context.response.get("client_secret")
    if isinstance(secret, str):
        register_secret(secret)
        admin_flows.admin_book(context).client = ServiceIdentity(client_id, secret, (scope,))


@then("the answer shows the client's secret once")
def then_answer_shows_secret_once(context: Any) -> None:
    assert_that(context.response, has_status(201))
    secret = context.response.get("client_secret")
    assert isinstance(secret, str) and len(secret) >= 16, "no usable client_secret in the answer"
    assert_that(context.response.get("client"), admin_matchers.without_secret(secret))


@then("neither the client's details nor the client list show the secret")
def then_details_and_list_hide_secret(context: Any) -> None:
    credentials = _credentials(context)
    admin = context.identities.admin
    details = admin.get_client(credentials.client_id)
    assert_that(details, all_of(has_status(200), admin_matchers.without_secret(credentials.secret)))
    listing = admin.list_clients(per_page=100)
    assert_that(listing, all_of(admin_matchers.a_page_of("clients"), admin_matchers.without_secret(credentials.secret)))


@then("the client gets a token with that secret")
@then("the client gets a token with the new secret")
def then_client_gets_token(context: Any) -> None:
    credentials = _credentials(context)
    book = admin_flows.admin_book(context)
    secret = book.new_secret or credentials.secret
    assert_that(_token_with(context, credentials.client_id, secret), is_token_response(refresh=False))


@when("the administrator rotates the client's secret")
def when_administrator_rotates_secret(context: Any) -> None:
    credentials = _credentials(context)
    context.response = context.identities.admin.rotate_client_secret(credentials.client_id, credentials.secret)
    assert_that(context.response, has_status(200))
    new = context.response.get("client_secret")
    assert isinstance(new, str) and new, "the rotation answer shows no new secret"
    register_secret(new)
    book = admin_flows.admin_book(context)
    book.old_secret, book.new_secret = credentials.secret, new


@then("the old secret is refused as invalid_client")
def then_old_secret_refused(context: Any) -> None:
    credentials = _credentials(context)
    old = admin_flows.admin_book(context).old_secret
    assert old, "no secret was rotated"
    assert_that(_token_with(context, credentials.client_id, old), is_oauth_error("invalid_client", 401))


@when("the administrator tries to rotate the client's secret giving a wrong current secret")
def when_administrator_rotates_with_wrong_secret(context: Any) -> None:
    credentials = _credentials(context)
    context.response = context.identities.admin.rotate_client_secret(
        credentials.client_id, flows.wrong_password(credentials.secret))


@then("the rotation is refused as invalid_secret")
def then_rotation_refused(context: Any) -> None:
    assert_that(context.response, is_named_error("invalid_secret", 400))


@given("the administrator has given the client the scopes {phrase}")
def given_administrator_has_set_client_scopes(context: Any, phrase: str) -> None:
    credentials = _credentials(context)
    ids = [context.identities.scope_id(name) for name in admin_matchers.words(phrase)]
    assert_that(context.identities.admin.set_client_scopes(credentials.client_id, ids), has_status(200))


@when("the administrator registers a service client allowing {per_minute:d} requests a minute and "
      "{per_hour:d} an hour")
def when_administrator_registers_client_with_limits(context: Any, per_minute: int, per_hour: int) -> None:
    admin_flows.admin_book(context).client = context.identities.service_client(
        "rate limited", scopes=("service:api",), rate_limit_per_minute=per_minute, rate_limit_per_hour=per_hour)


@then("the client's rate limits read {per_minute:d} a minute and {per_hour:d} an hour")
def then_client_rate_limits_read(context: Any, per_minute: int, per_hour: int) -> None:
    credentials = _credentials(context)
    admin = context.identities.admin
    details = admin.get_client(credentials.client_id)
    assert_that(details, has_status(200))
    assert_that(details.body, has_entries(rate_limit_per_minute=per_minute, rate_limit_per_hour=per_hour))
    assert_that(admin.client_rate_limit(credentials.client_id), has_status(200))


@then("the administrator can enable the service client again")
def then_administrator_can_enable_client(context: Any) -> None:
    credentials = _credentials(context)
    assert_that(context.identities.admin.update_client(credentials.client_id, is_active=True), has_status(200))


@when("the administrator deletes the service client")
def when_administrator_deletes_client(context: Any) -> None:
    credentials = _credentials(context)
    assert_that(context.identities.admin.delete_client(credentials.client_id), has_status(204))


@then("the administrator no longer finds the service client")
def then_administrator_no_longer_finds_client(context: Any) -> None:
    assert_that(context.identities.admin.get_client(_credentials(context).client_id),
                is_named_error("not_found", 404))


@then("the service client's secret is refused as invalid_client")
def then_service_client_secret_refused(context: Any) -> None:
    credentials = _credentials(context)
    assert_that(_token_with(context, credentials.client_id, credentials.secret),
                is_oauth_error("invalid_client", 401))
