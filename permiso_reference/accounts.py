"""Account rules shared by the auth and users routers: field policies, user JSON, sessions.

Kept apart from the routers because sign-in (auth), registration and admin creation (users) must
apply exactly the same rules; a drift there would be a contract bug.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Request

from permiso_reference.db import Database, new_id, now, now_iso, to_iso
from permiso_reference.faults import fault

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,50}$")
PASSWORD_SPECIALS = set('!@#$%^&*(),.?":{}|<>')
SPECIAL_USE_SUFFIXES = (".test", ".local", ".localhost", ".invalid", ".onion", ".arpa")
SPECIAL_USE_NAMES = {"test", "local", "localhost", "invalid", "onion", "arpa"}
MAX_TEXT = 255
MAX_BIO = 1000


def has_control_chars(text: str) -> bool:
    """True for NUL and other C0 control characters (never legitimate in account fields)."""
    return any(ord(c) < 32 and c not in "\t\n\r" for c in text) or "\x00" in text


def check_username(value: str) -> str:
    """Apply the username rule (3–50 letters, digits, ``_``, ``-``) and return it lower-cased."""
    if not USERNAME_RE.fullmatch(value or ""):
        raise ValueError("Username must be 3-50 characters of letters, digits, '_' or '-'")
    return value.lower()


def check_password(value: str, policy_off: bool = False) -> str:
    """Apply the password policy of A.5 (unless the ``password_policy_off`` fault is on)."""
    if policy_off:
        if not value:
            raise ValueError("Password must not be empty")
        return value
    if not 8 <= len(value) <= 128:
        raise ValueError("Password must be 8-128 characters long")
    if not any(c.isupper() for c in value):
        raise ValueError("Password must contain an upper-case letter")
    if not any(c.islower() for c in value):
        raise ValueError("Password must contain a lower-case letter")
    if not any(c.isdigit() for c in value):
        raise ValueError("Password must contain a digit")
    if not any(c in PASSWORD_SPECIALS for c in value):
        raise ValueError("Password must contain a special character")
    if has_control_chars(value):
        raise ValueError("Password contains invalid characters")
    return value


def check_email(value: str, reserved_ok: bool = False) -> str:
    """Validate an email address (syntax; special-use domains refused) and return it lower-cased."""
    if not value or len(value) > 254 or has_control_chars(value):
        raise ValueError("Invalid email address")
    local, _, domain = value.rpartition("@")
    domain_l = domain.lower().rstrip(".")
    special = domain_l in SPECIAL_USE_NAMES or domain_l.endswith(SPECIAL_USE_SUFFIXES)
    if special and not reserved_ok:
        raise ValueError("Email domain is a special-use or reserved name")
    probe = f"{local}@example.com" if special else value
    try:
        validate_email(probe, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("Invalid email address") from None
    return value.lower()


def check_text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """Free-text profile fields: bounded length, no control characters."""
    if value is None:
        return None
    if len(value) > limit:
        raise ValueError(f"Must be at most {limit} characters")
    if has_control_chars(value):
        raise ValueError("Contains invalid characters")
    return value


def client_ip(request: Request) -> str:
    """The peer address (forwarding headers are not trusted: anyone could send them)."""
    return request.client.host if request.client else "unknown"


def address_allowed(address: str, allowed_ips: Any) -> bool:
    """True when ``address`` may use a client whose allow-list is ``allowed_ips`` (D24 when ignored).

    ``allowed_ips`` is the stored column: None, or JSON text / a list of addresses and CIDR networks.
    No allow-list, or an empty one, allows every address. An IPv4 address seen as IPv4-mapped IPv6
    (``::ffff:127.0.0.1``, a dual-stack listener) counts as the IPv4 address.
    """
    entries = json.loads(allowed_ips) if isinstance(allowed_ips, str) else allowed_ips
    if not entries:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # "unknown" or garbage: not provably inside any network
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for entry in entries:
        try:
            if ip in ipaddress.ip_network(str(entry), strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def find_user_for_login(db: Database, identifier: str) -> dict[str, Any] | None:
    """User by username or email (case-insensitive); the oldest match wins."""
    ident = identifier.strip().lower()
    return db.one("SELECT * FROM users WHERE username = ? OR email = ? ORDER BY created_at LIMIT 1",
                  (ident, ident))


def user_json(request: Request, user: dict[str, Any]) -> dict[str, Any]:
    """User representation of A.6 (never the password hash, unless a fault asks)."""
    db: Database = request.app.state.db
    roles = db.user_roles(user["id"]) if user.get("id") else []
    first, last = user.get("first_name"), user.get("last_name")
    full_name = " ".join(p for p in (first, last) if p) or None
    body: dict[str, Any] = {
        "id": user["id"], "username": user["username"], "email": user["email"],
        "first_name": first, "last_name": last, "display_name": user.get("display_name"),
        "bio": user.get("bio"), "is_active": bool(user["is_active"]),
        "is_verified": bool(user["is_verified"]), "is_superuser": bool(user["is_superuser"]),
        "full_name": full_name, "last_login": user.get("last_login"),
        "created_at": user.get("created_at"), "updated_at": user.get("updated_at"),
        "roles": [{"id": r["id"], "name": r["name"], "description": r["description"]} for r in roles],
        "scope_names": db.user_scope_names(user["id"]) if user.get("id") else [],
    }
    if fault(request, "password_hash_exposed"):
        body["password_hash"] = user.get("password_hash")
    return body


def create_session(request: Request, user_id: str) -> dict[str, Any]:
    """Start a session for a successful sign-in and return its row."""
    state = request.app.state
    stamp = now()
    row = {"id": new_id(), "user_id": user_id, "ip_address": client_ip(request),
           "user_agent": (request.headers.get("user-agent") or "")[:500],
           "created_at": to_iso(stamp), "last_activity": to_iso(stamp),
           "expires_at": to_iso(stamp + timedelta(seconds=state.settings.session_seconds)),
           "ended_at": None}
    state.db.execute(
        "INSERT INTO sessions (id, user_id, ip_address, user_agent, created_at, last_activity,"
        " expires_at) VALUES (?,?,?,?,?,?,?)",
        (row["id"], user_id, row["ip_address"], row["user_agent"], row["created_at"],
         row["last_activity"], row["expires_at"]),
    )
    if fault(request, "inactive_sessions_kept"):  # variant (D.3): the release's retention of dead rows
        state.db.execute(
            "INSERT INTO sessions (id, user_id, ip_address, user_agent, created_at, last_activity,"
            " expires_at, ended_at) VALUES (?,?,?,?,?,?,?,?)",
            (new_id(), user_id, row["ip_address"], row["user_agent"], row["created_at"],
             row["last_activity"], row["expires_at"], row["created_at"]),
        )
    return row


def end_sessions(db: Database, session_ids: list[str]) -> int:
    """Mark sessions ended (their tokens are refused from then on); returns how many changed."""
    count = 0
    stamp = now_iso()
    for sid in session_ids:
        count += db.execute("UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                            (stamp, sid))
    return count


def revoke_user_refresh_tokens(db: Database, user_id: str) -> int:
    """Revoke every outstanding refresh token of a user (logout)."""
    stamp = now_iso()
    rows = db.all("SELECT jti, expires_at FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL",
                  (user_id,))
    with db.transaction() as conn:
        for row in rows:
            conn.execute("INSERT OR IGNORE INTO revoked_tokens (jti, token_type, subject, expires_at,"
                         " revoked_at) VALUES (?,?,?,?,?)",
                         (row["jti"], "refresh", user_id, row["expires_at"], stamp))
        conn.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                     (stamp, user_id))
    return len(rows)
