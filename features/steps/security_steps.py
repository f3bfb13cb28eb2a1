"""Account enumeration: sign-in refusals and password-reset answers that reveal nothing, in content or time.

Contract parts: A.3 (unknown user and wrong password identical: 401 invalid_grant, same body, Bearer
challenge), A.6 (password-reset requests do not reveal whether the email exists). The timing comparison
is `support.domains.security_checks.compare_sign_in_timings` (interleaved samples; Mann-Whitney plus an absolute
and relative effect size, so it cannot flake on a clean target).
"""

from __future__ import annotations

from typing import Any

from behave import register_type, then, when
from hamcrest import assert_that, equal_to

from support.checks.error_matchers import is_oauth_error
from support.checks.matchers import has_status
from support.domains import security_checks
from support.lifecycle import allure_evidence
from support.people import flows

register_type(Who=flows.parse_who, Their=flows.parse_their)


@when("Mallory signs in with {who:Who}'s {identifier} and a wrong password, then with an unknown {other}")
def when_mallory_tries_existing_and_unknown(context: Any, who: str, identifier: str, other: str) -> None:
    someone = flows.person(context, who)
    mallory = flows.attacker(context).client
    book = flows.notebook(context)
    known = someone.identity.email if identifier == "email address" else someone.identity.username
    nobody = flows.unknown_username(context.settings)
    unknown = f"{nobody}@example.com" if identifier == "email address" else nobody
    book.refusals.append(mallory.sign_in(known, flows.wrong_password(someone.identity.password)))
    book.refusals.append(mallory.sign_in(unknown, flows.wrong_password("")))
    book.last_actor = someone.name


@when("Mallory times many wrong-password sign-ins as {who:Who} against sign-ins as someone who has no account")
def when_mallory_times_sign_ins(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    mallory = flows.attacker(context).client
    nobody = flows.unknown_username(context.settings)
    username, real = someone.identity.username, someone.identity.password
    comparison, answers = security_checks.compare_sign_in_timings(
        lambda: mallory.sign_in(username, flows.wrong_password(real)),
        lambda: mallory.sign_in(nobody, flows.wrong_password("")))
    context.timing = comparison
    context.timed_answers = answers
    # the statistics are the step's evidence (Allure), not console output; a failure's message repeats them
    allure_evidence.attach_note(comparison.explanation, "Sign-in timing comparison")


@then("every timed attempt was refused as invalid_grant")
def then_every_timed_attempt_refused(context: Any) -> None:
    for answer in context.timed_answers:
        assert_that(answer, is_oauth_error("invalid_grant", 401))


@then("the answer times of the two kinds cannot be told apart")
def then_answer_times_indistinguishable(context: Any) -> None:
    assert_that(context.timing, security_checks.timings_indistinguishable())


@when("Mallory asks for a password reset for {who:Who}'s email address and for an unregistered address")
def when_mallory_asks_for_password_resets(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    mallory = flows.attacker(context).client
    nobody = flows.unknown_username(context.settings)
    context.reset_answers = [mallory.request_password_reset(someone.identity.email),
                             mallory.request_password_reset(f"{nobody}@example.com")]
    flows.notebook(context).last_actor = someone.name


@then("both password-reset answers are the same")
def then_password_reset_answers_same(context: Any) -> None:
    known, unknown = context.reset_answers
    assert_that(known, has_status(200))
    assert_that((unknown.status, unknown.body), equal_to((known.status, known.body)),
                "the answer for an unregistered address")
