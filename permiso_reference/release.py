"""Guards of the current Permiso release (contract Part D.1), played by faults at the ASGI level.

The release's admin guard is a dependency with a ``current_user`` *query* parameter (D1): FastAPI
validates it before the token is ever looked at, so every admin-only route answers 422
``query.current_user`` missing to anyone, and 500 "Role check failed" once the parameter is given. Its
scope guard reads the scopes from a JSON body field ``token_payload`` the caller writes. Role and scope
ids are typed as integers (D13), which also captures ``/roles/stats`` and ``/roles/defaults``.

These are path-level behaviours, so they live in one raw ASGI middleware (innermost, so the security
headers and the 500 handling still apply) instead of being spread over the routers. Each is off unless
its fault is on: ``admin_guard_query_param``, ``scope_guard_trusts_body``, ``role_ids_integer``.
A request let in by a trusted body carries the body's scopes under :data:`TRUSTED_SCOPES_KEY` in its
ASGI scope; ``guards.require_scope`` / ``require_admin_or_scope`` honour it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import compile_path

from permiso_reference.errors import ASGIApp, Message, Receive, Scope, Send

#: ASGI scope key: the scopes a caller-written ``token_payload`` granted (scope_guard_trusts_body).
TRUSTED_SCOPES_KEY = "permiso.trusted_scopes"

#: Admin-only routes of Part D.1 (paths below the API base; a trailing "*" is a prefix).
ADMIN_ONLY = ("/roles/*", "/service-clients/*", "/admin/dashboard/stats", "/admin/system/health",
              "/admin/maintenance/cleanup", "/admin/maintenance/backup", "/admin/reports/usage")
#: Scope-guarded routes of Part D.1 and the scope each one asks for.
SCOPE_GUARDED: dict[str, str] = {
    "/admin/security/events": "admin:security",
    "/admin/audit/activity": "admin:audit",
    "/admin/config/reload": "admin:system",
    "/admin/logs/errors": "admin:logs",
    "/roles/permissions/check": "admin:permissions",
    "/roles/permissions/check-bulk": "admin:permissions",
    "/roles/permissions/user/{user_id}": "admin:permissions",
    "/sessions/stats": "admin:sessions",
    "/sessions/cleanup": "admin:sessions",
}
#: Static role routes the release's integer ``/{role_id}`` route captures (D13).
CAPTURED_BY_ROLE_ID = ("/roles/stats", "/roles/defaults")
INT_MSG = "Input should be a valid integer, unable to parse string as an integer"


RouteEntry = tuple[re.Pattern[str], set[str], str]


def route_table(base: str, routers: dict[str, Any]) -> list[RouteEntry]:
    """(regex, methods, path below the API base) of every API route, in declaration order.

    Built from the routers and their prefixes (``{"/roles": roles.router, ...}``) rather than from the
    app's router, whose included routers are resolved lazily (FastAPI internals).
    """
    table: list[RouteEntry] = []
    for prefix, router in routers.items():
        for route in router.routes:
            path = prefix + getattr(route, "path", "")
            regex, _, _ = compile_path(base + path)
            table.append((regex, set(getattr(route, "methods", None) or ()), path))
    return table


def _is_int(text: str) -> bool:
    return text.isascii() and text.lstrip("-").isdigit()


class ReleaseGuardMiddleware:
    """Raw ASGI middleware playing the D1/D13 guards of the release when their faults are on."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.state = fastapi_app.state

    def _route(self, scope: Scope) -> tuple[str, dict[str, Any]] | None:
        """The matched route's path (below the API base) and path parameters, or None (404/405 as usual)."""
        table: list[RouteEntry] = getattr(self.state, "route_table", [])
        for regex, methods, path in table:
            match = regex.match(scope["path"])
            if match is None:
                continue
            if methods and scope["method"] not in methods:
                continue  # maybe another route with the same path takes this method
            return path, match.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.state.faults
        if scope["type"] != "http" or not faults & {"admin_guard_query_param", "scope_guard_trusts_body",
                                                     "role_ids_integer"}:
            await self.app(scope, receive, send)
            return
        found = self._route(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        path, params = found
        echo = "validation_echoes_input" in faults
        int_errors = self._int_errors(path, params, scope, echo) if "role_ids_integer" in faults else []
        admin_only = any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in ADMIN_ONLY)
        if path in SCOPE_GUARDED:
            admin_only = False
        if admin_only and "admin_guard_query_param" in faults:
            query = scope.get("query_string", b"").decode("latin-1")
            given = any(part.split("=", 1)[0] == "current_user" for part in query.split("&") if part)
            if not given:
                missing = {"type": "missing", "loc": ["query", "current_user"], "msg": "Field required"}
                if echo:
                    missing["input"] = None
                await self._validation(scope, receive, send, [missing, *int_errors])
                return
            # The dependency runs (and fails) before the route's own parameters are validated.
            await JSONResponse({"error": "http_error", "error_description":
                                "Role check failed: 'str' object has no attribute 'roles'"},
                               status_code=500)(scope, receive, send)
            return
        if int_errors:
            await self._validation(scope, receive, send, int_errors)
            return
        if path in SCOPE_GUARDED and "scope_guard_trusts_body" in faults:
            await self._trusting_body(scope, receive, send, SCOPE_GUARDED[path], echo)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _int_errors(path: str, params: dict[str, Any], scope: Scope, echo: bool) -> list[dict[str, Any]]:
        """D13: role/scope path ids that are not integers, as FastAPI's int parsing reports them."""
        values: list[tuple[str, str]] = []
        if path in CAPTURED_BY_ROLE_ID and scope["method"] == "GET":
            values.append(("role_id", path.rsplit("/", 1)[1]))
        for name in ("role_id", "scope_id"):
            if path.startswith("/roles/") and name in params:
                values.append((name, str(params[name])))
        errors = []
        for name, value in values:
            if not _is_int(value):
                item: dict[str, Any] = {"type": "int_parsing", "loc": ["path", name], "msg": INT_MSG}
                if echo:
                    item["input"] = value
                errors.append(item)
        return errors

    @staticmethod
    async def _validation(scope: Scope, receive: Receive, send: Send, details: list[dict[str, Any]]) -> None:
        await JSONResponse({"error": "validation_error", "error_description": "Request validation failed",
                            "details": details}, status_code=422)(scope, receive, send)

    async def _trusting_body(self, scope: Scope, receive: Receive, send: Send, needed: str, echo: bool) -> None:
        """D1 scope guard: the scopes come from the caller's ``token_payload``; anyone with the right words."""
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        if not raw.strip():
            item: dict[str, Any] = {"type": "missing", "loc": ["body"], "msg": "Field required"}
            if echo:
                item["input"] = None
            await self._validation(scope, receive, send, [item])
            return
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        payload = body.get("token_payload") if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            item = {"type": "missing", "loc": ["body", "token_payload"], "msg": "Field required"}
            if echo:
                item["input"] = body if isinstance(body, dict | list | str | int | float) else None
            await self._validation(scope, receive, send, [item])
            return
        scopes = payload.get("scopes") if isinstance(payload.get("scopes"), list) else []
        names = [str(s) for s in scopes]
        if needed not in names and "admin:system" not in names:
            await JSONResponse({"error": "http_error", "error_description":
                                f"Permission check failed: 403: Scope '{needed}' required"},
                               status_code=500)(scope, receive, send)
            return
        scope[TRUSTED_SCOPES_KEY] = names
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
