"""Isolation: every "my own" read names its reader alone, with other people signed in around them.

Contract parts: A.6 (`/users/me`, `/users/profile`, `GET /users/{own id}`), A.9 (the own session
list; ending all of one's sessions), A.3 (introspection of one's own token). The reads and what counts
as naming someone else live in `support.domains.isolation`.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that

from support.checks.matchers import has_status
from support.domains import isolation
from support.people import flows

register_type(Who=flows.parse_who, OwnRead=flows.choice_of(*isolation.READS))


def _reader(context: Any, who: str) -> isolation.Reader:
    someone = flows.person(context, who)
    identity = someone.identity
    return isolation.Reader(someone.name, str(identity.id), identity.username, someone.client.session_id,
                            someone.client)


@given("{first:Who} and {second:Who} have signed in at the same time")
def given_two_signed_in(context: Any, first: str, second: str) -> None:
    for who in (first, second):
        flows.sign_in_and_remember(context, who)
    context.readers = [first, second]


@given("{who:Who} has signed in after them")
def given_third_signed_in_after(context: Any, who: str) -> None:
    flows.sign_in_and_remember(context, who)
    context.readers.append(who)


@when("each of them reads {what:OwnRead}")
def when_each_reads(context: Any, what: str) -> None:
    readers = [_reader(context, who) for who in context.readers]
    context.own_reads = [(r, isolation.read(r, what)) for r in readers]
    context.own_read_what = what


@then("each of them sees only themselves")
def then_each_sees_only_themselves(context: Any) -> None:
    readers = [r for r, _ in context.own_reads]
    found = []
    for reader, answer in context.own_reads:
        found += isolation.problems(reader, context.own_read_what, answer,
                                    [o for o in readers if o is not reader])
    assert not found, "; ".join(found)


@when("{who:Who} ends all of {their} sessions")
def when_person_ends_all_sessions(context: Any, who: str, their: str) -> None:
    context.response = flows.person(context, who).client.end_all_sessions()


@then("{first:Who} and {second:Who} are still signed in")
def then_others_still_signed_in(context: Any, first: str, second: str) -> None:
    assert_that(context.response, has_status(200))
    for who in (first, second):
        assert_that(flows.person(context, who).client.me(), has_status(200))
