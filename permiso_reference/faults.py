"""Registry of injectable faults.

Each fault changes exactly one behaviour of the reference server so that the acceptance suite can
prove it notices the defect (``permiso-acceptance sensitivity``). An entry is of one of two kinds:
a *fault* (a defect the suite must catch) or an acceptable *variant* (a behaviour of the current release
that the contract allows; the suite must stay green with it on). Both are switched the same way.
Faults are read at request time from ``app.state.faults`` (a frozenset), so a test may swap the set on a running app.

Usage::

    from permiso_reference.faults import fault
    if fault(request, "lockout_never"): ...

``fault`` accepts a ``Request``, a ``FastAPI`` app, or an app ``State``. Unknown names raise
``ValueError`` (a typo must never silently disable a check).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Injectable faults: name -> one-line description (the behaviour when on; defect id where one applies).
FAULTS: dict[str, str] = {
    'expired_token_accepted': '`exp` is not checked on bearer tokens',
    'nbf_not_checked': '`nbf`/`iat` in the future are not checked',
    'signature_not_verified': 'bearer JWT signatures are not verified (claims still checked)',
    'alg_none_accepted': 'tokens with `alg: none` and an empty signature are accepted',
    'issuer_not_checked': '`iss` is not checked',
    'audience_not_checked': '`aud` is not checked (D6)',
    'refresh_as_access': 'refresh tokens are accepted as bearer access tokens (D5)',
    'refresh_reuse': 'a refresh token stays usable after it was rotated',
    'refresh_ignores_revocation': 'refresh works after logout / session end (D7)',
    'refresh_scope_regrant': "refresh grants all the user's scopes instead of the originally granted ones (D7)",
    'logout_not_revoking': 'logout does not revoke the presented access token',
    'logout_keeps_refresh': "logout does not revoke the user's refresh tokens",
    'revoke_noop': '`/auth/revoke` answers 200 but revokes nothing',
    'revoked_introspect_active': 'introspection reports revoked tokens as active: the revocation check is skipped, the other liveness checks stay (D8)',  # noqa: E501
    'lockout_never': 'the account is never locked',
    'locked_can_sign_in': 'a locked account signs in with the right password',
    'lock_never_expires': 'the lock is never lifted after the window (D2)',
    'locked_password_500': 'the right password on a locked account answers 500 with a traceback (D2)',
    'failure_count_not_reset': 'a successful sign-in does not reset the failure count',
    'disabled_can_sign_in': 'a disabled account signs in',
    'disabled_token_valid': 'tokens of a disabled user stay valid',
    'deleted_user_token_valid': 'tokens of a deleted user stay valid',
    'wrong_password_granted': 'any password signs in an existing user',
    'enumeration_message': 'unknown user gets a different error description than a wrong password',
    'enumeration_timing': 'a wrong password for an existing user answers ≥ 30 ms slower than an unknown user (timing side channel); normally the unknown-user path also runs a dummy bcrypt check',  # noqa: E501
    'admin_open_to_users': 'admin-guarded routes accept any signed-in user (D1)',
    'bola_user_profile': 'self-or-admin routes accept any signed-in user for any user id',
    'bola_sessions': "a user can end another user's session",
    'mass_assignment': "a regular user's `PUT /users/{own id}` applies `is_active`, `is_verified`, `role_ids`, `is_superuser` (D15)",  # noqa: E501
    'service_token_on_user_endpoint': 'service tokens are accepted on user-guarded endpoints',
    'service_scope_escalation': 'service tokens get every requested scope, owned or not',
    'client_disabled_allowed': 'a disabled service client still gets tokens',
    'old_secret_valid': 'the old client secret keeps working after rotation',
    'client_secret_exposed': 'client JSON (GET/list) includes `client_secret`',
    'password_hash_exposed': 'user JSON includes `password_hash`',
    'password_policy_off': 'the password policy is not enforced',
    'duplicate_username': 'a taken username can be registered/created again',
    'reserved_email_accepted': 'special-use email domains (`.test`, `.local`...) are accepted',
    'registration_limit_off': 'self-registration is never rate-limited',
    'missing_security_headers': 'the security headers are not sent',
    'hsts_missing': 'no `Strict-Transport-Security` on HTTPS',
    'server_version_leak': 'responses carry `Server: uvicorn` / `X-Powered-By: FastAPI 0.x`',
    'no_store_missing': 'token responses lack `Cache-Control: no-store`',
    'missing_www_authenticate': '401s lack `WWW-Authenticate: Bearer` (D9)',
    'http_not_redirected': 'the plain HTTP port serves the API instead of redirecting',
    'traceback_in_500': 'a null byte or over-long username at sign-in raises an unhandled error whose 500 body carries the traceback (D10)',  # noqa: E501
    'validation_echoes_input': '422 bodies echo submitted values, passwords included (D10)',
    'cors_any_origin': 'CORS reflects any Origin with credentials allowed (D16)',
    'slow_health': '`/health` takes 150 ms',
    'session_renew_noop': 'session renew answers 200 but does not extend `expires_at`',
    'sessions_not_gating': 'ending a session does not refuse its tokens (D18)',
    'stats_not_counting': 'user statistics do not count users created after start',
    'role_scopes_not_applied': "a user's new role does not change the scopes of their next token",
    'permission_check_wrong': 'permission check answers `allowed: true` for everything',
    'security_events_missing': 'failed sign-ins are not recorded as security events',
    'rate_limit_off': 'the auth rate limit never triggers (only meaningful with `auth_rate_limit`)',
    'bad_reset_token_500': 'bad reset/verification tokens answer 500 instead of 400 `invalid_token` (D11)',
    'bad_token_500_empty': 'bad reset/verification tokens answer 500 `http_error` with an empty `error_description` instead of 400 `invalid_token` (D11, as on the release)',  # noqa: E501
    'admin_guard_query_param': "admin-only routes (D.1 list) ask for a `current_user` query parameter instead of reading the token: 422 `query.current_user` missing without it, 500 \"Role check failed\" with it (D1)",  # noqa: E501
    'scope_guard_trusts_body': 'scope-guarded routes (D.1 list) read the scopes from a caller-written JSON body field `token_payload`: no body 422, the route\'s scope or `admin:system` lets anyone in, other scopes 500 (D1)',  # noqa: E501
    'role_ids_integer': 'role and scope ids in paths are typed as integers: UUIDs, `/roles/stats` and `/roles/defaults` get 422 int parsing (D13)',  # noqa: E501
    'lock_naive_datetime': "once locked, the right password and refresh answer 500 internal_error \"can't compare offset-naive and offset-aware datetimes\" with a traceback, the user's bearer requests 401 with that text (D2)",  # noqa: E501
    'session_renew_500': "session renew answers 500 internal_error \"can't compare offset-naive and offset-aware datetimes\" for every user (D2)",  # noqa: E501
    'disabled_failures_count': 'a wrong password on a disabled account still counts towards the lock (D3)',
    'bearer_401_no_challenge': 'bearer-guard 401s (`http_error`) lack `WWW-Authenticate`; the token endpoints\' OAuth 401s keep it (D9)',  # noqa: E501
    'registration_429_no_retry_after': 'the registration 429 lacks `Retry-After` (D9)',
    'exp_not_required': 'a token signed with the server key but without `exp` is accepted as a bearer (D31)',
    'rotated_refresh_as_bearer': 'refresh tokens are accepted as bearer tokens even after they were rotated (D7)',
    'introspect_any_token_type': 'introspect and revoke accept a bearer of any token type (refresh, or no `type`) (D5)',
    'logout_ends_all_sessions': 'logout ends every session of the account, not only the current one (D.3)',
    'session_user_id_integer': 'session JSON carries `user_id` as a 128-bit integer instead of the user\'s UUID (D18)',
    'end_all_includes_current': '"end all sessions" ends the current session too (D18)',
    'unsupported_grant_422': '`/auth/token` answers an unsupported `grant_type` with 422 instead of 400 `unsupported_grant_type` (D34)',  # noqa: E501
    'client_not_found_distinct': 'an unknown service client gets "Service client <id> not found" with body `status_code` 404, unlike a wrong secret (D30)',  # noqa: E501
    'detail_shape_errors': 'duplicate username/email (409) and a wrong current password (400) answer FastAPI\'s `{"detail": ...}` instead of A.11\'s named error (D.4)',  # noqa: E501
    'validation_ctx_exception': '422 items carry `ctx` with exception text (D10)',
    'hostile_input_500': 'a NUL byte in a user search or a page number like 10^30 answers 500 with traceback and SQL (D33, D10)',  # noqa: E501
    'refresh_form_500': 'a refresh sent as a form answers 500 "Object of type bytes is not JSON serializable" without security headers (D33)',  # noqa: E501
    'redirect_no_permissions_policy': 'the plain-HTTP 301 redirect lacks `Permissions-Policy` (D32)',
    'rate_limit_503_bare': 'the auth limiter\'s 503 page carries only HSTS, none of the other security headers (F1)',
    'docs_public_in_production': 'the API description (`/openapi.json`, `/docs`, `/redoc`) is served although the environment is production (D17)',  # noqa: E501
    'allow_list_not_enforced': 'a service client with an IP allow-list gets tokens from any address (D24)',
    'whoami_last_signed_in': '`/users/me` and `/users/profile` answer the account that signed in last on the server, not the token\'s owner',  # noqa: E501
    'sessions_list_everyone': 'the session list answers every user\'s active sessions, not only the caller\'s',
    'introspect_ignores_account': 'introspection reports tokens of disabled, locked or deleted accounts (and disabled clients) as active (D8)',  # noqa: E501
}

#: Acceptable variants: behaviours of the release that Part A/D allow. Same switch as a fault, but the
#: suite must stay green with one on (``permiso-acceptance sensitivity`` checks it is *tolerated*).
VARIANTS: dict[str, str] = {
    'refresh_error_code_invalid_token': 'a failed refresh says `error_code: "invalid_token"` and "Refresh token not found or expired" (`error` stays invalid_grant; A.3 acceptable)',  # noqa: E501
    'refresh_session_id_null': 'a successful refresh answers `"session_id": null` (A.3 acceptable)',
    'logout_count_all': '`sessions_terminated` counts revoked tokens + revoked refresh tokens + ended sessions (A.3: how it counts is not promised)',  # noqa: E501
    'sign_in_password_length_unchecked': 'sign-in never validates the password length: any length gets 401 invalid_grant (D.4 acceptable)',  # noqa: E501
    'inactive_sessions_kept': 'each sign-in also leaves an inactive (ended) session row behind, seen only in session statistics (D.3 acceptable retention)',  # noqa: E501
}


#: Every switchable behaviour (faults and variants): name -> description.
BEHAVIOURS: dict[str, str] = {**FAULTS, **VARIANTS}
FAULT_KIND = "fault"
VARIANT_KIND = "variant"


def kind_of(name: str) -> str:
    """``"fault"`` or ``"variant"`` (acceptable variant); ValueError for an unknown name."""
    if name in VARIANTS:
        return VARIANT_KIND
    if name in FAULTS:
        return FAULT_KIND
    raise ValueError(f"unknown fault: {name}")


def validate_faults(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a frozenset, raising ValueError naming any unknown fault or variant."""
    cleaned = {n.strip() for n in names if n and n.strip()}
    unknown = sorted(cleaned - BEHAVIOURS.keys())
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)} (see `permiso-reference faults`)")
    return frozenset(cleaned)


def parse_faults(text: str | None) -> frozenset[str]:
    """Parse a comma-separated fault list (CLI / environment form)."""
    return validate_faults((text or "").split(","))


def _state(obj: Any) -> Any:
    """Find the app ``State`` behind a Request, an app or a State."""
    app = getattr(obj, "app", None)
    if app is not None and hasattr(app, "state"):  # Request
        return app.state
    if hasattr(obj, "state"):  # FastAPI / Starlette app
        return obj.state
    return obj  # already a State


def fault(obj: Any, name: str) -> bool:
    """True when the named fault or variant is switched on for this app (``name`` must be registered)."""
    if name not in BEHAVIOURS:
        raise ValueError(f"unknown fault: {name}")
    faults = getattr(_state(obj), "faults", frozenset())
    return name in faults
