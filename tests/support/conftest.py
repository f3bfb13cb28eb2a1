"""Fixtures for unit tests of support/: a scripted local server and settings with a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support_testkit import ScriptedServer

from support.wire.settings import Settings


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


class EmbeddedLaunch:
    """What `support.lifecycle.target.start_embedded` would run, captured instead of started (no server)."""

    class Stopped(Exception):
        pass

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def popen(self, argv: list[str], **kwargs: object) -> None:
        self.calls.append((list(argv), dict(kwargs.get("env") or {})))  # type: ignore[call-overload]
        raise self.Stopped

    def command(self, settings: Settings) -> tuple[list[str], dict[str, str]]:
        """The `permiso-reference serve` command line and environment for these settings."""
        import support.lifecycle.target as target

        with pytest.raises(self.Stopped):
            target.start_embedded(settings)
        return self.calls[-1]


@pytest.fixture
def embedded_launch(monkeypatch: pytest.MonkeyPatch) -> EmbeddedLaunch:
    """Capture the embedded server's command line instead of starting it."""
    import support.lifecycle.target as target

    launch = EmbeddedLaunch()
    monkeypatch.setattr(target.subprocess, "Popen", launch.popen)
    return launch
