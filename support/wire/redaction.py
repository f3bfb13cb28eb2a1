"""One masking mechanism for everything the suite may print: headers, bodies, forms, URLs, JSON, text.

Why: failure evidence (the request/response exchange) is attached to reports that many people read.
Passwords, tokens, client secrets and ``Authorization`` headers must never appear there. Rather than
trusting each caller to remember which fields are sensitive, every output path goes through these
functions, which combine three defences:

1. **Shapes**: anything that looks like a JWT (``eyJ...``), a ``Bearer``/``Basic`` credential, a form
   field or JSON key named like a password/secret/token is masked wherever it appears.
2. **Registered literals**: settings register their secrets at load; the client registers every token
   and secret it sends or receives. Those literal values (and their URL/JSON-escaped spellings) are
   masked everywhere, even in free text with no recognisable shape.
3. **Structure**: headers, URLs and JSON are walked by key, so a sensitive value is masked even when
   it does not look like anything.

The registry is process-wide and thread-safe (load runs and parallel hooks share it).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

MASK = "***"

#: literals shorter than this are not registered: masking "abc" everywhere would wreck the evidence,
#: and no credential of this project is that short (passwords are 8+ by policy).
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] | None = None

_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|cookie|api[-_]?key|credential|private[-_]?key|"
    r"signature|otp",
    re.IGNORECASE,
)
#: keys that contain a sensitive word but describe, not carry, a credential
_HARMLESS_KEY = re.compile(
    r"type|hint|lifetime|expires|_at$|count|_url$|revoked|terminated|^scope", re.IGNORECASE
)
_SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_\-+/=]*)?")
# A credential after the scheme, but not an ordinary word: "Bearer challenge" or "bearer access tokens" is
# prose, not a secret. A value of only lower-case letters, shorter than 20, is taken for a word; every
# token the suite sends or receives is also registered as a literal, so a short one is masked anyway.
_AUTH_SCHEME_RE = re.compile(r"\b(Bearer|Basic|Digest)(\s+)(?!(?-i:[a-z]{1,19})(?![^\s\"',;&]))[^\s\"',;&]+",
                             re.IGNORECASE)
_KEY_NAME = r"[A-Za-z0-9_.\-\[\]]*"
_FORM_FIELD_RE = re.compile(rf"(?P<key>(?<![A-Za-z0-9_]){_KEY_NAME})=(?P<value>[^&\s\"'<>]*)")
_JSON_PAIR_RE = re.compile(
    r"(?P<head>\"(?P<key>[^\"\\]{1,80})\"\s*:\s*)(?P<value>\"(?:[^\"\\]|\\.)*\")"
)
# The look-behind anchors the scheme at a word start and the bound keeps it short: without them a long
# run of letters is tried from every position (quadratic: 10 000 letters took 0.8 s, 2 MB never ended).
_URL_USERINFO_RE = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]{0,31}://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@",
    re.IGNORECASE,
)


def is_sensitive_key(key: str) -> bool:
    """True when a header/field/JSON key carries a credential (``password``, ``client_secret`` ...)."""
    return bool(_SENSITIVE_KEY.search(key)) and not _HARMLESS_KEY.search(key)


def _variants(value: str) -> set[str]:
    out = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    return {v for v in out if len(v) >= MIN_SECRET_LENGTH}


def register_secret(value: Any) -> None:
    """Add a literal (str or ``SecretStr``) to the process-wide set masked in every output.

    JWT-shaped values are masked by their shape anyway and are not stored, which keeps the literal set
    small even when a long run receives thousands of tokens.
    """
    if value is None:
        return
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    value = str(value)
    if len(value) < MIN_SECRET_LENGTH or JWT_RE.fullmatch(value):
        return
    global _ordered
    with _lock:
        new = _variants(value) - _secrets
        if new:
            _secrets.update(new)
            _ordered = None


def registered_count() -> int:
    """How many literal spellings are registered (for tests and diagnostics; never the values)."""
    with _lock:
        return len(_secrets)


def _registered_literals() -> tuple[str, ...]:
    """Registered spellings, longest first (so a secret containing another is masked whole)."""
    global _ordered
    with _lock:
        if _ordered is None:
            _ordered = tuple(sorted(_secrets, key=len, reverse=True))
        return _ordered


def _mask_literals(text: str, extra: Iterable[str]) -> str:
    extras = {v for s in extra if s for v in _variants(str(s)) | {str(s)}}
    literals = sorted(extras, key=len, reverse=True) + list(_registered_literals()) if extras \
        else _registered_literals()
    for literal in literals:
        if literal and literal in text:
            text = text.replace(literal, MASK)
    return text


def _mask_form_field(match: re.Match[str]) -> str:
    key = match.group("key")
    if is_sensitive_key(key) and match.group("value"):
        return f"{key}={MASK}"
    return match.group(0)


def _mask_json_pair(match: re.Match[str]) -> str:
    if is_sensitive_key(match.group("key")):
        return f'{match.group("head")}"{MASK}"'
    return match.group(0)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask JWTs, ``Bearer x``, sensitive form fields and JSON pairs, and every registered literal."""
    if not text:
        return text
    text = _mask_literals(str(text), secrets)
    text = JWT_RE.sub(MASK, text)
    text = _AUTH_SCHEME_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _JSON_PAIR_RE.sub(_mask_json_pair, text)
    text = _FORM_FIELD_RE.sub(_mask_form_field, text)
    text = _URL_USERINFO_RE.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", text)
    return text


def redact_headers(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
                   secrets: Iterable[str] = ()) -> dict[str, str]:
    """A plain dict copy with credential headers masked (``Authorization: Bearer ***``)."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    secrets = tuple(secrets)
    out: dict[str, str] = {}
    for name, value in items:
        text = "" if value is None else str(value)
        lower = str(name).lower()
        if lower in ("authorization", "proxy-authorization"):
            scheme, _, rest = text.partition(" ")
            out[name] = f"{scheme} {MASK}" if rest else MASK
        elif lower in _SENSITIVE_HEADERS or is_sensitive_key(lower):
            out[name] = MASK
        else:
            out[name] = redact_text(text, secrets)
    return out


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """Mask sensitive query parameters, userinfo passwords, JWTs and literals in a URL."""
    if not url:
        return url
    secrets = tuple(secrets)
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url, secrets)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else netloc
    query = _FORM_FIELD_RE.sub(_mask_form_field, parts.query) if parts.query else parts.query
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return redact_text(rebuilt, secrets)


def redact_json(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A deep copy of parsed JSON with values of sensitive keys masked and all strings redacted."""
    secrets = tuple(secrets)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str) and is_sensitive_key(key) and isinstance(value, str) and value:
                out[key] = MASK
            else:
                out[key] = redact_json(value, secrets)
        return out
    if isinstance(obj, list | tuple):
        return [redact_json(v, secrets) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj, secrets)
    return obj


def redact_body(body: Any, content_type: str | None = None, secrets: Iterable[str] = ()) -> str:
    """Render any request/response body (bytes, str, dict, form) as redacted text."""
    secrets = tuple(secrets)
    if body is None:
        return ""
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, Mapping | list | tuple):
        try:
            return json.dumps(redact_json(body, secrets), indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return redact_text(str(body), secrets)
    text = str(body)
    if (content_type and "json" in content_type.lower()) or text[:1] in "{[":
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            return json.dumps(redact_json(parsed, secrets), indent=2, ensure_ascii=False)
    return redact_text(text, secrets)


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Dispatch on type: mappings and lists as JSON, strings as text; anything else unchanged."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping | list | tuple):
        return redact_json(value, secrets)
    return value
