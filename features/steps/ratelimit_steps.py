"""Rate limits on the sign-in endpoints, and brute force against one throwaway account.

Contract parts: Part B (the front limits auth paths per client IP, 5/s with a burst of 10, and rejects
with 503 HTML; the app's own limit answers 429 `rate_limit_exceeded`), A.5 (lockout). Bursts bypass the
suite's own pacing and front-503 retries on purpose (`security_checks.unpaced`); each is bounded to
`burst_size(RATE_LIMIT_TEST_REQUESTS)` attempts and RATE_LIMIT_TEST_WINDOW seconds. `@needs.auth_rate_limit`
scenarios are skipped where the target has no limiter (`hygiene.rate_limit_reason`).
"""

from __future__ import annotations

import threading
from typing import Any

from behave import register_type, then, when
from hamcrest import assert_that, empty, is_

from support.checks.matchers import has_status
from support.domains import security_checks
from support.people import flows
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

register_type(Who=flows.parse_who, Their=flows.parse_their)

ENDPOINTS = {
    "the sign-in endpoint": "/auth/token",
    "the service-token endpoint": "/auth/service-token",
    "the refresh endpoint": "/auth/refresh",
}


def _attempt_factory(context: Any, endpoint: str) -> Any:
    settings = context.settings
    nobody = flows.unknown_username(settings)
    guess = flows.wrong_password("")
    path = ENDPOINTS[endpoint]
    clients = _per_thread_clients(context)

    def attempt() -> ApiResponse:
        client = clients()
        if path == "/auth/token":
            return security_checks.unpaced(client, path, data={"username": nobody, "password": guess})
        if path == "/auth/service-token":
            return security_checks.unpaced(client, path, data={"client_id": nobody, "client_secret": guess})
        return security_checks.unpaced(client, path, json={"refresh_token": "not-a-refresh-token"})

    return attempt


def _per_thread_clients(context: Any) -> Any:
    """One client (one kept-alive connection) per thread of a burst, closed when the scenario ends."""
    local = threading.local()
    made: list[PermisoClient] = []
    base_url = getattr(getattr(context, "target", None), "base_url", None)

    def client() -> PermisoClient:
        existing = getattr(local, "client", None)
        if existing is None:
            existing = PermisoClient(context.settings, log=context.log, base_url=base_url, name="Mallory")
            local.client = existing
            made.append(existing)
        return existing

    def close_all() -> None:
        for each in made:
            each.close()

    context.add_cleanup(close_all)
    return client


@when("Mallory floods {target} with attempts within the test window")
def when_mallory_floods_target(context: Any, target: str) -> None:
    settings = context.settings
    context.burst = security_checks.fire_burst(
        _attempt_factory(context, target), security_checks.flood_size(settings.rate_limit_test_requests),
        workers=10, window_s=float(settings.rate_limit_test_window), stop_when_limited=True)


@then("the flood meets the rate limit within the test window")
def then_flood_meets_limit(context: Any) -> None:
    assert_that(context.burst, security_checks.hits_the_limit_within(float(context.settings.rate_limit_test_window)))


@then("once the flood is over, {who:Who} can sign in again")
def then_person_can_sign_in_after_flood(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    answer = security_checks.wait_until_not_limited(someone.sign_in)
    assert_that(answer, has_status(200))


@when("Mallory guesses {who:Who}'s password as fast as she can, as often as the test size says")
def when_mallory_guesses_fast(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    settings = context.settings
    username, real = someone.identity.username, someone.identity.password
    clients = _per_thread_clients(context)

    def guess() -> ApiResponse:
        return security_checks.unpaced(clients(), "/auth/token",
                                       data={"username": username, "password": flows.wrong_password(real)})

    context.burst = security_checks.fire_burst(guess, security_checks.burst_size(settings.rate_limit_test_requests),
                                               workers=4, window_s=float(settings.rate_limit_test_window))


@then("none of Mallory's guesses was accepted")
def then_no_guess_accepted(context: Any) -> None:
    accepted = [a for a in context.burst.answers if a.status == 200]
    assert_that(accepted, is_(empty()), context.burst.summary())
