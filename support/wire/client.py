"""``PermisoClient``: one method per endpoint of the contract, with timing, evidence and pacing built in.

Why a client of our own rather than bare ``requests`` in steps:

- **Evidence**: every call becomes an :class:`Exchange` (redacted on rendering) in an
  :class:`ExchangeLog`, so a failing scenario can attach exactly what was said, and process-wide
  subscribers can run hygiene checks (security headers, no leaks) on every answer.
- **Timing**: every call records ``elapsed_ms`` (transport time only; pacing waits excluded) for the
  response-time budgets.
- **Deployment facts (contract Part B)**: form bodies for ``/auth/token`` and ``/auth/service-token``,
  JSON elsewhere; trailing slashes exactly where the deployment needs them; redirects never followed;
  the front's per-IP rate limit respected by pacing sign-ins process-wide and by retrying its 503 HTML
  page with bounded back-off (a JSON 503 comes from the app and is a real answer, never retried).
- **Robustness**: connection errors (and only those) are retried ``TEST_RETRY_ATTEMPTS`` times with
  ``TEST_RETRY_DELAY``; a target that stays unreachable raises :class:`TargetUnreachable` with one line.
- **Secrecy**: every token or secret sent or received is registered with :mod:`support.wire.redaction` at
  once, so it is masked in every later output.
"""

from __future__ import annotations

import contextlib
import functools
import json as _json
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests
import requests.adapters
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.util.ssl_ import create_urllib3_context

from support.wire import redaction
from support.wire.pacing import API_PACER, AUTH_PACER, AuthPacer, burst_for
from support.wire.settings import Settings

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


class TargetUnreachable(Exception):
    """The target could not be reached (after retries). The message is one line, no traceback text."""


class _Default:
    """Sentinel: "use the client's current token"."""

    def __repr__(self) -> str:
        return "<client token>"


CLIENT_TOKEN: Any = _Default()

#: paths (relative to the API base) under the front's auth limit (nginx ``location /api/v1/auth/``): paced by
#: ``AUTH_PACER``; every other call by ``API_PACER`` (support/wire/pacing.py)
AUTH_PATH_PREFIX = "/auth/"


# ---------------------------------------------------------------------------------------- evidence
@dataclass
class Exchange:
    """One HTTP request and its answer, as evidence. Rendering is always redacted."""

    method: str
    url: str
    status: int
    request_headers: dict[str, str]
    request_body: Any
    response_headers: dict[str, str]
    response_text: str
    elapsed_ms: float
    started_at: datetime
    client_name: str = ""
    attempt: int = 1
    retried: bool = False  # True when this answer was superseded by a retry (front 503 page)

    def json(self) -> Any:
        """The response parsed as JSON, or None when it is not JSON."""
        try:
            return _json.loads(self.response_text) if self.response_text else None
        except ValueError:
            return None

    def render(self) -> str:
        """Readable request/response text with every secret masked."""
        req_ct = _header(self.request_headers, "content-type")
        resp_ct = _header(self.response_headers, "content-type")
        who = f" [{self.client_name}]" if self.client_name else ""
        lines = [f"{self.method} {redaction.redact_url(self.url)}{who}"]
        lines += [f"{k}: {v}" for k, v in redaction.redact_headers(self.request_headers).items()]
        body = redaction.redact_body(self.request_body, req_ct)
        if body:
            lines += ["", body]
        status = "no answer" if self.status == 0 else str(self.status)
        extra = f", attempt {self.attempt}" + (", retried" if self.retried else "") if self.attempt > 1 or \
            self.retried else ""
        lines += ["", f"--> {status} in {self.elapsed_ms:.1f} ms{extra}"]
        lines += [f"{k}: {v}" for k, v in redaction.redact_headers(self.response_headers).items()]
        text = redaction.redact_body(self.response_text, resp_ct)
        if text:
            lines += ["", text if len(text) <= 20000 else text[:20000] + "\n... (truncated)"]
        return "\n".join(lines)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


class ExchangeLog:
    """Exchanges of one scenario (evidence), with subscribers called on every new record.

    Process-wide subscribers (:meth:`subscribe_all`) see the exchanges of every client, logged or not.
    """

    _global_lock: ClassVar[threading.Lock] = threading.Lock()
    _global_subscribers: ClassVar[list[Callable[[Exchange], None]]] = []

    def __init__(self) -> None:
        self.records: list[Exchange] = []
        self._subscribers: list[Callable[[Exchange], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Callable[[Exchange], None]) -> None:
        with self._lock:
            self._subscribers.append(fn)

    def unsubscribe(self, fn: Callable[[Exchange], None]) -> None:
        with self._lock:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.records.append(exchange)
            subscribers = list(self._subscribers)
        for fn in subscribers:
            fn(exchange)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def render(self, last: int | None = None) -> str:
        """All (or the last ``last``) exchanges rendered, separated by rules."""
        records = self.records[-last:] if last else self.records
        return "\n\n" + ("=" * 60 + "\n").join(r.render() + "\n" for r in records) if records else ""

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def subscribe_all(cls, fn: Callable[[Exchange], None]) -> None:
        """Call ``fn`` for the exchange of every client in this process."""
        with cls._global_lock:
            cls._global_subscribers.append(fn)

    @classmethod
    def unsubscribe_all(cls, fn: Callable[[Exchange], None]) -> None:
        with cls._global_lock:
            if fn in cls._global_subscribers:
                cls._global_subscribers.remove(fn)

    @classmethod
    def _publish(cls, exchange: Exchange) -> None:
        with cls._global_lock:
            subscribers = list(cls._global_subscribers)
        for fn in subscribers:
            fn(exchange)


@dataclass
class ApiResponse:
    """The result of every client call."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: Any
    text: str
    elapsed_ms: float
    exchange: Exchange

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def get(self, key: str, default: Any = None) -> Any:
        """``body[key]`` when the body is a JSON object, else ``default``."""
        return self.body.get(key, default) if isinstance(self.body, dict) else default

    def __repr__(self) -> str:
        url = redaction.redact_url(self.exchange.url)
        return f"<ApiResponse {self.exchange.method} {url} -> {self.status}>"


_SENSITIVE_RESPONSE_KEYS = ("access_token", "refresh_token", "client_secret", "token", "id_token")


def _register_secrets_in(obj: Any) -> None:
    """Register every string under a credential-like key, at any depth."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if isinstance(value, str) and isinstance(key, str) and (
                    key in _SENSITIVE_RESPONSE_KEYS or redaction.is_sensitive_key(key)):
                redaction.register_secret(value)
            else:
                _register_secrets_in(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _register_secrets_in(value)


# ---------------------------------------------------------------------------------------- TLS
@functools.lru_cache(maxsize=8)
def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    """One SSL context per verification mode, built once for the whole process."""
    if verify is False:
        context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
        context.check_hostname = False
        return context
    return create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)


class SharedTLSAdapter(requests.adapters.HTTPAdapter):
    """HTTPS without loading the system's CA store for every new connection.

    Left alone, urllib3 builds a fresh SSL context per connection and loads the default CA certificates
    into it, even when verification is off: about 50 ms each on this machine. The suite opens hundreds
    of connections (a client per actor and device), which made that half of the release gate's time.
    Every pool gets the one context of its verification mode instead; a CA bundle (``TEST_SSL_CERT_PATH``
    or certifi's when verifying) is still loaded by urllib3 as before.
    """

    def __init__(self, verify: bool | str) -> None:
        self._verify = verify
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = _ssl_context(self._verify)
        super().init_poolmanager(*args, **kwargs)


class _ProcessConnections(SharedTLSAdapter):
    """The process's one pool of HTTPS connections, shared by every client of the process.

    Why: every actor, device and administrator is a ``PermisoClient`` of its own, and each used to open
    its own TLS connection: 642 handshakes in one run of the whole suite, and under behavex, where two
    workers wait on one server, a tenth of a worker's wall time went on them (py-spy). A client keeps
    what is its own - token, cookies, headers - in its ``requests.Session``; only the keep-alive
    connections underneath are shared, as one browser or SDK shares them between its tabs or users.
    Closing a client's session leaves the pool open for the others. Keyed by process id: a forked
    behavex worker must never write into a TLS connection its parent still uses.
    """

    #: concurrent callers (the isolation and race scenarios use up to ~20 threads) keep their connections
    POOL_SIZE = 32

    def __init__(self, verify: bool | str) -> None:
        self._verify = verify
        requests.adapters.HTTPAdapter.__init__(self, pool_connections=4, pool_maxsize=self.POOL_SIZE)

    def close(self) -> None:
        """Left open for the other clients of the process (its connections close with the process)."""


_POOLS: dict[tuple[int, bool | str], _ProcessConnections] = {}
_POOLS_LOCK = threading.Lock()


def close_process_connections() -> None:
    """Close this process's idle keep-alive connections (the pools stay usable and reconnect on demand).

    Called before the embedded server is stopped: a server with open client connections waits out its
    graceful-shutdown timeout on them (0.7 s instead of 0.4 s per stop, measured here)."""
    with _POOLS_LOCK:
        pools = [adapter for (pid, _), adapter in _POOLS.items() if pid == os.getpid()]
    for adapter in pools:
        with contextlib.suppress(Exception):
            adapter.poolmanager.clear()


def process_connections(verify: bool | str) -> requests.adapters.HTTPAdapter:
    """The shared HTTPS connection pool of this process for one verification mode."""
    key = (os.getpid(), verify)
    with _POOLS_LOCK:
        adapter = _POOLS.get(key)
        if adapter is None:
            adapter = _POOLS[key] = _ProcessConnections(verify)
        return adapter


# ---------------------------------------------------------------------------------------- client
class PermisoClient:
    """One caller of the Permiso API (an actor, the administrator, an anonymous visitor ...)."""

    def __init__(self, settings: Settings, *, log: ExchangeLog | None = None, base_url: str | None = None,
                 name: str = "", session: requests.Session | None = None,
                 pacer: AuthPacer | None = None, front_retry_attempts: int = 4,
                 front_backoff_seconds: float = 0.25) -> None:
        self.settings = settings
        self.log = log
        self.name = name
        self._base_url = base_url.rstrip("/") if base_url else None
        if session is None:
            session = requests.Session()
            session.mount("https://", process_connections(settings.verify))
        self.session = session
        self.session.verify = settings.verify
        self.session.trust_env = False  # proxies from the environment would change what we measure
        self.pacer = pacer or AUTH_PACER
        #: with an explicit auth pacer (tests) other calls share nothing with the process either
        self.api_pacer = AuthPacer() if pacer is not None else API_PACER
        self.front_retry_attempts = max(1, front_retry_attempts)
        self.front_backoff_seconds = front_backoff_seconds
        self.retry_front_503 = True
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.session_id: str | None = None
        self.last: ApiResponse | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def base_url(self) -> str:
        return self._base_url or self.settings.base_url

    @property
    def api_url(self) -> str:
        return self.base_url + self.settings.permiso_api_base

    def url_for(self, path: str, *, api: bool = True) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            path = "/" + path
        return (self.api_url if api else self.base_url) + path

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PermisoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, json: Any = None, data: Any = None,
                params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                token: str | None = CLIENT_TOKEN, api: bool = True, timeout: float | None = None,
                retry_front_503: bool | None = None, paced: bool | None = None) -> ApiResponse:
        """Generic call. ``token``: the client's token by default, ``None`` for none, or a string."""
        url = self.url_for(path, api=api)
        send_headers: dict[str, str] = {"Accept": "application/json"}
        bearer = self.token if token is CLIENT_TOKEN else token
        if bearer is not None:
            send_headers["Authorization"] = f"Bearer {bearer}"
            redaction.register_secret(bearer)
        if headers:
            send_headers.update(headers)
        _register_secrets_in(json)
        if isinstance(data, Mapping):
            _register_secrets_in(data)
        # paced=None: by path (auth bucket or API bucket); True: the auth bucket; False: unpaced (floods only)
        auth_path = api and path.split("?")[0].startswith(AUTH_PATH_PREFIX)
        bucket: AuthPacer | None = None
        rate = 0.0
        if paced or (paced is None and auth_path):
            bucket, rate = self.pacer, self.settings.permiso_auth_rate_per_second
        elif paced is None:
            bucket, rate = self.api_pacer, self.settings.permiso_api_rate_per_second
        if retry_front_503 is None:
            retry_front_503 = self.retry_front_503
        params = {k: v for k, v in (params or {}).items() if v is not None} or None

        attempts = self.front_retry_attempts if retry_front_503 else 1
        delay = self.front_backoff_seconds
        for attempt in range(1, attempts + 1):
            if bucket is not None and rate > 0:
                bucket.wait(rate, burst_for(rate))
            response = self._send(method, url, json=json, data=data, params=params, headers=send_headers,
                                  timeout=timeout, attempt=attempt)
            retry = attempt < attempts and _is_front_rejection(response)
            # Marked before anyone sees it: a front 503 that was retried is never evidence of anything.
            response.exchange.retried = retry
            self._record(response.exchange)
            if retry:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            break
        self.last = response
        return response

    def _send(self, method: str, url: str, *, json: Any, data: Any, params: Any,
              headers: dict[str, str], timeout: float | None, attempt: int) -> ApiResponse:
        timeout = timeout if timeout is not None else self.settings.test_timeout_seconds
        tries = max(1, self.settings.test_retry_attempts)
        last_error: Exception | None = None
        for n in range(1, tries + 1):
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            try:
                raw = self.session.request(method, url, json=json, data=data, params=params,
                                           headers=headers, timeout=timeout, allow_redirects=False)
                _ = raw.content  # read the whole body inside the timed window
                elapsed_ms = (time.perf_counter() - t0) * 1000.0
                break
            except requests.exceptions.ConnectionError as exc:
                # ConnectTimeout is a ConnectionError (nothing was sent): safe to retry.
                last_error = exc
                if n < tries:
                    time.sleep(self.settings.test_retry_delay)
                continue
            except requests.exceptions.Timeout:
                raise TargetUnreachable(
                    f"{method} {redaction.redact_url(url)}: no answer within {timeout:g} s") from None
            except requests.exceptions.RequestException as exc:
                raise TargetUnreachable(
                    f"{method} {redaction.redact_url(url)}: {type(exc).__name__}: "
                    f"{_one_line(redaction.redact_text(str(exc)))}") from None
        else:
            reason = connection_reason(last_error)
            raise TargetUnreachable(
                f"{method} {redaction.redact_url(url)}: target unreachable after {tries} attempt(s) "
                f"({reason})") from None

        request_body: Any = json if json is not None else data
        if isinstance(request_body, bytes):
            request_body = request_body.decode("utf-8", errors="replace")
        text = raw.text
        exchange = Exchange(
            method=method.upper(), url=raw.url or url, status=raw.status_code,
            request_headers=dict(raw.request.headers) if raw.request is not None else dict(headers),
            request_body=request_body, response_headers=dict(raw.headers), response_text=text,
            elapsed_ms=elapsed_ms, started_at=started, client_name=self.name, attempt=attempt,
        )
        body = exchange.json() if "json" in raw.headers.get("content-type", "").lower() or \
            text[:1] in "{[" else None
        _register_secrets_in(body)
        return ApiResponse(status=raw.status_code, headers=CaseInsensitiveDict(raw.headers), body=body,
                           text=text, elapsed_ms=elapsed_ms, exchange=exchange)

    def _record(self, exchange: Exchange) -> None:
        """Give an exchange to the scenario's log and the process-wide subscribers (once it is final)."""
        if self.log is not None:
            self.log.add(exchange)
        ExchangeLog._publish(exchange)

    # ------------------------------------------------------------------ root
    def health(self) -> ApiResponse:
        return self.request("GET", "/health", api=False, token=None)

    def root(self) -> ApiResponse:
        return self.request("GET", "/", api=False, token=None)

    def openapi(self) -> ApiResponse:
        return self.request("GET", "/openapi.json", api=False, token=None)

    # ------------------------------------------------------------------ auth (A.3)
    def sign_in_administrator(self) -> ApiResponse:
        """Sign in as the configured administrator of this client's settings (TEST_ADMIN_*)."""
        settings = self.settings
        return self.sign_in(settings.test_admin_username, settings.test_admin_password.get_secret_value())

    def sign_in(self, username: str, password: str, scope: str | Iterable[str] | None = None, *,
                grant_type: str | None = "password") -> ApiResponse:
        """POST /auth/token (form). On 200 the client keeps the access/refresh token and session id."""
        redaction.register_secret(password)
        form: dict[str, str] = {"username": username, "password": password}
        if grant_type:
            form["grant_type"] = grant_type
        if scope is not None:
            form["scope"] = _scope_text(scope)
        response = self.request("POST", "/auth/token", data=form, token=None)
        if response.status == 200 and isinstance(response.body, dict):
            self._keep_tokens(response.body)
        return response

    def service_sign_in(self, client_id: str, secret: str, scope: str | Iterable[str] | None = None
                        ) -> ApiResponse:
        """POST /auth/service-token (form). On 200 the client keeps the service token."""
        redaction.register_secret(secret)
        form = {"client_id": client_id, "client_secret": secret}
        if scope is not None:
            form["scope"] = _scope_text(scope)
        response = self.request("POST", "/auth/service-token", data=form, token=None)
        if response.status == 200 and isinstance(response.body, dict):
            self._keep_tokens(response.body)
        return response

    def refresh(self, refresh_token: str | None = None) -> ApiResponse:
        """POST /auth/refresh (JSON) with the given or the kept refresh token; keeps the new pair."""
        value = refresh_token if refresh_token is not None else self.refresh_token
        response = self.request("POST", "/auth/refresh", json={"refresh_token": value}, token=None)
        if response.status == 200 and isinstance(response.body, dict):
            self._keep_tokens(response.body)
        return response

    def sign_out(self) -> ApiResponse:
        """POST /auth/logout with the kept token; clears tokens and session on 200."""
        response = self.request("POST", "/auth/logout")
        if response.status == 200:
            self.token = self.refresh_token = self.session_id = None
        return response

    def revoke_own_tokens(self) -> ApiResponse | None:
        """Give up this client's tokens without signing out: ``/auth/revoke`` of its refresh token and
        then of its access token (with that access token); forget them. For configured accounts on a
        shared deployment: a logout there ends every session of the account (contract D.3), also
        sessions that are not the suite's. Returns the last answer (None when nothing was held)."""
        answer: ApiResponse | None = None
        if self.token and self.refresh_token:
            answer = self.revoke(self.refresh_token, "refresh_token")
        if self.token:
            answer = self.revoke(self.token, "access_token")
        self.token = self.refresh_token = self.session_id = None
        return answer

    def introspect(self, token: str, token_type_hint: str | None = None) -> ApiResponse:
        return self.request("POST", "/auth/introspect", json=_drop_none(token=token,
                                                                     token_type_hint=token_type_hint))

    def revoke(self, token: str, token_type_hint: str | None = None) -> ApiResponse:
        return self.request("POST", "/auth/revoke", json=_drop_none(token=token,
                                                                 token_type_hint=token_type_hint))

    def _keep_tokens(self, body: Mapping[str, Any]) -> None:
        self.token = body.get("access_token") or self.token
        self.refresh_token = body.get("refresh_token")
        self.session_id = body.get("session_id")

    # ------------------------------------------------------------------ users (A.6)
    def me(self) -> ApiResponse:
        return self.request("GET", "/users/me")

    def profile(self) -> ApiResponse:
        return self.request("GET", "/users/profile")

    def update_me(self, **fields: Any) -> ApiResponse:
        return self.request("PUT", "/users/me", json=fields)

    def register(self, **user: Any) -> ApiResponse:
        return self.request("POST", "/users/register", json=user, token=None)

    def create_user(self, **user: Any) -> ApiResponse:
        return self.request("POST", "/users/", json=user)

    def list_users(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/users/", params=query)

    def get_user(self, user_id: str) -> ApiResponse:
        return self.request("GET", f"/users/{user_id}")

    def update_user(self, user_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/users/{user_id}", json=fields)

    def delete_user(self, user_id: str) -> ApiResponse:
        return self.request("DELETE", f"/users/{user_id}")

    def change_password(self, user_id: str, current: str, new: str) -> ApiResponse:
        redaction.register_secret(current)
        redaction.register_secret(new)
        return self.request("PUT", f"/users/{user_id}/password",
                            json={"current_password": current, "new_password": new})

    def set_user_roles(self, user_id: str, role_ids: Iterable[str]) -> ApiResponse:
        return self.request("PUT", f"/users/{user_id}/roles", json={"role_ids": list(role_ids)})

    def user_stats(self) -> ApiResponse:
        return self.request("GET", "/users/stats/overview")

    def request_password_reset(self, email: str) -> ApiResponse:
        return self.request("POST", "/users/password-reset/request", json={"email": email}, token=None)

    def confirm_password_reset(self, token: str, new_password: str) -> ApiResponse:
        return self.request("POST", "/users/password-reset/confirm",
                            json={"token": token, "new_password": new_password}, token=None)

    def request_email_verification(self, email: str) -> ApiResponse:
        return self.request("POST", "/users/email-verification/request", json={"email": email}, token=None)

    def confirm_email_verification(self, token: str) -> ApiResponse:
        return self.request("POST", "/users/email-verification/confirm", json={"token": token}, token=None)

    # ------------------------------------------------------------------ roles and scopes (A.7)
    def create_role(self, name: str, description: str | None = None, scope_ids: Iterable[str] = (),
                    **fields: Any) -> ApiResponse:
        body = {"name": name, "description": description, "scope_ids": list(scope_ids), **fields}
        return self.request("POST", "/roles/", json=body)

    def list_roles(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/roles/", params=query)

    def get_role(self, role_id: str) -> ApiResponse:
        return self.request("GET", f"/roles/{role_id}")

    def update_role(self, role_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/roles/{role_id}", json=fields)

    def delete_role(self, role_id: str) -> ApiResponse:
        return self.request("DELETE", f"/roles/{role_id}")

    def set_role_scopes(self, role_id: str, scope_ids: Iterable[str]) -> ApiResponse:
        return self.request("PUT", f"/roles/{role_id}/scopes", json={"scope_ids": list(scope_ids)})

    def create_scope(self, name: str, description: str | None = None, resource: str | None = None,
                     action: str | None = None, **fields: Any) -> ApiResponse:
        body = {"name": name, "description": description, "resource": resource, "action": action, **fields}
        return self.request("POST", "/roles/scopes/", json=body)

    def list_scopes(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/roles/scopes/", params=query)

    def get_scope(self, scope_id: str) -> ApiResponse:
        return self.request("GET", f"/roles/scopes/{scope_id}")

    def update_scope(self, scope_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/roles/scopes/{scope_id}", json=fields)

    def delete_scope(self, scope_id: str) -> ApiResponse:
        return self.request("DELETE", f"/roles/scopes/{scope_id}")

    def check_permission(self, user_id: str, resource: str, action: str) -> ApiResponse:
        return self.request("POST", "/roles/permissions/check",
                            json={"user_id": user_id, "resource": resource, "action": action})

    def check_permissions_bulk(self, user_id: str, permissions: Iterable[Mapping[str, str]]) -> ApiResponse:
        return self.request("POST", "/roles/permissions/check-bulk",
                            json={"user_id": user_id, "permissions": [dict(p) for p in permissions]})

    def user_permissions(self, user_id: str) -> ApiResponse:
        return self.request("GET", f"/roles/permissions/user/{user_id}")

    def role_stats(self) -> ApiResponse:
        return self.request("GET", "/roles/stats")

    def default_roles(self) -> ApiResponse:
        return self.request("GET", "/roles/defaults")

    # ------------------------------------------------------------------ service clients (A.8)
    def create_client(self, **fields: Any) -> ApiResponse:
        return self.request("POST", "/service-clients/", json=fields)

    def list_clients(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/service-clients/", params=query)

    def get_client(self, client_id: str) -> ApiResponse:
        return self.request("GET", f"/service-clients/{client_id}")

    def update_client(self, client_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/service-clients/{client_id}", json=fields)

    def delete_client(self, client_id: str) -> ApiResponse:
        return self.request("DELETE", f"/service-clients/{client_id}")

    def set_client_scopes(self, client_id: str, scope_ids: Iterable[str]) -> ApiResponse:
        return self.request("PUT", f"/service-clients/{client_id}/scopes",
                            json={"scope_ids": list(scope_ids)})

    def rotate_client_secret(self, client_id: str, current_secret: str) -> ApiResponse:
        redaction.register_secret(current_secret)
        return self.request("POST", f"/service-clients/{client_id}/rotate-secret",
                            json={"current_secret": current_secret})

    def client_permissions(self, client_id: str) -> ApiResponse:
        return self.request("GET", f"/service-clients/{client_id}/permissions")

    def client_rate_limit(self, client_id: str) -> ApiResponse:
        return self.request("GET", f"/service-clients/{client_id}/rate-limit")

    def test_client_webhook(self, client_id: str, **body: Any) -> ApiResponse:
        return self.request("POST", f"/service-clients/{client_id}/webhook/test", json=body or None)

    def client_stats(self) -> ApiResponse:
        return self.request("GET", "/service-clients/stats/overview")

    def clients_health(self) -> ApiResponse:
        return self.request("GET", "/service-clients/health/check")

    # ------------------------------------------------------------------ sessions (A.9)
    def list_sessions(self) -> ApiResponse:
        return self.request("GET", "/sessions/")

    def renew_session(self, session_id: str) -> ApiResponse:
        return self.request("POST", f"/sessions/{session_id}/renew")

    def end_session(self, session_id: str) -> ApiResponse:
        return self.request("DELETE", f"/sessions/{session_id}")

    def end_all_sessions(self) -> ApiResponse:
        return self.request("DELETE", "/sessions/")

    def session_stats(self) -> ApiResponse:
        return self.request("GET", "/sessions/stats")

    def cleanup_sessions(self) -> ApiResponse:
        return self.request("POST", "/sessions/cleanup")

    # ------------------------------------------------------------------ admin console (A.10)
    def dashboard_stats(self) -> ApiResponse:
        return self.request("GET", "/admin/dashboard/stats")

    def system_health(self) -> ApiResponse:
        return self.request("GET", "/admin/system/health")

    def security_events(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/admin/security/events", params=query)

    def maintenance_cleanup(self) -> ApiResponse:
        return self.request("POST", "/admin/maintenance/cleanup")

    def maintenance_backup(self) -> ApiResponse:
        return self.request("POST", "/admin/maintenance/backup")

    def audit_activity(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/admin/audit/activity", params=query)

    def usage_report(self, days: int | None = None) -> ApiResponse:
        return self.request("GET", "/admin/reports/usage", params={"days": days})

    def reload_config(self) -> ApiResponse:
        return self.request("POST", "/admin/config/reload")

    def error_logs(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/admin/logs/errors", params=query)

    def __repr__(self) -> str:
        state = "signed in" if self.token else "anonymous"
        return f"<PermisoClient {self.name or '?'} {state}>"


# ---------------------------------------------------------------------------------------- helpers
def _is_front_rejection(response: ApiResponse) -> bool:
    """The front's rate-limit page: 503 with a non-JSON (HTML) body. A JSON 503 is the app speaking."""
    if response.status != 503:
        return False
    content_type = response.headers.get("content-type", "").lower()
    return "json" not in content_type and response.body is None


def _scope_text(scope: str | Iterable[str]) -> str:
    return scope if isinstance(scope, str) else " ".join(scope)


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def connection_reason(error: BaseException | None) -> str:
    """A short human reason (refused, DNS, TLS) without urllib3's nested repr noise."""
    if error is None:
        return "unknown error"
    text = str(error)
    for needle, reason in (("Connection refused", "connection refused"),
                           ("Name or service not known", "host name not resolved"),
                           ("nodename nor servname", "host name not resolved"),
                           ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
                           ("SSLError", "TLS handshake failed"),
                           ("timed out", "connect timed out"),
                           ("certificate verify failed", "TLS certificate not trusted"),
                           ("No route to host", "no route to host"),
                           ("Connection reset", "connection reset"),
                           ("RemoteDisconnected", "connection closed without answer")):
        if needle in text:
            return reason
    return type(error).__name__
