"""Routes under ``/auth`` (contract A.3): sign-in, client credentials, refresh, introspection,
revocation and logout, with the lockout rules of A.5.

Handlers are sync on purpose: bcrypt and SQLite block, so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from permiso_reference.accounts import (
    address_allowed,
    client_ip,
    create_session,
    end_sessions,
    find_user_for_login,
    has_control_chars,
    revoke_user_refresh_tokens,
)
from permiso_reference.db import Database, check_secret, new_id, now, now_iso, to_iso
from permiso_reference.errors import LeakyServerError, ValidationFailed, naive_datetime_error, oauth_error
from permiso_reference.faults import fault
from permiso_reference.guards import Principal, is_locked, require_bearer_any_type, require_user
from permiso_reference.tokens import (
    TokenError,
    decode,
    expand_scopes,
    issue_access,
    issue_refresh,
    issue_service,
    revoke,
    session_is_live,
)

router = APIRouter()

INVALID_CREDENTIALS = "Invalid username or password"
#: Extra delay of the existing-user path under the ``enumeration_timing`` fault (production bcrypt
#: cost 12 takes ~250 ms; the reference's cost 4 is too fast to show the side channel by itself).
TIMING_FAULT_DELAY = 0.06


class TokenRequest(BaseModel):
    """Body of ``/refresh``."""

    model_config = ConfigDict(extra="ignore")
    refresh_token: str = Field(min_length=1, max_length=8192)


class TokenRef(BaseModel):
    """Body of ``/introspect`` and ``/revoke``."""

    model_config = ConfigDict(extra="ignore")
    token: str = Field(min_length=1, max_length=8192)
    token_type_hint: str | None = Field(default=None, max_length=50)


def _token_response(request: Request, body: dict[str, Any]) -> JSONResponse:
    headers = {} if fault(request, "no_store_missing") else {"Cache-Control": "no-store",
                                                              "Pragma": "no-cache"}
    return JSONResponse(body, headers=headers)


def _record(request: Request, event: str, severity: str, description: str, *,
            user: dict[str, Any] | None = None, username: str | None = None,
            client_id: str | None = None, success: bool = False) -> None:
    """Record a sign-in attempt and its security event (the admin console reads them)."""
    db: Database = request.app.state.db
    ip = client_ip(request)
    name = user["username"] if user else (username or "")[:100]
    if client_id is None:
        db.execute("INSERT INTO login_attempts (id, username, user_id, ip_address, success, reason,"
                   " created_at) VALUES (?,?,?,?,?,?,?)",
                   (new_id(), name, user["id"] if user else None, ip, int(success), event, now_iso()))
    db.record_security_event(event, severity=severity, user_id=user["id"] if user else None,
                             username=name, client_id=client_id, ip_address=ip,
                             description=description)


def _granted(requested: str | None, owned: list[str]) -> list[str]:
    """Requested ∩ owned (implied scopes count as owned); all owned when nothing is requested."""
    names = [s for s in (requested or "").split() if s]
    if not names:
        return list(owned)
    have = expand_scopes(owned)
    return [s for s in dict.fromkeys(names) if s in have]


def owned_scopes(request: Request, user_id: str) -> list[str]:
    """Scopes the user holds now (or, under ``role_scopes_not_applied``, at their first sign-in)."""
    state = request.app.state
    owned = state.db.user_scope_names(user_id)
    first_seen = state.scope_snapshots.setdefault(user_id, owned)
    return first_seen if fault(request, "role_scopes_not_applied") else owned


def _register_failure(request: Request, user: dict[str, Any]) -> None:
    """Count a wrong password; lock at the threshold and extend the lock on every further failure."""
    state = request.app.state
    settings = state.settings
    count = user["failed_login_attempts"] + 1
    locked_until = user["locked_until"]
    if count >= settings.lockout_threshold and not fault(request, "lockout_never"):
        locked_until = to_iso(now() + timedelta(seconds=settings.lockout_seconds))
    state.db.execute("UPDATE users SET failed_login_attempts = ?, locked_until = ? WHERE id = ?",
                     (count, locked_until, user["id"]))
    if locked_until != user["locked_until"]:
        _record(request, "account_locked", "high", "Account locked after repeated failures", user=user)


def _sign_in_success(request: Request, user: dict[str, Any], scope: str | None) -> JSONResponse:
    state = request.app.state
    db: Database = state.db
    stamp = now_iso()
    if fault(request, "failure_count_not_reset"):
        db.execute("UPDATE users SET last_login = ?, locked_until = NULL WHERE id = ?", (stamp, user["id"]))
    else:
        db.execute("UPDATE users SET last_login = ?, failed_login_attempts = 0, locked_until = NULL"
                   " WHERE id = ?", (stamp, user["id"]))
    owned = owned_scopes(request, user["id"])
    granted = _granted(scope, owned)
    roles = [r["name"] for r in db.user_roles(user["id"])]
    session = create_session(request, user["id"])
    access = issue_access(state, user, granted, roles, session["id"])
    refresh = issue_refresh(state, user, granted, session["id"])
    _record(request, "login_success", "info", "Successful sign-in", user=user, success=True)
    return _token_response(request, {
        "access_token": access.token, "token_type": "Bearer",
        "expires_in": state.settings.access_token_seconds, "refresh_token": refresh.token,
        "scope": " ".join(granted) or None, "session_id": session["id"]})


@router.post("/token")
def sign_in(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
            scope: Annotated[str | None, Form()] = None,
            grant_type: Annotated[str | None, Form()] = None) -> JSONResponse:
    """Password grant (A.3). Unknown user and wrong password are indistinguishable."""
    state = request.app.state
    db: Database = state.db
    if grant_type not in (None, "", "password"):
        if fault(request, "unsupported_grant_422"):  # D34: a pattern-validated form field
            raise ValidationFailed(["body", "grant_type"], "String should match pattern '^password$'",
                                   value=grant_type, typ="string_pattern_mismatch")
        raise oauth_error(400, "unsupported_grant_type", "Only the password grant is supported")
    if "\x00" in username or len(username) > 255:
        if fault(request, "traceback_in_500"):
            # D10 as a fault: the lookup blows up and the 500 handler prints the traceback.
            raise LeakyServerError(f"sqlite3.OperationalError near username={username[:40]!r}"
                               " in /app/permiso/services/auth_service.py")
        raise ValidationFailed(["body", "username"], "Invalid username")
    # Under the variant (D.4) a password of any length is simply a wrong one (bcrypt reads 72 bytes).
    too_long = len(password) > 1024 and not fault(request, "sign_in_password_length_unchecked")
    if too_long or (scope is not None and len(scope) > 2000):
        raise ValidationFailed(["body", "password" if too_long else "scope"],
                               "Value too long")
    user = find_user_for_login(db, username)
    if user is None:
        if not fault(request, "enumeration_timing"):
            check_secret(password, state.dummy_hash)  # same work as a real check
        _record(request, "login_failed", "medium", "Sign-in with unknown user", username=username)
        description = "User not found" if fault(request, "enumeration_message") else INVALID_CREDENTIALS
        raise oauth_error(401, "invalid_grant", description)

    correct = check_secret(password, user["password_hash"]) or fault(request, "wrong_password_granted")
    if fault(request, "enumeration_timing") and not correct:
        time.sleep(TIMING_FAULT_DELAY)
    # A lock whose window has passed is lifted, with a fresh failure budget.
    if user["locked_until"] and not is_locked(state, user):
        db.execute("UPDATE users SET locked_until = NULL, failed_login_attempts = 0 WHERE id = ?",
                   (user["id"],))
        user = {**user, "locked_until": None, "failed_login_attempts": 0}
    locked = is_locked(state, user)

    if not correct:
        if user["is_active"] or fault(request, "disabled_failures_count"):  # D3
            _register_failure(request, user)
        _record(request, "login_failed", "medium", "Sign-in with wrong password", user=user)
        raise oauth_error(401, "invalid_grant", INVALID_CREDENTIALS)
    if locked and not fault(request, "locked_can_sign_in"):
        if fault(request, "lock_naive_datetime"):
            raise naive_datetime_error()
        if fault(request, "locked_password_500"):
            raise LeakyServerError(f"AttributeError: 'NoneType' object has no attribute 'tzinfo' "
                               f"(user {user['username']} locked_until={user['locked_until']})")
        _record(request, "login_blocked_locked", "high", "Sign-in on a locked account", user=user)
        raise oauth_error(423, "account_locked", "Account is temporarily locked",
                          locked_until=user["locked_until"])
    if not user["is_active"] and not fault(request, "disabled_can_sign_in"):
        _record(request, "login_blocked_disabled", "medium", "Sign-in on a disabled account", user=user)
        raise oauth_error(403, "account_disabled", "Account is disabled")
    return _sign_in_success(request, user, scope)


@router.post("/service-token")
def service_token(request: Request, client_id: Annotated[str, Form()],
                  client_secret: Annotated[str, Form()],
                  scope: Annotated[str | None, Form()] = None,
                  grant_type: Annotated[str | None, Form()] = None) -> JSONResponse:
    """Client-credentials grant (A.3, A.8)."""
    state = request.app.state
    db: Database = state.db
    if grant_type not in (None, "", "client_credentials"):
        raise oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
    if len(client_id) > 255 or len(client_secret) > 1024 or has_control_chars(client_id):
        raise ValidationFailed(["body", "client_id"], "Invalid client_id")
    client = db.one("SELECT * FROM service_clients WHERE client_id = ?", (client_id,))
    if client is None:
        check_secret(client_secret, state.dummy_hash)
        _record(request, "client_auth_failed", "medium", "Unknown service client", client_id=client_id)
        if fault(request, "client_not_found_distinct"):  # D30: a 404 wrapped in a 401
            raise oauth_error(401, "invalid_client", f"Service client {client_id} not found",
                              error_code="client_not_found", status_code=404)
        raise oauth_error(401, "invalid_client", "Invalid client credentials")
    ok = check_secret(client_secret, client["secret_hash"])
    if not ok and fault(request, "old_secret_valid") and client.get("previous_secret_hash"):
        ok = check_secret(client_secret, client["previous_secret_hash"])
    if not ok:
        _record(request, "client_auth_failed", "medium", "Wrong client secret", client_id=client_id)
        raise oauth_error(401, "invalid_client", "Invalid client credentials")
    # The allow-list (A.8 allowed_ips) is enforced before anything else is told: a caller from outside
    # it gets exactly a wrong secret's answer, so neither the list nor the secret's validity leaks (D24).
    if not address_allowed(client_ip(request), client["allowed_ips"]) and not fault(request, "allow_list_not_enforced"):
        _record(request, "client_auth_failed", "medium", "Service client used from an address outside its "
                "allow-list", client_id=client_id)
        raise oauth_error(401, "invalid_client", "Invalid client credentials")
    if not client["is_active"] and not fault(request, "client_disabled_allowed"):
        raise oauth_error(403, "client_disabled", "Service client is disabled")
    owned = db.client_scope_names(client["id"])
    requested = [s for s in (scope or "").split() if s]
    if fault(request, "service_scope_escalation") and requested:
        granted = list(dict.fromkeys(requested))
    else:
        granted = _granted(scope, owned)
        if requested and not granted:
            raise oauth_error(400, "invalid_scope", "None of the requested scopes is allowed")
    lifetime = state.settings.service_token_seconds or client["access_token_lifetime"]
    issued = issue_service(state, client, granted, lifetime)
    db.execute("UPDATE service_clients SET last_used_at = ? WHERE id = ?", (now_iso(), client["id"]))
    return _token_response(request, {
        "access_token": issued.token, "token_type": "Bearer", "expires_in": lifetime,
        "refresh_token": None, "scope": " ".join(granted) or None, "session_id": None})


@router.post("/refresh")
def refresh(request: Request, body: TokenRequest) -> JSONResponse:
    """Refresh with rotation (A.3): the presented refresh token is spent."""
    state = request.app.state
    db: Database = state.db
    ignore_revocation = fault(request, "refresh_ignores_revocation")
    if fault(request, "refresh_error_code_invalid_token"):  # variant (A.3): an internal reason code
        refused = oauth_error(401, "invalid_grant", "Refresh token not found or expired",
                              error_code="invalid_token")
    else:
        refused = oauth_error(401, "invalid_grant", "Invalid or expired refresh token")
    try:
        claims = decode(state, body.refresh_token, bearer=False, check_revocation=not ignore_revocation)
    except TokenError:
        raise refused from None
    if claims.get("type") != "refresh":
        raise refused
    row = db.one("SELECT * FROM refresh_tokens WHERE jti = ?", (claims["jti"],))
    if row is None:
        raise refused
    if row["used_at"] and not fault(request, "refresh_reuse"):
        raise refused
    if row["revoked_at"] and not ignore_revocation:
        raise refused
    sid = claims.get("sid")
    if (isinstance(sid, str) and not ignore_revocation and not fault(request, "sessions_not_gating")
            and not session_is_live(db, sid)):
        raise refused
    user = db.one("SELECT * FROM users WHERE id = ?", (claims["sub"],))
    if user is not None and is_locked(state, user) and fault(request, "lock_naive_datetime"):
        raise naive_datetime_error()  # D2
    if user is None or not user["is_active"] or is_locked(state, user):
        raise refused
    owned = owned_scopes(request, user["id"])
    if fault(request, "refresh_scope_regrant"):
        granted = owned
    else:
        have = expand_scopes(owned)
        granted = [s for s in json.loads(row["scopes"] or "[]") if s in have]
    used = db.execute("UPDATE refresh_tokens SET used_at = ? WHERE jti = ? AND used_at IS NULL",
                      (now_iso(), claims["jti"]))
    if not used and not fault(request, "refresh_reuse"):
        raise refused  # lost a race with a concurrent refresh of the same token
    session_id = sid if isinstance(sid, str) else None
    if session_id:
        moment = now()
        db.execute("UPDATE sessions SET last_activity = ?, expires_at = max(expires_at, ?) WHERE id = ?",
                   (to_iso(moment), to_iso(moment + timedelta(seconds=state.settings.session_seconds)),
                    session_id))
    roles = [r["name"] for r in db.user_roles(user["id"])]
    access = issue_access(state, user, granted, roles, session_id)
    new_refresh = issue_refresh(state, user, granted, session_id)
    return _token_response(request, {
        "access_token": access.token, "token_type": "Bearer",
        "expires_in": state.settings.access_token_seconds, "refresh_token": new_refresh.token,
        "scope": " ".join(granted) or None,
        "session_id": None if fault(request, "refresh_session_id_null") else session_id})


INACTIVE: dict[str, Any] = {"active": False, "sub": None, "username": None, "client_id": None,
                            "scope": None, "exp": None, "iat": None, "token_type": None}


def _token_live(request: Request, claims: dict[str, Any]) -> bool:
    """Beyond the JWT checks: the token's subject and session must still be good."""
    state = request.app.state
    db: Database = state.db
    ignore_account = fault(request, "introspect_ignores_account")  # D8 family: the account is not read
    if claims.get("type") == "service":
        if ignore_account:
            return True
        client = db.one("SELECT is_active FROM service_clients WHERE client_id = ?", (claims["sub"],))
        return client is not None and bool(client["is_active"])
    if claims.get("type") not in ("access", "refresh"):
        return False
    sid = claims.get("sid")
    if isinstance(sid, str) and not fault(request, "sessions_not_gating") and not session_is_live(db, sid):
        return False
    if claims.get("type") == "refresh":
        row = db.one("SELECT used_at, revoked_at FROM refresh_tokens WHERE jti = ?", (claims["jti"],))
        revoked = row is not None and row["revoked_at"] and not fault(request, "revoked_introspect_active")
        if row is None or row["used_at"] or revoked:
            return False
    if ignore_account:
        return True
    user = db.one("SELECT * FROM users WHERE id = ?", (claims["sub"],))
    return user is not None and bool(user["is_active"]) and not is_locked(state, user)


@router.post("/introspect")
def introspect(request: Request, body: TokenRef,
               _: Annotated[Principal, Depends(require_bearer_any_type)]) -> JSONResponse:
    """RFC 7662-style introspection; revoked, expired or invalid tokens are inactive."""
    state = request.app.state
    revoked_ok = fault(request, "revoked_introspect_active")  # D8: only the revocation check is skipped
    try:
        claims = decode(state, body.token, bearer=False, check_revocation=not revoked_ok)
    except TokenError:
        return JSONResponse(INACTIVE)
    if not _token_live(request, claims):
        return JSONResponse(INACTIVE)
    scopes = claims.get("scopes")
    return JSONResponse({
        "active": True, "sub": claims.get("sub"), "username": claims.get("username"),
        "client_id": claims.get("client_id"),
        "scope": " ".join(str(s) for s in scopes) if isinstance(scopes, list) and scopes else None,
        "exp": claims.get("exp"), "iat": claims.get("iat"), "token_type": claims.get("type")})


@router.post("/revoke")
def revoke_token(request: Request, body: TokenRef,
                 principal: Annotated[Principal, Depends(require_bearer_any_type)]) -> JSONResponse:
    """RFC 7009 revocation: always 200; only the token's owner (or an admin) really revokes it."""
    state = request.app.state
    if not fault(request, "revoke_noop"):
        try:
            claims = decode(state, body.token, bearer=False, check_revocation=False)
        except TokenError:
            claims = None
        if claims is not None:
            caller = principal.user_id if principal.kind == "user" else principal.client_id
            if claims.get("sub") == caller or principal.is_admin:
                revoke(state.db, claims)
    return JSONResponse({"message": "Token revoked successfully"})


@router.post("/logout")
def logout(request: Request, principal: Annotated[Principal, Depends(require_user)]) -> JSONResponse:
    """End the current session, revoke the presented access token and all the user's refresh tokens.

    Under ``logout_not_revoking`` / ``logout_keeps_refresh`` the session is left running too,
    otherwise session gating would still refuse the tokens and the fault would not be visible.
    """
    db: Database = request.app.state.db
    keep_access = fault(request, "logout_not_revoking")
    keep_refresh = fault(request, "logout_keeps_refresh")
    revoked_access = revoked_refresh = 0
    if not keep_access:
        revoke(db, principal.claims)
        revoked_access = 1
    if not keep_refresh and principal.user_id:
        revoked_refresh = revoke_user_refresh_tokens(db, principal.user_id)
    terminated = 0
    if fault(request, "logout_ends_all_sessions") and principal.user_id:  # D.3: every session of the account
        rows = db.all("SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL", (principal.user_id,))
        terminated = end_sessions(db, [r["id"] for r in rows])
    elif principal.session_id:
        if keep_access or keep_refresh:
            terminated = 1 if session_is_live(db, principal.session_id) else 0
        else:
            terminated = end_sessions(db, [principal.session_id])
    if fault(request, "logout_count_all"):  # variant (A.3): tokens and sessions counted together
        terminated += revoked_access + revoked_refresh
    db.record_security_event("logout", severity="info", user_id=principal.user_id,
                             username=principal.user["username"] if principal.user else None,
                             ip_address=client_ip(request), description="Signed out")
    return JSONResponse({"message": "Logged out successfully", "sessions_terminated": terminated})
