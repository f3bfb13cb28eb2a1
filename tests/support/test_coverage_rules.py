"""Unit tests of the coverage rules' support modules: the API description in production
(support/domains/api_documentation.py, the `production` capability of support/lifecycle/provisioning.py), service-client
allow-lists (support/domains/allow_lists.py) and wrong passwords on a disabled account
(support/domains/disabled_accounts.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hamcrest import assert_that, is_not
from requests.structures import CaseInsensitiveDict

from support.checks.causes import PreconditionRefused
from support.domains import allow_lists, api_documentation, disabled_accounts
from support.lifecycle.provisioning import production_reason
from support.people.identities import Identity
from support.wire.evidence import ApiResponse, Exchange


def answer(status: int, body: Any = None, text: str | None = None, method: str = "GET",
           url: str = "https://host/openapi.json") -> ApiResponse:
    raw = text if text is not None else (json.dumps(body) if body is not None else "")
    exchange = Exchange(method, url, status, {}, None, {}, raw, 1.0, datetime.now(UTC))
    return ApiResponse(status, CaseInsensitiveDict({}), body, raw, 1.0, exchange)


# ---------------------------------------------------------------------------------------- production
def test_production_capability_follows_the_health_report() -> None:
    assert production_reason("production") is None
    assert production_reason(" Production ") is None
    assert production_reason("reference") == "the deployment says it runs as 'reference', not production"
    assert "names no environment" in str(production_reason(None))


# ---------------------------------------------------------------------------------------- API description
def test_a_plain_not_found_is_nothing() -> None:
    assert_that(answer(404, {"detail": "Not Found"}), api_documentation.finds_nothing())
    assert_that(answer(401, {"error": "http_error", "error_description": "Not authenticated"}),
                api_documentation.finds_nothing())


@pytest.mark.parametrize("served", [
    answer(200, {"openapi": "3.1.0", "paths": {}}),
    answer(200, None, text="<html><div id='swagger-ui'></div></html>"),
    answer(200, None, text="<html><redoc spec-url='/openapi.json'></redoc></html>"),
    answer(200, None, text="<html>a landing page</html>"),
])
def test_a_served_address_is_not_nothing(served: ApiResponse) -> None:
    assert_that(served, is_not(api_documentation.finds_nothing()))


def test_a_refusal_that_still_shows_the_description_is_not_nothing() -> None:
    leaky = answer(404, {"openapi": "3.1.0", "paths": {}})
    assert api_documentation.finds_nothing().problems(leaky) == ["the answer is an API description document"]


@pytest.mark.parametrize("bad", ["openapi.json", "https://elsewhere/docs", "/do cs"])
def test_only_addresses_on_the_service_are_opened(bad: str) -> None:
    with pytest.raises(AssertionError, match="not an address on the service"):
        api_documentation.check_address(bad)
    assert api_documentation.check_address(" /redoc ") == "/redoc"


# ---------------------------------------------------------------------------------------- allow-lists
def test_allow_list_places() -> None:
    assert allow_lists.client_fields("only from another address") == {"allowed_ips": ["203.0.113.7"]}
    assert allow_lists.client_fields("only from the suite's own machine") == {"allowed_ips": ["127.0.0.1", "::1"]}
    assert allow_lists.client_fields("from anywhere") == {}
    with pytest.raises(AssertionError, match="is not one of"):
        allow_lists.client_fields("from the moon")


def test_allow_list_outcomes() -> None:
    refusal = answer(401, {"error": "invalid_client", "error_description": "Invalid client credentials"},
                     method="POST", url="https://host/api/v1/auth/service-token")
    jwt_text = jwt.encode({"type": "service", "sub": "pa-x-1"}, "k" * 32, algorithm="HS256")
    token = answer(200, {"access_token": jwt_text, "token_type": "Bearer", "expires_in": 3600,
                         "refresh_token": None, "scope": "service:api", "session_id": None})
    assert_that(refusal, allow_lists.outcome("refused as invalid_client"))
    assert_that(token, is_not(allow_lists.outcome("refused as invalid_client")))
    assert_that(token, allow_lists.outcome("given a service token"))
    assert_that(refusal, is_not(allow_lists.outcome("given a service token")))
    with pytest.raises(AssertionError):
        allow_lists.outcome("maybe")


# ---------------------------------------------------------------------------------------- disabled accounts
class Guesser:
    """Answers every sign-in with one scripted answer; records the passwords tried."""

    def __init__(self, reply: ApiResponse) -> None:
        self.reply = reply
        self.passwords: list[str] = []

    def sign_in(self, username: str, password: str) -> ApiResponse:
        self.passwords.append(password)
        return self.reply


class Admin:
    def __init__(self, status: int) -> None:
        self.status = status
        self.changes: list[tuple[str, dict[str, Any]]] = []

    def update_user(self, user_id: str, **fields: Any) -> ApiResponse:
        self.changes.append((user_id, fields))
        return answer(self.status, {"id": user_id, "is_active": True} if self.status == 200 else
                      {"detail": [{"loc": ["query", "current_user"], "type": "missing", "msg": "Field required"}]},
                      method="PUT", url=f"https://host/api/v1/users/{user_id}")


def dana(configured: bool = False) -> Identity:
    return Identity(username="pa_x_1", email="pa_x_1@example.com", password="Str0ng!Passw0rd", id="u-1",
                    configured=configured)


WRONG = answer(401, {"error": "invalid_grant", "error_description": "Invalid username or password"},
               method="POST", url="https://host/api/v1/auth/token")


def test_guesses_are_wrong_passwords_each_refused() -> None:
    guesser = Guesser(WRONG)
    answers = disabled_accounts.guess_while_disabled(guesser, dana(), 5)  # type: ignore[arg-type]
    assert len(answers) == 5 and len(guesser.passwords) == 5
    assert "Str0ng!Passw0rd" not in guesser.passwords


def test_a_guess_not_refused_is_a_refused_precondition() -> None:
    accepted = answer(200, {"access_token": "a.b.c"}, method="POST", url="https://host/api/v1/auth/token")
    with pytest.raises(PreconditionRefused, match="could not prepare"):
        disabled_accounts.guess_while_disabled(Guesser(accepted), dana(), 5)  # type: ignore[arg-type]
    assert disabled_accounts.first_not_refused([WRONG, accepted, WRONG]) is accepted
    assert disabled_accounts.first_not_refused([WRONG]) is None


def test_enabling_again_and_its_refusal() -> None:
    admin = Admin(200)
    disabled_accounts.enable_again(admin, dana())  # type: ignore[arg-type]
    assert admin.changes == [("u-1", {"is_active": True})]
    with pytest.raises(PreconditionRefused, match=r"query\.current_user"):
        disabled_accounts.enable_again(Admin(422), dana())  # type: ignore[arg-type]


def test_configured_accounts_are_never_touched() -> None:
    with pytest.raises(AssertionError, match="configured"):
        disabled_accounts.guess_while_disabled(Guesser(WRONG), dana(configured=True), 5)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="configured"):
        disabled_accounts.enable_again(Admin(200), dana(configured=True))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- embedded target
def test_the_embedded_target_runs_as_production(clean_env: Any, embedded_launch: Any) -> None:
    """The embedded server stands in for a production deployment: `--environment production`."""
    from support.wire.settings import Settings

    argv, _ = embedded_launch.command(Settings.load())
    assert argv[argv.index("--environment") + 1] == "production"
