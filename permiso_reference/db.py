"""SQLite storage of the reference Permiso: schema, bootstrap data and thread-safe access.

Why SQLite in a real file: the reference must behave like a service with a database (state survives
across requests and threads, constraints are enforced by the engine), yet start in milliseconds.

How to use it (routers get the instance from ``request.app.state.db``)::

    db: Database = request.app.state.db
    row = db.one("SELECT * FROM roles WHERE id = ?", (role_id,))        # dict | None
    rows = db.all("SELECT * FROM scopes ORDER BY name")                  # list[dict]
    db.execute("DELETE FROM roles WHERE id = ?", (role_id,))             # autocommitted
    with db.transaction() as conn:                                       # several statements, atomic
        conn.execute("INSERT INTO roles (...) VALUES (...)", (...))
        conn.execute("INSERT INTO role_scopes (role_id, scope_id) VALUES (?, ?)", (...))

Rules: ids are ``new_id()`` (UUID4 strings); timestamps are ``now_iso()`` (ISO-8601 UTC with
microseconds, lexicographically sortable); booleans are stored as 0/1 and returned as ints (wrap with
``bool()`` when building JSON); JSON-valued columns (``allowed_ips``, ``details``) are TEXT holding JSON.

Thread safety: one connection shared under a re-entrant lock. uvicorn runs sync handlers in a thread
pool; serialising every statement is simpler than per-thread connections and fast enough for an
acceptance target (WAL mode, no fsync on commit).

Service-client secrets are stored hashed in ``service_clients.secret_hash``; use
``hash_secret`` / ``check_secret`` (``permiso_reference.hashing``, re-exported here) with the same scheme
and cost as user passwords. On rotation, move
the old hash to ``previous_secret_hash``: ``/auth/service-token`` accepts it only under the
``old_secret_valid`` fault. Usernames are unique by application check (see ``users``), not by
constraint, so that the ``duplicate_username`` fault can exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from permiso_reference.hashing import check_secret as check_secret  # re-exported for the routers
from permiso_reference.hashing import hash_secret

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    first_name TEXT, last_name TEXT, display_name TEXT, bio TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    is_verified INTEGER NOT NULL DEFAULT 0,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    last_login TEXT,
    password_changed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- usernames are unique by application check (not a constraint) so the duplicate_username fault
-- can be injected; emails stay a hard constraint.
CREATE INDEX IF NOT EXISTS ix_users_username ON users(username);
CREATE TABLE IF NOT EXISTS user_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scopes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    resource TEXT,
    action TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS role_scopes (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    scope_id TEXT NOT NULL REFERENCES scopes(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, scope_id)
);
CREATE TABLE IF NOT EXISTS user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE TABLE IF NOT EXISTS service_clients (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    client_type TEXT NOT NULL DEFAULT 'confidential',
    secret_hash TEXT NOT NULL,
    -- hash of the secret before the last rotation: only consulted under the old_secret_valid fault
    previous_secret_hash TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    is_trusted INTEGER NOT NULL DEFAULT 0,
    access_token_lifetime INTEGER NOT NULL DEFAULT 3600,
    refresh_token_lifetime INTEGER,
    rate_limit_per_minute INTEGER NOT NULL DEFAULT 60,
    rate_limit_per_hour INTEGER NOT NULL DEFAULT 1000,
    allowed_ips TEXT,
    webhook_url TEXT,
    website_url TEXT,
    contact_email TEXT,
    last_used_at TEXT,
    secret_rotated_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS client_scopes (
    client_pk TEXT NOT NULL REFERENCES service_clients(id) ON DELETE CASCADE,
    scope_id TEXT NOT NULL REFERENCES scopes(id) ON DELETE CASCADE,
    PRIMARY KEY (client_pk, scope_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    created_at TEXT NOT NULL,
    last_activity TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT,
    scopes TEXT,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_refresh_user ON refresh_tokens(user_id);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti TEXT PRIMARY KEY,
    token_type TEXT,
    subject TEXT,
    expires_at TEXT,
    revoked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_attempts (
    id TEXT PRIMARY KEY,
    username TEXT,
    user_id TEXT,
    ip_address TEXT,
    success INTEGER NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS security_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'info',
    user_id TEXT,
    username TEXT,
    client_id TEXT,
    ip_address TEXT,
    description TEXT,
    details TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_security_events_created ON security_events(created_at);
CREATE TABLE IF NOT EXISTS audit_log (
    id TEXT PRIMARY KEY,
    actor_id TEXT,
    actor_type TEXT,
    action TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    details TEXT,
    ip_address TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_audit_created ON audit_log(created_at);
CREATE TABLE IF NOT EXISTS registration_attempts (
    id TEXT PRIMARY KEY,
    ip_address TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS error_log (
    id TEXT PRIMARY KEY,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    path TEXT,
    created_at TEXT NOT NULL
);
"""

#: Scopes created at bootstrap: name -> description.
DEFAULT_SCOPES: dict[str, str] = {
    "admin:users": "Administer users",
    "admin:system": "Administer the system",
    "admin:clients": "Administer service clients",
    "admin:roles": "Administer roles and scopes",
    "admin:sessions": "Administer sessions",
    "admin:security": "Read security events",
    "admin:audit": "Read the audit log",
    "admin:logs": "Read error logs",
    "admin:permissions": "Check permissions of users",
    "read:profile": "Read own profile",
    "write:profile": "Update own profile",
    "read:users": "Read users",
    "write:users": "Write users",
    "read:trades": "Read trades",
    "write:trades": "Place trades",
    "read:clients": "Read service clients",
    "write:clients": "Write service clients",
    "service:mt5": "MT5 bridge access",
    "service:api": "Service API access",
}

#: Roles created at bootstrap: name -> (description, scope names). From contract A.5.
DEFAULT_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Administrator", ("admin:users", "admin:system", "admin:clients", "read:profile",
                                "write:profile")),
    "user": ("Regular user", ("read:profile", "write:profile")),
    "trader": ("Trader", ("read:profile", "write:profile", "read:trades", "write:trades")),
    "service": ("Service account", ("service:mt5", "service:api")),
}

#: Scopes of the configured service client.
DEFAULT_CLIENT_SCOPES: tuple[str, ...] = ("service:api", "read:profile")


def new_id() -> str:
    """A fresh UUID4 string (the id format of users, roles, scopes and sessions)."""
    return str(uuid.uuid4())


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def now_iso() -> str:
    """Current time as ISO-8601 UTC with microseconds (sortable as text)."""
    return to_iso(now())


def to_iso(moment: datetime) -> str:
    """Format an aware datetime the way every table stores it."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    """Parse a stored timestamp (None stays None)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_scope(name: str) -> tuple[str, str]:
    """(resource, action) of a scope name ``action:resource`` (``read:profile`` -> profile, read)."""
    if ":" in name:
        action, resource = name.split(":", 1)
        return resource, action
    return name, ""


class Database:
    """A SQLite file with one shared connection guarded by a re-entrant lock."""

    def __init__(self, path: str | None = None) -> None:
        self._owns_file = path is None
        if path is None:
            fd, path = tempfile.mkstemp(prefix="permiso-ref-", suffix=".sqlite3")
            os.close(fd)
        self.path = path
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self.lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=OFF")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(SCHEMA)

    # -- access -----------------------------------------------------------------------------------
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query and return every row as a dict."""
        with self.lock:
            return [dict(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """Run a query and return the first row as a dict, or None."""
        with self.lock:
            row = self._conn.execute(sql, tuple(params)).fetchone()
            return dict(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query and return the first column of the first row (None when no row)."""
        with self.lock:
            row = self._conn.execute(sql, tuple(params)).fetchone()
            return row[0] if row is not None else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (autocommitted) and return the number of rows changed."""
        with self.lock:
            return self._conn.execute(sql, tuple(params)).rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run several statements atomically (rollback on any exception)."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def ping(self) -> bool:
        """Cheap liveness check used by health endpoints."""
        try:
            return self.scalar("SELECT 1") == 1
        except sqlite3.Error:
            return False

    def close(self) -> None:
        """Close the connection and delete the file when it was a temporary one."""
        with self.lock:
            self._conn.close()
        if self._owns_file:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.remove(self.path + suffix)

    # -- helpers used by several routers ----------------------------------------------------------
    def record_security_event(self, event_type: str, *, severity: str = "info",
                              user_id: str | None = None, username: str | None = None,
                              client_id: str | None = None, ip_address: str | None = None,
                              description: str = "", details: dict[str, Any] | None = None) -> None:
        """Append to ``security_events`` (read by the admin console)."""
        self.execute(
            "INSERT INTO security_events (id, event_type, severity, user_id, username, client_id,"
            " ip_address, description, details, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (new_id(), event_type, severity, user_id, username, client_id, ip_address, description,
             json.dumps(details or {}), now_iso()),
        )

    def audit(self, action: str, *, actor_id: str | None = None, actor_type: str = "user",
              resource_type: str | None = None, resource_id: str | None = None,
              details: dict[str, Any] | None = None, ip_address: str | None = None) -> None:
        """Append to ``audit_log``."""
        self.execute(
            "INSERT INTO audit_log (id, actor_id, actor_type, action, resource_type, resource_id,"
            " details, ip_address, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (new_id(), actor_id, actor_type, action, resource_type, resource_id,
             json.dumps(details or {}), ip_address, now_iso()),
        )

    def scope_ids_by_name(self, names: Sequence[str]) -> list[str]:
        """Ids of existing scopes with these names (unknown names skipped)."""
        if not names:
            return []
        marks = ",".join("?" * len(names))
        return [r["id"] for r in self.all(f"SELECT id FROM scopes WHERE name IN ({marks})", names)]

    def user_scope_names(self, user_id: str) -> list[str]:
        """Sorted names of all scopes a user holds through their roles."""
        rows = self.all(
            "SELECT DISTINCT s.name FROM user_roles ur JOIN role_scopes rs ON rs.role_id = ur.role_id"
            " JOIN scopes s ON s.id = rs.scope_id WHERE ur.user_id = ? ORDER BY s.name",
            (user_id,),
        )
        return [r["name"] for r in rows]

    def user_roles(self, user_id: str) -> list[dict[str, Any]]:
        """Roles of a user as ``{id, name, description}`` dicts, sorted by name."""
        return self.all(
            "SELECT r.id, r.name, r.description FROM user_roles ur JOIN roles r ON r.id = ur.role_id"
            " WHERE ur.user_id = ? ORDER BY r.name",
            (user_id,),
        )

    def client_scope_names(self, client_pk: str) -> list[str]:
        """Sorted scope names of a service client (by its internal primary key)."""
        rows = self.all(
            "SELECT s.name FROM client_scopes cs JOIN scopes s ON s.id = cs.scope_id"
            " WHERE cs.client_pk = ? ORDER BY s.name",
            (client_pk,),
        )
        return [r["name"] for r in rows]


def bootstrap(db: Database, *, admin: tuple[str, str, str], user: tuple[str, str, str],
              client: tuple[str, str], rounds: int, hashing: str = "fast") -> None:
    """Create default scopes, roles, the configured administrator, user and service client.

    Idempotent: rows that already exist (by unique name) are left alone, so a kept ``db_path``
    can be reused across starts.
    """
    stamp = now_iso()
    with db.transaction() as conn:
        for name, description in DEFAULT_SCOPES.items():
            resource, action = split_scope(name)
            conn.execute(
                "INSERT OR IGNORE INTO scopes (id, name, description, resource, action, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?)",
                (new_id(), name, description, resource, action, stamp, stamp),
            )
        for name, (description, scope_names) in DEFAULT_ROLES.items():
            conn.execute(
                "INSERT OR IGNORE INTO roles (id, name, description, created_at, updated_at)"
                " VALUES (?,?,?,?,?)",
                (new_id(), name, description, stamp, stamp),
            )
            role_id = conn.execute("SELECT id FROM roles WHERE name = ?", (name,)).fetchone()[0]
            for scope_name in scope_names:
                conn.execute(
                    "INSERT OR IGNORE INTO role_scopes (role_id, scope_id)"
                    " SELECT ?, id FROM scopes WHERE name = ?",
                    (role_id, scope_name),
                )
    for (username, password, email), role, superuser in ((admin, "admin", True),
                                                         (user, "user", False)):
        if db.one("SELECT id FROM users WHERE username = ?", (username.lower(),)):
            continue
        user_id = new_id()
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO users (id, username, email, password_hash, first_name, last_name,"
                " is_active, is_verified, is_superuser, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,1,1,?,?,?)",
                (user_id, username.lower(), email.lower(), hash_secret(password, rounds, hashing),
                 "Configured", role.capitalize(), int(superuser), stamp, stamp),
            )
            conn.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT ?, id FROM roles WHERE name = ?",
                (user_id, role),
            )
    client_id, secret = client
    if not db.one("SELECT id FROM service_clients WHERE client_id = ?", (client_id,)):
        pk = new_id()
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO service_clients (id, client_id, name, description, client_type,"
                " secret_hash, is_active, is_trusted, access_token_lifetime, rate_limit_per_minute,"
                " rate_limit_per_hour, created_at, updated_at)"
                " VALUES (?,?,?,?,'confidential',?,1,0,3600,60,1000,?,?)",
                (pk, client_id, "Configured test client", "Bootstrap service client",
                 hash_secret(secret, rounds, hashing), stamp, stamp),
            )
            for scope_name in DEFAULT_CLIENT_SCOPES:
                conn.execute(
                    "INSERT OR IGNORE INTO client_scopes (client_pk, scope_id)"
                    " SELECT ?, id FROM scopes WHERE name = ?",
                    (pk, scope_name),
                )
