"""Unit tests of the administration domain: the endpoint catalogue and targets (support/domains/admin_catalogue.py,
admin_flows.py), the matchers (admin_matchers.py), the registration limit (registration.py) and the access-control
matrix (admin_callers.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hamcrest import assert_that, is_not
from requests.structures import CaseInsensitiveDict

from support.domains import admin_callers, admin_catalogue, admin_flows, admin_matchers, registration
from support.wire.evidence import ApiResponse, Exchange


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> ApiResponse:
    text = json.dumps(body) if body is not None else ""
    exchange = Exchange("GET", "https://permiso.example.com/api/v1/x", status, {}, None,
                        headers or {}, text, 1.0, datetime.now(UTC))
    return ApiResponse(status, CaseInsensitiveDict(headers or {}), body, text, 1.0, exchange)


def test_every_function_names_a_catalogued_endpoint() -> None:
    for function, key in admin_catalogue.FUNCTIONS.items():
        assert admin_catalogue.endpoint(function).key == key
    assert admin_catalogue.endpoint("GET  /users/me").key == "GET /users/me"


def test_every_function_of_the_matrix_is_administrative() -> None:
    for function in admin_catalogue.FUNCTIONS:
        assert admin_catalogue.endpoint(function).guard not in ("public", "bearer", "user", "self"), function


def test_an_unknown_endpoint_is_an_assertion_with_its_name() -> None:
    with pytest.raises(AssertionError, match="GET /nowhere"):
        admin_catalogue.endpoint("GET /nowhere")


def test_targets_fill_placeholders_and_needs_include_body_ids() -> None:
    targets = admin_flows.Targets(run_id="abc123", user_id="u1", role_id="r1", client_id="c1")
    assert targets.fill("/roles/{role_id}/scopes") == "/roles/r1/scopes"
    assert targets.fill("/service-clients/{client_id}") == "/service-clients/c1"
    assert admin_catalogue.needs_of(admin_catalogue.endpoint("check a user's permission")) == {"user_id"}
    assert admin_catalogue.needs_of(admin_catalogue.endpoint("change a role's scopes")) == {"role_id", "scope_id"}
    assert "client_secret" in admin_catalogue.needs_of(admin_catalogue.endpoint("rotate a service client's secret"))


def test_refused_as_not_allowed_needs_403_with_an_error_body() -> None:
    assert_that(_answer(403, {"error": "http_error", "error_description": "Access denied"}),
                admin_matchers.refused_as_not_allowed())
    assert_that(_answer(200, {"users": []}), is_not(admin_matchers.refused_as_not_allowed()))
    assert_that(_answer(403, {"detail": "no"}), is_not(admin_matchers.refused_as_not_allowed()))


def test_an_answer_from_the_endpoint_excludes_missing_and_failing() -> None:
    for status in (200, 201, 204, 400, 401, 403, 409, 422, 429):
        assert_that(_answer(status, {}), admin_matchers.an_answer_from_the_endpoint())
    for status in (404, 405, 500, 503):
        assert_that(_answer(status, {}), is_not(admin_matchers.an_answer_from_the_endpoint()))


def test_a_page_of_checks_size_and_page_count() -> None:
    good = _answer(200, {"users": [{"username": "a"}], "total": 3, "page": 1, "per_page": 1, "pages": 3})
    assert_that(good, admin_matchers.a_page_of("users", 1))
    wrong_pages = _answer(200, {"users": [{}], "total": 3, "page": 1, "per_page": 1, "pages": 1})
    assert_that(wrong_pages, is_not(admin_matchers.a_page_of("users", 1)))
    too_many = _answer(200, {"users": [{}, {}], "total": 2, "page": 1, "per_page": 1, "pages": 2})
    assert_that(too_many, is_not(admin_matchers.a_page_of("users")))


def test_lists_and_lacks_username_ignore_case() -> None:
    listing = _answer(200, {"users": [{"username": "pa_abc_1"}]})
    assert_that(listing, admin_matchers.lists_username("PA_abc_1"))
    assert_that(listing, admin_matchers.lacks_username("pa_abc_2"))
    assert_that(listing, is_not(admin_matchers.lacks_username("pa_abc_1")))


def test_without_secret_finds_secret_keys_and_text_but_not_rotation_times() -> None:
    assert_that(_answer(200, {"client_id": "c", "secret_rotated_at": "2024-01-01"}),
                admin_matchers.without_secret("s3"))
    assert_that(_answer(200, {"clients": [{"client_secret": "x"}]}), is_not(admin_matchers.without_secret()))
    assert_that(_answer(200, {"secret_hash": "$2b$"}), is_not(admin_matchers.without_secret()))
    leaky = _answer(200, {"note": "the secret is s3cr3t-value"})
    assert_that(leaky, is_not(admin_matchers.without_secret("s3cr3t-value")))


def test_later_than_compares_timestamps() -> None:
    assert_that("2024-01-02T00:00:00Z", admin_matchers.later_than("2024-01-01T00:00:00+00:00"))
    assert_that("2024-01-01T00:00:00Z", is_not(admin_matchers.later_than("2024-01-01T00:00:00Z")))
    assert_that("not a time", is_not(admin_matchers.later_than("2024-01-01T00:00:00Z")))


def test_a_permission_answer_accepts_answers_and_bulk_results() -> None:
    answer = {"allowed": False, "reason": "No matching permissions found", "matching_scopes": [], "user_roles": []}
    assert_that(_answer(200, answer), admin_matchers.a_permission_answer(False))
    assert_that(answer, admin_matchers.a_permission_answer(False))
    assert_that(_answer(200, {**answer, "allowed": True}), is_not(admin_matchers.a_permission_answer(False)))
    assert_that(_answer(403, answer), is_not(admin_matchers.a_permission_answer(False)))


def test_a_conflict_and_a_success() -> None:
    assert_that(_answer(409, {"error": "conflict", "error_description": "taken"}), admin_matchers.a_conflict())
    assert_that(_answer(201, {}), is_not(admin_matchers.a_conflict()))
    assert_that(_answer(204), admin_matchers.a_success())
    assert_that(_answer(401, {}), is_not(admin_matchers.a_success()))


def test_failed_sign_in_event_and_growth() -> None:
    events = _answer(200, {"events": [{"event_type": "login_failed", "username": "pa_x_1"},
                                      {"event_type": "logout", "username": "pa_x_2"}]})
    assert_that(events, admin_matchers.a_failed_sign_in_event_for("pa_x_1"))
    assert_that(events, is_not(admin_matchers.a_failed_sign_in_event_for("pa_x_2")))
    before = {"total_users": 5, "active_users": 4}
    assert_that(_answer(200, {"total_users": 6, "active_users": 5}),
                admin_matchers.grew_by_at_least(before, ("total_users", "active_users")))
    assert_that(_answer(200, {"total_users": 5, "active_users": 5}),
                is_not(admin_matchers.grew_by_at_least(before, ("total_users", "active_users"))))


def test_words_weak_passwords_and_registration_budget() -> None:
    assert admin_matchers.words('"a:b", "c:d" and "e"') == ["a:b", "c:d", "e"]
    from support.people.identities import meets_password_policy

    for rule, password in admin_flows.WEAK_PASSWORDS.items():
        assert not meets_password_policy(password), rule
    assert registration.registration_budget_spent(_answer(429, {"error": "rate_limit_exceeded"}))
    assert registration.registration_budget_spent(_answer(201, {})) is None


def test_privileged_and_unchanged_fields_are_known() -> None:
    assert admin_flows.unchanged_fields("no roles") == {"roles": []}
    with pytest.raises(AssertionError):
        admin_flows.unchanged_fields("something else")
    with pytest.raises(AssertionError):
        admin_flows.privileged_fields(object(), "world domination")


# ---------------------------------------------------------------------------------------- registration limit
def _registrations(statuses: list[int]) -> tuple[registration.RegistrationRun, list[int]]:
    answers = iter(statuses)
    seen: list[int] = []
    bodies = iter(range(100))

    def register(body: dict[str, Any]) -> ApiResponse:
        status = next(answers)
        return _answer(status, {"id": f"u{body['n']}"} if status == 201 else
                       {"error": "rate_limit_exceeded", "error_description": "Too many"},
                       {"Retry-After": "3600"} if status == 429 else None)

    run = registration.register_until_limited(register, lambda: {"n": next(bodies)},
                                             lambda answer: seen.append(answer.status), limit=3)
    return run, seen


def test_registering_until_limited_stops_at_the_first_refusal() -> None:
    run, seen = _registrations([201, 201, 429, 201])
    assert seen == [201, 201, 429]
    assert run.accepted == [{"n": 0}, {"n": 1}] and run.attempts == 3
    assert run.refusal is not None and run.refusal.status == 429
    assert not run.budget_was_spent


def test_registering_without_a_limit_is_bounded_to_one_more_than_the_limit() -> None:
    run, seen = _registrations([201] * 10)
    assert seen == [201] * 4 and run.refusal is None
    assert "4 registrations from one address were all accepted" in run.summary()


def test_a_first_attempt_meeting_the_limit_means_the_budget_was_spent() -> None:
    run, _ = _registrations([429])
    assert run.budget_was_spent and run.accepted == []
    assert "already spent" in run.summary()
    run, _ = _registrations([500])
    assert not run.budget_was_spent


@pytest.mark.parametrize("value", ["3600", "0", " 120 ", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_retry_after_accepts_seconds_or_an_http_date(value: str) -> None:
    assert admin_matchers.retry_after_problem(value) is None


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
def test_retry_after_refuses_anything_else(value: str | None) -> None:
    assert admin_matchers.retry_after_problem(value) is not None


def test_refused_by_the_registration_limit_needs_429_rate_limit_exceeded_and_retry_after() -> None:
    body = {"error": "rate_limit_exceeded", "error_description": "Too many registrations"}
    assert_that(_answer(429, body, {"Retry-After": "3599"}), admin_matchers.refused_by_the_registration_limit())
    assert_that(_answer(429, body, {"retry-after": "3599"}), admin_matchers.refused_by_the_registration_limit())
    assert_that(_answer(429, body), is_not(admin_matchers.refused_by_the_registration_limit()))  # D9
    assert_that(_answer(201, {"id": "u1"}), is_not(admin_matchers.refused_by_the_registration_limit()))
    assert_that(_answer(503, None, {"Retry-After": "1"}), is_not(admin_matchers.refused_by_the_registration_limit()))
    assert_that(_answer(429, {"error": "http_error", "error_description": "x"}, {"Retry-After": "1"}),
                is_not(admin_matchers.refused_by_the_registration_limit()))


# ---------------------------------------------------------------------------------------- the matrix on the release
D1_BODY = {"error": "validation_error", "error_description": "Request validation failed",
           "details": [{"type": "missing", "loc": ["query", "current_user"], "msg": "Field required"}]}


def _release_context(server: Any, settings: Any) -> Any:
    """A duck-typed scenario context against a scripted server playing the release (contract D.1)."""
    from types import SimpleNamespace

    from support_testkit import Reply

    from support.people.identities import Identities
    from support.wire.client import PermisoClient
    from support.wire.evidence import ExchangeLog

    server.script("POST", "/api/v1/users/", Reply(201, {"id": "4b0c1f7e-0000-4000-8000-000000000001",
                                                         "username": "pa_dana"}))
    server.script("POST", "/api/v1/auth/token", Reply(200, {"access_token": "tok-user", "token_type": "Bearer",
                                                            "refresh_token": "ref-user", "session_id": "s1"}))
    server.script("POST", "/api/v1/auth/service-token",
                  Reply(200, {"access_token": "tok-service", "token_type": "Bearer",
                              "scope": "service:api read:profile"}))
    server.script("GET", "/api/v1/users/me", Reply(200, {"id": "u-admin", "username": "admin",
                                                         "roles": [{"id": "role-admin-id", "name": "admin"}]}))
    for method, path in (("POST", "/api/v1/roles/"), ("GET", "/api/v1/roles/"),
                         ("GET", "/api/v1/roles/scopes/"), ("POST", "/api/v1/roles/scopes/"),
                         ("POST", "/api/v1/service-clients/"), ("GET", "/api/v1/roles/role-admin-id")):
        server.script(method, path, Reply(422, D1_BODY))
    log = ExchangeLog()
    admin = PermisoClient(settings, log=log, name="administrator")
    admin.token = "tok-admin"
    cleanups: list[Any] = []
    return SimpleNamespace(settings=settings, log=log, admin=admin, target=SimpleNamespace(base_url=server.url),
                           capabilities={"configured_client": None}, actors={},
                           identities=Identities(admin, settings, cleanups.append))


def test_the_matrix_judges_every_guard_when_the_administrators_throwaway_is_refused(server: Any,
                                                                                   settings: Any) -> None:
    from support.checks.causes import PreconditionRefused

    context = _release_context(server, settings)
    answers = admin_callers.attempt_by_each_caller(context, "delete a role")
    assert set(answers) == {"a visitor", "Dana", "a service client"}  # each guard was asked
    paths = {s.path for s in server.seen if s.method == "DELETE"}
    assert len(paths) == 1 and re.fullmatch(r"/api/v1/roles/[0-9a-f-]{36}", paths.pop())  # one made-up id
    service = server.hits("POST", "/api/v1/auth/service-token")
    assert service and b"client_id=test-client-001" in service[0].body  # the configured client
    refusal = admin_flows.admin_book(context).admin_refusal
    assert isinstance(refusal, PreconditionRefused) and refusal.defect == "D1"
    assert re.fullmatch(r"could not prepare \(create role 'pa_role_\w+'\): POST /api/v1/roles/ answered 422 "
                        r"\(query\.current_user missing\)", str(refusal))


def test_the_administrator_reads_a_seeded_role_found_through_the_user_routes(server: Any, settings: Any) -> None:
    context = _release_context(server, settings)
    context.admin.token = "tok-admin"
    import support.wire.admin_session

    answers = admin_callers.attempt_by_each_caller(context, "read a role")
    assert answers["the administrator"].status == 422  # the guard's own answer, judged by the Then step
    assert answers["the administrator"].exchange.url.endswith("/api/v1/roles/role-admin-id")
    outsiders = [answers[w].exchange.url for w in ("a visitor", "Dana", "a service client")]
    assert len(set(outsiders)) == 1 and "role-admin-id" not in outsiders[0]
    assert admin_flows.admin_book(context).admin_refusal is None
    assert support.wire.admin_session.ensure_admin(context) is context.admin


def test_made_up_targets_name_nothing_real() -> None:
    from types import SimpleNamespace

    context = SimpleNamespace(settings=SimpleNamespace(permiso_run_id="abc123"))
    first, second = admin_catalogue.made_up_targets(context), admin_catalogue.made_up_targets(context)
    for name in ("user_id", "role_id", "scope_id", "session_id"):
        assert re.fullmatch(r"[0-9a-f-]{36}", getattr(first, name)) and getattr(first, name) != getattr(second, name)
    assert first.client_id.startswith("pa-nobody-abc123-") and first.client_secret
