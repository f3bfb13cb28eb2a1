"""Run the reference Permiso: uvicorn in a background thread, optional TLS and HTTP→HTTPS redirect.

``ReferenceServer(settings)`` is what the suite and the tests use::

    with ReferenceServer(ReferenceSettings(port=0, tls=True, http_port=0)) as server:
        requests.get(server.base_url + "/health", verify=False)

Ports given as 0 are chosen by the OS; the sockets are bound *before* uvicorn starts so the URLs are
known immediately and no other process can steal the port in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from permiso_reference.app import create_app
from permiso_reference.config import ReferenceSettings
from permiso_reference.errors import SKIP_KEY, Receive, Scope, SecurityHeadersMiddleware, Send

log = logging.getLogger("permiso_reference")
START_TIMEOUT = 10.0


def generate_self_signed(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """Write a fresh self-signed certificate (CN localhost; SAN localhost, 127.0.0.1) and its key.

    EC P-256 because it is generated in about a millisecond (RSA-2048 takes ~100 ms).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Permiso reference")])
    sans: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if host not in ("localhost", "127.0.0.1"):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    moment = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - dt.timedelta(minutes=5))
            .not_valid_after(moment + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class RedirectApp:
    """The plain-HTTP front: 301 to HTTPS, ``/nginx-health`` 200; the API itself under a fault."""

    def __init__(self, api: FastAPI, https_port: int) -> None:
        self.api = api
        self.https_port = https_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/nginx-health":
            await self._send(send, 200, b"healthy\n", [(b"content-type", b"text/plain")])
            return
        if "http_not_redirected" in self.api.state.faults:
            await self.api(scope, receive, send)
            return
        host = dict(scope.get("headers", ())).get(b"host", b"localhost").decode("latin-1")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        port = "" if self.https_port == 443 else f":{self.https_port}"
        query = scope.get("query_string", b"").decode("latin-1")
        location = f"https://{hostname}{port}{scope.get('raw_path', b'').decode('latin-1') or scope['path']}"
        if query:
            location += f"?{query}"
        if "redirect_no_permissions_policy" in self.api.state.faults:
            scope[SKIP_KEY] = {b"permissions-policy"}  # D32: the port-80 server lacks this one header
        body = (b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n"
                b"<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n"
                b"</body>\r\n</html>\r\n")
        await self._send(send, 301, body, [(b"content-type", b"text/html"),
                                           (b"location", location.encode("latin-1"))])

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it, headers and body go out in two segments and the
    # client's delayed ACK adds ~40 ms to every response (health p50 44 ms instead of ~1 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _QuietShutdown(logging.Filter):
    """Drop uvicorn's shutdown-timeout complaint: idle TLS keep-alive clients trigger it on every stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "timeout graceful shutdown exceeded" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietShutdown())


#: Largest request head (request line + headers) the app gets to answer itself.
MAX_REQUEST_HEAD_BYTES = 1024 * 1024


class _Listener:
    """One uvicorn server on a pre-bound socket, in a daemon thread."""

    def __init__(self, app: Any, sock: socket.socket, **ssl: Any) -> None:
        # h11 answers a request head over its limit (16 KiB) with a bare 400 of its own, below the app and
        # so without the contract's security headers (A.1). Raised to the body cap, the app sees such
        # requests and answers them in the contract's shape (414/422, headers included).
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                server_header=False, timeout_graceful_shutdown=0.3,
                                h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES, **ssl)
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self._run, name="permiso-reference", daemon=True)

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.sock.close()


class ReferenceServer:
    """The reference Permiso in background threads (HTTPS or HTTP, plus the redirecting HTTP port)."""

    def __init__(self, settings: ReferenceSettings | None = None) -> None:
        self.settings = settings or ReferenceSettings()
        self.app: FastAPI | None = None
        self._listeners: list[_Listener] = []
        self._tmpdir: str | None = None
        self.port: int | None = None
        self.http_port: int | None = None
        #: the self-signed certificate (PEM) of a TLS start; its files are gone once the server listens
        self.cert_pem: bytes | None = None
        self.startup_seconds: float | None = None

    # -- URLs ---------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``https://host:port`` (or ``http://``) of the API."""
        scheme = "https" if self.settings.tls else "http"
        return f"{scheme}://{self._url_host()}:{self.port}"

    @property
    def http_url(self) -> str | None:
        """URL of the redirecting plain-HTTP port (None without TLS or http_port)."""
        return f"http://{self._url_host()}:{self.http_port}" if self.http_port is not None else None

    @property
    def jwt_secret(self) -> str:
        """The signing key in use (the suite mints test tokens with it)."""
        assert self.app is not None, "server not started"
        return str(self.app.state.jwt_secret)

    def _url_host(self) -> str:
        host = self.settings.host
        return f"[{host}]" if ":" in host else host

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> ReferenceServer:
        """Start listening; returns once ``/health`` is served (raises after START_TIMEOUT)."""
        began = time.perf_counter()
        self.app = create_app(self.settings)
        sock = _bind(self.settings.host, self.settings.port)
        self.port = sock.getsockname()[1]
        ssl: dict[str, Any] = {}
        try:
            if self.settings.tls:
                # uvicorn reads the files once, when it builds its SSL context before listening; they are
                # removed as soon as it listens (below), so no key or folder outlives a start, whatever
                # way the process ends later. The certificate stays available as cert_pem.
                self._tmpdir = tempfile.mkdtemp(prefix="permiso-ref-tls-")
                cert, key = generate_self_signed(Path(self._tmpdir), self.settings.host)
                self.cert_pem = cert.read_bytes()
                ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
            self._listeners.append(_Listener(self.app, sock, **ssl))
            if self.settings.tls and self.settings.http_port is not None:
                plain = _bind(self.settings.host, self.settings.http_port)
                self.http_port = plain.getsockname()[1]
                # The reference adds the A.1 headers on this port too (decisions.md: every response).
                front = SecurityHeadersMiddleware(RedirectApp(self.app, self.port), self.app)
                self._listeners.append(_Listener(front, plain))
            for listener in self._listeners:
                listener.start()
            deadline = time.monotonic() + START_TIMEOUT
            while not all(lst.server.started for lst in self._listeners):
                if time.monotonic() > deadline or not all(lst.thread.is_alive() for lst in self._listeners):
                    self.stop()
                    raise RuntimeError("permiso-reference did not start")
                time.sleep(0.002)
        finally:
            self._remove_tls_files()
        self._wait_health(deadline)
        self.startup_seconds = time.perf_counter() - began
        return self

    def _wait_health(self, deadline: float) -> None:
        """Poll /health over the real socket so 'started' means 'answering'."""
        import http.client
        import ssl as ssl_mod

        while True:
            try:
                if self.settings.tls:
                    ctx = ssl_mod.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl_mod.CERT_NONE
                    conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                        self.settings.host, self.port, timeout=2, context=ctx)
                else:
                    conn = http.client.HTTPConnection(self.settings.host, self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("permiso-reference /health did not answer")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop all listeners, close the database and remove temporary files."""
        for listener in self._listeners:  # signal all first: their shutdowns then overlap
            listener.server.should_exit = True
        for listener in reversed(self._listeners):
            listener.stop()
        self._listeners.clear()
        if self.app is not None:
            with contextlib.suppress(Exception):
                self.app.state.db.close()  # a temporary database goes with its -wal and -shm files
        self._remove_tls_files()

    def _remove_tls_files(self) -> None:
        tmpdir, self._tmpdir = self._tmpdir, None
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _stop_on_signals() -> dict[int, Any]:
    """SIGTERM (``kill``, a supervisor, the suite's ``Target.stop()``) and SIGHUP end ``run()`` like Ctrl-C.

    Without it the default action killed the process on the spot: no ``stop()``, so a temporary
    database (and its 4 MB ``-wal``) stayed in the temp folder after every ``kill``. Returns the
    previous handlers (empty when not in the main thread, where handlers cannot be installed).
    """

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):
            previous[sig] = signal.signal(sig, on_term)
    return previous


def run(settings: ReferenceSettings, announce: bool = True, quiet: bool = False) -> None:
    """Serve until Ctrl-C, SIGTERM or SIGHUP (used by the CLI); every way out stops the server, which
    removes its temporary files (the database with its -wal/-shm files; the TLS files went at start)."""
    server = ReferenceServer(settings)
    previous = _stop_on_signals()
    try:
        server.start()
        if announce:
            # The profile is named here only (/health keeps the contract's shape); the default line is unchanged.
            named = f" (profile {settings.profile})" if settings.profile != "contract" else ""
            print(f"permiso-reference listening on {server.base_url}{named}", flush=True)
            if server.http_url and not quiet:
                print(f"permiso-reference redirecting {server.http_url} -> {server.base_url}",
                      file=sys.stderr, flush=True)
        stop = threading.Event()
        while not stop.wait(0.5):
            if not all(lst.thread.is_alive() for lst in server._listeners):
                break
    except KeyboardInterrupt:
        pass
    finally:
        for sig in previous:  # a second signal must not cut the cleanup short
            with contextlib.suppress(ValueError):
                signal.signal(sig, signal.SIG_IGN)
        server.stop()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
