"""Shared helpers for black-box tests of the reference Permiso server.

Everything here talks real HTTP over loopback to a :class:`permiso_reference.server.ReferenceServer`.
Nothing imports the server's internals except its public interface (``ReferenceSettings`` and
``ReferenceServer``), which ``docs/decisions.md`` fixes.

Other test modules (``test_core_smoke.py`` included) may import from here freely.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import socket
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import jwt

RUN_ID: str = secrets.token_hex(3)
_COUNTER = itertools.count(1)

API_BASE = "/api/v1"
JWT_SECRET = "reference-tests-" + "k" * 48
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "AdminPass123!"
USER_USERNAME = "testuser"
USER_PASSWORD = "TestPass123!"
CLIENT_ID = "test-client-001"
CLIENT_SECRET = "test-secret-123456789"
STRONG_PASSWORD = "Str0ng!Passw0rd"
OTHER_PASSWORD = "0ther#Secret9"
WRONG_PASSWORD = "Wr0ng!Password"

#: The lockout window used by the servers of these tests (short, so unlock can be observed).
LOCKOUT_SECONDS = 2.0
LOCKOUT_THRESHOLD = 5

#: Settings shared by every server these tests start (fast bcrypt, short lockout).
BASE_OVERRIDES: dict[str, Any] = {
    "jwt_secret": JWT_SECRET,
    "lockout_threshold": LOCKOUT_THRESHOLD,
    "lockout_seconds": LOCKOUT_SECONDS,
    "bcrypt_rounds": 4,
    # Registration is tested on dedicated servers; the shared one must not run out of budget.
    "registration_limit_per_hour": 1000,
}

SECURITY_HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "geolocation=(), microphone=(), camera=()",
}

DEFAULT_ROLE_SCOPES: dict[str, set[str]] = {
    "admin": {"admin:users", "admin:system", "admin:clients", "read:profile", "write:profile"},
    "user": {"read:profile", "write:profile"},
    "trader": {"read:profile", "write:profile", "read:trades", "write:trades"},
    "service": {"service:mt5", "service:api"},
}

T = TypeVar("T")


def unique(prefix: str = "pa") -> str:
    """Return a throwaway name ``<prefix>_<runid>_<n>`` unique in this process."""
    return f"{prefix}_{RUN_ID}_{next(_COUNTER)}"


def unique_client_id() -> str:
    """Return a throwaway service client id ``pa-<runid>-<n>``."""
    return f"pa-{RUN_ID}-{next(_COUNTER)}"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass.

    Returns the last value (truthy on success, falsy on time-out); never sleeps longer than needed.
    """
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def b64url(data: bytes) -> str:
    """Base64url without padding (JWT segment encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_unverified(token: str) -> dict[str, Any]:
    """Decode a JWT's claims without verifying anything."""
    return jwt.decode(token, options={"verify_signature": False, "verify_aud": False, "verify_exp": False})


def resign(token: str, secret: str = JWT_SECRET, **changes: Any) -> str:
    """Return ``token`` with claims changed (``None`` deletes a claim), signed HS256 with ``secret``."""
    claims = decode_unverified(token)
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return jwt.encode(claims, secret, algorithm="HS256")


def alg_none(token: str, **changes: Any) -> str:
    """Return ``token`` re-encoded with header ``alg: none`` and an empty signature."""
    claims = decode_unverified(token)
    claims.update(changes)
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}."


def bearer(token: str | None) -> dict[str, str]:
    """Authorization header for ``token`` (empty dict for ``None``)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def body_of(resp: httpx.Response) -> Any:
    """Parsed JSON body, or ``None`` when the body is not JSON."""
    try:
        return resp.json()
    except ValueError:
        return None


def describe(resp: httpx.Response) -> str:
    """One readable line for assertion messages."""
    return f"{resp.request.method} {resp.request.url.path} -> {resp.status_code} {resp.text[:400]!r}"


def assert_status(resp: httpx.Response, *expected: int) -> None:
    """Assert the status is one of ``expected``."""
    assert resp.status_code in expected, f"expected {expected}: {describe(resp)}"


def assert_error(resp: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
    """Assert an error answer: status, JSON with string ``error`` + ``error_description``, no traceback."""
    assert_status(resp, status)
    body = body_of(resp)
    assert isinstance(body, dict), f"error body is not a JSON object: {describe(resp)}"
    assert isinstance(body.get("error"), str), f"no 'error' code: {describe(resp)}"
    assert isinstance(body.get("error_description"), str), f"no 'error_description': {describe(resp)}"
    if error is not None:
        assert body["error"] == error, f"expected error {error!r}: {describe(resp)}"
    assert "Traceback" not in resp.text, describe(resp)
    return body


def assert_oauth_error(resp: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """Assert the OAuth-style error body of the token endpoints (A.3) and ``WWW-Authenticate``."""
    body = assert_error(resp, status, error)
    assert body.get("error_code") == error, describe(resp)
    assert body.get("status_code") == status, describe(resp)
    assert "details" in body, describe(resp)
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), describe(resp)
    return body


def assert_unauthorized(resp: httpx.Response) -> dict[str, Any]:
    """Assert a bearer failure: 401 ``http_error`` with ``WWW-Authenticate: Bearer``."""
    body = assert_error(resp, 401)
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), describe(resp)
    return body


def assert_validation_error(resp: httpx.Response, *secrets_not_echoed: str) -> dict[str, Any]:
    """Assert the 422 validation shape of A.11; none of ``secrets_not_echoed`` appears in the body."""
    body = assert_error(resp, 422, "validation_error")
    assert body["error_description"] == "Request validation failed", describe(resp)
    details = body.get("details")
    assert isinstance(details, list) and details, describe(resp)
    for item in details:
        assert {"type", "loc", "msg"} <= set(item), describe(resp)
        assert "input" not in item, f"422 echoes input: {describe(resp)}"
    for value in secrets_not_echoed:
        assert value not in resp.text, f"422 echoes a submitted value {value!r}: {describe(resp)}"
    return body


def assert_security_headers(resp: httpx.Response) -> None:
    """Assert the five security headers of A.1."""
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, f"header {name}={resp.headers.get(name)!r}: {describe(resp)}"


def assert_iso_utc(value: Any) -> None:
    """Assert an ISO-8601 timestamp string (UTC offset or naive)."""
    from datetime import datetime

    assert isinstance(value, str), value
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_time(value: str) -> float:
    """ISO-8601 string to a POSIX timestamp (naive means UTC)."""
    from datetime import UTC, datetime

    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def items_of(body: Any, key: str) -> list[dict[str, Any]]:
    """The list of a list answer: either a bare JSON array or ``body[key]``."""
    if isinstance(body, list):
        return body
    assert isinstance(body, dict) and isinstance(body.get(key), list), f"no list {key!r} in {body!r}"
    return body[key]


@dataclass
class User:
    """A throwaway user created by a test."""

    id: str
    username: str
    email: str
    password: str


@dataclass
class Client:
    """A throwaway service client created by a test."""

    client_id: str
    secret: str
    body: dict[str, Any]


@dataclass
class Api:
    """A thin HTTP client for one reference server (real HTTP over loopback)."""

    base_url: str
    http_url: str | None = None
    api_base: str = API_BASE
    client: httpx.Client = field(init=False)
    _admin_token: str | None = field(default=None, init=False)
    _role_ids: dict[str, str] = field(default_factory=dict, init=False)
    _scope_ids: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, verify=False, timeout=20.0, follow_redirects=False)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self.client.close()

    # -- raw calls ---------------------------------------------------------------------------
    def call(
        self, method: str, path: str, *, token: str | None = None, api: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send one request; ``path`` is relative to the API base unless ``api=False``."""
        headers = {**bearer(token), **kwargs.pop("headers", {})}
        url = (self.api_base + path) if api else path
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path`` under the API base."""
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST ``path`` under the API base."""
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        """PUT ``path`` under the API base."""
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE ``path`` under the API base."""
        return self.call("DELETE", path, **kwargs)

    # -- auth --------------------------------------------------------------------------------
    def sign_in(self, username: str, password: str, scope: str | None = None) -> httpx.Response:
        """POST /auth/token (form)."""
        data = {"username": username, "password": password}
        if scope is not None:
            data["scope"] = scope
        return self.post("/auth/token", data=data)

    def tokens(self, username: str, password: str, scope: str | None = None) -> dict[str, Any]:
        """Sign in and return the token body (asserts 200)."""
        resp = self.sign_in(username, password, scope)
        assert_status(resp, 200)
        return resp.json()

    def service_sign_in(self, client_id: str, secret: str, scope: str | None = None) -> httpx.Response:
        """POST /auth/service-token (form)."""
        data = {"client_id": client_id, "client_secret": secret}
        if scope is not None:
            data["scope"] = scope
        return self.post("/auth/service-token", data=data)

    def refresh(self, refresh_token: str) -> httpx.Response:
        """POST /auth/refresh (JSON)."""
        return self.post("/auth/refresh", json={"refresh_token": refresh_token})

    def introspect(self, token: str, *, as_token: str) -> httpx.Response:
        """POST /auth/introspect for ``token`` authenticated with ``as_token``."""
        return self.post("/auth/introspect", json={"token": token}, token=as_token)

    def revoke(self, token: str, *, as_token: str) -> httpx.Response:
        """POST /auth/revoke for ``token`` authenticated with ``as_token``."""
        return self.post("/auth/revoke", json={"token": token}, token=as_token)

    def logout(self, token: str) -> httpx.Response:
        """POST /auth/logout with ``token``."""
        return self.post("/auth/logout", token=token)

    def me(self, token: str | None) -> httpx.Response:
        """GET /users/me."""
        return self.get("/users/me", token=token)

    # -- administrator -----------------------------------------------------------------------
    @property
    def admin(self) -> str:
        """An access token of the configured administrator (signed in once)."""
        if self._admin_token is None:
            self._admin_token = self.tokens(ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"]
        return self._admin_token

    def role_id(self, name: str) -> str:
        """Id of the role named ``name``."""
        if name not in self._role_ids:
            resp = self.get("/roles/", token=self.admin)
            assert_status(resp, 200)
            for role in items_of(resp.json(), "roles"):
                self._role_ids[role["name"]] = role["id"]
        return self._role_ids[name]

    def scope_id(self, name: str) -> str:
        """Id of the scope named ``name``."""
        if name not in self._scope_ids:
            resp = self.get("/roles/scopes/", token=self.admin)
            assert_status(resp, 200)
            for scope in items_of(resp.json(), "scopes"):
                self._scope_ids[scope["name"]] = scope["id"]
        return self._scope_ids[name]

    def user_body(self, **fields: Any) -> dict[str, Any]:
        """A valid user-create body with throwaway name/email; ``fields`` override."""
        name = unique()
        body: dict[str, Any] = {
            "username": name,
            "email": f"{name}@example.com",
            "password": STRONG_PASSWORD,
            "first_name": "Pat",
            "last_name": "Tester",
        }
        body.update(fields)
        return body

    def create_user(self, *, roles: Iterable[str] = ("user",), **fields: Any) -> User:
        """Create a throwaway user through the admin API (asserts 201)."""
        body = self.user_body(**fields)
        body.setdefault("role_ids", [self.role_id(r) for r in roles])
        body.setdefault("is_active", True)
        resp = self.post("/users/", json=body, token=self.admin)
        assert_status(resp, 201)
        created = resp.json()
        return User(created["id"], created["username"], created["email"], body["password"])

    def user_token(self, user: User, scope: str | None = None) -> dict[str, Any]:
        """Sign ``user`` in; returns the token body."""
        return self.tokens(user.username, user.password, scope)

    def create_client(self, *, scopes: Iterable[str] = ("read:profile",), **fields: Any) -> Client:
        """Create a throwaway service client through the admin API (asserts 201)."""
        body: dict[str, Any] = {
            "name": f"Client {unique()}",
            "client_id": unique_client_id(),
            "client_type": "confidential",
            "is_active": True,
            "is_trusted": False,
            "scope_ids": [self.scope_id(s) for s in scopes],
        }
        body.update(fields)
        resp = self.post("/service-clients/", json=body, token=self.admin)
        assert_status(resp, 201)
        created = resp.json()
        return Client(created["client"]["client_id"], created["client_secret"], created["client"])

    def lock(self, user: User, threshold: int = LOCKOUT_THRESHOLD) -> None:
        """Send ``threshold`` wrong passwords for ``user`` (each must be refused with 401)."""
        for _ in range(threshold):
            resp = self.sign_in(user.username, WRONG_PASSWORD)
            assert_oauth_error(resp, 401, "invalid_grant")


def median_ms(fn: Callable[[], Any], samples: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class ServerPool:
    """Starts reference servers on demand and keeps them for reuse.

    Clean servers (no faults) are kept for the whole session; fault servers are kept in a small
    LRU cache so a fault's tests share one server without keeping dozens alive.
    """

    def __init__(self, max_fault_servers: int = 3) -> None:
        self._clean: dict[tuple[Any, ...], tuple[Any, Api]] = {}
        self._faulty: OrderedDict[tuple[Any, ...], tuple[Any, Api]] = OrderedDict()
        self._max = max_fault_servers

    @staticmethod
    def _key(faults: frozenset[str], overrides: dict[str, Any]) -> tuple[Any, ...]:
        return (tuple(sorted(faults)), tuple(sorted(overrides.items())))

    @staticmethod
    def start(faults: Iterable[str] = (), **overrides: Any) -> tuple[Any, Api]:
        """Start a new server (not pooled); returns ``(server, api)``."""
        from permiso_reference.config import ReferenceSettings
        from permiso_reference.server import ReferenceServer

        values = {**BASE_OVERRIDES, **overrides}
        values.setdefault("port", free_port())
        if values.get("tls") and "http_port" not in values:
            values["http_port"] = free_port()
        settings = ReferenceSettings(faults=frozenset(faults), **values)
        server = ReferenceServer(settings)
        server.start()
        return server, Api(server.base_url, getattr(server, "http_url", None))

    def api(self, faults: Iterable[str] = (), **overrides: Any) -> Api:
        """An :class:`Api` to a (possibly shared) server with exactly these faults and settings."""
        fset = frozenset(faults)
        key = self._key(fset, overrides)
        if not fset:
            if key not in self._clean:
                self._clean[key] = self.start(**overrides)
            return self._clean[key][1]
        if key in self._faulty:
            self._faulty.move_to_end(key)
            return self._faulty[key][1]
        while len(self._faulty) >= self._max:
            _, (server, api) = self._faulty.popitem(last=False)
            api.close()
            server.stop()
        self._faulty[key] = self.start(fset, **overrides)
        return self._faulty[key][1]

    def close(self) -> None:
        """Stop every server of the pool."""
        for server, api in [*self._clean.values(), *self._faulty.values()]:
            api.close()
            server.stop()
        self._clean.clear()
        self._faulty.clear()


@contextmanager
def reference_server(faults: Iterable[str] = (), **overrides: Any) -> Iterator[Api]:
    """Context manager: a dedicated, fresh server for one test."""
    server, api = ServerPool.start(faults, **overrides)
    try:
        yield api
    finally:
        api.close()
        server.stop()


Probe = Callable[[Api, bool], None]
Registry = dict[str, tuple[Probe, dict[str, Any]]]


def probe_registry(registry: Registry) -> Callable[..., Callable[[Probe], Probe]]:
    """Return a decorator ``@register(fault_name, **server_overrides)`` filling ``registry``.

    A probe ``fn(api, faulty)`` runs one scenario against a server and asserts the contract's
    behaviour when ``faulty`` is false and exactly the fault's wrong behaviour when it is true.
    """

    def register(name: str, **overrides: Any) -> Callable[[Probe], Probe]:
        def wrap(fn: Probe) -> Probe:
            assert name not in registry, f"duplicate probe {name}"
            registry[name] = (fn, overrides)
            return fn

        return wrap

    return register


def run_probe(pool: ServerPool, registry: Registry, fault: str, faulty: bool) -> None:
    """Run the probe of ``fault`` on a clean server or on a server with only that fault on."""
    fn, overrides = registry[fault]
    api = pool.api(faults=[fault] if faulty else [], **overrides)
    fn(api, faulty)
