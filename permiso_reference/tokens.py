"""JWT issuing and validation (contract A.4) for the reference Permiso.

Validation is done claim by claim (not by PyJWT's all-in-one checks) so that each injectable fault
can switch off exactly one check. Faults of the bearer path apply only when ``bearer=True``; the
refresh endpoint validates strictly with its own rules.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt

from permiso_reference.db import DEFAULT_ROLES, Database, new_id, now_iso, to_iso
from permiso_reference.faults import fault

ISSUER = "permiso-auth"
ALGORITHM = "HS256"
#: Clock skew tolerated on ``nbf`` / ``iat`` (seconds).
LEEWAY = 5


class TokenError(Exception):
    """A token failed validation; ``reason`` is safe to show to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Issued:
    """A freshly signed token with its claims."""

    token: str
    claims: dict[str, Any]


def expand_scopes(names: set[str] | list[str] | tuple[str, ...]) -> set[str]:
    """Scopes plus those they imply: ``admin:X`` → ``read:X``/``write:X``; ``admin:system`` → all
    scopes of the default roles (A.4)."""
    result = set(names)
    if "admin:system" in result:
        for _, scopes in DEFAULT_ROLES.values():
            result.update(scopes)
    for name in list(result):
        if name.startswith("admin:"):
            rest = name.split(":", 1)[1]
            result.update({f"read:{rest}", f"write:{rest}"})
    return result


def _sign(state: Any, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, state.jwt_secret, algorithm=ALGORITHM)


def _base_claims(sub: str, lifetime: float) -> dict[str, Any]:
    issued = int(time.time())
    return {"iss": ISSUER, "aud": [ISSUER], "sub": sub, "iat": issued, "nbf": issued,
            "exp": issued + int(lifetime), "jti": new_id()}


def issue_access(state: Any, user: dict[str, Any], scopes: list[str], roles: list[str],
                 session_id: str | None) -> Issued:
    """Sign an access token for a user (A.4 claims plus ``sid``)."""
    claims = _base_claims(user["id"], state.settings.access_token_seconds)
    claims.update(type="access", scopes=scopes, roles=roles, username=user["username"],
                  email=user["email"], is_superuser=bool(user["is_superuser"]), sid=session_id)
    return Issued(_sign(state, claims), claims)


def issue_refresh(state: Any, user: dict[str, Any], scopes: list[str], session_id: str | None) -> Issued:
    """Sign a refresh token and record it (rotation and logout need the server-side row)."""
    claims = _base_claims(user["id"], state.settings.refresh_token_seconds)
    claims.update(type="refresh", username=user["username"], sid=session_id)
    db: Database = state.db
    db.execute(
        "INSERT INTO refresh_tokens (jti, user_id, session_id, scopes, issued_at, expires_at)"
        " VALUES (?,?,?,?,?,?)",
        (claims["jti"], user["id"], session_id, json.dumps(scopes), now_iso(),
         to_iso(_from_ts(claims["exp"]))),
    )
    return Issued(_sign(state, claims), claims)


def issue_service(state: Any, client: dict[str, Any], scopes: list[str], lifetime: int) -> Issued:
    """Sign a service (client-credentials) token."""
    claims = _base_claims(client["client_id"], lifetime)
    claims.update(type="service", scopes=scopes, client_id=client["client_id"],
                  is_trusted=bool(client["is_trusted"]))
    return Issued(_sign(state, claims), claims)


def _from_ts(ts: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


def _b64json(part: str) -> dict[str, Any]:
    padded = part + "=" * (-len(part) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def decode(state: Any, token: str, *, bearer: bool, check_revocation: bool = True) -> dict[str, Any]:
    """Validate a JWT and return its claims, or raise TokenError with the reason.

    Checks, in order: format, algorithm (HS256 only), signature, ``exp``, ``nbf``/``iat``, ``iss``, ``aud``,
    revocation list. Token *type*, session and subject checks are the caller's.
    """
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise TokenError("Invalid token format")
    try:
        header = _b64json(parts[0])
        unverified = _b64json(parts[1])
    except (ValueError, UnicodeError):
        raise TokenError("Invalid token format") from None
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        if not (bearer and fault(state, "alg_none_accepted") and parts[2] == ""):
            raise TokenError("Invalid token algorithm")
        claims = unverified
    elif alg != ALGORITHM:
        raise TokenError("Invalid token algorithm")
    elif bearer and fault(state, "signature_not_verified"):
        claims = unverified
    else:
        try:
            claims = jwt.decode(token, state.jwt_secret, algorithms=[ALGORITHM],
                                options={"verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False, "verify_aud": False,
                                         "verify_iss": False})
        except jwt.InvalidSignatureError:
            raise TokenError("Invalid token signature") from None
        except jwt.PyJWTError:
            raise TokenError("Invalid token") from None
    now = time.time()
    exp = claims.get("exp")
    if exp is None and bearer and fault(state, "exp_not_required"):
        pass  # D31: a token without expiry never expires
    elif not isinstance(exp, int | float):
        raise TokenError("Invalid token: missing expiry")
    elif exp <= now and not (bearer and fault(state, "expired_token_accepted")):
        raise TokenError("Token has expired")
    if not (bearer and fault(state, "nbf_not_checked")):
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, int | float) or value > now + LEEWAY):
                raise TokenError("Token is not yet valid")
    if claims.get("iss") != ISSUER and not (bearer and fault(state, "issuer_not_checked")):
        raise TokenError("Invalid token issuer")
    # A.4 does not promise an audience check (D6 records that Permiso skips it); a security reviewer
    # expects it (RFC 8725 §3.9), so the reference checks that it is one of the token's audiences.
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if ISSUER not in audiences and not (bearer and fault(state, "audience_not_checked")):
        raise TokenError("Invalid token audience")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not isinstance(claims.get("sub"), str):
        raise TokenError("Invalid token claims")
    if check_revocation and is_revoked(state.db, jti):
        raise TokenError("Token has been revoked")
    return claims


def is_revoked(db: Database, jti: str) -> bool:
    """True when this token id is on the revocation list."""
    return db.scalar("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)) is not None


def revoke(db: Database, claims: dict[str, Any]) -> None:
    """Put a token id on the revocation list (refresh rows are marked revoked too)."""
    jti = claims.get("jti")
    if not isinstance(jti, str):
        return
    exp = claims.get("exp")
    db.execute(
        "INSERT OR IGNORE INTO revoked_tokens (jti, token_type, subject, expires_at, revoked_at)"
        " VALUES (?,?,?,?,?)",
        (jti, claims.get("type"), claims.get("sub"),
         to_iso(_from_ts(exp)) if isinstance(exp, int | float) else None, now_iso()),
    )
    if claims.get("type") == "refresh":
        db.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL",
                   (now_iso(), jti))


def session_is_live(db: Database, session_id: str) -> bool:
    """True while the session exists, has not been ended and has not expired."""
    row = db.one("SELECT ended_at, expires_at FROM sessions WHERE id = ?", (session_id,))
    return row is not None and row["ended_at"] is None and row["expires_at"] > now_iso()
