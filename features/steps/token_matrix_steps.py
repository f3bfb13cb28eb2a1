"""The token-defect matrix: every kind of bad token at every place that takes a token.

Contract parts: A.2 (bearer and user guards refuse with 401), A.3 (introspection reports invalid,
expired and revoked tokens inactive; refresh refuses bad refresh tokens with invalid_grant), A.4
(signature, exp, nbf, iss, type and revocation checked). The catalogue and the expected outcomes live in
`support.domains.token_matrix`; the Examples table of `features/tokens/token_defects.feature` names one cell
per row.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that

from support.domains import token_matrix
from support.people import flows
from support.wire import jwt_forge

register_type(
    Who=flows.parse_who,
    TokenUse=flows.choice_of(*token_matrix.USES),
    TokenDefect=flows.choice_of(*token_matrix.DEFECTS),
    TokenOutcome=flows.choice_of(*token_matrix.OUTCOMES),
)


def _forge(context: Any) -> jwt_forge.SigningForge | None:
    secret = context.settings.permiso_jwt_secret
    return jwt_forge.SigningForge(secret.get_secret_value()) if secret is not None else None


def _holder(context: Any, who: str) -> token_matrix.Holder:
    someone = flows.person(context, who)
    book = flows.notebook(context)

    def second_device() -> Any:
        device = flows.new_device(context.settings, context.log, context.target.base_url, f"{someone.name}'s tablet")
        answer = device.sign_in(someone.identity.username, someone.identity.password)
        if answer.status != 200:
            raise AssertionError(f"{someone.name} could not sign in on a second device (status {answer.status})")
        return device

    return token_matrix.Holder(book.access[someone.name], book.refresh[someone.name], second_device)


@given("Mallory holds a copy of {who:Who}'s token for {use:TokenUse} that is {defect:TokenDefect}")
def given_mallory_holds_bad_token(context: Any, who: str, use: str, defect: str) -> None:
    holder = _holder(context, who)
    context.matrix = {"who": who, "holder": holder,
                      "bad": token_matrix.make_bad_token(defect, use, holder, _forge(context))}


@when("the token is presented for {use:TokenUse}")
def when_token_presented(context: Any, use: str) -> None:
    holder: token_matrix.Holder = context.matrix["holder"]
    context.response = token_matrix.present(flows.attacker(context).client, use, context.matrix["bad"],
                                            holder.access)


@then("the token is {outcome:TokenOutcome}")
def then_token_gets_outcome(context: Any, outcome: str) -> None:
    assert_that(context.response, token_matrix.outcome(outcome))


@then("{who:Who}'s genuine token is accepted for {use:TokenUse}")
def then_genuine_token_accepted(context: Any, who: str, use: str) -> None:
    holder: token_matrix.Holder = context.matrix["holder"]
    answer = token_matrix.present_genuine(flows.person(context, who).client, use, holder)
    assert_that(answer, token_matrix.accepted(use))
