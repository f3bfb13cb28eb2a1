"""Forged and misused tokens, and the OAuth semantics of the token, revocation and introspection endpoints.

Contract parts: A.2 (bearer and user guards: 401 with a Bearer challenge), A.3 (token endpoints, OAuth
error shape, `Cache-Control: no-store`, `/revoke` and `/introspect`), A.4 (HS256 only; exp, nbf, iat,
iss and type checked; aud not promised -> `@rfc_strict`), A.11 (validation errors echo nothing).
Forgeries come from `support.wire.jwt_forge`: each changes one thing of a genuine token, so a refusal can
only be due to that change; `@needs.signing_key` forgeries are signed with the target's own key.
Part C: D5, D6, D8, D9.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that

from support.checks.error_matchers import is_bearer_refusal, is_oauth_error, is_validation_error
from support.checks.matchers import has_status
from support.domains import security_checks
from support.people import flows
from support.people.identities import require
from support.wire import jwt_forge
from support.wire.admin_session import ensure_admin

register_type(Who=flows.parse_who, Their=flows.parse_their)


# ---------------------------------------------------------------------------------------- phrases


def _admin_subject(context: Any) -> dict[str, Any]:
    answer = ensure_admin(context).me()
    assert_that(answer, has_status(200))
    return {"sub": answer.body["id"], "username": answer.body["username"], "is_superuser": True}


#: forgeries without the server's key: phrase -> (context, genuine token) -> forged token
FORGERIES: dict[str, Any] = {
    "switching the algorithm to none": lambda c, t: jwt_forge.alg_none(t),
    "stripping the signature": lambda c, t: jwt_forge.strip_signature(t),
    "escalating the scopes under the old signature": lambda c, t: jwt_forge.tamper(t),
    "switching the subject to the administrator": lambda c, t: jwt_forge.tamper(t, **_admin_subject(c)),
    "signing it with a key of her own": lambda c, t: jwt_forge.wrong_key(t),
    "signing it HS256 with a public key's text": lambda c, t: jwt_forge.alg_confusion(t),
    "signing it RS256 with a key pair of her own": lambda c, t: jwt_forge.rs256_fresh(t),
    "signing it ES256 with a key pair of her own": lambda c, t: jwt_forge.es256_fresh(t),
}

#: forgeries with the server's key: phrase -> (forge, genuine token) -> forged token
SIGNED_DEFECTS: dict[str, Any] = {
    "expired": lambda f, t: f.expired(t),
    "not yet valid": lambda f, t: f.not_yet_valid(t),
    "from another issuer": lambda f, t: f.wrong_issuer(t),
    "of the refresh type": lambda f, t: f.wrong_type(t, "refresh"),
    "without an expiry": lambda f, t: f.without(t, "exp"),
    "for another audience": lambda f, t: f.wrong_audience(t),
}

BEARER_USES = ("ask who is signed in", "introspect a token", "revoke a token", "list the sessions",
               "see who is signed in")
WRONG_FORMATS = ("a sign-in as JSON instead of a form", "a service-token request as JSON instead of a form",
                 "a refresh as a form instead of JSON")
MISSING = ("the username", "the password", "any field")
CREDENTIALS = ("Dana's username and a wrong password", "Dana's email address and a wrong password",
               "a refresh token that was never issued", "an unknown service client")
INVALID_TOKENS = ("a garbage string", "her access token with the algorithm none",
                  "her access token signed with another key")

register_type(
    Forgery=flows.choice_of(*FORGERIES),
    SignedDefect=flows.choice_of(*SIGNED_DEFECTS),
    Malformed=flows.choice_of(*jwt_forge.MALFORMED),
    BearerUse=flows.choice_of(*BEARER_USES),
    WrongFormat=flows.choice_of(*WRONG_FORMATS),
    Missing=flows.choice_of(*MISSING),
    Credentials=flows.choice_of(*CREDENTIALS),
    InvalidToken=flows.choice_of(*INVALID_TOKENS),
)


def _use(client: Any, use: str, bearer: str | None) -> Any:
    """Call the endpoint behind a phrase of BEARER_USES with ``bearer`` (None: no token)."""
    if use in {"ask who is signed in", "see who is signed in"}:
        return client.request("GET", "/users/me", token=bearer)
    if use == "introspect a token":
        return client.request("POST", "/auth/introspect", json={"token": "not-a-token"}, token=bearer)
    if use == "revoke a token":
        return client.request("POST", "/auth/revoke", json={"token": "not-a-token"}, token=bearer)
    return client.request("GET", "/sessions/", token=bearer)


def _forge(context: Any) -> jwt_forge.SigningForge:
    secret = context.settings.permiso_jwt_secret
    assert secret is not None, "PERMISO_JWT_SECRET is needed to sign tokens with the server's key"
    return jwt_forge.SigningForge(secret.get_secret_value())


# ---------------------------------------------------------------------------------------- forged tokens
@given("Mallory has forged {who:Who}'s access token by {forgery:Forgery}")
def given_mallory_forged_token(context: Any, who: str, forgery: str) -> None:
    someone = flows.person(context, who)
    book = flows.notebook(context)
    book.forged["forged"] = FORGERIES[forgery](context, book.access[someone.name])
    book.last_actor = someone.name


@given("Mallory holds a copy of {who:Who}'s access token, signed with the server's key, that is "
       "{defect:SignedDefect}")
def given_mallory_holds_signed_copy(context: Any, who: str, defect: str) -> None:
    someone = flows.person(context, who)
    book = flows.notebook(context)
    forge = _forge(context)
    genuine = book.access[someone.name]
    book.forged["forged"] = SIGNED_DEFECTS[defect](forge, genuine)
    book.forged["control"] = forge.genuine_copy(genuine)
    book.last_actor = someone.name


@when("Mallory presents the forged token to ask who is signed in")
def when_mallory_presents_forged_token(context: Any) -> None:
    mallory = flows.attacker(context)
    context.response = flows.present_token(mallory, flows.notebook(context).forged["forged"])


@when("Mallory presents a malformed token ({malformed:Malformed}) to ask who is signed in")
def when_mallory_presents_malformed(context: Any, malformed: str) -> None:
    mallory = flows.attacker(context)
    context.response = flows.present_token(mallory, jwt_forge.malformed(malformed))


@when("Mallory presents {who:Who}'s refresh token to {use:BearerUse}")
def when_mallory_presents_refresh_token(context: Any, who: str, use: str) -> None:
    someone = flows.person(context, who)
    refresh = flows.notebook(context).old_refresh(someone.name)
    context.response = _use(flows.attacker(context).client, use, refresh)


@then("the forged token is refused as not signed in")
def then_forged_token_refused(context: Any) -> None:
    assert_that(context.response, is_bearer_refusal())


@then("the same token signed with the server's key but otherwise unchanged is accepted")
def then_control_copy_accepted(context: Any) -> None:
    book = flows.notebook(context)
    owner = flows.person(context, book.last_actor or "")
    answer = flows.present_token(flows.attacker(context), book.forged["control"])
    assert_that(answer, flows.accepted_for(getattr(owner.identity, "username", None)))


# ---------------------------------------------------------------------------------------- account changes
@when("the administrator deletes {who:Who}'s account")
def when_administrator_deletes_account(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    assert_that(context.identities.delete(someone.identity), has_status(204))


@when("{who:Who} revokes {their:Their} access token")
def when_person_revokes_access_token(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    token = flows.notebook(context).access[someone.name]
    flows.notebook(context).previous_access[someone.name] = token
    context.response = someone.client.revoke(token)
    assert_that(context.response, security_checks.is_revocation_ack())


# ---------------------------------------------------------------------------------------- token endpoints
def _remember_sent(context: Any, *values: str) -> None:
    context.sent_values = [v for v in values if v]


@when("{who:Who} sends a sign-in request without {missing:Missing}")
def when_person_sends_incomplete_sign_in(context: Any, who: str, missing: str) -> None:
    someone = flows.person(context, who)
    form = {"username": someone.identity.username, "password": someone.identity.password}
    if missing == "the username":
        form.pop("username")
    elif missing == "the password":
        form.pop("password")
    else:
        form = {}
    _remember_sent(context, someone.identity.password)
    context.response = someone.client.request("POST", "/auth/token", data=form or None, token=None)


@when("{who:Who} sends {request:WrongFormat}")
def when_person_sends_wrong_format(context: Any, who: str, request: str) -> None:
    someone = flows.person(context, who)
    identity = someone.identity
    client = someone.client
    if request == "a sign-in as JSON instead of a form":
        _remember_sent(context, identity.password)
        context.response = client.request("POST", "/auth/token", token=None,
                                          json={"username": identity.username, "password": identity.password})
    elif request == "a service-token request as JSON instead of a form":
        secret = context.settings.test_client_secret.get_secret_value()
        _remember_sent(context, secret)
        context.response = client.request("POST", "/auth/service-token", token=None,
                                          json={"client_id": context.settings.test_client_id,
                                                "client_secret": secret})
    else:
        answer = client.sign_in(identity.username, identity.password)
        assert_that(answer, has_status(200))
        refresh = client.refresh_token or ""
        _remember_sent(context, refresh)
        context.response = client.request("POST", "/auth/refresh", token=None, data={"refresh_token": refresh})


@then("the request is refused as a validation error")
def then_refused_as_validation_error(context: Any) -> None:
    assert_that(context.response, is_validation_error())


@when("Mallory asks for a token with {credentials:Credentials}")
def when_mallory_asks_for_token(context: Any, credentials: str) -> None:
    mallory = flows.attacker(context).client
    dana = flows.person(context, "Dana")
    guess = flows.wrong_password(dana.identity.password)
    if credentials == "Dana's username and a wrong password":
        context.response = mallory.sign_in(dana.identity.username, guess)
    elif credentials == "Dana's email address and a wrong password":
        context.response = mallory.sign_in(dana.identity.email, guess)
    elif credentials == "a refresh token that was never issued":
        genuine = require(dana.client.sign_in(dana.identity.username, dana.identity.password), 200,
                          what="a genuine refresh token of Dana's to forge")
        context.response = mallory.refresh(jwt_forge.wrong_key(str(genuine.body["refresh_token"])))
    else:
        context.response = mallory.service_sign_in(f"pa-{context.settings.permiso_run_id}-nobody", guess)


@then("the token request is refused with the error {code}")
def then_token_request_refused(context: Any, code: str) -> None:
    assert_that(context.response, is_oauth_error(code, 401))


@when("{who:Who} signs in asking for the client_credentials grant type")
def when_person_signs_in_with_other_grant(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    context.response = someone.client.sign_in(someone.identity.username, someone.identity.password,
                                              grant_type="client_credentials")


@then("the token request is refused as {code} with status {status:d}")
def then_token_request_refused_with_status(context: Any, code: str, status: int) -> None:
    assert_that(context.response, is_oauth_error(code, status))


# ---------------------------------------------------------------------------------------- introspection
def _introspect(context: Any, token: str) -> Any:
    return ensure_admin(context).introspect(token)


@then("introspecting {who:Who}'s old access token shows it {state}")
def then_introspecting_old_token(context: Any, who: str, state: str) -> None:
    token = flows.notebook(context).old_access(flows.person(context, who).name)
    assert_that(_introspect(context, token), security_checks.introspects_as(state == "active"))


@then("introspecting {who:Who}'s access token shows it {state}")
def then_introspecting_token(context: Any, who: str, state: str) -> None:
    token = flows.notebook(context).access[flows.person(context, who).name]
    assert_that(_introspect(context, token), security_checks.introspects_as(state == "active"))


@when("{who:Who} introspects {token:InvalidToken}")
def when_person_introspects(context: Any, who: str, token: str) -> None:
    someone = flows.person(context, who)
    genuine = flows.notebook(context).access[someone.name]
    value = {"a garbage string": "this-is-not-a-token",
             "her access token with the algorithm none": jwt_forge.alg_none(genuine),
             "her access token signed with another key": jwt_forge.wrong_key(genuine)}[token]
    context.response = someone.client.introspect(value)


@then("the introspection shows the token inactive")
def then_introspection_inactive(context: Any) -> None:
    assert_that(context.response, security_checks.introspects_as(False))


@when("{who:Who} revokes a token that was never issued")
def when_person_revokes_unknown_token(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    context.response = someone.client.revoke(jwt_forge.wrong_key(someone.client.token or ""))


@then("the revocation is acknowledged")
def then_revocation_acknowledged(context: Any) -> None:
    assert_that(context.response, security_checks.is_revocation_ack())


@when("a visitor who is not signed in asks to {use:BearerUse}")
def when_visitor_asks_to(context: Any, use: str) -> None:
    context.bearer_use = use
    context.response = _use(flows.visitor(context).client, use, None)


@then("the same request with {who:Who}'s access token is answered")
def then_same_request_with_token_answered(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    answer = _use(someone.client, context.bearer_use, flows.notebook(context).access[someone.name])
    assert_that(answer, has_status(200))
