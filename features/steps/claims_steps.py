"""Permissions come from the token: a body claiming scopes grants nothing (contract A.2; D1, Part D.1).

The functions and the forged body live in `support.domains.claims`; only reads are used. The refusals are
judged by the access-control phrases ("the visitor is refused as not signed in", "Dana is refused as not
allowed"), which read the attempts noted in the admin book.
"""

from __future__ import annotations

from typing import Any

from behave import register_type, then, when
from hamcrest import assert_that

from support.checks.matchers import has_status
from support.domains import admin_flows, claims
from support.people import flows
from support.wire.admin_session import ensure_admin

register_type(Who=flows.parse_who, GuardedRead=flows.choice_of(*claims.GUARDED_READS))


@when("a visitor asks to {function:GuardedRead}, claiming the administrator's permissions in the request")
def when_visitor_claims(context: Any, function: str) -> None:
    dana = flows.person(context, "Dana")
    context.claims_function = function
    context.response = claims.ask(flows.visitor(context).client, function, str(dana.identity.id), token=None)
    admin_flows.admin_book(context).attempts["a visitor"] = context.response


@when("{who:Who} asks to {function:GuardedRead}, claiming the administrator's permissions in the request")
def when_person_claims(context: Any, who: str, function: str) -> None:
    someone = flows.person(context, who)
    context.claims_function = function
    context.response = claims.ask(someone.client, function, str(someone.identity.id), token=someone.client.token)
    admin_flows.admin_book(context).attempts[someone.name] = context.response


@then("the administrator asking the same is answered")
def then_administrator_answered(context: Any) -> None:
    admin = ensure_admin(context)
    dana = flows.person(context, "Dana")
    answer = claims.ask(admin, context.claims_function, str(dana.identity.id), token=admin.token)
    assert_that(answer, has_status(200))
