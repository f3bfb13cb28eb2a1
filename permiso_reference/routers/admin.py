"""Routes under `/admin` (contract A.10): the administrator's console.

Guards: ``require_admin`` for routes without a named scope; ``require_admin_or_scope(x)`` for the
routes A.10 names a scope for (security events, audit, config reload, error logs), so a service or
user token holding exactly that scope passes too.

Everything is read from the database: counts are live (fixed sample data is defect D24). There is no
Redis in the reference server; the revocation list lives in SQLite and ``/system/health`` says so
under ``components.redis`` instead of pretending. Maintenance actions are real: cleanup deletes
expired rows, backup copies the SQLite file with sqlite3's online backup API.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import sqlite3
import tempfile
import time
from datetime import timedelta
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Query, Request

from permiso_reference import __version__
from permiso_reference.db import Database, now, now_iso, to_iso
from permiso_reference.faults import fault
from permiso_reference.guards import Principal, require_admin, require_admin_or_scope

router = APIRouter()

Admin = Annotated[Principal, Depends(require_admin)]
AuditCaller = Annotated[Principal, Depends(require_admin_or_scope("admin:audit"))]
LogsCaller = Annotated[Principal, Depends(require_admin_or_scope("admin:logs"))]
SecurityCaller = Annotated[Principal, Depends(require_admin_or_scope("admin:security"))]
SystemCaller = Annotated[Principal, Depends(require_admin_or_scope("admin:system"))]

#: Security events written by the auth router for failed sign-ins (user and client credentials).
#: Hidden at read time under the ``security_events_missing`` fault.
FAILED_SIGN_IN_EVENTS: frozenset[str] = frozenset({
    "login_failed", "login_blocked_locked", "login_blocked_disabled", "client_auth_failed",
    "account_locked",
})
#: Upper bound of ``page`` (an unbounded int overflows SQLite's OFFSET: a 500).
MAX_PAGE = 1_000_000
SEVERITIES = ("info", "low", "medium", "high", "critical")


def _db(request: Request) -> Database:
    return request.app.state.db


def _count(db: Database, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(db.scalar(sql, params) or 0)


def _since(hours: float) -> str:
    return to_iso(now() - timedelta(hours=hours))


def _today_start() -> str:
    return to_iso(now().replace(hour=0, minute=0, second=0, microsecond=0))


def _db_size_bytes(db: Database) -> int:
    """Size of the database as SQLite sees it (pages x page size, WAL content included)."""
    return _count(db, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")


def _uptime_seconds(request: Request) -> float:
    return round(time.monotonic() - request.app.state.started_monotonic, 3)


def _paged(total: int, page: int, per_page: int) -> dict[str, int]:
    return {"total": total, "page": page, "per_page": per_page,
            "pages": max(1, math.ceil(total / per_page))}


# -- dashboard and health --------------------------------------------------------------------------
@router.get("/dashboard/stats")
def dashboard_stats(request: Request, _: Admin) -> dict[str, Any]:
    """Live counts for the console's front page."""
    db = _db(request)
    stamp, today = now_iso(), _today_start()
    return {
        "users": {
            "total": _count(db, "SELECT COUNT(*) FROM users"),
            "active": _count(db, "SELECT COUNT(*) FROM users WHERE is_active = 1"),
            "inactive": _count(db, "SELECT COUNT(*) FROM users WHERE is_active = 0"),
            "verified": _count(db, "SELECT COUNT(*) FROM users WHERE is_verified = 1"),
            "superusers": _count(db, "SELECT COUNT(*) FROM users WHERE is_superuser = 1"),
            "locked": _count(db, "SELECT COUNT(*) FROM users WHERE locked_until > ?", (stamp,)),
            "recent_registrations": _count(db, "SELECT COUNT(*) FROM users WHERE created_at >= ?",
                                           (_since(24 * 30),)),
        },
        "roles_and_permissions": {
            "total_roles": _count(db, "SELECT COUNT(*) FROM roles"),
            "total_scopes": _count(db, "SELECT COUNT(*) FROM scopes"),
            "role_assignments": _count(db, "SELECT COUNT(*) FROM user_roles"),
            "role_scope_links": _count(db, "SELECT COUNT(*) FROM role_scopes"),
        },
        "service_clients": {
            "total": _count(db, "SELECT COUNT(*) FROM service_clients"),
            "active": _count(db, "SELECT COUNT(*) FROM service_clients WHERE is_active = 1"),
            "trusted": _count(db, "SELECT COUNT(*) FROM service_clients WHERE is_trusted = 1"),
        },
        "authentication": {
            "total_logins_today": _count(db, "SELECT COUNT(*) FROM login_attempts WHERE success = 1"
                                             " AND created_at >= ?", (today,)),
            "failed_logins_today": _count(db, "SELECT COUNT(*) FROM login_attempts WHERE success = 0"
                                              " AND created_at >= ?", (today,)),
            "active_sessions": _count(db, "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL"
                                          " AND expires_at > ?", (stamp,)),
            "revoked_tokens": _count(db, "SELECT COUNT(*) FROM revoked_tokens"),
        },
        "system": {
            "version": __version__,
            "environment": request.app.state.settings.environment,
            "started_at": request.app.state.started_at,
            "uptime_seconds": _uptime_seconds(request),
            "database_size_bytes": _db_size_bytes(db),
            "database_size_mb": round(_db_size_bytes(db) / 1_048_576, 3),
            "last_backup": getattr(request.app.state, "last_backup_at", None),
        },
    }


def _timed(check: Any) -> tuple[bool, float, str | None]:
    """Run a check; (ok, milliseconds, error class name)."""
    started = time.perf_counter()
    try:
        ok = bool(check())
        error = None
    except Exception as exc:  # a health check reports failures instead of raising
        ok, error = False, type(exc).__name__
    return ok, round((time.perf_counter() - started) * 1000, 3), error


@router.get("/system/health")
def system_health(request: Request, _: Admin) -> dict[str, Any]:
    """Component checks that really run: DB ping, revocation store read, JWT sign+verify round trip."""
    db = _db(request)
    state = request.app.state

    def jwt_round_trip() -> bool:
        token = jwt.encode({"probe": True, "iat": int(time.time())}, state.jwt_secret, algorithm="HS256")
        return jwt.decode(token, state.jwt_secret, algorithms=["HS256"]).get("probe") is True

    db_ok, db_ms, db_err = _timed(db.ping)
    rev_ok, rev_ms, rev_err = _timed(lambda: db.scalar("SELECT COUNT(*) FROM revoked_tokens") is not None)
    jwt_ok, jwt_ms, jwt_err = _timed(jwt_round_trip)
    components: dict[str, dict[str, Any]] = {
        "database": {"status": "healthy" if db_ok else "unhealthy", "backend": "sqlite",
                     "response_time_ms": db_ms},
        # Honest: the reference keeps revocations in SQLite, reported where Permiso reports Redis.
        "redis": {"status": "healthy" if rev_ok else "unhealthy", "backend": "sqlite",
                  "response_time_ms": rev_ms,
                  "detail": "no Redis in the reference server; the revocation list is stored in SQLite"},
        "jwt_service": {"status": "healthy" if jwt_ok else "unhealthy", "algorithm": "HS256",
                        "response_time_ms": jwt_ms},
    }
    for component, error in (("database", db_err), ("redis", rev_err), ("jwt_service", jwt_err)):
        if error:
            components[component]["error"] = error
    healthy = db_ok and rev_ok and jwt_ok
    stamp = now_iso()
    metrics: dict[str, Any] = {"uptime_seconds": _uptime_seconds(request)}
    if db_ok:
        metrics.update(
            database_size_bytes=_db_size_bytes(db),
            active_sessions=_count(db, "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL"
                                       " AND expires_at > ?", (stamp,)),
            revoked_tokens=_count(db, "SELECT COUNT(*) FROM revoked_tokens"),
            users=_count(db, "SELECT COUNT(*) FROM users"),
            errors_last_24h=_count(db, "SELECT COUNT(*) FROM error_log WHERE created_at >= ?",
                                   (_since(24),)),
        )
    return {"status": "healthy" if healthy else "degraded", "timestamp": stamp,
            "components": components, "metrics": metrics}


# -- security events and audit ---------------------------------------------------------------------
@router.get("/security/events")
def security_events(request: Request, _: SecurityCaller, event_type: str | None = Query(None, max_length=100),
                    severity: str | None = Query(None, max_length=20),
                    hours: int = Query(24, ge=1, le=168), page: int = Query(1, ge=1, le=MAX_PAGE),
                    per_page: int = Query(50, ge=1, le=100)) -> dict[str, Any]:
    """Recorded security events, newest first (failed sign-ins come from the auth router)."""
    db = _db(request)
    clauses, params = ["created_at >= ?"], [_since(hours)]
    if event_type:
        clauses.append("event_type = ?")
        params.append(event_type)
    if severity:
        clauses.append("severity = ?")
        params.append(severity.lower())
    if fault(request, "security_events_missing"):
        hidden = sorted(FAILED_SIGN_IN_EVENTS)
        clauses.append(f"event_type NOT IN ({','.join('?' * len(hidden))})")
        params += hidden
    where = " WHERE " + " AND ".join(clauses)
    total = _count(db, f"SELECT COUNT(*) FROM security_events{where}", tuple(params))
    rows = db.all(f"SELECT * FROM security_events{where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    events = [{"id": r["id"], "event_type": r["event_type"], "severity": r["severity"],
               "user_id": r["user_id"], "username": r["username"], "client_id": r["client_id"],
               "ip_address": r["ip_address"], "description": r["description"],
               "details": _json(r["details"]), "timestamp": r["created_at"]} for r in rows]
    return {"events": events, **_paged(total, page, per_page), "hours": hours}


def _json(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


@router.get("/audit/activity")
def audit_activity(request: Request, _: AuditCaller, user_id: str | None = Query(None, max_length=64),
                   action: str | None = Query(None, max_length=100),
                   resource_type: str | None = Query(None, max_length=50),
                   hours: int = Query(24, ge=1, le=168), page: int = Query(1, ge=1, le=MAX_PAGE),
                   per_page: int = Query(50, ge=1, le=100)) -> dict[str, Any]:
    """The audit log (administrative changes), newest first."""
    db = _db(request)
    clauses, params = ["created_at >= ?"], [_since(hours)]
    for column, value in (("actor_id", user_id), ("action", action), ("resource_type", resource_type)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = " WHERE " + " AND ".join(clauses)
    total = _count(db, f"SELECT COUNT(*) FROM audit_log{where}", tuple(params))
    rows = db.all(f"SELECT * FROM audit_log{where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    activities = [{"id": r["id"], "user_id": r["actor_id"], "actor_type": r["actor_type"],
                   "action": r["action"], "resource_type": r["resource_type"],
                   "resource_id": r["resource_id"], "details": _json(r["details"]),
                   "ip_address": r["ip_address"], "timestamp": r["created_at"]} for r in rows]
    return {"activities": activities, **_paged(total, page, per_page), "hours": hours}


# -- maintenance -----------------------------------------------------------------------------------
@router.post("/maintenance/cleanup")
def maintenance_cleanup(request: Request, principal: Admin) -> dict[str, Any]:
    """Delete rows that can no longer matter: expired or ended sessions, expired refresh tokens,
    revocation entries of tokens that have expired anyway, registration attempts older than an hour.

    Deleting an ended session keeps its tokens refused (a missing session is not live); deleting a
    revocation is safe only once the token's own ``exp`` has passed, hence the ``expires_at`` test.
    Account locks are left alone: their window is evaluated at sign-in.
    """
    db = _db(request)
    stamp = now_iso()
    operations = []
    with db.transaction() as conn:
        for operation, sql, params in (
            ("cleanup_expired_sessions",
             "DELETE FROM sessions WHERE expires_at < ? OR ended_at IS NOT NULL", (stamp,)),
            ("cleanup_expired_refresh_tokens", "DELETE FROM refresh_tokens WHERE expires_at < ?", (stamp,)),
            ("cleanup_expired_revocations",
             "DELETE FROM revoked_tokens WHERE expires_at IS NOT NULL AND expires_at < ?", (stamp,)),
            ("cleanup_old_registration_attempts",
             "DELETE FROM registration_attempts WHERE created_at < ?", (_since(1),)),
        ):
            removed = conn.execute(sql, params).rowcount
            operations.append({"operation": operation, "items_removed": removed})
    db.audit("maintenance_cleanup", actor_id=principal.user_id, resource_type="system",
             details={op["operation"]: op["items_removed"] for op in operations})
    return {"timestamp": stamp, "status": "completed", "operations": operations}


_TEMP_BACKUPS: set[str] = set()


def _remove_temp_backups() -> None:
    for path in list(_TEMP_BACKUPS):
        with contextlib.suppress(OSError):
            os.remove(path)


atexit.register(_remove_temp_backups)


def _sweep_orphan_backups() -> None:
    """Delete backups of temporary databases that no longer exist (a process that died or exited
    without running ``atexit``, e.g. a test worker), so backups in the temp dir cannot pile up."""
    directory = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if name.startswith("permiso-ref-") and ".sqlite3.backup_" in name:
                base = name.split(".backup_", 1)[0]
                if not os.path.exists(os.path.join(directory, base)):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(directory, name))


@router.post("/maintenance/backup")
def maintenance_backup(request: Request, principal: Admin) -> dict[str, Any]:
    """Copy the live database next to itself with sqlite3's online backup API (consistent snapshot
    while other requests keep writing). Backups of a temporary database are removed at exit."""
    db = _db(request)
    moment = now()
    backup_id = f"backup_{moment.strftime('%Y%m%d_%H%M%S_%f')}"
    path = f"{db.path}.{backup_id}.sqlite3"
    started = time.perf_counter()
    source = sqlite3.connect(db.path)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
        tables = {name: int(target.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
                  for (name,) in target.execute(
                      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()}
    finally:
        target.close()
        source.close()
    if os.path.basename(db.path).startswith("permiso-ref-") and \
            os.path.dirname(os.path.abspath(db.path)) == os.path.abspath(tempfile.gettempdir()):
        _TEMP_BACKUPS.add(path)
        _sweep_orphan_backups()
    size = os.path.getsize(path)
    stamp = to_iso(moment)
    request.app.state.last_backup_at = stamp
    db.audit("maintenance_backup", actor_id=principal.user_id, resource_type="system",
             details={"backup_id": backup_id, "size_bytes": size})
    return {"backup_id": backup_id, "timestamp": stamp, "status": "completed", "path": path,
            "size_bytes": size, "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "tables": tables}


# -- reports, configuration, logs ------------------------------------------------------------------
@router.get("/reports/usage")
def usage_report(request: Request, _: Admin, days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
    """Usage over the last ``days`` days, from sign-in attempts, sessions and registrations."""
    db = _db(request)
    end = now()
    start = end - timedelta(days=days)
    since = to_iso(start)
    daily = db.all("SELECT substr(created_at, 1, 10) AS date, SUM(success = 1) AS successful_logins,"
                   " SUM(success = 0) AS failed_logins FROM login_attempts WHERE created_at >= ?"
                   " GROUP BY date ORDER BY date", (since,))
    return {
        "period": {"start": since, "end": to_iso(end), "days": days},
        "users": {"total": _count(db, "SELECT COUNT(*) FROM users"),
                  "new_registrations": _count(db, "SELECT COUNT(*) FROM users WHERE created_at >= ?",
                                              (since,)),
                  "active_users": _count(db, "SELECT COUNT(*) FROM users WHERE last_login >= ?", (since,))},
        "authentication": {
            "successful_logins": _count(db, "SELECT COUNT(*) FROM login_attempts WHERE success = 1"
                                            " AND created_at >= ?", (since,)),
            "failed_logins": _count(db, "SELECT COUNT(*) FROM login_attempts WHERE success = 0"
                                        " AND created_at >= ?", (since,)),
            "unique_users": _count(db, "SELECT COUNT(DISTINCT user_id) FROM login_attempts"
                                       " WHERE success = 1 AND created_at >= ?", (since,)),
            "daily": [{"date": d["date"], "successful_logins": int(d["successful_logins"] or 0),
                       "failed_logins": int(d["failed_logins"] or 0)} for d in daily],
        },
        "sessions": {"created": _count(db, "SELECT COUNT(*) FROM sessions WHERE created_at >= ?", (since,))},
        "service_clients": {
            "created": _count(db, "SELECT COUNT(*) FROM service_clients WHERE created_at >= ?", (since,)),
            "used": _count(db, "SELECT COUNT(*) FROM service_clients WHERE last_used_at >= ?", (since,)),
        },
        "security_events": {
            "total": _count(db, "SELECT COUNT(*) FROM security_events WHERE created_at >= ?", (since,)),
            "by_severity": {s: _count(db, "SELECT COUNT(*) FROM security_events WHERE severity = ?"
                                          " AND created_at >= ?", (s, since)) for s in SEVERITIES},
        },
    }


@router.post("/config/reload")
def reload_config(request: Request, principal: SystemCaller) -> dict[str, Any]:
    """Acknowledge a reload. The reference's settings are fixed at start (passed in by the CLI or
    the suite), so nothing changes; the answer says so rather than claiming new values."""
    db = _db(request)
    db.audit("config_reload", actor_id=principal.user_id,
             actor_type="user" if principal.kind == "user" else "service",
             resource_type="system", details={"client_id": principal.client_id} if principal.client_id
             else {})
    return {"message": "Configuration reloaded", "status": "success", "timestamp": now_iso(),
            "changed": [], "environment": request.app.state.settings.environment}


@router.get("/logs/errors")
def error_logs(request: Request, _: LogsCaller, level: str | None = Query(None, max_length=20),
               hours: int = Query(24, ge=1, le=168), page: int = Query(1, ge=1, le=MAX_PAGE),
               per_page: int = Query(50, ge=1, le=100)) -> dict[str, Any]:
    """Server errors recorded by the middleware (exception class and path only, no messages)."""
    db = _db(request)
    clauses, params = ["created_at >= ?"], [_since(hours)]
    if level:
        clauses.append("level = ?")
        params.append(level.lower())
    where = " WHERE " + " AND ".join(clauses)
    total = _count(db, f"SELECT COUNT(*) FROM error_log{where}", tuple(params))
    rows = db.all(f"SELECT * FROM error_log{where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    return {"errors": [{"id": r["id"], "level": r["level"], "message": r["message"], "path": r["path"],
                        "timestamp": r["created_at"]} for r in rows],
            **_paged(total, page, per_page), "hours": hours}
