"""Application factory of the reference Permiso.

``create_app(settings)`` builds a FastAPI app with its own SQLite database, bootstrap data, routers
under the API base, error handlers and middleware. Everything mutable lives on ``app.state``:
``settings``, ``db``, ``faults`` (frozenset, read at request time), ``jwt_secret``, ``dummy_hash``
(for timing-safe unknown-user checks) and ``started_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from permiso_reference import __version__
from permiso_reference.config import ReferenceSettings
from permiso_reference.db import Database, bootstrap, hash_secret, now_iso
from permiso_reference.errors import (
    BARE_KEY,
    ASGIApp,
    Receive,
    Scope,
    SecurityHeadersMiddleware,
    Send,
    install_error_handlers,
)
from permiso_reference.faults import fault, validate_faults
from permiso_reference.profiles import apply_profile
from permiso_reference.release import ReleaseGuardMiddleware, route_table
from permiso_reference.routers import admin, auth, roles, service_clients, sessions, users

SERVICE_NAME = "permiso-auth"


class AuthRateLimitMiddleware:
    """Token bucket per client IP on ``<api>/auth/*``, like the nginx front (503 HTML rejections).

    Off unless ``settings.auth_rate_limit`` is set; the ``rate_limit_off`` fault disables it.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.state = fastapi_app.state
        self.buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rate = self.state.settings.auth_rate_limit
        if (scope["type"] == "http" and rate and "rate_limit_off" not in self.state.faults
                and scope["path"].startswith(self.state.settings.api_base + "/auth/")):
            client = (scope.get("client") or ("unknown", 0))[0]
            burst = 2 * rate
            tokens, stamp = self.buckets.get(client, (burst, time.monotonic()))
            moment = time.monotonic()
            tokens = min(burst, tokens + (moment - stamp) * rate)
            if tokens < 1:
                self.buckets[client] = (tokens, moment)
                if "rate_limit_503_bare" in self.state.faults:
                    scope[BARE_KEY] = "hsts"  # F1: the front's own pages carry HSTS only
                body = (b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
                        b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
                        b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"text/html"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            self.buckets[client] = (tokens - 1, moment)
        await self.app(scope, receive, send)


#: Where FastAPI publishes the API's own description; a production deployment serves none of them (D17).
DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


class DocsGateMiddleware:
    """In production the API description is not public: its addresses answer the ordinary 404.

    A security reviewer's reading of D17 (the contract only says ``/openapi.json`` exists, which holds
    for every non-production environment). The ``docs_public_in_production`` fault serves them anyway.
    Sits inside ``SecurityHeadersMiddleware``, so the 404 carries the security headers like any answer.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.state = fastapi_app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] in DOCS_PATHS
                and self.state.settings.environment == "production"
                and "docs_public_in_production" not in self.state.faults):
            await JSONResponse({"detail": "Not Found"}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: ReferenceSettings | None = None) -> FastAPI:
    """Build the reference app (database created and bootstrapped immediately)."""
    settings = apply_profile(settings or ReferenceSettings())
    faults = validate_faults(settings.faults)
    db = Database(settings.db_path)
    bootstrap(db, admin=(settings.admin_username, settings.admin_password, settings.admin_email),
              user=(settings.user_username, settings.user_password, settings.user_email),
              client=(settings.client_id, settings.client_secret), rounds=settings.bcrypt_rounds,
              hashing=settings.hashing)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="Permiso (reference)", version=__version__, redirect_slashes=False,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    app.state.faults = faults
    app.state.jwt_secret = settings.jwt_secret or secrets.token_urlsafe(48)
    app.state.dummy_hash = hash_secret("dummy-password-for-timing", settings.bcrypt_rounds, settings.hashing)
    app.state.started_at = now_iso()
    app.state.scope_snapshots = {}
    app.state.started_monotonic = time.monotonic()

    install_error_handlers(app)
    app.add_middleware(ReleaseGuardMiddleware, fastapi_app=app)  # innermost: D1/D13 of the release
    app.add_middleware(DocsGateMiddleware, fastapi_app=app)  # D17: no API description in production
    app.add_middleware(AuthRateLimitMiddleware, fastapi_app=app)
    app.add_middleware(SecurityHeadersMiddleware, fastapi_app=app)

    base = settings.api_base.rstrip("/")
    app.state.route_table = route_table(base, {"/auth": auth.router, "/users": users.router,
                                               "/roles": roles.router, "/service-clients": service_clients.router,
                                               "/sessions": sessions.router, "/admin": admin.router})
    app.include_router(auth.router, prefix=f"{base}/auth", tags=["auth"])
    app.include_router(users.router, prefix=f"{base}/users", tags=["users"])
    app.include_router(roles.router, prefix=f"{base}/roles", tags=["roles"])
    app.include_router(service_clients.router, prefix=f"{base}/service-clients", tags=["service-clients"])
    app.include_router(sessions.router, prefix=f"{base}/sessions", tags=["sessions"])
    app.include_router(admin.router, prefix=f"{base}/admin", tags=["admin"])

    @app.get("/health", tags=["health"])
    async def health(request: Request) -> JSONResponse:
        """Liveness: cheap on purpose (the suite's p50 budget); database ping is a ``SELECT 1``."""
        if fault(request, "slow_health"):
            await asyncio.sleep(0.15)
        db_ok = request.app.state.db.ping()
        return JSONResponse({
            "status": "healthy" if db_ok else "degraded",
            "service": SERVICE_NAME,
            "version": __version__,
            "environment": settings.environment,
            "components": {"database": "healthy" if db_ok else "unhealthy",
                           "cache": "healthy", "jwt_service": "healthy"},
        })

    @app.get("/", tags=["health"])
    async def root() -> dict[str, Any]:
        """Service banner with links."""
        return {"message": "Permiso authentication service (reference implementation)",
                "version": __version__, "docs": "/docs", "health": "/health"}

    return app
