"""FastAPI dependencies implementing the guards of contract A.2.

How to use them in a router::

    from fastapi import APIRouter, Depends
    from permiso_reference.guards import Principal, require_admin, require_scope, require_user

    router = APIRouter()

    @router.get("/")
    def list_things(principal: Principal = Depends(require_admin)) -> dict: ...

    @router.get("/stats")
    def stats(principal: Principal = Depends(require_scope("admin:sessions"))) -> dict: ...

Available guards (all sync, they hit the database):

- ``require_bearer``  — any valid access or service token (401 otherwise).
- ``require_user``    — an access token of an existing, active, unlocked user.
- ``require_admin``   — ``require_user`` + superuser or role ``admin``; 403 "Access denied" otherwise.
  Honours the ``admin_open_to_users`` fault, so every admin route is affected by it.
- ``require_scope(x)`` — a token whose scopes (with implied scopes) contain ``x``, or a superuser.
- ``require_admin_or_scope(x)`` — admin, or a token holding scope ``x`` (A.10 console routes).
- ``require_self_or_admin`` — ``require_user`` acting on path parameter ``user_id`` or an admin.

A ``Principal`` carries ``kind`` ("user" | "service"), ``claims``, ``user`` (the DB row, or None for
service tokens), ``client_id``, ``scopes`` (expanded set), ``is_admin``, ``session_id`` and the raw
``token``. Full JWT validation is in ``permiso_reference.tokens.decode``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from permiso_reference.db import Database, now, parse_iso
from permiso_reference.errors import NAIVE_DATETIME_TEXT, ApiError, http_error
from permiso_reference.faults import fault
from permiso_reference.release import TRUSTED_SCOPES_KEY
from permiso_reference.tokens import TokenError, decode, expand_scopes, session_is_live


@dataclass
class Principal:
    """Who is calling, as established by a guard."""

    kind: str
    claims: dict[str, Any]
    token: str
    user: dict[str, Any] | None = None
    client_id: str | None = None
    scopes: set[str] = field(default_factory=set)
    is_admin: bool = False
    session_id: str | None = None

    @property
    def user_id(self) -> str | None:
        """The user's id (None for service tokens)."""
        return self.user["id"] if self.user else None

    @property
    def is_superuser(self) -> bool:
        """True for a superuser account."""
        return bool(self.user and self.user.get("is_superuser"))


def unauthorized(reason: str) -> ApiError:
    """401 http_error with a Bearer challenge."""
    return ApiError(401, "http_error", reason)


def forbidden(reason: str = "Access denied") -> ApiError:
    """403 http_error."""
    return http_error(403, reason)


def is_locked(state: Any, user: dict[str, Any]) -> bool:
    """True while the account's lock window runs (forever under ``lock_never_expires``)."""
    locked_until = user.get("locked_until")
    if not locked_until:
        return False
    if fault(state, "lock_never_expires"):
        return True
    moment = parse_iso(locked_until)
    return moment is not None and moment > now()


def user_is_admin(db: Database, user: dict[str, Any]) -> bool:
    """Superuser or holder of role ``admin`` (read from the database, not the token)."""
    if user.get("is_superuser"):
        return True
    return db.scalar(
        "SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id"
        " WHERE ur.user_id = ? AND r.name = 'admin'", (user["id"],)) is not None


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <jwt>`` (scheme case-insensitive); None when absent.

    Raises 401 for a present but malformed header.
    """
    header = request.headers.get("authorization")
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise unauthorized("Invalid authorization header format")
    return token


def _synthetic_user(claims: dict[str, Any]) -> dict[str, Any]:
    """A user row rebuilt from token claims (only for the ``deleted_user_token_valid`` fault)."""
    return {"id": claims.get("sub"), "username": claims.get("username") or "", "email":
            claims.get("email") or "", "first_name": None, "last_name": None, "display_name": None,
            "bio": None, "is_active": 1, "is_verified": 0,
            "is_superuser": int(bool(claims.get("is_superuser"))), "failed_login_attempts": 0,
            "locked_until": None, "last_login": None, "created_at": None, "updated_at": None,
            "password_hash": ""}


def authenticate(request: Request, *, allow_service: bool, token: str | None = None,
                 any_type: bool = False) -> Principal:
    """Validate the bearer token of the request and return the caller (401 on any failure).

    ``any_type`` (the ``introspect_any_token_type`` fault, D5) takes a user token of any ``type``.
    """
    state = request.app.state
    db: Database = state.db
    if token is None:
        token = bearer_token(request)
    if token is None:
        raise unauthorized("Not authenticated")
    try:
        claims = decode(state, token, bearer=True)
    except TokenError as exc:
        raise unauthorized(exc.reason) from None
    kind = claims.get("type")
    if kind == "service":
        if not allow_service and not fault(state, "service_token_on_user_endpoint"):
            raise unauthorized("Service tokens cannot be used for user endpoints")
        client = db.one("SELECT * FROM service_clients WHERE client_id = ?", (claims.get("sub"),))
        if client is None:
            raise unauthorized("Service client not found")
        if not client["is_active"] and not fault(state, "client_disabled_allowed"):
            raise unauthorized("Service client is disabled")
        scopes = claims.get("scopes") if isinstance(claims.get("scopes"), list) else []
        return Principal("service", claims, token, client_id=client["client_id"],
                         scopes=expand_scopes([str(s) for s in scopes]))
    if kind == "refresh" and fault(state, "rotated_refresh_as_bearer"):
        pass  # D7: even a rotated or revoked refresh token (its row is not looked at)
    elif kind == "refresh" and fault(state, "refresh_as_access"):
        row = db.one("SELECT used_at, revoked_at FROM refresh_tokens WHERE jti = ?", (claims.get("jti"),))
        if row is None or row["used_at"] or row["revoked_at"]:
            raise unauthorized("Token has been revoked")
    elif kind != "access" and not any_type:
        raise unauthorized("Invalid token type")
    sid = claims.get("sid")
    if isinstance(sid, str) and not fault(state, "sessions_not_gating") and not session_is_live(db, sid):
        raise unauthorized("Session has ended")
    user = db.one("SELECT * FROM users WHERE id = ?", (claims.get("sub"),))
    if user is None:
        if not fault(state, "deleted_user_token_valid"):
            raise unauthorized("User not found")
        user = _synthetic_user(claims)
    if not user["is_active"] and not fault(state, "disabled_token_valid"):
        raise unauthorized("User account is disabled")
    if is_locked(state, user):
        if fault(state, "lock_naive_datetime"):  # D2: the lock comparison itself fails
            raise unauthorized(f"An internal error occurred: {NAIVE_DATETIME_TEXT}")
        raise unauthorized("User account is locked")
    raw_scopes = claims.get("scopes") if isinstance(claims.get("scopes"), list) else []
    return Principal("user", claims, token, user=user, scopes=expand_scopes([str(s) for s in raw_scopes]),
                     is_admin=user_is_admin(db, user),
                     session_id=sid if isinstance(sid, str) else None)


def require_bearer(request: Request) -> Principal:
    """Guard *bearer*: any valid access or service token."""
    return authenticate(request, allow_service=True)


def require_user(request: Request) -> Principal:
    """Guard *user*: an access token of an existing, active, unlocked user."""
    return authenticate(request, allow_service=False)


def require_admin(request: Request) -> Principal:
    """Guard *admin*: superuser or role admin (any user under ``admin_open_to_users``)."""
    principal = require_user(request)
    if principal.kind == "user" and (principal.is_admin or fault(request, "admin_open_to_users")):
        return principal
    raise forbidden("Access denied")


def require_self_or_admin(request: Request) -> Principal:
    """Guard *self-or-admin* on path parameter ``user_id``."""
    principal = require_user(request)
    target = request.path_params.get("user_id")
    if (principal.user_id == target or principal.is_admin
            or fault(request, "bola_user_profile")):
        return principal
    raise forbidden("Access denied")


def _has_scope(principal: Principal, scope: str) -> bool:
    return principal.is_superuser or scope in principal.scopes


def require_bearer_any_type(request: Request) -> Principal:
    """Guard of introspect/revoke: *bearer*, or any token type under ``introspect_any_token_type`` (D5)."""
    return authenticate(request, allow_service=True, any_type=fault(request, "introspect_any_token_type"))


def _body_trusted(request: Request) -> Principal | None:
    """The caller as a trusted ``token_payload`` made them (``scope_guard_trusts_body``, D1), or None."""
    names = request.scope.get(TRUSTED_SCOPES_KEY)
    if names is None:
        return None
    return Principal("body", {"scopes": list(names)}, "", scopes=expand_scopes([str(n) for n in names]))


def require_scope(scope: str) -> Callable[[Request], Principal]:
    """Guard *scope(x)*: token scopes (with implied ones) contain ``x``, or a superuser."""

    def guard(request: Request) -> Principal:
        trusted = _body_trusted(request)
        if trusted is not None:
            return trusted
        principal = authenticate(request, allow_service=True)
        if _has_scope(principal, scope):
            return principal
        raise forbidden("Insufficient scope")

    guard.__name__ = f"require_scope_{scope.replace(':', '_')}"
    return guard


def require_admin_or_scope(scope: str) -> Callable[[Request], Principal]:
    """Admin console guard (A.10): an administrator, or a token holding ``scope``."""

    def guard(request: Request) -> Principal:
        trusted = _body_trusted(request)
        if trusted is not None:
            return trusted
        principal = authenticate(request, allow_service=True)
        if principal.kind == "user" and (principal.is_admin or fault(request, "admin_open_to_users")):
            return principal
        if _has_scope(principal, scope):
            return principal
        raise forbidden("Access denied")

    guard.__name__ = f"require_admin_or_scope_{scope.replace(':', '_')}"
    return guard
