"""Matchers: each rule accepts a conforming answer, refuses a broken one, and never prints a secret.

One rule per matcher: the composite matchers (OAuth error, http_error, named error, validation error,
token answer) pass on their own rule alone; the cross-cutting rules (Bearer challenge, Retry-After,
no-store, error shape, no echo, no internals, headers) are caught by their single-rule matchers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hamcrest import assert_that, contains_string, has_item, not_
from hamcrest.core.string_description import StringDescription
from requests.structures import CaseInsensitiveDict

from support.checks.error_matchers import (
    does_not_echo,
    has_a11_error_shape,
    has_no_leak,
    is_bearer_refusal,
    is_http_error,
    is_named_error,
    is_oauth_error,
    is_validation_error,
    submitted_secrets,
)
from support.checks.matchers import (
    has_bearer_challenge,
    has_json_fields,
    has_no_store,
    has_retry_after,
    has_security_headers,
    has_status,
    is_user_json,
    is_uuid,
    responds_within,
)
from support.checks.token_matchers import is_jwt_with_claims, is_token_response
from support.wire.evidence import ApiResponse, Exchange

SECURITY = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
}
KEY = "unit-test-signing-key-0123456789abcdef"


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None,
           url: str = "https://permiso.example.com/api/v1/auth/token", elapsed: float = 12.0) -> ApiResponse:
    text = json.dumps(body) if body is not None else ""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    ex = Exchange("POST", url, status, {}, None, hdrs, text, elapsed, datetime.now(UTC))
    return ApiResponse(status, CaseInsensitiveDict(hdrs), body, text, elapsed, ex)


def token(**claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": "permiso-auth", "sub": "u-1", "type": "access", "iat": now, "exp": now + 900,
               "scopes": ["read:profile"], **claims}
    return jwt.encode(payload, KEY, algorithm="HS256")


def mismatch(matcher: Any, item: Any) -> str:
    assert not matcher.matches(item)
    d = StringDescription()
    matcher.describe_mismatch(item, d)
    return str(d)


def oauth(code: str, status: int) -> dict[str, Any]:
    return {"error": code, "error_description": "Invalid credentials", "error_code": code,
            "status_code": status, "details": {}}


def test_has_status_shows_redacted_body() -> None:
    secret_token = token()
    r = answer(500, {"error": "internal_server_error", "access_token": secret_token,
                     "password": "Plain-Pa55!"})
    assert_that(r, has_status(500))
    assert_that(r, has_status(200, 500))
    text = mismatch(has_status(200), r)
    assert "status was 500, expected 200" in text and "internal_server_error" in text
    assert secret_token not in text and "Plain-Pa55!" not in text
    assert "POST https://permiso.example.com/api/v1/auth/token" in text


def test_oauth_error_judges_status_and_error_code_only() -> None:
    good = answer(401, oauth("invalid_grant", 401), {"WWW-Authenticate": "Bearer"})
    assert_that(good, is_oauth_error("invalid_grant", 401))
    # the challenge is its own rule: its absence does not fail the OAuth error (D9 is reported run-wide)
    assert_that(answer(401, oauth("invalid_grant", 401)), is_oauth_error("invalid_grant", 401))
    assert "error was 'invalid_client'" in mismatch(
        is_oauth_error("invalid_grant"), answer(401, oauth("invalid_client", 401), {"WWW-Authenticate": "Bearer"}))
    assert "status was 400, expected 401" in mismatch(is_oauth_error("invalid_grant", 401),
                                                      answer(400, oauth("invalid_grant", 400)))
    assert "expected a refusal (4xx)" in mismatch(is_oauth_error("invalid_grant"), answer(200, {}))


def test_oauth_error_ignores_the_extensions_error_code_and_status_code() -> None:
    """A.3 / D.3: error_code carries an internal reason ("invalid_token") and is not asserted."""
    refresh_refusal = {"error": "invalid_grant", "error_description": "Refresh token not found or expired",
                       "error_code": "invalid_token", "status_code": 401, "details": {}}
    assert_that(answer(401, refresh_refusal, {"WWW-Authenticate": "Bearer"}), is_oauth_error("invalid_grant", 401))
    wrong_status_code = {**oauth("account_locked", 423), "status_code": 500}
    assert_that(answer(423, wrong_status_code), is_oauth_error("account_locked", 423))
    no_extras = {"error": "invalid_grant", "error_description": "x"}
    assert_that(answer(401, no_extras), is_oauth_error("invalid_grant", 401))


def test_composite_matchers_pass_on_status_when_the_body_lacks_the_shape() -> None:
    """D.4: a 409 {"detail": ...} has the right status; the shape rule reports it run-wide, not here."""
    fastapi = answer(409, {"detail": "Username already exists"})
    assert_that(fastapi, is_named_error("conflict", 409))
    assert_that(answer(400, {"detail": "Current password is incorrect"}), is_http_error(400))
    assert_that(answer(401, "<html>no</html>"), is_bearer_refusal())
    assert "status was 500" in mismatch(is_named_error("conflict", 409), answer(500, {"detail": "x"}))


def test_bearer_refusal_and_challenge() -> None:
    refusal = answer(401, {"error": "http_error", "error_description": "Token expired"},
                     {"WWW-Authenticate": "Bearer"})
    assert_that(refusal, is_bearer_refusal())
    assert_that(refusal, is_bearer_refusal(contains_string("expired")))
    assert_that(refusal, has_bearer_challenge())
    no_challenge = answer(401, {"error": "http_error", "error_description": "Token expired"})
    assert_that(no_challenge, is_bearer_refusal())  # the refusal's own rule holds
    assert "no WWW-Authenticate" in mismatch(has_bearer_challenge(), no_challenge)
    assert "status was 200" in mismatch(is_bearer_refusal(), answer(200, {"id": "x"}))
    basic = answer(401, {}, {"WWW-Authenticate": "Basic realm=x"})
    assert "expected the scheme Bearer" in mismatch(has_bearer_challenge(), basic)


def test_http_and_named_errors() -> None:
    denied = answer(403, {"error": "http_error", "error_description": "Access denied"})
    assert_that(denied, is_http_error(403, "Access denied"))
    assert_that(denied, not_(is_http_error(403, "Nope")))
    limited = answer(429, {"error": "http_error", "error_description": "slow"})
    assert_that(limited, is_http_error(429))  # Retry-After is its own rule
    assert "no Retry-After" in mismatch(has_retry_after(), limited)
    assert_that(answer(429, {}, {"Retry-After": "120"}), has_retry_after())
    assert_that(answer(429, {}, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}), has_retry_after())
    assert "expected a number of seconds" in mismatch(has_retry_after(), answer(429, {}, {"Retry-After": "soon"}))
    conflict = answer(409, {"error": "conflict", "error_description": "Username taken"})
    assert_that(conflict, is_named_error("conflict", 409))
    assert_that(conflict, not_(is_named_error("not_found", 404)))
    empty = answer(409, {"error": "conflict", "error_description": ""})
    assert_that(empty, is_named_error("conflict", 409))  # the description is the shape rule's
    assert "error_description" in mismatch(has_a11_error_shape(), empty)


def test_validation_error_judges_status_and_code_echo_is_its_own_rule() -> None:
    body = {"error": "validation_error", "error_description": "Request validation failed",
            "details": [{"type": "string_too_short", "loc": ["body", "password"], "msg": "too short"}]}
    assert_that(answer(422, body), is_validation_error("Sh0rt!x"))
    echoed = {**body, "details": [{**body["details"][0], "input": "Sh0rt!x"}]}
    assert_that(answer(422, echoed), is_validation_error("Sh0rt!x"))
    text = mismatch(does_not_echo("Sh0rt!x"), answer(422, echoed))
    assert "echoes 1 submitted value" in text and "input" in text and "Sh0rt!x" not in text
    assert "status was 400" in mismatch(is_validation_error(), answer(400, body))
    assert_that(answer(422, {"detail": [{"type": "missing", "loc": ["body"], "msg": "x"}]}), is_validation_error())


def test_does_not_echo_finds_the_request_secrets_by_itself() -> None:
    body = {"error": "validation_error", "error_description": "Request validation failed",
            "details": [{"type": "value_error", "loc": ["body", "new_password"], "msg": "weak"}]}
    r = answer(422, {**body, "error_description": "weak password onlylowercase1a2b"})
    r.exchange.request_body = {"current_password": "Current-Pa55!", "new_password": "onlylowercase1a2b"}
    assert "echoes 1 submitted value" in mismatch(does_not_echo(), r)
    ctx = answer(422, {**body, "details": [{**body["details"][0], "ctx": {"error": "x"}}]})
    assert "ctx" in mismatch(does_not_echo(), ctx)
    assert_that(answer(422, body), does_not_echo("onlylowercase1a2b"))
    missing = {**body, "details": [{"type": "missing", "loc": ["query", "current_user"], "msg": "Field required",
                                    "input": None}]}
    assert_that(answer(422, missing), does_not_echo())  # nothing was sent, nothing is given back
    assert submitted_secrets("username=dana&password=Form-Pa55word") == ["Form-Pa55word"]
    assert submitted_secrets('{"client_secret": "cs-123456", "name": "x"}') == ["cs-123456"]
    assert submitted_secrets(None) == [] and submitted_secrets({"password": "abc"}) == []


@pytest.mark.parametrize(("status", "body", "wrong"), [
    (401, {"error": "http_error", "error_description": "Not authenticated"}, None),
    (404, {"detail": "Not Found"}, None),
    (405, {"detail": "Method Not Allowed"}, None),
    (401, {"error": "invalid_grant", "error_description": "x", "error_code": "invalid_token", "status_code": 401,
           "details": {}}, None),
    (422, {"error": "validation_error", "error_description": "Request validation failed",
           "details": [{"type": "missing", "loc": ["body", "x"], "msg": "Field required"}]}, None),
    (409, {"detail": "Username already exists"}, "no error field"),
    (404, {"detail": "User not found"}, "no error field"),
    (400, {"error": "invalid_token", "error_description": ""}, "error_description"),
    (500, {"error": "internal_error", "error_description": "An internal error occurred"}, "internal_server_error"),
    (500, {"error": "internal_server_error", "error_description": "x", "traceback": "..."}, "beyond"),
    (422, {"error": "validation_error", "error_description": "x", "details": [{"loc": ["body"]}]}, "type/loc/msg"),
])
def test_the_error_shape_rule(status: int, body: Any, wrong: str | None) -> None:
    r = answer(status, body)
    if wrong is None:
        assert_that(r, has_a11_error_shape())
    else:
        assert wrong in mismatch(has_a11_error_shape(), r)
    assert_that(answer(200, {"anything": 1}), has_a11_error_shape())


def test_token_response_without_no_store_and_with_a_null_session_on_refresh() -> None:
    good = {"access_token": token(), "token_type": "Bearer", "expires_in": 900,
            "refresh_token": token(type="refresh"), "scope": "read:profile", "session_id": "s-1"}
    ok = answer(200, good, {"Cache-Control": "no-store"})
    assert_that(ok, is_token_response())
    assert_that(answer(200, good), is_token_response())  # no-store is its own rule (D28)
    assert "no-store" in mismatch(has_no_store(), answer(200, good))
    assert_that(ok, has_no_store())
    bad = {**good, "token_type": "bearer", "expires_in": "900"}
    text = mismatch(is_token_response(), answer(200, bad, {"Cache-Control": "no-store"}))
    assert "token_type" in text and "expires_in" in text
    assert good["access_token"] not in text and good["refresh_token"] not in text
    service = {**good, "refresh_token": None, "session_id": None, "expires_in": 3600}
    assert_that(answer(200, service, {"Cache-Control": "no-store"}), is_token_response(refresh=False))
    assert_that(answer(200, good, {"Cache-Control": "no-store"}), not_(is_token_response(refresh=False)))
    assert "expires_in" in mismatch(is_token_response(),
                                    answer(200, {**good, "expires_in": 0}, {"Cache-Control": "no-store"}))
    # A.3: a refresh answer may carry session_id null; a sign-in promises one
    refreshed = {**good, "session_id": None}
    refresh_url = "https://permiso.example.com/api/v1/auth/refresh"
    assert_that(answer(200, refreshed, url=refresh_url), is_token_response())
    assert_that(answer(200, good, url=refresh_url), is_token_response())
    assert "session_id is not a string" in mismatch(is_token_response(), answer(200, refreshed))
    assert "session_id" in mismatch(is_token_response(session=True), answer(200, refreshed, url=refresh_url))


def test_jwt_with_claims_decodes_without_verifying() -> None:
    t = token(type="refresh", scopes=["read:profile", "write:profile"])
    assert_that(t, is_jwt_with_claims(type="refresh", iss="permiso-auth", sub="u-1"))
    assert_that(t, is_jwt_with_claims(scopes=has_item("write:profile")))
    assert_that(t, is_jwt_with_claims(type_="refresh"))
    text = mismatch(is_jwt_with_claims(type="access"), t)
    assert "claim 'type' was 'refresh'" in text and t not in text
    assert "no 'jti' claim" in mismatch(is_jwt_with_claims(jti="x"), t)
    assert "not a decodable JWT" in mismatch(is_jwt_with_claims(type="access"), "garbage")
    expired = token(exp=int(time.time()) - 100)
    assert_that(expired, is_jwt_with_claims(type="access"))  # decoding does not check exp


def test_security_headers() -> None:
    https = answer(200, {}, {**SECURITY, "Strict-Transport-Security": "max-age=63072000"})
    assert_that(https, has_security_headers())
    missing_hsts = answer(200, {}, SECURITY)
    assert "Strict-Transport-Security" in mismatch(has_security_headers(), missing_hsts)
    plain = answer(200, {}, SECURITY, url="http://127.0.0.1:8000/health")
    assert_that(plain, has_security_headers())
    assert_that(plain, not_(has_security_headers(hsts=True)))
    wrong = answer(200, {}, {**SECURITY, "X-Frame-Options": "SAMEORIGIN"}, url="http://h/")
    assert "X-Frame-Options was 'SAMEORIGIN'" in mismatch(has_security_headers(), wrong)
    lower = {k.lower(): v for k, v in SECURITY.items()}
    assert_that(answer(200, {}, lower, url="http://h/"), has_security_headers())


@pytest.mark.parametrize("leaky", [
    'Traceback (most recent call last):\n  File "/app/permiso/api.py", line 12, in token',
    "sqlalchemy.exc.IntegrityError: duplicate key",
    "SELECT users.id, users.password_hash FROM users WHERE users.username = 'x'",
    "KeyError: 'username'",
    "ValueError: embedded null byte",
    "/usr/local/lib/python3.11/site-packages/starlette/routing.py",
])
def test_has_no_leak_refuses_internals(leaky: str) -> None:
    r = answer(500, {"error": "internal_server_error", "error_description": leaky})
    assert "the body contains" in mismatch(has_no_leak(), r)


def test_has_no_leak_accepts_clean_errors() -> None:
    for body in ({"error": "internal_server_error", "error_description": "An internal server error occurred"},
                 {"error": "validation_error", "error_description": "Request validation failed",
                  "details": [{"type": "value_error", "loc": ["body", "email"], "msg": "Value error"}]}):
        assert_that(answer(500, body), has_no_leak())


def user(**over: Any) -> dict[str, Any]:
    body = {"id": "0b8f7a52-9f7e-4a7c-8b1a-3c0d8f1e2a11", "username": "dana", "email": "d@example.com",
            "first_name": "Dana", "last_name": "X", "display_name": None, "bio": None, "is_active": True,
            "is_verified": True, "is_superuser": False, "full_name": "Dana X", "last_login": None,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
            "roles": [{"id": "r", "name": "user", "description": None}], "scope_names": ["read:profile"]}
    body.update(over)
    return body


def test_user_json() -> None:
    assert_that(answer(200, user()), is_user_json())
    assert_that(user(), is_user_json(username="dana"))
    text = mismatch(is_user_json(), answer(200, user(password_hash="$2b$12$abcdefghijkl")))
    assert "password_hash" in text and "$2b$12$abcdefghijkl" not in text
    incomplete = user()
    del incomplete["scope_names"]
    assert "no 'scope_names' field" in mismatch(is_user_json(), incomplete)
    assert "id is not a UUID" in mismatch(is_user_json(), user(id="42"))


def test_uuid_fields_and_budget() -> None:
    assert_that("0b8f7a52-9f7e-4a7c-8b1a-3c0d8f1e2a11", is_uuid())
    assert_that("12345", not_(is_uuid()))
    assert_that(12345, not_(is_uuid()))
    assert_that(answer(200, {"total_users": 3, "active_users": 2}), has_json_fields("total_users"))
    assert "no 'locked_users'" in mismatch(has_json_fields("locked_users"), answer(200, {}))
    assert_that(answer(200, {}, elapsed=80), responds_within(100))
    assert "took 180.0 ms, budget 100 ms" in mismatch(responds_within(100), answer(200, {}, elapsed=180))
