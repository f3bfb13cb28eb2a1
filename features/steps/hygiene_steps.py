"""Security headers, error hygiene, CORS and the TLS front's handling of credentials sent in clear.

Contract parts: A.1 (the five security headers on every answer, HSTS on HTTPS), A.11 (error shapes;
no traceback, SQL, paths or submitted values in error bodies), Part B (plain HTTP only redirects, to
the same path over HTTPS). Part C: D10, D16, F1.

Importing this module subscribes the run-wide hygiene watch (`support.security_checks.WATCH`) to every
client's answers; the `after_step` hook (`security_checks.after_step`) fails the step that saw a bad one.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from behave import register_type, then, when
from hamcrest import all_of, assert_that

from support import flows, security_checks
from support.client import PermisoClient
from support.matchers import has_security_headers, has_status
from support.run import ensure_admin

register_type(Who=flows.parse_who, Their=flows.parse_their)
security_checks.WATCH.subscribe()




ANSWERS = ("a health report", "a token answer", "a newly created account", "an answer without content",
           "a refusal for a missing token", "a refusal for a missing permission",
           "an answer for an unknown address", "an answer for a wrong method", "a validation error",
           "a refusal of an oversized body")
PROVOCATIONS = ("a null byte in the username at sign-in", "an over-long username at sign-in",
                "a body that is not JSON", "a JSON body of the wrong shape", "a user id that is not a UUID",
                "a page number far too large")
PLAIN_REQUESTS = ("her sign-in", "her refresh token", "a question who is signed in, with her token",
                  "an introspection of her token", "a sign-out, with her token")

register_type(Answer=flows.choice_of(*ANSWERS), Provocation=flows.choice_of(*PROVOCATIONS),
              PlainRequest=flows.choice_of(*PLAIN_REQUESTS))


def _oversized(client: PermisoClient, path: str) -> Any:
    return client.request("POST", path, data=security_checks.OversizedBody(),
                          headers={"Content-Type": "application/json"})


def _receive(context: Any, answer: str) -> Any:
    admin = ensure_admin(context)
    visitor = flows.visitor(context).client
    if answer == "a health report":
        return visitor.health()
    if answer == "a token answer":
        return flows.person(context, "Dana").sign_in()
    if answer == "a newly created account":
        created = context.identities.user("Headers")
        return _created_answer(context, created)
    if answer == "an answer without content":
        target = context.identities.user("Deleted")
        return context.identities.delete(target)
    if answer == "a refusal for a missing token":
        return visitor.request("GET", "/users/me", token=None)
    if answer == "a refusal for a missing permission":
        dana = flows.person(context, "Dana").ensure_signed_in()
        return dana.client.list_users()
    if answer == "an answer for an unknown address":
        return visitor.request("GET", "/no-such-place", token=None)
    if answer == "an answer for a wrong method":
        return visitor.request("DELETE", "/health", api=False, token=None)
    if answer == "a validation error":
        return visitor.request("POST", "/auth/token", data={"username": "x"}, token=None)
    return _oversized(admin, "/users/")


def _created_answer(context: Any, identity: Any) -> Any:
    """The 201 answer that created ``identity`` (the identities helper keeps it as the client's last)."""
    last = ensure_admin(context).last
    assert last is not None and last.status == 201, "the account was not created with a 201 answer"
    return last


@when("someone receives {answer:Answer}")
def when_someone_receives(context: Any, answer: str) -> None:
    context.response = _receive(context, answer)


@then("the answer carries the contract's security headers, HSTS included")
def then_answer_has_security_headers_and_hsts(context: Any) -> None:
    https = context.response.exchange.url.lower().startswith("https://")
    assert_that(context.response, has_security_headers(hsts=https))


@then("the answer carries the contract's security headers, without HSTS")
def then_answer_has_security_headers(context: Any) -> None:
    assert_that(context.response, has_security_headers(hsts=False))


@then("the answer names no server software or version")
def then_answer_names_no_software(context: Any) -> None:
    assert_that(context.response, security_checks.has_no_version_leak())


# ---------------------------------------------------------------------------------------- error hygiene
@when("Mallory provokes an error with {provocation:Provocation}")
def when_mallory_provokes_error(context: Any, provocation: str) -> None:
    mallory = flows.attacker(context).client
    admin = ensure_admin(context)
    if provocation == "a null byte in the username at sign-in":
        context.response = mallory.sign_in("dana\x00admin", flows.wrong_password(""))
    elif provocation == "an over-long username at sign-in":
        context.response = mallory.sign_in("a" * 300, flows.wrong_password(""))
    elif provocation == "a body that is not JSON":
        context.response = mallory.request("POST", "/auth/refresh", data=b"{not json",
                                           headers={"Content-Type": "application/json"}, token=None)
    elif provocation == "a JSON body of the wrong shape":
        context.response = mallory.request("POST", "/auth/refresh", json=[{"refresh_token": [1, 2]}], token=None)
    elif provocation == "a user id that is not a UUID":
        context.response = admin.get_user("not-a-uuid")
    else:
        context.response = admin.list_users(page=10**30)


@then("the answer is a client error that reveals nothing of the server's internals")
def then_client_error_revealing_nothing(context: Any) -> None:
    assert_that(context.response, all_of(security_checks.is_client_refusal(),
                                         security_checks.reveals_nothing_internal()))


@when("Mallory signs in as {who:Who} with a password far longer than any password may be")
def when_mallory_signs_in_with_long_password(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    password = "Aa1!" + secrets.token_hex(8) + "x" * 1100
    context.sent_values = [password, password[:40]]
    context.response = flows.attacker(context).client.sign_in(someone.identity.username, password)


@when("the administrator creates an account whose password breaks the policy")
def when_administrator_creates_account_with_weak_password(context: Any) -> None:
    weak = "onlylowercase" + secrets.token_hex(4)
    name = f"pa_{context.settings.permiso_run_id}_weak{secrets.token_hex(3)}"
    context.sent_values = [weak]
    context.response = ensure_admin(context).create_user(username=name, email=f"{name}@example.com",
                                                         password=weak)
    if context.response.status == 201 and isinstance(context.response.body, dict):
        context.identities.track_user(context.response.body["id"], name)


# ---------------------------------------------------------------------------------------- CORS
FOREIGN_ORIGIN = "https://attacker.example"


@when("a page of a foreign web site asks for {who:Who}'s account with {their:Their} access token")
def when_foreign_site_asks(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    context.response = someone.client.request("GET", "/users/me", headers={"Origin": FOREIGN_ORIGIN})


@when("a page of a foreign web site asks permission to call the API with credentials")
def when_foreign_site_preflight(context: Any) -> None:
    context.response = flows.visitor(context).client.request(
        "OPTIONS", "/users/me", token=None,
        headers={"Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"})


@then("the answer does not let the foreign web site read it")
def then_foreign_site_cannot_read(context: Any) -> None:
    assert_that(context.response, security_checks.refuses_foreign_origin())


# ---------------------------------------------------------------------------------------- TLS front
def _plain_http(context: Any, name: str) -> PermisoClient:
    http_url = context.settings.permiso_http_url
    assert http_url, "PERMISO_HTTP_URL is not set"
    return PermisoClient(context.settings, log=context.log, base_url=http_url, name=name)


@when("{who:Who} sends {request:PlainRequest} over plain HTTP")
def when_person_sends_over_plain_http(context: Any, who: str, request: str) -> None:
    someone = flows.person(context, who)
    book = flows.notebook(context)
    client = _plain_http(context, f"{someone.name} (plain HTTP)")
    client.retry_front_503 = False
    token = book.access[someone.name]
    if request == "her sign-in":
        path = "/auth/token"
        answer = client.request("POST", path, token=None, paced=False,
                                data={"username": someone.identity.username,
                                      "password": someone.identity.password})
    elif request == "her refresh token":
        path = "/auth/refresh"
        answer = client.request("POST", path, token=None, paced=False,
                                json={"refresh_token": book.refresh[someone.name]})
    elif request == "a question who is signed in, with her token":
        path = "/users/me"
        answer = client.request("GET", path, token=token)
    elif request == "an introspection of her token":
        path = "/auth/introspect"
        answer = client.request("POST", path, token=token, json={"token": token})
    else:
        path = "/auth/logout"
        answer = client.request("POST", path, token=token)
    context.response = answer
    context.plain_path = context.settings.permiso_api_base + path


@when("a visitor opens the sign-in address over plain HTTP")
def when_visitor_opens_sign_in_over_http(context: Any) -> None:
    client = _plain_http(context, "a visitor (plain HTTP)")
    context.response = client.request("GET", "/auth/token", token=None)
    assert_that(context.response, has_status(301))


@then("{who:Who} is only sent on permanently to the same path over HTTPS")
def then_only_redirected(context: Any, who: str) -> None:
    host = urlsplit(context.settings.permiso_http_url or "").hostname or ""
    assert_that(context.response, security_checks.a_redirect_keeping(context.plain_path, host))
