"""Sessions: each sign-in is a session its owner sees, renews and ends; administrators read statistics
and clean up.

Contract parts: A.9 (`GET /sessions/` own active sessions `{sessions, total}`, each naming the user's
UUID and `expires_at`; `POST /sessions/{id}/renew` later `expires_at`; `DELETE /sessions/{id}`
(unknown: 404 `session_not_found`); `DELETE /sessions/` ends all but the current one;
`GET /sessions/stats` and `POST /sessions/cleanup` for scope `admin:sessions`), decisions.md
(sessions gate tokens: an ended session's tokens are refused). Part C: D2 (renew 500), D18.
"""

from __future__ import annotations

import uuid
from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that, greater_than_or_equal_to, has_entries, instance_of

from support.checks.error_matchers import is_named_error
from support.checks.matchers import has_json_fields, has_status, is_uuid
from support.domains import admin_flows, admin_matchers
from support.people import flows
from support.people.identities import require

register_type(Who=flows.parse_who, Their=flows.parse_their, Device=flows.parse_device)


def _current_session(context: Any, who: str) -> dict[str, Any]:
    someone = flows.person(context, who)
    for session in admin_matchers.items_of(someone.client.list_sessions(), "sessions"):
        if session.get("session_id") == someone.client.session_id:
            return dict(session)
    raise AssertionError(f"{who}'s current session is not in her list of sessions")


@then("the session names {who:Who}'s user id and when it expires")
def then_session_names_user_and_expiry(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    session = next((s for s in admin_matchers.items_of(context.response, "sessions")
                    if s.get("session_id") == someone.client.session_id), None)
    assert session is not None, f"{who}'s current session is not among her sessions"
    assert_that(session.get("user_id"), is_uuid())
    assert_that(session, has_entries(user_id=getattr(someone.identity, "id", None),
                                     expires_at=instance_of(str)))
    assert admin_matchers.timestamp(session["expires_at"]) is not None, "expires_at is not ISO-8601"


@when("{who:Who} renews {their:Their} current session")
def when_person_renews_session(context: Any, who: str, their: str) -> None:
    before = _current_session(context, who)
    admin_flows.admin_book(context).noted["expires_before"] = before["expires_at"]
    context.response = flows.person(context, who).client.renew_session(str(before["session_id"]))


@then("the session now expires later than before")
def then_session_expires_later(context: Any) -> None:
    before = admin_flows.admin_book(context).noted["expires_before"]
    assert_that(context.response, has_json_fields("message", "session_id", "expires_at"))
    assert_that(context.response.body["expires_at"], admin_matchers.later_than(before))
    who = flows.notebook(context).last_actor or "she"
    assert_that(_current_session(context, who)["expires_at"], admin_matchers.later_than(before))


@when("{who:Who} ends {their:Their} {device:Device}'s session from {their2:Their} {other:Device}")
def when_person_ends_device_session(context: Any, who: str, their: str, device: str, their2: str,
                                    other: str) -> None:
    book = flows.notebook(context)
    target = book.devices[device]
    assert target.session_id, f"the {device} holds no session"
    context.response = book.devices[other].end_session(target.session_id)
    assert_that(context.response, has_status(200))


@given("{who:Who} has ended {their:Their} {device:Device}'s session from {their2:Their} {other:Device}")
def given_person_has_ended_device_session(context: Any, who: str, their: str, device: str, their2: str,
                                          other: str) -> None:
    book = flows.notebook(context)
    target = book.devices[device]
    assert target.session_id, f"the {device} held no session after signing in"
    context.response = require(book.devices[other].end_session(target.session_id), 200,
                               what=f"end the {device}'s session")


@when("{who:Who} ends all {their:Their} other sessions from {their2:Their} {device:Device}")
def when_person_ends_other_sessions(context: Any, who: str, their: str, their2: str, device: str) -> None:
    context.response = flows.notebook(context).devices[device].end_all_sessions()
    assert_that(context.response.body, has_entries(sessions_terminated=greater_than_or_equal_to(1)))


@when("{who:Who} tries to end a session that does not exist")
def when_person_ends_unknown_session(context: Any, who: str) -> None:
    context.response = flows.person(context, who).client.end_session(str(uuid.uuid4()))


@then("the answer is that the session was not found")
def then_session_not_found(context: Any) -> None:
    assert_that(context.response, is_named_error("session_not_found", 404))


@when("the administrator reads the session statistics")
def when_administrator_reads_session_stats(context: Any) -> None:
    context.response = context.identities.admin.session_stats()


@then("the statistics count at least one active session and one person with a session")
def then_session_stats_count(context: Any) -> None:
    assert_that(context.response, has_status(200))
    assert_that(context.response.body, has_entries(active_sessions=greater_than_or_equal_to(1),
                                                   users_with_sessions=greater_than_or_equal_to(1)))


@when("the administrator cleans up expired and ended sessions")
def when_administrator_cleans_up_sessions(context: Any) -> None:
    context.response = context.identities.admin.cleanup_sessions()


@then("the cleanup says how many sessions it removed")
def then_cleanup_says_how_many(context: Any) -> None:
    assert_that(context.response, has_status(200))
    assert_that(context.response.body, has_entries(sessions_cleaned=greater_than_or_equal_to(0)))
