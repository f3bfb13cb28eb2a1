"""Routes under ``/sessions`` (contract A.9, with the session choices of docs/decisions.md).

Sessions gate tokens: ending one refuses the access and refresh tokens carrying its ``sid``.
Only ``/sessions/`` (with the slash) exists for the collection, as in the real deployment.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from permiso_reference.accounts import end_sessions
from permiso_reference.db import Database, now, now_iso, to_iso
from permiso_reference.errors import naive_datetime_error, named_error
from permiso_reference.faults import fault
from permiso_reference.guards import Principal, require_scope, require_user

router = APIRouter()
SessionAdmin = Annotated[Principal, Depends(require_scope("admin:sessions"))]


def _db(request: Request) -> Database:
    return request.app.state.db


def session_json(row: dict[str, Any], username: str | None, current: str | None = None,
                 integer_ids: bool = False) -> dict[str, Any]:
    """Session representation of A.9 (plus ``is_current``); ``integer_ids`` plays D18's 128-bit user id."""
    user_id: Any = row["user_id"]
    if integer_ids:
        with contextlib.suppress(ValueError, TypeError):
            user_id = uuid.UUID(str(user_id)).int
    return {"session_id": row["id"], "user_id": user_id, "username": username,
            "ip_address": row["ip_address"], "user_agent": row["user_agent"],
            "created_at": row["created_at"], "last_activity": row["last_activity"],
            "expires_at": row["expires_at"], "is_current": row["id"] == current}


def _own_session(request: Request, principal: Principal, session_id: str) -> dict[str, Any]:
    """A live session the caller may act on: 404 ``session_not_found`` / 403 ``access_denied``."""
    row = _db(request).one("SELECT * FROM sessions WHERE id = ? AND ended_at IS NULL AND expires_at > ?",
                           (session_id, now_iso()))
    if row is None:
        raise named_error(404, "session_not_found", "Session not found")
    if row["user_id"] != principal.user_id and not principal.is_admin and not fault(request, "bola_sessions"):
        raise named_error(403, "access_denied", "You can only manage your own sessions")
    return row


@router.get("/")
def list_sessions(request: Request, principal: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """The caller's active sessions."""
    db = _db(request)
    username = principal.user["username"] if principal.user else None
    integer_ids = fault(request, "session_user_id_integer")
    if fault(request, "sessions_list_everyone"):  # the owner filter is missing: everybody's sessions
        rows = db.all("SELECT s.*, u.username AS owner FROM sessions s LEFT JOIN users u ON u.id = s.user_id"
                      " WHERE s.ended_at IS NULL AND s.expires_at > ? ORDER BY s.created_at", (now_iso(),))
        return {"sessions": [session_json(r, r["owner"], principal.session_id, integer_ids) for r in rows],
                "total": len(rows)}
    rows = db.all("SELECT * FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?"
                  " ORDER BY created_at", (principal.user_id, now_iso()))
    return {"sessions": [session_json(r, username, principal.session_id, integer_ids) for r in rows],
            "total": len(rows)}


@router.delete("/")
def end_all(request: Request, principal: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """End every session of the caller except the current one."""
    db = _db(request)
    rows = db.all("SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL", (principal.user_id,))
    keep_current = not fault(request, "end_all_includes_current")  # D18 when off
    ids = [r["id"] for r in rows if r["id"] != principal.session_id or not keep_current]
    count = end_sessions(db, ids)
    return {"message": "Other sessions terminated successfully", "sessions_terminated": count}


@router.get("/stats")
def stats(request: Request, _: SessionAdmin) -> dict[str, Any]:
    """Session statistics."""
    db = _db(request)
    stamp = now_iso()
    active = "ended_at IS NULL AND expires_at > ?"
    return {"total_sessions": db.scalar("SELECT count(*) FROM sessions"),
            "active_sessions": db.scalar(f"SELECT count(*) FROM sessions WHERE {active}", (stamp,)),
            "users_with_sessions": db.scalar(
                f"SELECT count(DISTINCT user_id) FROM sessions WHERE {active}", (stamp,)),
            "expired_sessions": db.scalar("SELECT count(*) FROM sessions WHERE expires_at <= ?", (stamp,)),
            "ended_sessions": db.scalar("SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL")}


@router.post("/cleanup")
def cleanup(request: Request, _: SessionAdmin) -> dict[str, Any]:
    """Delete expired and ended sessions."""
    cleaned = _db(request).execute("DELETE FROM sessions WHERE expires_at <= ? OR ended_at IS NOT NULL",
                                   (now_iso(),))
    return {"message": "Session cleanup completed", "sessions_cleaned": cleaned}


@router.post("/{session_id}/renew")
def renew(request: Request, session_id: str,
          principal: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """Extend a session by the configured session lifetime from now."""
    if fault(request, "session_renew_500"):  # D2: the expiry comparison fails for everyone
        raise naive_datetime_error()
    row = _own_session(request, principal, session_id)
    expires_at = row["expires_at"]
    if not fault(request, "session_renew_noop"):
        moment = now()
        lifetime = timedelta(seconds=request.app.state.settings.session_seconds)
        expires_at = max(expires_at, to_iso(moment + lifetime))
        if expires_at == row["expires_at"]:
            expires_at = to_iso(moment + lifetime + timedelta(microseconds=1))
        _db(request).execute("UPDATE sessions SET expires_at = ?, last_activity = ? WHERE id = ?",
                             (expires_at, to_iso(moment), session_id))
    return {"message": "Session renewed successfully", "session_id": session_id, "expires_at": expires_at}


@router.delete("/{session_id}")
def end_one(request: Request, session_id: str,
            principal: Annotated[Principal, Depends(require_user)]) -> dict[str, Any]:
    """End one session (own, or any for an administrator)."""
    _own_session(request, principal, session_id)
    end_sessions(_db(request), [session_id])
    return {"message": "Session terminated successfully", "session_id": session_id}
