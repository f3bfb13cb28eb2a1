"""Error shapes of contract A.11, their FastAPI handlers, and the security-headers middleware.

How to use it in a router: raise one of the exceptions, never build error JSON by hand::

    from permiso_reference.errors import ApiError, http_error, named_error, not_found, conflict
    raise not_found("Role not found")                 # 404 {"error": "not_found", ...}
    raise conflict("Role name already exists")        # 409 {"error": "conflict", ...}
    raise named_error(400, "invalid_secret", "Current secret is wrong")
    raise http_error(403, "Access denied")            # {"error": "http_error", ...}
    raise oauth_error(401, "invalid_grant", "...")    # token endpoints (A.3 shape)

Request validation (pydantic bodies / query params) is turned into the 422 shape automatically,
without echoing submitted values. Any other exception becomes a bare 500 with no details.

``SecurityHeadersMiddleware`` is a raw ASGI middleware (cheap enough for the health budget) that adds
the A.1 headers to every response including errors, HSTS only on HTTPS, enforces a body-size limit,
turns uncaught exceptions into the A.11 500 shape, and hosts the header-related faults.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from permiso_reference.faults import fault

log = logging.getLogger("permiso_reference")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1_000_000

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"x-xss-protection", b"1; mode=block"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"geolocation=(), microphone=(), camera=()"),
)
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class ApiError(Exception):
    """An error answer: status, error code, description, optional extra body fields and headers.

    ``oauth=True`` gives the token-endpoint shape (adds ``error_code``, ``status_code``, ``details``).
    401s always get ``WWW-Authenticate: Bearer`` (the middleware strips it under a fault).
    """

    def __init__(self, status: int, error: str, description: str, *, oauth: bool = False,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.oauth = oauth
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        if status == 401 or oauth:
            self.headers.setdefault("WWW-Authenticate", "Bearer")

    def body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        body: dict[str, Any] = {"error": self.error, "error_description": self.description}
        if self.oauth:
            body.update(error_code=self.error, status_code=self.status, details={})
        body.update(self.extra)
        return body

    def response(self) -> JSONResponse:
        """Render as a JSONResponse."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def http_error(status: int, description: str, **headers: str) -> ApiError:
    """``{"error": "http_error", ...}`` (guards, generic refusals)."""
    return ApiError(status, "http_error", description, headers={k.replace("_", "-"): v
                                                                for k, v in headers.items()})


def named_error(status: int, error: str, description: str, **extra: Any) -> ApiError:
    """``{"error": <error>, "error_description": ...}`` plus optional extra fields."""
    return ApiError(status, error, description, extra=extra)


def oauth_error(status: int, error: str, description: str, **extra: Any) -> ApiError:
    """Token-endpoint error (A.3 shape, always with ``WWW-Authenticate: Bearer``)."""
    return ApiError(status, error, description, oauth=True, extra=extra)


def not_found(description: str = "Not found") -> ApiError:
    """404 ``not_found``."""
    return named_error(404, "not_found", description)


def conflict(description: str) -> ApiError:
    """409 ``conflict``."""
    return named_error(409, "conflict", description)


class DetailError(ApiError):
    """FastAPI's default ``{"detail": <text>}`` shape (the ``detail_shape_errors`` fault, Part D.4)."""

    def body(self) -> dict[str, Any]:
        return {"detail": self.description}


def detail_or(request: Request, name: str, error: ApiError, detail: str) -> ApiError:
    """``error`` as is, or in FastAPI's ``{"detail": ...}`` shape with the same status under fault ``name``."""
    return DetailError(error.status, "detail", detail) if fault(request, name) else error


#: Text of the D2 crash (Part D.2), shared by the faults that play it.
NAIVE_DATETIME_TEXT = "can't compare offset-naive and offset-aware datetimes"


def naive_datetime_error() -> ApiError:
    """The release's 500 once a lock time is compared (D2): internal_error with a traceback (D10)."""
    tb = ("Traceback (most recent call last):\n"
          '  File "/app/app/services/auth_service.py", line 212, in authenticate_user\n'
          "    if user.locked_until and user.locked_until > datetime.now(timezone.utc):\n"
          f"TypeError: {NAIVE_DATETIME_TEXT}\n")
    return ApiError(500, "internal_error", f"An internal error occurred: {NAIVE_DATETIME_TEXT}",
                    extra={"traceback": tb})


#: Scope key naming security headers (lower-case bytes) to leave off one answer (D32: the redirect port).
SKIP_KEY = "permiso.skip_headers"
#: Scope key telling SecurityHeadersMiddleware to leave headers off one answer: "all" (none at all) or
#: "hsts" (only HSTS), for faults that play answers made below or beside the app (D33, F1).
BARE_KEY = "permiso.bare_headers"


def validation_error(loc: list[str | int], msg: str, typ: str = "value_error",
                     value: Any = None, echo: bool = False, ctx: bool = False) -> JSONResponse:
    """A hand-made 422 in the validation shape (for checks done outside pydantic)."""
    item: dict[str, Any] = {"type": typ, "loc": loc, "msg": msg}
    if echo:
        item["input"] = value
    if ctx:
        item["ctx"] = {"error": msg}
    return _validation_response([item])


class ValidationFailed(Exception):
    """Raise from a handler to answer a 422 in the validation shape (one item)."""

    def __init__(self, loc: list[str | int], msg: str, value: Any = None,
                 typ: str = "value_error") -> None:
        super().__init__(msg)
        self.loc, self.msg, self.value, self.typ = loc, msg, value, typ


def _validation_response(details: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(
        {"error": "validation_error", "error_description": "Request validation failed",
         "details": details},
        status_code=422,
    )


def _safe_msg(msg: Any) -> str:
    """Pydantic messages sometimes quote the input ("... got 'xyz'"); keep only the first clause."""
    text = str(msg)
    for marker in (" [type=", ", got ", ", input_value"):
        if marker in text:
            text = text.split(marker, 1)[0]
    return text[:200]


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def internal_error_body(exc: BaseException | None, with_traceback: bool) -> dict[str, Any]:
    """The 500 body; the traceback only under the ``traceback_in_500`` fault."""
    body: dict[str, Any] = {"error": "internal_server_error",
                            "error_description": "An internal server error occurred"}
    if with_traceback and exc is not None:
        body["error_description"] = f"{type(exc).__name__}: {exc}"
        body["traceback"] = "".join(traceback.format_exception(exc))
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Register the A.11 handlers on an app."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        response = exc.response()
        if exc.status == 401 and not exc.oauth and fault(request, "bearer_401_no_challenge"):
            del response.headers["www-authenticate"]  # D9: only the OAuth 401s keep their challenge
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_exc(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404 and exc.detail in ("Not Found", None):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if exc.status_code == 405:
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                                headers=dict(exc.headers or {}))
        headers = dict(exc.headers or {})
        if exc.status_code == 401 and not fault(request, "bearer_401_no_challenge"):
            headers.setdefault("WWW-Authenticate", "Bearer")
        return JSONResponse({"error": "http_error", "error_description": str(exc.detail)},
                            status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if (fault(request, "refresh_form_500") and request.url.path.endswith("/auth/refresh")
                and "json" not in request.headers.get("content-type", "")):
            return _bytes_not_serializable(request)
        echo = fault(request, "validation_echoes_input")
        with_ctx = fault(request, "validation_ctx_exception")
        details = []
        for err in exc.errors():
            item: dict[str, Any] = {"type": str(err.get("type", "value_error")),
                                    "loc": [str(p) if not isinstance(p, int) else p
                                            for p in err.get("loc", ())],
                                    "msg": _safe_msg(err.get("msg", "Invalid value"))}
            if echo:
                item["input"] = _jsonable(err.get("input"))
            if with_ctx:
                raw_ctx = err.get("ctx") or {"error": str(err.get("msg", ""))}
                item["ctx"] = {str(k): _jsonable(v) for k, v in raw_ctx.items()}
            details.append(item)
        return _validation_response(details)

    @app.exception_handler(ValidationFailed)
    async def _validation_failed(request: Request, exc: ValidationFailed) -> JSONResponse:
        return validation_error(exc.loc, exc.msg, exc.typ, exc.value,
                                echo=fault(request, "validation_echoes_input"),
                                ctx=fault(request, "validation_ctx_exception"))


def _bytes_not_serializable(request: Request) -> JSONResponse:
    """D33 (``refresh_form_500``): the release's 422 handler chokes on the form's bytes and the 500 comes
    from below its header middleware: traceback in the body (D10), no security headers."""
    try:
        json.dumps({"input": b"refresh_token="})
    except TypeError as exc:
        body = internal_error_body(exc, True)
    request.scope[BARE_KEY] = "all"
    return JSONResponse(body, status_code=500)


class LeakyServerError(RuntimeError):
    """A deliberate crash of a fault whose 500 body must carry the traceback (D2, D10)."""


class _BodyTooLarge(Exception):
    pass


class SecurityHeadersMiddleware:
    """Raw ASGI middleware: headers of A.1, body limit, 500 shape, header faults, CORS fault."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.state = fastapi_app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.state.faults
        https = scope.get("scheme") == "https"
        origin = None
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                origin = value
            elif name == b"content-length":
                try:
                    too_big = int(value) > MAX_BODY_BYTES
                except ValueError:
                    too_big = False
                if too_big:
                    await self._send_json(send, 413, {"error": "payload_too_large",
                                                      "error_description": "Request body too large"},
                                          https, faults)
                    return

        cors = "cors_any_origin" in faults and origin is not None
        if (cors and scope["method"] == "OPTIONS"
                and any(n == b"access-control-request-method" for n, _ in scope["headers"])):
            headers = [(b"access-control-allow-origin", origin),
                       (b"access-control-allow-credentials", b"true"),
                       (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
                       (b"access-control-allow-headers", b"*"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 200,
                        "headers": self._decorate(headers, 200, https, faults)})
            await send({"type": "http.response.body", "body": b""})
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge
            return message

        started = False

        async def wrapped_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if cors:
                    headers += [(b"access-control-allow-origin", origin),
                                (b"access-control-allow-credentials", b"true")]
                bare = scope.get(BARE_KEY)
                if bare == "all":
                    message["headers"] = headers
                elif bare == "hsts":
                    message["headers"] = [*headers, HSTS] if https else headers
                else:
                    message["headers"] = self._decorate(headers, message["status"], https, faults,
                                                        skip=scope.get(SKIP_KEY, ()))
            await send(message)

        try:
            await self.app(scope, limited_receive, wrapped_send)
        except _BodyTooLarge:
            if not started:
                await self._send_json(send, 413, {"error": "payload_too_large",
                                                  "error_description": "Request body too large"},
                                      https, faults)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            self._log_error(scope, exc)
            if not started:
                await self._send_json(send, 500,
                                      internal_error_body(
                                          exc, isinstance(exc, LeakyServerError)
                                          or "traceback_in_500" in faults),
                                      https, faults)

    def _log_error(self, scope: Scope, exc: BaseException) -> None:
        db = getattr(self.state, "db", None)
        if db is None:
            return
        try:
            from permiso_reference.db import new_id, now_iso

            db.execute("INSERT INTO error_log (id, level, message, path, created_at) VALUES (?,?,?,?,?)",
                       (new_id(), "error", type(exc).__name__, scope.get("path"), now_iso()))
        except Exception:  # logging must never mask the original failure
            log.debug("could not record error", exc_info=True)

    @staticmethod
    def _decorate(headers: list[tuple[bytes, bytes]], status: int, https: bool,
                  faults: frozenset[str], skip: Any = ()) -> list[tuple[bytes, bytes]]:
        names = {n.lower() for n, _ in headers} | set(skip)
        if "missing_security_headers" not in faults:
            headers += [h for h in SECURITY_HEADERS if h[0] not in names]
        if https and "hsts_missing" not in faults:
            headers.append(HSTS)
        if "server_version_leak" in faults:
            headers += [(b"server", b"uvicorn"), (b"x-powered-by", b"FastAPI 0.110.0")]
        if "missing_www_authenticate" in faults and status == 401:
            headers = [h for h in headers if h[0].lower() != b"www-authenticate"]
        return headers

    async def _send_json(self, send: Send, status: int, body: dict[str, Any], https: bool,
                         faults: frozenset[str]) -> None:
        payload = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status,
                    "headers": self._decorate(headers, status, https, faults)})
        await send({"type": "http.response.body", "body": payload})
