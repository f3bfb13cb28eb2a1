"""Access control: who may call which administrative function (function level), whose account and
sessions a person may act on (object level), which profile fields a person may set (property level),
and that every documented endpoint answers for the caller it is meant for.

Contract parts: A.2 (guards: 401 with a Bearer challenge without a valid sign-in, 403 for a
signed-in caller without the right; service tokens refused by the user guard), A.6 (self-or-admin
user routes; `is_active`, `is_verified`, `role_ids` only for an administrator), A.7-A.10 (the
administrative routes), A.9 (another user's session: 403 `access_denied`). Part C: D1, D15, D18.
The endpoint catalogue lives in `support.domains.admin_catalogue`, the callers who try each function in
`support.domains.admin_callers`, the matchers in `support.domains.admin_matchers`.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that, equal_to, has_item, is_not
from parse import with_pattern

from support.checks.error_matchers import is_bearer_refusal
from support.checks.matchers import has_status, is_user_json
from support.domains import admin_callers, admin_flows, admin_matchers
from support.people import flows
from support.people.actors import actor
from support.people.identities import Identity, items_of_body, require


@with_pattern(r"read|change|end|renew|delete")
def parse_bola_action(text: str) -> str:
    return text


@with_pattern(r"profile|password|session|account")
def parse_bola_thing(text: str) -> str:
    return text


@with_pattern(r"a visitor|a service client|the administrator|[A-Z][a-z]+")
def parse_caller(text: str) -> str:
    return text


@with_pattern(r"(GET|POST|PUT|DELETE|PATCH) /\S*")
def parse_endpoint(text: str) -> str:
    return text


register_type(Who=flows.parse_who, Their=flows.parse_their, BolaAction=parse_bola_action,
              BolaThing=parse_bola_thing, Caller=parse_caller, Endpoint=parse_endpoint)


def _identity(context: Any, who: str) -> Identity:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity), f"{who} is not a person with an account"
    return identity


# ---------------------------------------------------------------------------------------- function level
@when("a visitor, Dana, a service client and the administrator each try to {function}")
def when_each_caller_tries_function(context: Any, function: str) -> None:
    admin_callers.attempt_by_each_caller(context, function)


def _attempt(context: Any, who: str) -> Any:
    attempts = admin_flows.admin_book(context).attempts
    assert who in attempts, f"{who} made no attempt in this scenario"
    return attempts[who]


@then("the visitor is refused as not signed in")
def then_visitor_refused_not_signed_in(context: Any) -> None:
    assert_that(_attempt(context, "a visitor"), is_bearer_refusal())


@then("Dana is refused as not allowed")
def then_dana_refused_not_allowed(context: Any) -> None:
    assert_that(_attempt(context, "Dana"), admin_matchers.refused_as_not_allowed())


@then("the service client is refused as not signed in")
def then_service_client_refused_not_signed_in(context: Any) -> None:
    assert_that(_attempt(context, "a service client"), is_bearer_refusal())


@then("the service client is refused as not allowed")
def then_service_client_refused_not_allowed(context: Any) -> None:
    assert_that(_attempt(context, "a service client"), admin_matchers.refused_as_not_allowed())


@then("the administrator's request is carried out")
def then_administrators_request_carried_out(context: Any) -> None:
    refusal = admin_flows.admin_book(context).admin_refusal
    if refusal is not None:  # the throwaway the administrator's call needs was refused: say so
        raise refusal
    assert_that(_attempt(context, "the administrator"), admin_matchers.a_success())


# ---------------------------------------------------------------------------------------- object level
@when("{who:Who} tries to {action:BolaAction} {other:Who}'s {thing:BolaThing}")
def when_person_tries_to_act_on_anothers(context: Any, who: str, action: str, other: str, thing: str) -> None:
    book = admin_flows.admin_book(context)
    someone = flows.person(context, who)
    victim = flows.person(context, other)
    identity = victim.identity
    assert isinstance(identity, Identity)
    book.noted["victim"] = other
    # what the attempt is later compared with: the target must show it first
    book.noted["victim_profile"] = require(admin_flows.admin_read_user(context, identity), 200,
                                           what=f"the administrator's view of {other}'s account")
    sessions = victim.client.list_sessions() if thing == "session" else None
    if sessions is not None:
        require(sessions, 200, what=f"{other}'s sessions before the attempt")
    book.noted["victim_sessions"] = sessions.body if sessions is not None else None
    book.attempt = admin_flows.act_on_account(context, someone.client, action, thing, identity,
                                              victim.client.session_id)
    flows.notebook(context).last_actor = who


@then("{who:Who}'s attempt is refused as not allowed")
def then_persons_attempt_refused(context: Any, who: str) -> None:
    attempt = admin_flows.admin_book(context).attempt
    assert attempt is not None, f"{who} made no attempt"
    assert_that(attempt, admin_matchers.refused_as_not_allowed())


@then("{other:Who}'s {thing:BolaThing} is untouched")
def then_persons_thing_untouched(context: Any, other: str, thing: str) -> None:
    book = admin_flows.admin_book(context)
    victim = flows.person(context, other)
    identity = victim.identity
    assert isinstance(identity, Identity)
    now = admin_flows.admin_read_user(context, identity)
    assert_that(now, has_status(200))
    before = book.noted.get("victim_profile")
    if thing == "profile" and before is not None:
        assert_that(now.body.get("bio"), equal_to(before.body.get("bio")), f"{other}'s bio changed")
        assert_that(now.body.get("updated_at"), equal_to(before.body.get("updated_at")))
    if thing in ("password", "account"):
        fresh = flows.new_device(context.settings, context.log, context.target.base_url, f"{other} again")
        context.add_cleanup(fresh.close)
        assert_that(fresh.sign_in(identity.username, identity.password), has_status(200))
    if thing == "session":
        assert_that(victim.client.me(), flows.accepted_for(identity.username))
        before_sessions = items_of_body(book.noted.get("victim_sessions"), "sessions")
        after_sessions = admin_matchers.items_of(victim.client.list_sessions(), "sessions")
        assert_that(admin_flows.expiries(after_sessions), equal_to(admin_flows.expiries(before_sessions)),
                    f"{other}'s sessions changed")


@then("{who:Who} can still {action:BolaAction} {their:Their} own {thing:BolaThing}")
def then_person_can_act_on_own(context: Any, who: str, action: str, their: str, thing: str) -> None:
    someone = flows.person(context, who)
    identity = someone.identity
    assert isinstance(identity, Identity)
    answer = admin_flows.act_on_account(context, someone.client, action, thing, identity,
                                        someone.client.session_id, own=True)
    assert_that(answer, admin_matchers.a_success())


@when("{who:Who} lists {their:Their} sessions")
def when_person_lists_sessions(context: Any, who: str, their: str) -> None:
    context.response = flows.person(context, who).client.list_sessions()


@then("{who:Who}'s current session is among them")
def then_current_session_among_them(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    assert_that(context.response, has_status(200))
    ids = [s.get("session_id") for s in admin_matchers.items_of(context.response, "sessions")]
    assert_that(ids, has_item(someone.client.session_id))


@then("none of {other:Who}'s sessions is among them")
def then_none_of_others_sessions(context: Any, other: str) -> None:
    victim = flows.person(context, other)
    ids = [s.get("session_id") for s in admin_matchers.items_of(context.response, "sessions")]
    assert_that(ids, is_not(has_item(victim.client.session_id)))


# ---------------------------------------------------------------------------------------- property level
@given("{who:Who}, a regular user whose email address is not yet verified, has signed in")
def given_unverified_person_signed_in(context: Any, who: str) -> None:
    actor(context, who, verified=False)
    flows.sign_in_and_remember(context, who)


@when("{who:Who} updates {their:Their} own profile and slips in {privilege}")
def when_person_slips_privilege_into_profile(context: Any, who: str, their: str, privilege: str) -> None:
    someone = flows.person(context, who)
    identity = someone.identity
    assert isinstance(identity, Identity)
    fields = admin_flows.privileged_fields(context, privilege)
    admin_flows.admin_book(context).attempt = someone.client.update_user(
        str(identity.id), bio="slipped in a privilege", **fields)


@then("{who:Who}'s account still has {unchanged}")
def then_account_still_has(context: Any, who: str, unchanged: str) -> None:
    identity = _identity(context, who)
    answer = admin_flows.admin_read_user(context, identity)
    assert_that(answer, is_user_json(**admin_flows.unchanged_fields(unchanged)))


@then("{who:Who} can still change {their:Their} own bio")
def then_person_can_still_change_bio(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    answer = someone.client.update_me(bio="an ordinary change")
    assert_that(answer, is_user_json(bio="an ordinary change"))


# ---------------------------------------------------------------------------------------- availability
@when("{caller:Caller} uses {function:Endpoint}")
def when_caller_uses_function(context: Any, caller: str, function: str) -> None:
    context.response = admin_callers.availability_call(context, caller, function)


@then('the endpoint answers without "not found" and without a server error')
def then_endpoint_answers(context: Any) -> None:
    assert_that(context.response, admin_matchers.an_answer_from_the_endpoint())
