"""Routes under `/service-clients` (contract A.8), all guarded by ``require_admin``.

Clients are addressed by their string ``client_id``; the internal primary key (``id``) is a UUID.
Secrets are generated with ``secrets.token_urlsafe`` (or taken from the request), stored hashed
(bcrypt or argon2id, ``permiso_reference.hashing``) in ``secret_hash`` and shown exactly once (create /
rotate answers). On rotation the old hash moves to ``previous_secret_hash``: ``/auth/service-token``
(core) consults it only under the ``old_secret_valid`` fault, so the old secret is refused from then on.

Monitoring routes (stats, health, rate-limit) answer from the database; D24 (fixed sample data) is a
defect the suite must catch, so nothing here is invented. The webhook test never leaves the machine:
only loopback URLs are contacted (an acceptance target must not make outbound calls to hosts a test
typed in), any other host gets a "not delivered" result.
"""

from __future__ import annotations

import ipaddress
import json
import math
import secrets
import sqlite3
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, EmailStr, Field, field_validator

from permiso_reference.db import Database, check_secret, hash_secret, new_id, now, now_iso, to_iso
from permiso_reference.errors import ValidationFailed, conflict, named_error, not_found
from permiso_reference.faults import fault
from permiso_reference.guards import Principal, require_admin
from permiso_reference.routers.roles import checked_scope_ids

router = APIRouter()

Admin = Annotated[Principal, Depends(require_admin)]

#: Upper bound of ``page`` (an unbounded int overflows SQLite's OFFSET: a 500).
MAX_PAGE = 1_000_000
#: Display names: any printable text, no control characters (NUL and friends).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,99}$"
WEBHOOK_TIMEOUT_SECONDS = 3.0


def _check_url(value: str | None) -> str | None:
    """http(s) URL with a host, or None."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


def _check_ips(value: list[str] | None) -> list[str] | None:
    """IP addresses or CIDR networks, normalised."""
    if value is None:
        return None
    cleaned = []
    for item in value:
        try:
            cleaned.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise ValueError("must be IP addresses or CIDR networks") from None
    return cleaned


class ClientFields(BaseModel):
    """Fields shared by create and update (all optional here; create adds required ones)."""

    description: str | None = Field(default=None, max_length=500)
    client_type: Literal["confidential", "public"] | None = None
    is_active: bool | None = None
    is_trusted: bool | None = None
    access_token_lifetime: int | None = Field(default=None, ge=300, le=86400)
    refresh_token_lifetime: int | None = Field(default=None, ge=300, le=31536000)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1000)
    rate_limit_per_hour: int | None = Field(default=None, ge=60, le=100000)
    allowed_ips: list[str] | None = Field(default=None, max_length=100)
    webhook_url: str | None = Field(default=None, max_length=500)
    website_url: str | None = Field(default=None, max_length=500)
    contact_email: EmailStr | None = None

    @field_validator("webhook_url", "website_url")
    @classmethod
    def check_urls(cls, value: str | None) -> str | None:
        """Only http(s) URLs with a host."""
        return _check_url(value)

    @field_validator("allowed_ips")
    @classmethod
    def check_ips(cls, value: list[str] | None) -> list[str] | None:
        """Only IP addresses / CIDR networks."""
        return _check_ips(value)


class ClientCreate(ClientFields):
    """Body of ``POST /service-clients/``."""

    name: str = Field(min_length=2, max_length=100, pattern=NAME_PATTERN)
    client_type: Literal["confidential", "public"] = "confidential"
    is_active: bool = True
    is_trusted: bool = False
    client_id: str | None = Field(default=None, pattern=CLIENT_ID_PATTERN)
    client_secret: str | None = Field(default=None, min_length=16, max_length=128)
    scope_ids: list[str] = Field(default_factory=list, max_length=500)
    access_token_lifetime: int = Field(default=3600, ge=300, le=86400)
    rate_limit_per_minute: int = Field(default=60, ge=1, le=1000)
    rate_limit_per_hour: int = Field(default=1000, ge=60, le=100000)


class ClientUpdate(ClientFields):
    """Body of ``PUT /service-clients/{client_id}``.

    ``client_id`` and ``client_secret`` cannot be changed here (the secret only by rotation, which
    proves knowledge of the current one): a secret is always a 422, a ``client_id`` other than the
    addressed one too (the same id is tolerated so a GET-modify-PUT round trip works).
    """

    name: str | None = Field(default=None, min_length=2, max_length=100, pattern=NAME_PATTERN)
    scope_ids: list[str] | None = Field(default=None, max_length=500)
    client_id: str | None = Field(default=None, max_length=100)
    client_secret: None = None


class ScopeIds(BaseModel):
    """Body of ``PUT /service-clients/{client_id}/scopes``."""

    scope_ids: list[str] = Field(max_length=500)


class RotateSecret(BaseModel):
    """Body of ``POST .../rotate-secret``: proof of the current secret."""

    current_secret: str = Field(min_length=1, max_length=1024)


class WebhookTest(BaseModel):
    """Optional body of ``POST .../webhook/test``."""

    event_type: str = Field(default="webhook.test", max_length=100)
    payload: dict[str, Any] | None = None


# -- helpers ---------------------------------------------------------------------------------------
def _db(request: Request) -> Database:
    return request.app.state.db


def _plain_secrets(request: Request) -> dict[str, str]:
    """Plaintext secrets remembered in memory only under ``client_secret_exposed`` (the fault's leak)."""
    state = request.app.state
    store = getattr(state, "exposed_client_secrets", None)
    if store is None:
        store = {state.settings.client_id: state.settings.client_secret}
        state.exposed_client_secrets = store
    return store


def client_json(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    """Client JSON of A.8: never the secret or its hash (unless ``client_secret_exposed``)."""
    db = _db(request)
    scopes = db.all("SELECT s.id, s.name, s.description, s.resource, s.action FROM client_scopes cs"
                    " JOIN scopes s ON s.id = cs.scope_id WHERE cs.client_pk = ? ORDER BY s.name",
                    (row["id"],))
    body: dict[str, Any] = {
        "id": row["id"], "client_id": row["client_id"], "name": row["name"],
        "description": row["description"], "client_type": row["client_type"],
        "is_active": bool(row["is_active"]), "is_trusted": bool(row["is_trusted"]),
        "access_token_lifetime": row["access_token_lifetime"],
        "refresh_token_lifetime": row["refresh_token_lifetime"],
        "rate_limit_per_minute": row["rate_limit_per_minute"],
        "rate_limit_per_hour": row["rate_limit_per_hour"],
        "allowed_ips": json.loads(row["allowed_ips"]) if row["allowed_ips"] else None,
        "webhook_url": row["webhook_url"], "website_url": row["website_url"],
        "contact_email": row["contact_email"], "last_used_at": row["last_used_at"],
        "secret_rotated_at": row["secret_rotated_at"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "scopes": scopes, "scope_names": [s["name"] for s in scopes],
    }
    if fault(request, "client_secret_exposed"):
        body["client_secret"] = _plain_secrets(request).get(row["client_id"], row["secret_hash"])
    return body


def _client_or_404(db: Database, client_id: str) -> dict[str, Any]:
    row = db.one("SELECT * FROM service_clients WHERE client_id = ?", (client_id,))
    if row is None:
        raise not_found("Service client not found")
    return row


def _column_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Model fields → column values (booleans as 0/1, IP lists as JSON text)."""
    values = {}
    for key, value in fields.items():
        if isinstance(value, bool):
            value = int(value)
        elif key == "allowed_ips" and value is not None:
            value = json.dumps(value)
        values[key] = value
    return values


def _replace_scopes(conn: sqlite3.Connection, client_pk: str, scope_ids: list[str]) -> None:
    conn.execute("DELETE FROM client_scopes WHERE client_pk = ?", (client_pk,))
    conn.executemany("INSERT INTO client_scopes (client_pk, scope_id) VALUES (?, ?)",
                     [(client_pk, s) for s in scope_ids])


def _has_column(db: Database, table: str, column: str) -> bool:
    return any(r["name"] == column for r in db.all(f"PRAGMA table_info({table})"))


def _today_start() -> str:
    return to_iso(now().replace(hour=0, minute=0, second=0, microsecond=0))


# -- collection routes (static paths before /{client_id}) ----------------------------------------
@router.get("/stats/overview")
def client_stats(request: Request, _: Admin) -> dict[str, Any]:
    """Counts from the database and the most recently used clients (no sample data: D24)."""
    db = _db(request)
    today = _today_start()
    recent = db.all("SELECT client_id, name, last_used_at FROM service_clients"
                    " WHERE last_used_at IS NOT NULL ORDER BY last_used_at DESC LIMIT 5")
    return {
        "total_clients": int(db.scalar("SELECT COUNT(*) FROM service_clients") or 0),
        "active_clients": int(db.scalar("SELECT COUNT(*) FROM service_clients WHERE is_active = 1") or 0),
        "inactive_clients": int(db.scalar("SELECT COUNT(*) FROM service_clients WHERE is_active = 0")
                                or 0),
        "trusted_clients": int(db.scalar("SELECT COUNT(*) FROM service_clients WHERE is_trusted = 1")
                               or 0),
        "confidential_clients": int(db.scalar(
            "SELECT COUNT(*) FROM service_clients WHERE client_type = 'confidential'") or 0),
        "public_clients": int(db.scalar(
            "SELECT COUNT(*) FROM service_clients WHERE client_type = 'public'") or 0),
        "clients_used_today": int(db.scalar(
            "SELECT COUNT(*) FROM service_clients WHERE last_used_at >= ?", (today,)) or 0),
        "failed_authentications_today": int(db.scalar(
            "SELECT COUNT(*) FROM security_events WHERE event_type = 'client_auth_failed'"
            " AND created_at >= ?", (today,)) or 0),
        "most_active_clients": recent,
    }


@router.get("/health/check")
def clients_health(request: Request, _: Admin) -> dict[str, Any]:
    """Per-client health derived from stored state: a client is healthy when it is active and owns
    at least one scope (otherwise it cannot obtain a useful token)."""
    db = _db(request)
    checks = []
    for row in db.all("SELECT * FROM service_clients ORDER BY created_at, client_id"):
        scope_count = int(db.scalar("SELECT COUNT(*) FROM client_scopes WHERE client_pk = ?",
                                    (row["id"],)) or 0)
        issues = []
        if not row["is_active"]:
            issues.append("client is disabled")
        if scope_count == 0:
            issues.append("client has no scopes")
        failures = int(db.scalar(
            "SELECT COUNT(*) FROM security_events WHERE event_type = 'client_auth_failed'"
            " AND client_id = ? AND created_at >= ?",
            (row["client_id"], to_iso(now() - timedelta(hours=24)))) or 0)
        checks.append({"client_id": row["client_id"], "is_healthy": not issues,
                       "is_active": bool(row["is_active"]), "scope_count": scope_count,
                       "last_used_at": row["last_used_at"],
                       "failed_authentications_24h": failures,
                       "webhook_configured": bool(row["webhook_url"]), "issues": issues})
    healthy = sum(1 for c in checks if c["is_healthy"])
    return {"health_checks": checks, "healthy_count": healthy, "unhealthy_count": len(checks) - healthy,
            "total_count": len(checks), "timestamp": now_iso()}


@router.get("/")
def list_clients(request: Request, _: Admin, search: str | None = Query(None, max_length=100),
                 is_active: bool | None = None, is_trusted: bool | None = None,
                 client_type: Literal["confidential", "public"] | None = None,
                 scope_id: str | None = Query(None, max_length=64),
                 page: int = Query(1, ge=1, le=MAX_PAGE),
                 per_page: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
    """Clients, oldest first, with filters and pagination."""
    db = _db(request)
    clauses: list[str] = []
    params: list[Any] = []
    if search:
        clauses.append("(lower(name) LIKE ? OR lower(client_id) LIKE ? OR"
                       " lower(coalesce(description, '')) LIKE ?)")
        params += [f"%{search.lower()}%"] * 3
    for column, value in (("is_active", is_active), ("is_trusted", is_trusted)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(int(value))
    if client_type is not None:
        clauses.append("client_type = ?")
        params.append(client_type)
    if scope_id is not None:
        clauses.append("id IN (SELECT client_pk FROM client_scopes WHERE scope_id = ?)")
        params.append(scope_id)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    total = int(db.scalar(f"SELECT COUNT(*) FROM service_clients{where}", params) or 0)
    rows = db.all(f"SELECT * FROM service_clients{where} ORDER BY created_at, client_id LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    return {"clients": [client_json(request, r) for r in rows], "total": total, "page": page,
            "per_page": per_page, "pages": max(1, math.ceil(total / per_page))}


@router.post("/", status_code=201)
def create_client(request: Request, principal: Admin, body: ClientCreate) -> dict[str, Any]:
    """Create a client; the answer carries the plaintext secret once, next to (not inside) the client."""
    db = _db(request)
    client_id = body.client_id or f"client-{secrets.token_hex(8)}"
    if db.scalar("SELECT 1 FROM service_clients WHERE client_id = ?", (client_id,)):
        raise conflict("Service client id already exists")
    secret = body.client_secret or secrets.token_urlsafe(32)
    scope_ids = checked_scope_ids(db, body.scope_ids)
    fields = _column_values(body.model_dump(exclude={"client_id", "client_secret", "scope_ids"}))
    pk, stamp = new_id(), now_iso()
    fields.update(id=pk, client_id=client_id,
                  secret_hash=hash_secret(secret, request.app.state.settings.bcrypt_rounds,
                                   request.app.state.settings.hashing),
                  created_at=stamp, updated_at=stamp)
    columns = ", ".join(fields)
    marks = ", ".join("?" * len(fields))
    try:
        with db.transaction() as conn:
            conn.execute(f"INSERT INTO service_clients ({columns}) VALUES ({marks})", list(fields.values()))
            _replace_scopes(conn, pk, scope_ids)
    except sqlite3.IntegrityError:  # a concurrent create with the same client_id
        raise conflict("Service client id already exists") from None
    if fault(request, "client_secret_exposed"):
        _plain_secrets(request)[client_id] = secret
    db.audit("service_client_created", actor_id=principal.user_id, resource_type="service_client",
             resource_id=client_id, details={"name": body.name})
    return {"client": client_json(request, _client_or_404(db, client_id)), "client_secret": secret}


# -- one client --------------------------------------------------------------------------------------
@router.get("/{client_id}")
def get_client(request: Request, _: Admin, client_id: str) -> dict[str, Any]:
    """One client (404 ``not_found``)."""
    return client_json(request, _client_or_404(_db(request), client_id))


@router.put("/{client_id}")
def update_client(request: Request, principal: Admin, client_id: str, body: ClientUpdate) -> dict[str, Any]:
    """Update the given fields; ``scope_ids`` (when given) replaces the scope set.

    Explicit nulls are honoured for nullable fields (e.g. clearing ``webhook_url``) but ignored for
    required columns, which keep their value.
    """
    db = _db(request)
    row = _client_or_404(db, client_id)
    if body.client_id is not None and body.client_id != client_id:
        raise ValidationFailed(["body", "client_id"], "client_id cannot be changed", body.client_id)
    changes = body.model_dump(exclude_unset=True, exclude={"client_id", "client_secret"})
    scope_ids = changes.pop("scope_ids", None)
    required = {"name", "client_type", "is_active", "is_trusted", "access_token_lifetime",
                "rate_limit_per_minute", "rate_limit_per_hour"}
    changes = {k: v for k, v in changes.items() if not (v is None and k in required)}
    checked = checked_scope_ids(db, scope_ids) if scope_ids is not None else None
    values = _column_values(changes)
    with db.transaction() as conn:
        if values:
            sets = ", ".join(f"{column} = ?" for column in values)
            conn.execute(f"UPDATE service_clients SET {sets} WHERE id = ?", [*values.values(), row["id"]])
        if checked is not None:
            _replace_scopes(conn, row["id"], checked)
        conn.execute("UPDATE service_clients SET updated_at = ? WHERE id = ?", (now_iso(), row["id"]))
    db.audit("service_client_updated", actor_id=principal.user_id, resource_type="service_client",
             resource_id=client_id,
             details={"fields": sorted(changes) + (["scope_ids"] if checked is not None else [])})
    return client_json(request, _client_or_404(db, client_id))


@router.delete("/{client_id}", status_code=204)
def delete_client(request: Request, principal: Admin, client_id: str) -> Response:
    """Delete a client; its service tokens are refused afterwards (guards look the client up)."""
    db = _db(request)
    row = _client_or_404(db, client_id)
    db.execute("DELETE FROM service_clients WHERE id = ?", (row["id"],))
    _plain_secrets(request).pop(client_id, None)
    db.audit("service_client_deleted", actor_id=principal.user_id, resource_type="service_client",
             resource_id=client_id)
    return Response(status_code=204)


@router.put("/{client_id}/scopes")
def set_client_scopes(request: Request, principal: Admin, client_id: str, body: ScopeIds) -> dict[str, Any]:
    """Replace the client's scope set (effective for its next service token)."""
    db = _db(request)
    row = _client_or_404(db, client_id)
    checked = checked_scope_ids(db, body.scope_ids)
    with db.transaction() as conn:
        _replace_scopes(conn, row["id"], checked)
        conn.execute("UPDATE service_clients SET updated_at = ? WHERE id = ?", (now_iso(), row["id"]))
    db.audit("service_client_scopes_updated", actor_id=principal.user_id,
             resource_type="service_client", resource_id=client_id, details={"scope_ids": checked})
    return client_json(request, _client_or_404(db, client_id))


@router.post("/{client_id}/rotate-secret")
def rotate_secret(request: Request, principal: Admin, client_id: str, body: RotateSecret) -> dict[str, Any]:
    """Replace the secret after checking the current one (400 ``invalid_secret`` when wrong).

    The old hash is kept in ``previous_secret_hash`` only so the ``old_secret_valid`` fault can exist;
    the token endpoint ignores it otherwise.
    """
    db = _db(request)
    row = _client_or_404(db, client_id)
    if not check_secret(body.current_secret, row["secret_hash"]):
        db.record_security_event("client_secret_rotation_failed", severity="medium", client_id=client_id,
                                 user_id=principal.user_id, description="Wrong current client secret")
        raise named_error(400, "invalid_secret", "Current client secret is incorrect")
    secret = secrets.token_urlsafe(32)
    stamp = now_iso()
    new_hash = hash_secret(secret, request.app.state.settings.bcrypt_rounds,
                                   request.app.state.settings.hashing)
    if _has_column(db, "service_clients", "previous_secret_hash"):
        db.execute("UPDATE service_clients SET previous_secret_hash = secret_hash, secret_hash = ?,"
                   " secret_rotated_at = ?, updated_at = ? WHERE id = ?", (new_hash, stamp, stamp, row["id"]))
    else:
        db.execute("UPDATE service_clients SET secret_hash = ?, secret_rotated_at = ?, updated_at = ?"
                   " WHERE id = ?", (new_hash, stamp, stamp, row["id"]))
    if fault(request, "client_secret_exposed"):
        _plain_secrets(request)[client_id] = secret
    db.record_security_event("client_secret_rotated", severity="info", client_id=client_id,
                             user_id=principal.user_id, description="Client secret rotated")
    db.audit("service_client_secret_rotated", actor_id=principal.user_id,
             resource_type="service_client", resource_id=client_id)
    return {"message": "Client secret rotated successfully", "client_id": client_id,
            "client_secret": secret, "rotated_at": stamp}


@router.get("/{client_id}/permissions")
def client_permissions(request: Request, _: Admin, client_id: str) -> dict[str, Any]:
    """The client's scopes grouped by resource."""
    db = _db(request)
    row = _client_or_404(db, client_id)
    names = db.client_scope_names(row["id"])
    resources: dict[str, list[str]] = {}
    for name in names:
        if ":" in name:
            action, resource = name.split(":", 1)
            resources.setdefault(resource, []).append(action)
    return {"client_id": client_id, "scopes": names, "resources": resources,
            "can_access_admin": any(n.startswith("admin:") for n in names),
            "is_trusted": bool(row["is_trusted"]), "is_active": bool(row["is_active"])}


@router.get("/{client_id}/rate-limit")
def client_rate_limit(request: Request, _: Admin, client_id: str) -> dict[str, Any]:
    """The stored rate-limit settings (no invented "remaining" counters)."""
    row = _client_or_404(_db(request), client_id)
    return {"client_id": client_id, "rate_limit_per_minute": row["rate_limit_per_minute"],
            "rate_limit_per_hour": row["rate_limit_per_hour"],
            "per_minute_limit": row["rate_limit_per_minute"], "per_hour_limit": row["rate_limit_per_hour"]}


def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; names are never resolved (no DNS egress)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A loopback endpoint must not bounce the request to another host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _deliver(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "permiso-reference-webhook-test"})
    started = time.perf_counter()
    status: int | None = None
    text: str | None = None
    error: str | None = None
    try:
        with opener.open(req, timeout=WEBHOOK_TIMEOUT_SECONDS) as resp:
            status = resp.status
            text = resp.read(2048).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status = exc.code
        text = exc.read(2048).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = f"Delivery failed: {type(exc).__name__}"
    elapsed = int((time.perf_counter() - started) * 1000)
    return {"success": status is not None and 200 <= status < 300, "delivered": status is not None,
            "status_code": status, "response_body": text, "response_time_ms": elapsed,
            "error_message": error}


@router.post("/{client_id}/webhook/test")
def test_webhook(request: Request, principal: Admin, client_id: str,
                 body: Annotated[WebhookTest | None, Body()] = None) -> dict[str, Any]:
    """Send a test event to the client's webhook (400 ``no_webhook`` without a URL; D11)."""
    db = _db(request)
    row = _client_or_404(db, client_id)
    if not row["webhook_url"]:
        raise named_error(400, "no_webhook", "Client has no webhook URL configured")
    body = body or WebhookTest()
    url = row["webhook_url"]
    host = urlsplit(url).hostname or ""
    if _is_loopback(host):
        result = _deliver(url, {"event": body.event_type, "client_id": client_id, "test": True,
                                "payload": body.payload or {}, "timestamp": now_iso()})
    else:
        result = {"success": False, "delivered": False, "status_code": None, "response_body": None,
                  "response_time_ms": 0,
                  "error_message": "Not delivered: the reference server only contacts loopback hosts"}
    db.audit("service_client_webhook_tested", actor_id=principal.user_id,
             resource_type="service_client", resource_id=client_id,
             details={"delivered": result["delivered"], "status_code": result["status_code"]})
    return {"client_id": client_id, "webhook_url": url, **result}
