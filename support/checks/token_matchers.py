"""Matchers of token answers and JWTs: the A.3 token answer and the claims of a JWT (decoded without
verifying, for inspection only).

Why a module of its own: these are the only matchers that read tokens (PyJWT); the flows and steps that
inspect a token's claims (:func:`decode_claims`) need nothing else of the matchers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt
from hamcrest.core.matcher import Matcher

from support.checks.matchers import _body, _check, _describe, _Rule, _status_problems


# ---------------------------------------------------------------------------------------- tokens
def _looks_like_jwt(value: Any) -> bool:
    return isinstance(value, str) and value.count(".") == 2 and value.startswith("eyJ")


def _is_refresh_answer(item: Any) -> bool:
    exchange = getattr(item, "exchange", None)
    return exchange is not None and urlsplit(exchange.url).path.rstrip("/").endswith("/auth/refresh")


def is_token_response(refresh: bool = True, *, session: bool | None = None) -> Matcher[Any]:
    """A.3 token answer: 200 ``{access_token, token_type: "Bearer", expires_in, refresh_token, scope,
    session_id}``, ``expires_in`` an int > 0. ``refresh=False`` for service tokens (``refresh_token``
    and ``session_id`` null). A sign-in promises a ``session_id``; a refresh answer may carry
    ``session_id: null`` (A.3), so an answer of ``/auth/refresh`` is accepted with either (``session``
    forces the choice). ``Cache-Control: no-store`` is its own rule (:func:`has_no_store`)."""

    def check(item: Any) -> list[str]:
        problems = _status_problems(item, 200)
        body = _body(item)
        if not isinstance(body, Mapping):
            return [*problems, "body is not a JSON object"]
        if not _looks_like_jwt(body.get("access_token")):
            problems.append("access_token is not a JWT")
        if body.get("token_type") != "Bearer":
            problems.append(f"token_type was {body.get('token_type')!r}, expected 'Bearer'")
        expires = body.get("expires_in")
        if not isinstance(expires, int) or isinstance(expires, bool) or expires <= 0:
            problems.append(f"expires_in was {expires!r}, expected an integer > 0")
        for key in ("refresh_token", "scope", "session_id"):
            if key not in body:
                problems.append(f"no {key} field")
        if refresh and not _looks_like_jwt(body.get("refresh_token")):
            problems.append("refresh_token is not a JWT")
        if not refresh and body.get("refresh_token") is not None:
            problems.append("a refresh_token was issued where none is expected")
        session_id = body.get("session_id")
        want_session = session if session is not None else (
            None if refresh and _is_refresh_answer(item) else refresh)
        if want_session is None:
            if session_id is not None and not isinstance(session_id, str):
                problems.append("session_id is neither a string nor null")
        elif want_session and not isinstance(session_id, str):
            problems.append("session_id is not a string")
        elif not want_session and session_id is not None:
            problems.append("a session_id was issued where none is expected")
        if body.get("scope") is not None and not isinstance(body.get("scope"), str):
            problems.append("scope is neither a space-separated text nor null")
        return problems

    kind = "with a refresh token" if refresh else "without a refresh token"
    return _Rule(f"a token answer {kind} (A.3)", check)


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded WITHOUT verifying anything (for inspection only)."""
    return jwt.decode(token, options={"verify_signature": False, "verify_exp": False,
                                      "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                                      "verify_iss": False})


def is_jwt_with_claims(**claims: Any) -> Matcher[Any]:
    """A.4: a JWT whose claims (decoded without verifying) equal or match the given values, e.g.
    ``is_jwt_with_claims(type="access", iss="permiso-auth", scopes=has_item("read:profile"))``.
    Use ``type_`` when a keyword clash bothers you; trailing underscores are dropped."""
    wanted = {name.rstrip("_"): value for name, value in claims.items()}

    def check(item: Any) -> list[str]:
        if not isinstance(item, str):
            return [f"{type(item).__name__} is not a token text"]
        try:
            payload = decode_claims(item)
        except jwt.PyJWTError as exc:
            return [f"not a decodable JWT ({type(exc).__name__})"]
        problems = []
        for name, expected in wanted.items():
            if name not in payload:
                problems.append(f"no {name!r} claim")
            elif not _check(payload[name], expected):
                problems.append(f"claim {name!r} was {payload[name]!r}, expected {_describe(expected)}")
        return problems

    shown = ", ".join(f"{k}={_describe(v)}" for k, v in wanted.items())
    return _Rule(f"a JWT with claims {shown}", check)


__all__ = [
    "decode_claims",
    "is_jwt_with_claims",
    "is_token_response",
]
