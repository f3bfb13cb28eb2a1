"""Hostile input: injection strings, Unicode edge cases, null bytes and oversized values or bodies.

Contract parts: A.3 (sign-in), A.5 (username and email rules), A.6 (user creation, search, lookup by
id), A.11 (validation errors, never a 5xx). Hostile values are named in the features and looked up in
`support.domains.security_checks.PAYLOADS` (unknown names are used literally); "the number of users is
unchanged" compares the administrator's user statistics with the ones read in the Background.
A made-up password-reset or email-verification token is refused 400 `invalid_token` (A.6, D11).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from behave import register_type, then, when
from hamcrest import assert_that, equal_to

from support.checks.matchers import has_status
from support.domains import security_checks
from support.people import flows
from support.wire.admin_session import ensure_admin

register_type(Who=flows.parse_who, Their=flows.parse_their)

#: hostile values that are not strings (JSON structure where a string is expected)
OBJECT_PAYLOADS: dict[str, Any] = {
    "NoSQL operator object": {"$ne": None},
    "a list instead of a text": ["admin", "dana"],
}


def _value(name: str) -> Any:
    return OBJECT_PAYLOADS[name] if name in OBJECT_PAYLOADS else security_checks.payload(name)


def _track_if_created(context: Any, answer: Any, username: Any) -> None:
    """A hostile account that was created anyway must still be removed at the end of the scenario."""
    if answer.status == 201 and isinstance(answer.body, dict) and "id" in answer.body:
        context.identities.track_user(str(answer.body["id"]), str(username))


@when("Mallory signs in with the {name} as the username and {who:Who}'s password")
def when_mallory_signs_in_with_hostile_username(context: Any, name: str, who: str) -> None:
    someone = flows.person(context, who)
    context.response = flows.attacker(context).client.sign_in(str(_value(name)), someone.identity.password)


@then("the hostile request is refused as a client error")
def then_hostile_request_refused(context: Any) -> None:
    assert_that(context.response, security_checks.is_client_refusal())


@then("the number of users is unchanged")
def then_number_of_users_unchanged(context: Any) -> None:
    before = flows.notebook(context).total_users
    assert before is not None, "the user statistics were not read before"
    answer = ensure_admin(context).user_stats()
    assert_that(answer, has_status(200))
    assert_that(answer.body["total_users"], equal_to(before), "the number of users")


@when("the administrator creates an account with the {name} as the {field}")
def when_administrator_creates_hostile_account(context: Any, name: str, field: str) -> None:
    unique = f"pa_{context.settings.permiso_run_id}_in{secrets.token_hex(3)}"
    body: dict[str, Any] = {"username": unique, "email": f"{unique}@example.com",
                            "password": "Hostile-Input-1!" + secrets.token_hex(3)}
    key = {"username": "username", "email address": "email"}[field]
    body[key] = _value(name)
    context.response = ensure_admin(context).create_user(**body)
    _track_if_created(context, context.response, body["username"])


@when("the administrator searches the users for the {name}")
def when_administrator_searches(context: Any, name: str) -> None:
    context.response = ensure_admin(context).list_users(search=str(_value(name)))


@then("the search finds nobody or is refused")
def then_search_finds_nobody(context: Any) -> None:
    assert_that(context.response, security_checks.finds_nobody_or_refuses())


@when("the administrator looks up the user whose id is the {name}")
def when_administrator_looks_up_hostile_id(context: Any, name: str) -> None:
    context.response = ensure_admin(context).get_user(quote(str(_value(name)), safe=""))


@when("the administrator sends a request to create an account that is 2 MB large")
def when_administrator_sends_oversized_body(context: Any) -> None:
    unique = f"pa_{context.settings.permiso_run_id}_big{secrets.token_hex(3)}"
    head = json.dumps({"username": unique, "email": f"{unique}@example.com", "password": "Oversized-1!x"})
    body = security_checks.OversizedBody(head=head[:-1] + ', "bio": "')
    context.response = ensure_admin(context).request("POST", "/users/", data=body,
                                                     headers={"Content-Type": "application/json"})
    _track_if_created(context, context.response, unique)


@when("Mallory confirms a {purpose} for {who:Who} with a made-up token")
def when_mallory_confirms_with_made_up_token(context: Any, purpose: str, who: str) -> None:
    someone = flows.person(context, who)
    context.response, context.made_up_token = security_checks.confirm_with_made_up_token(
        flows.attacker(context).client, purpose, someone.identity.email)


@then("the confirmation is refused as invalid_token, revealing nothing")
def then_confirmation_refused_as_invalid_token(context: Any) -> None:
    assert_that(context.response, security_checks.refused_as_invalid_token(context.made_up_token))
