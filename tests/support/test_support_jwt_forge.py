"""jwt_forge: every forgery decodes as intended and differs from the genuine token in one way only."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from support.wire import jwt_forge
from support.wire.jwt_forge import SigningForge, claims_of, header_of, split, verify

SECRET = "server-signing-secret-for-unit-tests-0123456789"


@pytest.fixture
def genuine() -> str:
    now = int(time.time())
    claims = {"iss": "permiso-auth", "aud": ["permiso-auth"], "sub": str(uuid.uuid4()), "exp": now + 900,
              "iat": now, "nbf": now, "jti": str(uuid.uuid4()), "type": "access",
              "scopes": ["read:profile"], "roles": ["user"], "username": "dana",
              "email": "dana@example.com", "is_superuser": False, "sid": str(uuid.uuid4())}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_genuine_fixture_verifies(genuine: str) -> None:
    assert verify(genuine, SECRET, audience="permiso-auth")["username"] == "dana"


def test_alg_none(genuine: str) -> None:
    forged = jwt_forge.alg_none(genuine)
    assert forged.endswith(".") and header_of(forged)["alg"] == "none"
    assert claims_of(forged) == claims_of(genuine)
    assert claims_of(jwt_forge.alg_none(genuine, is_superuser=True))["is_superuser"] is True
    with pytest.raises(jwt.PyJWTError):
        verify(forged, SECRET)


def test_strip_signature(genuine: str) -> None:
    forged = jwt_forge.strip_signature(genuine)
    assert forged == genuine.rsplit(".", 1)[0] + "."
    assert header_of(forged)["alg"] == "HS256"


def test_tamper_keeps_old_signature(genuine: str) -> None:
    forged = jwt_forge.tamper(genuine)
    assert forged.split(".")[2] == genuine.split(".")[2]
    claims = claims_of(forged)
    assert claims["is_superuser"] is True and "admin:system" in claims["scopes"]
    assert claims_of(jwt_forge.tamper(genuine, sub="someone-else"))["sub"] == "someone-else"
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, SECRET)


def test_wrong_key(genuine: str) -> None:
    other_key = "not-the-server-key-but-long-enough-0123456789"
    forged = jwt_forge.wrong_key(genuine, key=other_key)
    assert claims_of(forged) == claims_of(genuine)
    assert jwt.decode(forged, other_key, algorithms=["HS256"], audience="permiso-auth")
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, SECRET)
    assert jwt_forge.wrong_key(genuine) != jwt_forge.wrong_key(genuine)  # random key each time


def test_alg_confusion_uses_pem_text_as_hmac_key(genuine: str) -> None:
    pem = jwt_forge.public_key_pem()
    forged = jwt_forge.alg_confusion(genuine, pem)
    assert header_of(forged)["alg"] == "HS256"
    head, payload, sig = forged.split(".")
    import hashlib
    import hmac

    expected = hmac.new(pem.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert jwt_forge.b64url_decode(sig) == expected
    serialization.load_pem_public_key(pem.encode())  # it really is a public key


@pytest.mark.parametrize(("fn", "alg"), [(jwt_forge.rs256_fresh, "RS256"), (jwt_forge.es256_fresh, "ES256")])
def test_asymmetric_tokens_with_fresh_keys(genuine: str, fn: object, alg: str) -> None:
    forged = fn(genuine)  # type: ignore[operator]
    assert header_of(forged)["alg"] == alg
    assert claims_of(forged) == claims_of(genuine)
    with pytest.raises(jwt.PyJWTError):
        verify(forged, SECRET)


def test_without_key_catalogue_all_fail_verification(genuine: str) -> None:
    for name, fn in jwt_forge.WITHOUT_KEY.items():
        forged = fn(genuine)
        assert forged != genuine, name
        with pytest.raises(jwt.PyJWTError):
            verify(forged, SECRET)


def test_malformed_strings() -> None:
    assert jwt_forge.malformed("empty") == ""
    assert jwt_forge.malformed("three dots") == "..."
    huge = jwt_forge.malformed("huge")
    assert len(huge) == 16 * 1024 and huge.startswith("eyJ")
    with pytest.raises(KeyError, match="known"):
        jwt_forge.malformed("nope")
    for value in jwt_forge.MALFORMED.values():
        with pytest.raises((jwt.PyJWTError, ValueError)):
            verify(value, SECRET)


def test_signing_forge_breaks_exactly_one_rule(genuine: str) -> None:
    forge = SigningForge(SECRET)
    control = forge.genuine_copy(genuine)
    assert verify(control, SECRET, audience="permiso-auth")["sub"] == claims_of(genuine)["sub"]
    assert claims_of(control)["jti"] != claims_of(genuine)["jti"]

    with pytest.raises(jwt.ExpiredSignatureError):
        verify(forge.expired(genuine), SECRET, audience="permiso-auth")
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(forge.not_yet_valid(genuine), SECRET, audience="permiso-auth")
    with pytest.raises(jwt.InvalidIssuerError):
        verify(forge.wrong_issuer(genuine), SECRET, audience="permiso-auth")
    with pytest.raises(jwt.InvalidAudienceError):
        verify(forge.wrong_audience(genuine), SECRET, audience="permiso-auth")
    wrong_type = forge.wrong_type(genuine)
    assert verify(wrong_type, SECRET, audience="permiso-auth")["type"] == "refresh"
    assert claims_of(forge.wrong_type(wrong_type))["type"] == "access"
    assert "exp" not in claims_of(forge.without(genuine, "exp"))
    # everything else unchanged
    expired = claims_of(forge.expired(genuine))
    for key in ("sub", "scopes", "roles", "username", "type", "iss", "sid"):
        assert expired[key] == claims_of(genuine)[key]
    assert split(forge.expired(genuine))[0]["alg"] == "HS256"


def test_signing_forge_needs_a_key() -> None:
    with pytest.raises(ValueError, match="PERMISO_JWT_SECRET"):
        SigningForge("")
