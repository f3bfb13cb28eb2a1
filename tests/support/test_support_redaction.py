"""Redaction: one mechanism masks headers, bodies, forms, URLs, JSON and free text."""

from __future__ import annotations

import json
import threading

from support.wire import redaction
from support.wire.redaction import (
    MASK,
    is_sensitive_key,
    redact_body,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
    register_secret,
)

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0."
       "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU")


def test_jwt_looking_strings_are_always_masked() -> None:
    assert redact_text(f"token was {JWT} ok") == f"token was {MASK} ok"
    assert JWT not in redact_text(json.dumps({"note": JWT}))
    unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    assert redact_text(unsigned) == MASK


def test_bearer_and_basic_credentials() -> None:
    assert redact_text("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert redact_text("basic dXNlcjpwYXNz") == "basic ***"


def test_form_fields() -> None:
    text = "username=dana&password=Hunter2%21x&grant_type=password&scope=read%3Aprofile"
    assert redact_text(text) == "username=dana&password=***&grant_type=password&scope=read%3Aprofile"
    assert "s3cr3t" not in redact_text("client_id=c1&client_secret=s3cr3t")
    assert redact_text("refresh_token=abcdef&token_type_hint=refresh_token") == \
        "refresh_token=***&token_type_hint=refresh_token"


def test_json_keys_in_text_and_structures() -> None:
    text = '{"username": "dana", "password": "P@ss\\"word1", "token_type": "Bearer", "expires_in": 900}'
    out = redact_text(text)
    assert '"password": "***"' in out and '"token_type": "Bearer"' in out and "900" in out
    obj = {"user": {"new_password": "Xx1!xxxx", "current_password": "Yy1!yyyy"},
           "client_secret": "abc", "access_token_lifetime": 3600, "scope": "read:profile",
           "items": [{"refresh_token": "r"}]}
    red = redact_json(obj)
    assert red["user"] == {"new_password": MASK, "current_password": MASK}
    assert red["client_secret"] == MASK and red["items"][0]["refresh_token"] == MASK
    assert red["access_token_lifetime"] == 3600 and red["scope"] == "read:profile"
    assert obj["client_secret"] == "abc"  # input untouched


def test_headers() -> None:
    out = redact_headers({"Authorization": "Bearer " + JWT, "Cookie": "sid=1", "X-Api-Key": "k",
                          "Content-Type": "application/json", "X-Echo": JWT})
    assert out == {"Authorization": "Bearer ***", "Cookie": MASK, "X-Api-Key": MASK,
                   "Content-Type": "application/json", "X-Echo": MASK}


def test_urls() -> None:
    assert redact_url("https://h:8443/p?token=abc&page=2&client_secret=zz") == \
        "https://h:8443/p?token=***&page=2&client_secret=***"
    assert redact_url("https://bob:pw123@h/x") == "https://bob:***@h/x"
    assert JWT not in redact_url(f"https://h/introspect/{JWT}")


def test_registered_literals_are_masked_everywhere_including_encoded_spellings() -> None:
    secret = "Lit3ral!Secret&Value"
    register_secret(secret)
    assert redact_text(f"free text {secret} here") == f"free text {MASK} here"
    assert secret not in redact_body(f"x={secret.replace('!', '%21').replace('&', '%26')}")
    assert "Lit3ral" not in redact_url("https://h/p?q=Lit3ral%21Secret%26Value")
    assert "Lit3ral" not in redact_body({"message": f"hello {secret}"})
    assert "Lit3ral" not in redact_headers({"X-Note": secret})["X-Note"]


def test_extra_secrets_argument_and_short_values_ignored() -> None:
    assert redact_text("a one-off value", ["one-off"]) == f"a {MASK} value"
    register_secret("abc")  # too short to be registered: would wreck every text
    assert redact_text("abc") == "abc"
    register_secret(None)


def test_body_rendering_of_json_text_and_bytes() -> None:
    body = json.dumps({"access_token": "opaque-value-123", "refresh_token": None}).encode()
    out = redact_body(body, "application/json")
    assert "opaque-value-123" not in out and "null" in out


def test_sensitive_key_predicate() -> None:
    for key in ("password", "client_secret", "access_token", "Authorization", "current_password",
                "refresh_token", "api_key", "new_password"):
        assert is_sensitive_key(key), key
    for key in ("token_type", "token_type_hint", "expires_in", "access_token_lifetime", "username",
                "tokens_revoked", "sessions_terminated", "scope"):
        assert not is_sensitive_key(key), key


def test_registry_is_thread_safe() -> None:
    before = redaction.registered_count()
    values = [f"thread-secret-{i:04d}-value" for i in range(200)]

    def add(chunk: list[str]) -> None:
        for v in chunk:
            register_secret(v)
            redact_text(v)

    threads = [threading.Thread(target=add, args=(values[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert redaction.registered_count() >= before + 200
    assert all(redact_text(v) == MASK for v in values)


def test_redaction_masks_credentials_after_a_scheme_not_words() -> None:
    """Prose such as "Bearer challenge" survives; anything credential-shaped after the scheme does not."""
    assert redact_text("every 401 carries a Bearer challenge") == "every 401 carries a Bearer challenge"
    assert redact_text("refresh tokens accepted as bearer access tokens") == (
        "refresh tokens accepted as bearer access tokens")
    for credential in ("abc.def", "eyJhbGciOi", "Token123", "dXNlcjpwYXNz", "a" * 20, "opaque_token"):
        assert redact_text(f"Authorization: Bearer {credential}") == "Authorization: Bearer ***", credential
    assert redact_text("Basic dXNlcjpwYXNz") == "Basic ***"
