"""Fixtures for unit tests of support/: a scripted local HTTP server on 127.0.0.1 and clean settings.

The server stands in for Permiso so the client can be tested without the reference server: each test
scripts the answers it needs per path and reads back what the client sent and when (monotonic clock).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.settings import Settings


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class ScriptedServer:
    """A tiny HTTP server: ``script(method, path, *replies)``; the last reply of a path repeats."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                with outer.lock:
                    outer.seen.append(Seen(self.command, self.path, dict(self.headers), body,
                                           time.monotonic()))
                    queue = outer.replies.get((self.command, path))
                    reply = (queue.popleft() if len(queue) > 1 else queue[0]) if queue else Reply(
                        404, {"detail": "Not Found"})
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, dict | list):
                    payload = json.dumps(reply.body).encode()
                else:
                    payload = (reply.body or "").encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self.lock:
            self.replies[(method, path)] = deque(replies)

    def hits(self, method: str, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == method and s.path.split("?")[0] == path]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PERMISO_/TEST_/PERF_ variables from the outer environment, and cwd without a .env file."""
    import os

    for name in list(os.environ):
        if name.upper().startswith(("PERMISO_", "TEST_", "PERF_", "RATE_LIMIT_", "SECURITY_SCAN",
                                    "DOCKER_HOST")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(clean_env: Path, server: ScriptedServer) -> Settings:
    return Settings.load({"PERMISO_BASE_URL": server.url, "TEST_RETRY_DELAY": "0.01",
                          "PERMISO_AUTH_RATE_PER_SECOND": "0"}, env_file=None)
