"""Hostile tokens built from a genuine one, for the forged-token scenarios (contract A.4).

Why: "the server refuses forged tokens" is only a meaningful claim if each forgery differs from a
genuine token in exactly one way. Every function here starts from a real token the target issued and
changes one thing: the algorithm, the signature, one claim, or the key. Claims other than the ones
changed are kept, so a refusal can only be due to the change.

Two families:

- **Without the server's key** (always available): ``alg: none``, signature stripped, payload
  tampered under the old signature, HS256 with a wrong key, HS256 keyed with a public-key PEM
  (algorithm confusion), RS256/ES256 with fresh key pairs, malformed strings.
- **With the server's key** (``PERMISO_JWT_SECRET``, scenarios tagged ``@needs.signing_key``):
  correctly signed tokens that are expired, not yet valid, from another issuer, for another audience,
  or of another type - the only honest way to test those checks without waiting.

Every forged token is registered with redaction (JWT shapes are masked anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.wire import redaction

DEFAULT_ISSUER = "permiso-auth"
HOUR = 3600


# ---------------------------------------------------------------------------------------- encoding
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_part(obj: Mapping[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """``(header, payload, signature_part)`` of a JWT, without verifying anything."""
    head, payload, signature = token.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(payload)), signature


def header_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def claims_of(token: str) -> dict[str, Any]:
    return split(token)[1]


def _hs256(header: Mapping[str, Any], payload: Mapping[str, Any], key: bytes) -> str:
    signing_input = f"{_json_part(header)}.{_json_part(payload)}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return _register(f"{signing_input}.{b64url(signature)}")


def _register(token: str) -> str:
    redaction.register_secret(token)
    return token


def _changed(payload: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply claim changes; a value of ``None`` removes the claim."""
    out = dict(payload)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------- no key
def alg_none(token: str, **changes: Any) -> str:
    """Header ``{"alg": "none"}``, the same (or changed) claims, empty signature."""
    header, payload, _ = split(token)
    header = {**header, "alg": "none"}
    return _register(f"{_json_part(header)}.{_json_part(_changed(payload, changes))}.")


def strip_signature(token: str) -> str:
    """The genuine header and payload with the signature removed (``h.p.``)."""
    head, payload, _ = token.split(".")
    return _register(f"{head}.{payload}.")


def tamper(token: str, **changes: Any) -> str:
    """Claims changed (default: ``is_superuser: true`` and an extra admin scope), old signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    if not changes:
        changes = {"is_superuser": True,
                   "scopes": [*claims.get("scopes", []), "admin:system"]}
    return _register(f"{header}.{_json_part(_changed(claims, changes))}.{signature}")


def wrong_key(token: str, key: str | None = None, **changes: Any) -> str:
    """Correct HS256 structure, signed with a key that is not the server's."""
    header, payload, _ = split(token)
    return _hs256({**header, "alg": "HS256"}, _changed(payload, changes),
                  (key or secrets.token_urlsafe(32)).encode())


def public_key_pem() -> str:
    """A fresh RSA public key as PEM text (what an attacker might find published)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def alg_confusion(token: str, pem: str | None = None, **changes: Any) -> str:
    """HS256 keyed with the text of a public-key PEM (the RS/HS algorithm-confusion attack)."""
    header, payload, _ = split(token)
    return _hs256({**header, "alg": "HS256"}, _changed(payload, changes), (pem or public_key_pem()).encode())


def rs256_fresh(token: str, **changes: Any) -> str:
    """The same claims signed RS256 with a freshly generated RSA key (the server only accepts HS256)."""
    _, payload, _ = split(token)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _register(jwt.encode(_changed(payload, changes), key, algorithm="RS256"))


def es256_fresh(token: str, **changes: Any) -> str:
    """The same claims signed ES256 with a freshly generated P-256 key."""
    _, payload, _ = split(token)
    key = ec.generate_private_key(ec.SECP256R1())
    return _register(jwt.encode(_changed(payload, changes), key, algorithm="ES256"))


#: hostile forgeries that need no key: name -> function(token) -> forged token
WITHOUT_KEY = {
    "alg none": alg_none,
    "signature stripped": strip_signature,
    "tampered payload": tamper,
    "wrong key": wrong_key,
    "algorithm confusion": alg_confusion,
    "RS256 with a foreign key": rs256_fresh,
    "ES256 with a foreign key": es256_fresh,
}


# ---------------------------------------------------------------------------------------- malformed
def _huge(size: int = 16 * 1024) -> str:
    head = _json_part({"alg": "HS256", "typ": "JWT"})
    filler = b64url(b"A" * ((size - len(head) - 2) * 3 // 4))
    return (f"{head}.{filler}.")[:size]


MALFORMED: dict[str, str] = {
    "empty": "",
    "garbage": "this-is-not-a-token",
    "three dots": "...",
    "two parts": "eyJhbGciOiJIUzI1NiJ9.e30",
    "not base64": "eyJ!!!.@@@.###",
    "huge": _huge(),
}


def malformed(name: str) -> str:
    """A malformed token by name (``empty``, ``garbage``, ``three dots``, ``huge`` ...)."""
    try:
        return MALFORMED[name]
    except KeyError:
        raise KeyError(f"unknown malformed token {name!r}; known: {', '.join(MALFORMED)}") from None


# ---------------------------------------------------------------------------------------- with key
class SigningForge:
    """Correctly signed tokens (the server's HS256 key) that break exactly one time/issuer/type rule."""

    def __init__(self, secret: str, issuer: str = DEFAULT_ISSUER) -> None:
        if not secret:
            raise ValueError("a signing key is needed (PERMISO_JWT_SECRET)")
        redaction.register_secret(secret)
        self._key = secret.encode()
        self.issuer = issuer

    def sign(self, token: str | Mapping[str, Any], **changes: Any) -> str:
        """Re-sign ``token``'s claims (or a claims mapping) with the server key, with a fresh ``jti``."""
        if isinstance(token, str):
            header, payload, _ = split(token)
        else:
            header, payload = {"typ": "JWT"}, dict(token)
        payload = _changed(payload, {"jti": str(uuid.uuid4()), **changes})
        return _hs256({**header, "alg": "HS256", "typ": "JWT"}, payload, self._key)

    def genuine_copy(self, token: str) -> str:
        """Positive control: the same claims re-signed correctly (must be accepted)."""
        return self.sign(token)

    def expired(self, token: str, seconds_ago: int = HOUR) -> str:
        now = int(time.time())
        return self.sign(token, iat=now - seconds_ago - HOUR, nbf=now - seconds_ago - HOUR,
                         exp=now - seconds_ago)

    def not_yet_valid(self, token: str, seconds_ahead: int = HOUR) -> str:
        now = int(time.time())
        return self.sign(token, iat=now + seconds_ahead, nbf=now + seconds_ahead,
                         exp=now + seconds_ahead + HOUR)

    def wrong_issuer(self, token: str, issuer: str = "evil-issuer") -> str:
        return self.sign(token, iss=issuer)

    def wrong_audience(self, token: str, audience: str = "another-service") -> str:
        return self.sign(token, aud=[audience])

    def wrong_type(self, token: str, token_type: str | None = None) -> str:
        """``type`` switched: access -> refresh, anything else -> access (or as given)."""
        current = claims_of(token).get("type")
        new = token_type or ("refresh" if current == "access" else "access")
        return self.sign(token, type=new)

    def without(self, token: str, claim: str) -> str:
        """The token with one claim removed (e.g. ``exp``), correctly signed."""
        return self.sign(token, **{claim: None})


def verify(token: str, secret: str, *, issuer: str = DEFAULT_ISSUER, audience: str | None = None
           ) -> dict[str, Any]:
    """Verify like the contract says the server does (HS256, exp, nbf, iat, iss); for self-checks."""
    options = {"require": ["exp", "iat"], "verify_aud": audience is not None}
    return jwt.decode(token, secret, algorithms=["HS256"], issuer=issuer, audience=audience,
                      options=options)  # type: ignore[arg-type]
