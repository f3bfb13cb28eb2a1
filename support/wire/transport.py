"""The plumbing under ``PermisoClient``: the process's HTTPS connections and one generic, timed, paced call.

Why a module of its own: :mod:`support.wire.client` is one method per endpoint of the contract, and every
one of them goes through :meth:`BaseClient.request`. What that call does is the same for all of them, and
is what a reader of an endpoint method never needs to see:

- **Timing**: every call records ``elapsed_ms`` (transport time only; pacing waits excluded) for the
  response-time budgets.
- **Deployment facts (contract Part B)**: redirects never followed; the front's per-IP rate limit respected
  by pacing calls process-wide (:mod:`support.wire.pacing`) and by retrying its 503 HTML page with bounded
  back-off (a JSON 503 comes from the app and is a real answer, never retried).
- **Robustness**: connection errors (and only those) are retried ``TEST_RETRY_ATTEMPTS`` times with
  ``TEST_RETRY_DELAY``; a target that stays unreachable raises :class:`TargetUnreachable` with one line.
- **Secrecy**: every token or secret sent or received is registered with :mod:`support.wire.redaction` at
  once, so it is masked in every later output.
- **Connections**: one SSL context per verification mode and one pool of keep-alive HTTPS connections per
  process, shared by every client (:func:`process_connections`).

Every answer becomes an :class:`~support.wire.evidence.Exchange` in the client's
:class:`~support.wire.evidence.ExchangeLog` (:mod:`support.wire.evidence`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self

import requests
import requests.adapters
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.util.ssl_ import create_urllib3_context

from support.wire import redaction
from support.wire.evidence import ApiResponse, Exchange, ExchangeLog
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


# ---------------------------------------------------------------------------------------- secrets
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

    def __init__(self, verify: bool | str, **pool: Any) -> None:
        self._verify = verify
        super().__init__(**pool)

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
        super().__init__(verify, pool_connections=4, pool_maxsize=self.POOL_SIZE)

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
class BaseClient:
    """The plumbing of one caller of the Permiso API: its session, token, pacing and the generic call.

    ``PermisoClient`` (:mod:`support.wire.client`) derives from it and adds one method per endpoint.
    """

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

    def __enter__(self) -> Self:
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


# ---------------------------------------------------------------------------------------- helpers
def _is_front_rejection(response: ApiResponse) -> bool:
    """The front's rate-limit page: 503 with a non-JSON (HTML) body. A JSON 503 is the app speaking."""
    if response.status != 503:
        return False
    content_type = response.headers.get("content-type", "").lower()
    return "json" not in content_type and response.body is None


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
