"""The rules every answer keeps: Bearer challenge, Retry-After, no-store, security headers, no server
software, the error shape, no internals, no echo, no open CORS; and the TLS front's handling of
credentials sent in clear.

Contract parts: A.1 (the five security headers on every answer, HSTS on HTTPS), A.2 and A.11 (401 with
a Bearer challenge, 429 with Retry-After, error shapes; no traceback, SQL, paths or submitted values in
error bodies), A.3 (token answers carry Cache-Control: no-store), Part B (plain HTTP only redirects, to
the same path over HTTPS). Part C: D9, D10, D16, D28, D32, F1.

One rule per scenario: each Then below checks ONE of these rules with its single-rule matcher. The same
rules are watched on every answer of the run (`support.domains.hygiene.WATCH`), which only reports.
Importing this module subscribes that watch to every client's answers.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from behave import register_type, then, when
from hamcrest import assert_that

from support.checks.error_matchers import does_not_echo, has_a11_error_shape, reveals_nothing_internal
from support.checks.matchers import (
    has_bearer_challenge,
    has_no_store,
    has_retry_after,
    has_security_headers,
    has_status,
)
from support.domains import admin_flows, hygiene, registration, security_checks
from support.people import flows
from support.people.actors import service_actor
from support.people.identities import require
from support.wire import jwt_forge
from support.wire.admin_session import ensure_admin
from support.wire.client import PermisoClient

register_type(Who=flows.parse_who, Their=flows.parse_their)
hygiene.WATCH.subscribe()


ANSWERS = ("a health report", "a token answer", "a newly created account", "an answer without content",
           "a refusal for a missing token", "a refusal for a missing permission",
           "an answer for an unknown address", "an answer for a wrong method", "a validation error",
           "a refusal of an oversized body", "a refusal of a taken username", "an answer for an unknown account")
PROVOCATIONS = ("a null byte in the username at sign-in", "an over-long username at sign-in",
                "a body that is not JSON", "a JSON body of the wrong shape", "a user id that is not a UUID",
                "a page number far too large")
PLAIN_REQUESTS = ("her sign-in", "her refresh token", "a question who is signed in, with her token",
                  "an introspection of her token", "a sign-out, with her token")
REFUSALS = ("asking who is signed in without a token", "presenting a token that is garbage",
            "presenting a token signed with another key", "signing in as Dana with a wrong password",
            "refreshing with a token never issued")
GRANTS = ("Dana's sign-in", "Dana's refresh", "the suite's service client")

register_type(Answer=flows.choice_of(*ANSWERS), Provocation=flows.choice_of(*PROVOCATIONS),
              PlainRequest=flows.choice_of(*PLAIN_REQUESTS), Refusal=flows.choice_of(*REFUSALS),
              Grant=flows.choice_of(*GRANTS))


# ---------------------------------------------------------------------------------------- Bearer challenge
@when("someone is refused for {refusal:Refusal}")
def when_someone_is_refused(context: Any, refusal: str) -> None:
    mallory = flows.attacker(context).client
    dana = flows.person(context, "Dana")
    if refusal == "asking who is signed in without a token":
        answer = mallory.request("GET", "/users/me", token=None)
    elif refusal == "presenting a token that is garbage":
        answer = mallory.request("GET", "/users/me", token="this-is-not-a-token")
    elif refusal == "presenting a token signed with another key":
        genuine = require(dana.client.sign_in(dana.identity.username, dana.identity.password), 200,
                          what="a genuine token of Dana's to forge")
        answer = mallory.request("GET", "/users/me", token=jwt_forge.wrong_key(str(genuine.body["access_token"])))
    elif refusal == "signing in as Dana with a wrong password":
        answer = mallory.sign_in(dana.identity.username, flows.wrong_password(dana.identity.password))
    else:
        genuine = require(dana.client.sign_in(dana.identity.username, dana.identity.password), 200,
                          what="a genuine refresh token of Dana's to forge")
        answer = mallory.refresh(jwt_forge.wrong_key(str(genuine.body["refresh_token"])))
    context.response = answer
    # The rule is about refusals: an answer that is not a 401 leaves nothing to judge (and says so).
    assert_that(answer, has_status(401))


@then("the refusal says how to authenticate")
def then_refusal_says_how_to_authenticate(context: Any) -> None:
    assert_that(context.response, has_bearer_challenge())


# ---------------------------------------------------------------------------------------- Retry-After
@when("newcomers register from the same address until the hourly limit answers")
def when_newcomers_register_until_hourly_limit(context: Any) -> None:
    context.registrations = registration.newcomers_register_until_limited(context)


@then("the limit's refusal says when to retry")
def then_limit_refusal_says_when_to_retry(context: Any) -> None:
    run: registration.RegistrationRun = context.registrations
    assert run.refusal is not None and run.refusal.status == 429, \
        f"no registration met the hourly limit, so there is no refusal to judge: {run.summary()}"
    assert_that(run.refusal, has_retry_after())


# ---------------------------------------------------------------------------------------- no-store
@when("a token answer comes back for {grant:Grant}")
def when_token_answer_comes_back(context: Any, grant: str) -> None:
    if grant == "the suite's service client":
        answer = service_actor(context, "Ledger service", may_use_configured=True).sign_in()
    else:
        dana = flows.person(context, "Dana")
        if grant == "Dana's sign-in":
            answer = dana.sign_in()
        else:
            answer = dana.client.refresh(flows.notebook(context).old_refresh(dana.name))
    context.response = answer
    assert_that(answer, has_status(200))


@then("the token answer may not be cached")
def then_token_answer_not_cached(context: Any) -> None:
    assert_that(context.response, has_no_store())


# ---------------------------------------------------------------------------------------- headers
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
    if answer == "a refusal of a taken username":
        taken = context.identities.user("Taken")
        return admin.create_user(**admin_flows.user_body(context, username=taken.username))
    if answer == "an answer for an unknown account":
        return admin.get_user(str(uuid.uuid4()))
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


@then("the answer has the contract's error shape")
def then_answer_has_error_shape(context: Any) -> None:
    status = context.response.status
    assert status >= 400, f"the answer was not an error (status {status}): there is no error shape to judge"
    assert_that(context.response, has_a11_error_shape())


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


@then("the answer reveals nothing of the server's internals")
def then_answer_reveals_nothing_internal(context: Any) -> None:
    assert_that(context.response, reveals_nothing_internal())


@when("the administrator creates an account whose password breaks the policy")
def when_administrator_creates_account_with_weak_password(context: Any) -> None:
    weak = "onlylowercase" + secrets.token_hex(4)
    body = admin_flows.user_body(context, password=weak)
    context.sent_values = [weak]
    context.response = ensure_admin(context).create_user(**body)
    admin_flows.track_created(context, "user", context.response)


@when("{who:Who} changes {their:Their} password to one that breaks the policy")
def when_person_changes_password_to_weak_one(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    me = require(someone.client.me(), 200, what=f"{someone.name}'s own account id")
    weak = "onlylowercase" + secrets.token_hex(4)
    context.sent_values = [someone.identity.password, weak]
    context.response = someone.client.change_password(str(me.body["id"]), someone.identity.password, weak)


@then("the refusal gives back nothing that was sent")
def then_refusal_gives_back_nothing(context: Any) -> None:
    answer = context.response
    assert 400 <= answer.status < 500, \
        f"the password breaking the policy was not refused (status {answer.status}): no refusal to judge"
    assert_that(answer, does_not_echo(*getattr(context, "sent_values", [])))


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
