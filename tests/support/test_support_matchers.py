"""Matchers: each rule accepts a conforming answer, refuses a broken one, and never prints a secret."""

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

from support.client import ApiResponse, Exchange
from support.matchers import (
    has_bearer_challenge,
    has_json_fields,
    has_no_leak,
    has_security_headers,
    has_status,
    is_bearer_refusal,
    is_http_error,
    is_jwt_with_claims,
    is_named_error,
    is_oauth_error,
    is_token_response,
    is_user_json,
    is_uuid,
    is_validation_error,
    responds_within,
)

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


def test_oauth_error() -> None:
    good = answer(401, oauth("invalid_grant", 401), {"WWW-Authenticate": "Bearer"})
    assert_that(good, is_oauth_error("invalid_grant", 401))
    assert "WWW-Authenticate" in mismatch(is_oauth_error("invalid_grant"),
                                          answer(401, oauth("invalid_grant", 401)))
    assert "error was 'invalid_client'" in mismatch(
        is_oauth_error("invalid_grant"),
        answer(401, oauth("invalid_client", 401), {"WWW-Authenticate": "Bearer"}))
    wrong_status_code = {**oauth("account_locked", 423), "status_code": 500}
    assert "status_code" in mismatch(is_oauth_error("account_locked", 423),
                                     answer(423, wrong_status_code, {"WWW-Authenticate": "Bearer"}))


def test_bearer_refusal_and_challenge() -> None:
    refusal = answer(401, {"error": "http_error", "error_description": "Token expired"},
                     {"WWW-Authenticate": "Bearer"})
    assert_that(refusal, is_bearer_refusal())
    assert_that(refusal, is_bearer_refusal(contains_string("expired")))
    assert_that(refusal, has_bearer_challenge())
    no_challenge = answer(401, {"error": "http_error", "error_description": "Token expired"})
    assert "no WWW-Authenticate" in mismatch(is_bearer_refusal(), no_challenge)
    assert_that(no_challenge, not_(has_bearer_challenge()))
    assert "status was 200" in mismatch(is_bearer_refusal(), answer(200, {"id": "x"}))
    assert_that(answer(401, {}, {"WWW-Authenticate": "Basic realm=x"}), not_(has_bearer_challenge()))


def test_http_and_named_errors() -> None:
    denied = answer(403, {"error": "http_error", "error_description": "Access denied"})
    assert_that(denied, is_http_error(403, "Access denied"))
    assert_that(denied, not_(is_http_error(403, "Nope")))
    assert "Retry-After" in mismatch(is_http_error(429),
                                     answer(429, {"error": "http_error", "error_description": "slow"}))
    conflict = answer(409, {"error": "conflict", "error_description": "Username taken"})
    assert_that(conflict, is_named_error("conflict", 409))
    assert_that(conflict, not_(is_named_error("not_found", 404)))
    assert "error_description" in mismatch(is_named_error("conflict", 409),
                                           answer(409, {"error": "conflict", "error_description": ""}))


def test_validation_error_never_echoes() -> None:
    body = {"error": "validation_error", "error_description": "Request validation failed",
            "details": [{"type": "string_too_short", "loc": ["body", "password"], "msg": "too short"}]}
    assert_that(answer(422, body), is_validation_error("Sh0rt!"))
    echoed = {**body, "details": [{**body["details"][0], "input": "Sh0rt!"}]}
    text = mismatch(is_validation_error("Sh0rt!"), answer(422, echoed))
    assert "echoes 1 submitted value" in text and "input" in text
    assert "status was 400" in mismatch(is_validation_error(), answer(400, body))


def test_token_response() -> None:
    good = {"access_token": token(), "token_type": "Bearer", "expires_in": 900,
            "refresh_token": token(type="refresh"), "scope": "read:profile", "session_id": "s-1"}
    ok = answer(200, good, {"Cache-Control": "no-store"})
    assert_that(ok, is_token_response())
    assert "no-store" in mismatch(is_token_response(), answer(200, good))
    bad = {**good, "token_type": "bearer", "expires_in": "900"}
    text = mismatch(is_token_response(), answer(200, bad, {"Cache-Control": "no-store"}))
    assert "token_type" in text and "expires_in" in text
    assert good["access_token"] not in text and good["refresh_token"] not in text
    service = {**good, "refresh_token": None, "session_id": None, "expires_in": 3600}
    assert_that(answer(200, service, {"Cache-Control": "no-store"}), is_token_response(refresh=False))
    assert_that(answer(200, good, {"Cache-Control": "no-store"}), not_(is_token_response(refresh=False)))
    assert "expires_in" in mismatch(is_token_response(),
                                    answer(200, {**good, "expires_in": 0}, {"Cache-Control": "no-store"}))


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
