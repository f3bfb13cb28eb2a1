"""Routes under ``/users`` (contract A.6): registration, admin CRUD, own profile, passwords, roles,
statistics, password reset and email verification.

Field policies (username, email, password) are checked in the handlers, not in pydantic validators,
because two of them can be switched off by faults at request time.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from permiso_reference.accounts import (
    MAX_BIO,
    check_email,
    check_password,
    check_text,
    check_username,
    client_ip,
    user_json,
)
from permiso_reference.db import Database, check_secret, hash_secret, new_id, now, now_iso, to_iso
from permiso_reference.errors import (
    ApiError,
    LeakyServerError,
    ValidationFailed,
    conflict,
    detail_or,
    http_error,
    named_error,
)
from permiso_reference.faults import fault
from permiso_reference.guards import (
    Principal,
    forbidden,
    require_admin,
    require_self_or_admin,
    require_user,
)

router = APIRouter()

Str100 = Annotated[str, Field(max_length=100)]
Text255 = Annotated[str | None, Field(default=None, max_length=255)]


class UserCreate(BaseModel):
    """User-create body (registration ignores the admin-only fields)."""

    model_config = ConfigDict(extra="ignore")
    username: Str100
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=1024)]
    first_name: Text255 = None
    last_name: Text255 = None
    display_name: Text255 = None
    bio: Annotated[str | None, Field(default=None, max_length=MAX_BIO)] = None
    is_active: bool | None = None
    is_verified: bool | None = None
    role_ids: list[Annotated[str, Field(max_length=100)]] | None = None


class ProfileUpdate(BaseModel):
    """``PUT /me`` body."""

    model_config = ConfigDict(extra="ignore")
    email: Annotated[str | None, Field(default=None, max_length=254)] = None
    first_name: Text255 = None
    last_name: Text255 = None
    display_name: Text255 = None
    bio: Annotated[str | None, Field(default=None, max_length=MAX_BIO)] = None


class UserUpdate(ProfileUpdate):
    """``PUT /{id}`` body; admin-only fields are refused for regular users."""

    is_active: bool | None = None
    is_verified: bool | None = None
    is_superuser: bool | None = None
    role_ids: list[Annotated[str, Field(max_length=100)]] | None = None
    username: Any = None
    password: Any = None


class PasswordChange(BaseModel):
    """``PUT /{id}/password`` body."""

    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Annotated[str, Field(max_length=1024)]


class RoleIds(BaseModel):
    """``PUT /{id}/roles`` body."""

    role_ids: list[Annotated[str, Field(max_length=100)]]


class EmailBody(BaseModel):
    """Reset / verification request body."""

    email: Annotated[str, Field(max_length=254)]


class ResetConfirm(BaseModel):
    """Password-reset confirmation body."""

    token: Annotated[str, Field(max_length=1024)]
    new_password: Annotated[str, Field(max_length=1024)]


class VerifyConfirm(BaseModel):
    """Email-verification confirmation body."""

    token: Annotated[str, Field(max_length=1024)]


USER_NOT_FOUND = "User not found"
#: Largest ``page`` of the user list (an unbounded int overflows the database's OFFSET).
MAX_PAGE = 1_000_000


def _db(request: Request) -> Database:
    return request.app.state.db


def _policy(request: Request, loc: str, check: Any, value: Any) -> Any:
    """Run a field policy, turning its ValueError into a 422 (never echoing the value)."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValidationFailed(["body", loc], str(exc), value=value) from None


def _validate_profile(request: Request, body: ProfileUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("first_name", "last_name", "display_name", "bio"):
        value = getattr(body, name)
        if value is not None:
            limit = MAX_BIO if name == "bio" else 255
            changes[name] = _policy(request, name, lambda v, lim=limit: check_text(v, lim), value)
    if body.email is not None:
        changes["email"] = _policy(
            request, "email",
            lambda v: check_email(v, fault(request, "reserved_email_accepted")), body.email)
    return changes


def _get_user(db: Database, user_id: str) -> dict[str, Any]:
    user = db.one("SELECT * FROM users WHERE id = ?", (user_id,))
    if user is None:
        raise http_error(404, USER_NOT_FOUND)
    return user


def _check_role_ids(db: Database, role_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(role_ids))
    for role_id in unique:
        if db.scalar("SELECT 1 FROM roles WHERE id = ?", (role_id,)) is None:
            raise named_error(404, "not_found", "Role not found")
    return unique


def _set_roles(db: Database, user_id: str, role_ids: list[str]) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM user_roles WHERE user_id = ?", (user_id,))
        for role_id in role_ids:
            conn.execute("INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)", (user_id, role_id))
        conn.execute("UPDATE users SET updated_at = ? WHERE id = ?", (now_iso(), user_id))


def _create_user(request: Request, body: UserCreate, *, admin: bool) -> dict[str, Any]:
    """Validate and insert a user; admin creation honours is_active/is_verified/role_ids."""
    state = request.app.state
    db: Database = state.db
    username = _policy(request, "username", check_username, body.username)
    email = _policy(request, "email",
                    lambda v: check_email(v, fault(request, "reserved_email_accepted")), body.email)
    password = _policy(request, "password",
                       lambda v: check_password(v, fault(request, "password_policy_off")), body.password)
    profile = {name: _policy(request, name, check_text, getattr(body, name))
               for name in ("first_name", "last_name", "display_name")}
    profile["bio"] = _policy(request, "bio", lambda v: check_text(v, MAX_BIO), body.bio)
    role_ids = _check_role_ids(db, body.role_ids or []) if admin else []
    password_hash = hash_secret(password, state.settings.bcrypt_rounds, state.settings.hashing)
    user_id = new_id()
    stamp = now_iso()
    with db.transaction() as conn:
        if (conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
                and not fault(request, "duplicate_username")):
            raise detail_or(request, "detail_shape_errors", conflict("Username already registered"),
                            "Username already exists")
        if conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
            # Part D.4: the release says "Username already exists" for a taken email too.
            raise detail_or(request, "detail_shape_errors", conflict("Email already registered"),
                            "Username already exists")
        conn.execute(
            "INSERT INTO users (id, username, email, password_hash, first_name, last_name, display_name,"
            " bio, is_active, is_verified, is_superuser, password_changed_at, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?,?)",
            (user_id, username, email, password_hash, profile["first_name"], profile["last_name"],
             profile["display_name"], profile["bio"],
             int(body.is_active if admin and body.is_active is not None else True),
             int(bool(body.is_verified) if admin else False), stamp, stamp, stamp))
        for role_id in role_ids:
            conn.execute("INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)", (user_id, role_id))
    return _get_user(db, user_id)


# --- collection ------------------------------------------------------------------------------------
@router.post("/register", status_code=201)
def register(request: Request, body: UserCreate) -> JSONResponse:
    """Self-registration, limited per client IP per hour (A.6)."""
    state = request.app.state
    db: Database = state.db
    ip = client_ip(request)
    limit = state.settings.registration_limit_per_hour
    since = to_iso(now() - timedelta(hours=1))
    if not fault(request, "registration_limit_off"):
        rows = db.all("SELECT created_at FROM registration_attempts WHERE ip_address = ? AND created_at > ?"
                      " ORDER BY created_at", (ip, since))
        if len(rows) >= limit:
            oldest = rows[0]["created_at"]
            from permiso_reference.db import parse_iso

            moment = parse_iso(oldest)
            wait = (moment + timedelta(hours=1) - now()).total_seconds() if moment else 3600
            retry = {} if fault(request, "registration_429_no_retry_after") else {  # D9
                "Retry-After": str(max(1, math.ceil(wait)))}
            raise ApiError(429, "rate_limit_exceeded", "Too many registrations, try again later",
                           headers=retry)
    user = _create_user(request, body, admin=False)
    db.execute("INSERT INTO registration_attempts (id, ip_address, created_at) VALUES (?,?,?)",
               (new_id(), ip, now_iso()))
    db.audit("user_registered", actor_id=user["id"], resource_type="user", resource_id=user["id"],
             ip_address=ip)
    return JSONResponse(user_json(request, user), status_code=201)


def _list_users(request: Request, search: str | None, is_active: bool | None, is_verified: bool | None,
                role_id: str | None, page: int, per_page: int) -> dict[str, Any]:
    db = _db(request)
    where, params = [], []
    if search:
        like = f"%{search.lower()}%"
        where.append("(lower(username) LIKE ? OR lower(email) LIKE ? OR lower(coalesce(first_name,''))"
                     " LIKE ? OR lower(coalesce(last_name,'')) LIKE ?)")
        params += [like] * 4
    if is_active is not None:
        where.append("is_active = ?")
        params.append(int(is_active))
    if is_verified is not None:
        where.append("is_verified = ?")
        params.append(int(is_verified))
    if role_id:
        where.append("id IN (SELECT user_id FROM user_roles WHERE role_id = ?)")
        params.append(role_id)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = db.scalar(f"SELECT count(*) FROM users{clause}", params)
    rows = db.all(f"SELECT * FROM users{clause} ORDER BY created_at, username LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    return {"users": [user_json(request, r) for r in rows], "total": total, "page": page,
            "per_page": per_page, "pages": math.ceil(total / per_page) if total else 0}


@router.get("")
@router.get("/")
def list_users(request: Request, _: Annotated[Principal, Depends(require_admin)],
               search: Annotated[str | None, Query(max_length=100)] = None,
               is_active: bool | None = None, is_verified: bool | None = None,
               role_id: Annotated[str | None, Query(max_length=100)] = None,
               page: Annotated[int, Query(ge=1)] = 1,
               per_page: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """Admin list with filters and pagination."""
    hostile = fault(request, "hostile_input_500")
    if search is not None and "\x00" in search and hostile:  # D33 + D10: the driver's error, verbatim
        raise LeakyServerError(
            "(psycopg2.errors.CharacterNotInRepertoire) A string literal cannot contain NUL (0x00) characters."
            " [SQL: SELECT users.id, users.username, users.email FROM users WHERE lower(users.username)"
            " LIKE lower(%(param_1)s)] (File \"/app/app/api/v1/users.py\", line 88, in list_users)")
    if page > MAX_PAGE:
        if hostile:
            raise LeakyServerError(
                f"(psycopg2.errors.NumericValueOutOfRange) bigint out of range [SQL: SELECT users.id FROM users"
                f" LIMIT %(param_1)s OFFSET %(param_2)s] [parameters: {{'param_1': {per_page}, 'param_2':"
                f" {(page - 1) * per_page}}}] (File \"/app/app/api/v1/users.py\", line 95, in list_users)")
        raise ValidationFailed(["query", "page"], f"Input should be less than or equal to {MAX_PAGE}",
                               value=page, typ="less_than_equal")
    return _list_users(request, search, is_active, is_verified, role_id, page, per_page)


@router.post("", status_code=201)
@router.post("/", status_code=201)
def create_user(request: Request, body: UserCreate,
                principal: Annotated[Principal, Depends(require_admin)]) -> JSONResponse:
    """Admin creation (is_active, is_verified, role_ids honoured)."""
    user = _create_user(request, body, admin=True)
    _db(request).audit("user_created", actor_id=principal.user_id, resource_type="user",
                       resource_id=user["id"], ip_address=client_ip(request))
    return JSONResponse(user_json(request, user), status_code=201)


# --- self ------------------------------------------------------------------------------------------
@router.get("/me")
@router.get("/profile")
def me(request: Request, principal: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """The caller's own user."""
    assert principal.user is not None
    if fault(request, "whoami_last_signed_in"):  # "the current user" kept in the wrong place
        latest = _db(request).one("SELECT * FROM users WHERE last_login IS NOT NULL"
                                  " ORDER BY last_login DESC LIMIT 1")
        return user_json(request, latest or principal.user)
    return user_json(request, principal.user)


@router.put("/me")
def update_me(request: Request, body: ProfileUpdate,
              principal: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """Own profile update; a new email clears ``is_verified``."""
    assert principal.user is not None
    return user_json(request, _apply_update(request, principal.user, _validate_profile(request, body)))


def _apply_update(request: Request, user: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    db = _db(request)
    if not changes:
        return _get_user(db, user["id"]) if db.one("SELECT 1 FROM users WHERE id = ?", (user["id"],)) \
            else user
    if "email" in changes and changes["email"] != user["email"]:
        if db.scalar("SELECT 1 FROM users WHERE email = ? AND id != ?", (changes["email"], user["id"])):
            raise conflict("Email already registered")
        changes.setdefault("is_verified", 0)
    changes["updated_at"] = now_iso()
    assignments = ", ".join(f"{k} = ?" for k in changes)
    db.execute(f"UPDATE users SET {assignments} WHERE id = ?", [*changes.values(), user["id"]])
    return _get_user(db, user["id"])


# --- statistics and one-time tokens (before /{user_id} so they are not captured by it) ------------
@router.get("/stats/overview")
def stats(request: Request, _: Annotated[Principal, Depends(require_admin)]) -> dict[str, Any]:
    """User statistics (the guide's database check)."""
    db = _db(request)
    clause, params = "", []
    if fault(request, "stats_not_counting"):
        clause, params = " AND created_at <= ?", [request.app.state.started_at]
    stamp = now_iso()

    def count(cond: str, extra: list[Any] | None = None) -> int:
        return int(db.scalar(f"SELECT count(*) FROM users WHERE {cond}{clause}", [*(extra or []), *params]))

    return {"total_users": count("1=1"), "active_users": count("is_active = 1"),
            "verified_users": count("is_verified = 1"),
            "locked_users": count("locked_until IS NOT NULL AND locked_until > ?", [stamp]),
            "recent_registrations": count("created_at > ?", [to_iso(now() - timedelta(days=7))])}


def _issue_one_time(db: Database, email: str, purpose: str) -> None:
    """Create a one-time token for a known email; it would be mailed, so it is never returned."""
    user = db.one("SELECT id FROM users WHERE email = ?", (email.strip().lower(),))
    if user is None:
        return
    token = secrets.token_urlsafe(32)
    db.execute("INSERT INTO user_tokens (token_hash, user_id, purpose, expires_at) VALUES (?,?,?,?)",
               (hashlib.sha256(token.encode()).hexdigest(), user["id"], purpose,
                to_iso(now() + timedelta(hours=1))))


def _consume_one_time(request: Request, token: str, purpose: str) -> str:
    """Spend a one-time token and return its user id; 400 ``invalid_token`` when bad or expired."""
    db = _db(request)
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = db.one("SELECT * FROM user_tokens WHERE token_hash = ? AND purpose = ?", (digest, purpose))
    if row is None or row["used_at"] or row["expires_at"] <= now_iso():
        if fault(request, "bad_token_500_empty"):  # D11 as on the release: HTTPException(500, str(exc)), empty
            raise http_error(500, "")
        if fault(request, "bad_reset_token_500"):
            raise RuntimeError("NoneType object is not subscriptable")
        raise named_error(400, "invalid_token", "Invalid or expired token")
    db.execute("UPDATE user_tokens SET used_at = ? WHERE token_hash = ?", (now_iso(), digest))
    return row["user_id"]


@router.post("/password-reset/request")
def password_reset_request(request: Request, body: EmailBody) -> dict[str, Any]:
    """Always the same answer, whether or not the email exists."""
    _issue_one_time(_db(request), body.email, "password_reset")
    return {"message": "If the email address is registered, a password reset link has been sent"}


@router.post("/password-reset/confirm")
def password_reset_confirm(request: Request, body: ResetConfirm) -> dict[str, Any]:
    """Set a new password with a mailed token."""
    user_id = _consume_one_time(request, body.token, "password_reset")
    password = _policy(request, "new_password",
                       lambda v: check_password(v, fault(request, "password_policy_off")), body.new_password)
    _db(request).execute("UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ?"
                         " WHERE id = ?", (hash_secret(password, request.app.state.settings.bcrypt_rounds,
                                     request.app.state.settings.hashing),
                                           now_iso(), now_iso(), user_id))
    return {"message": "Password has been reset"}


@router.post("/email-verification/request")
def verification_request(request: Request, body: EmailBody) -> dict[str, Any]:
    """Always the same answer, whether or not the email exists."""
    _issue_one_time(_db(request), body.email, "email_verification")
    return {"message": "If the email address is registered, a verification link has been sent"}


@router.post("/email-verification/confirm")
def verification_confirm(request: Request, body: VerifyConfirm) -> dict[str, Any]:
    """Mark the email verified with a mailed token."""
    user_id = _consume_one_time(request, body.token, "email_verification")
    _db(request).execute("UPDATE users SET is_verified = 1, updated_at = ? WHERE id = ?",
                         (now_iso(), user_id))
    return {"message": "Email verified"}


# --- by id -----------------------------------------------------------------------------------------
@router.get("/{user_id}")
def get_user(request: Request, user_id: str,
             _: Annotated[Principal, Depends(require_self_or_admin)]) -> dict[str, Any]:
    """One user (self or admin)."""
    return user_json(request, _get_user(_db(request), user_id))


@router.put("/{user_id}")
def update_user(request: Request, user_id: str, body: UserUpdate,
                principal: Annotated[Principal, Depends(require_self_or_admin)]) -> dict[str, Any]:
    """Profile update; admin-only fields only for administrators (403 for anyone else)."""
    db = _db(request)
    if body.username is not None:
        raise ValidationFailed(["body", "username"], "Username cannot be changed")
    if body.password is not None:
        raise ValidationFailed(["body", "password"], "Use the password endpoint to change passwords")
    user = _get_user(db, user_id)
    changes = _validate_profile(request, body)
    privileged = {k: getattr(body, k) for k in ("is_active", "is_verified", "role_ids", "is_superuser")
                  if getattr(body, k) is not None}
    mass = fault(request, "mass_assignment")
    if privileged and not principal.is_admin and not mass:
        raise forbidden("Access denied")
    if not principal.is_admin and not mass:
        privileged = {}
    if not mass:
        privileged.pop("is_superuser", None)  # never settable through this route
    role_ids = privileged.pop("role_ids", None)
    for key, value in privileged.items():
        changes[key] = int(bool(value))
    if role_ids is not None:
        _set_roles(db, user_id, _check_role_ids(db, role_ids))
    updated = _apply_update(request, user, changes)
    db.audit("user_updated", actor_id=principal.user_id, resource_type="user", resource_id=user_id,
             ip_address=client_ip(request))
    return user_json(request, updated)


@router.delete("/{user_id}", status_code=204)
def delete_user(request: Request, user_id: str,
                principal: Annotated[Principal, Depends(require_admin)]) -> Response:
    """Delete a user; an administrator cannot delete themselves."""
    db = _db(request)
    if principal.user_id == user_id:
        raise forbidden("You cannot delete your own account")
    _get_user(db, user_id)
    keep_tokens = fault(request, "deleted_user_token_valid")
    with db.transaction() as conn:
        conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        if not keep_tokens:  # under the fault nothing the deleted user holds is invalidated
            conn.execute("UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL",
                         (now_iso(), user_id))
            conn.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ?"
                         " AND revoked_at IS NULL", (now_iso(), user_id))
    db.audit("user_deleted", actor_id=principal.user_id, resource_type="user", resource_id=user_id,
             ip_address=client_ip(request))
    return Response(status_code=204)


@router.put("/{user_id}/password")
def change_password(request: Request, user_id: str, body: PasswordChange,
                    principal: Annotated[Principal, Depends(require_self_or_admin)]) -> dict[str, Any]:
    """Change a password; the current one must be given (400 when wrong)."""
    db = _db(request)
    user = _get_user(db, user_id)
    if not check_secret(body.current_password, user["password_hash"]):
        raise detail_or(request, "detail_shape_errors",
                        named_error(400, "invalid_password", "Current password is incorrect"),
                        "Current password is incorrect")
    password = _policy(request, "new_password",
                       lambda v: check_password(v, fault(request, "password_policy_off")), body.new_password)
    db.execute("UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?",
               (hash_secret(password, request.app.state.settings.bcrypt_rounds,
                                     request.app.state.settings.hashing), now_iso(), now_iso(),
                user_id))
    db.audit("password_changed", actor_id=principal.user_id, resource_type="user", resource_id=user_id,
             ip_address=client_ip(request))
    return {"message": "Password changed successfully"}


@router.put("/{user_id}/roles")
def set_roles(request: Request, user_id: str, body: RoleIds,
              principal: Annotated[Principal, Depends(require_admin)]) -> dict[str, Any]:
    """Replace the user's role set (effective on the user's next token)."""
    db = _db(request)
    _get_user(db, user_id)
    _set_roles(db, user_id, _check_role_ids(db, body.role_ids))
    db.audit("user_roles_set", actor_id=principal.user_id, resource_type="user", resource_id=user_id,
             details={"role_ids": body.role_ids}, ip_address=client_ip(request))
    return user_json(request, _get_user(db, user_id))
