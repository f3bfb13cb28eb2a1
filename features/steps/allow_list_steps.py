"""Service-client allow-lists: a client allowed only from named addresses gets no token elsewhere.

Contract parts: A.8 (a service client's `allowed_ips`), A.3 (`/auth/service-token`: 401 invalid_client,
identical for every refused credential), Part C D24 (allow-lists are never enforced). The catalogue of
places and outcomes lives in `support.domains.allow_lists`; the token request itself is the service-client
step "the service client asks for a token". Throwaway clients only: creating one is an administrator's
act, and a target that refuses it fails the scenario as a refused precondition.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then
from hamcrest import assert_that

from support.domains import allow_lists
from support.people import flows
from support.people.actors import service_actor
from support.people.identities import ServiceIdentity

register_type(
    AllowPlace=flows.choice_of(*allow_lists.PLACES),
    AllowOutcome=flows.choice_of(*allow_lists.OUTCOMES),
)

@given("a throwaway service client allowed to sign in {place:AllowPlace}")
def given_client_with_allow_list(context: Any, place: str) -> None:
    # No scopes: the rule is about where the client signs in from, and the only preparation the target
    # can refuse is then the creation of the client itself (named as such in a refused precondition).
    flows.notebook(context).service = service_actor(context, "the service client",
                                                    **allow_lists.client_fields(place))


@then("the service client is {outcome:AllowOutcome}")
def then_service_client_gets_outcome(context: Any, outcome: str) -> None:
    assert_that(context.response, allow_lists.outcome(outcome))


@then("the refusal cannot be told from that of a wrong secret")
def then_refusal_same_as_wrong_secret(context: Any) -> None:
    client = flows.notebook(context).service
    assert client is not None, "no service client was introduced in this scenario"
    identity = client.identity
    assert isinstance(identity, ServiceIdentity)
    wrong = flows.attacker(context).client.service_sign_in(identity.client_id, flows.wrong_password(identity.secret))
    assert_that([context.response, wrong], flows.cannot_be_told_apart())
