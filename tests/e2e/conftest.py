"""Shared helpers for end-to-end runs of behave (as a subprocess, exactly as a user runs it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import urllib3

ROOT = Path(__file__).resolve().parents[2]
BEHAVE = [sys.executable, "-m", "behave"]

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@dataclass
class BehaveRun:
    returncode: int
    output: str
    seconds: float
    workdir: Path


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any PERMISO_/TEST_/PERF_ settings leaking into the run."""
    prefixes = ("PERMISO_", "TEST_", "PERF_", "RATE_LIMIT_", "SECURITY_SCAN", "DOCKER_HOST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra or {})
    return env


def run_behave(
    args: Sequence[str],
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> BehaveRun:
    """Run behave on the repo's features with every output inside tmp_path (never the repo's own).

    behave appends command-line formatters to those of pyproject.toml (and listing the Allure formatter
    twice crashes), so the run happens in tmp_path, where no project config is found, with the formats
    given here; feature paths are made absolute.
    """
    allure = tmp_path / "allure-results"
    junit = tmp_path / "junit"
    paths = [str(ROOT / a) if a.startswith("features") else a for a in args]
    if not any((not a.startswith("-") and (ROOT / a).exists()) or a.startswith(str(ROOT)) for a in paths):
        paths.append(str(ROOT / "features"))
    argv = [
        *BEHAVE,
        "--no-color",
        "-f", "plain", "-o", str(tmp_path / "plain.txt"),
        "-f", "allure_behave.formatter:AllureFormatter", "-o", str(allure),
        "-D", "AllureFormatter.hide_excluded=true",
        "--junit", "--junit-directory", str(junit),
        *paths,
    ]
    run_env = clean_env(env)
    run_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), run_env.get("PYTHONPATH", "")]))
    started = time.monotonic()
    # Own session: on a timeout the whole group goes (behave *and* the embedded server it started).
    child = subprocess.Popen(
        argv, cwd=tmp_path, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise
    proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
    plain = (tmp_path / "plain.txt").read_text() if (tmp_path / "plain.txt").exists() else ""
    # plain first: the tail (what assertion messages show) is then behave's summary and failing scenarios
    return BehaveRun(proc.returncode, plain + proc.stdout + proc.stderr, time.monotonic() - started, tmp_path)


@dataclass
class RunningReference:
    base_url: str
    http_url: str
    jwt_secret: str
    process: subprocess.Popen[bytes]

    def env(self, **extra: str) -> dict[str, str]:
        """Settings that point the suite at this server as if it were a real deployment."""
        return {
            "PERMISO_BASE_URL": self.base_url,
            "PERMISO_HTTP_URL": self.http_url,
            "PERMISO_JWT_SECRET": self.jwt_secret,
            "PERMISO_LOCKOUT_MINUTES": str(2 / 60),
            "PERMISO_AUTH_RATE_PER_SECOND": "50",
            # a front URL is given but no limiter runs in front of this server
            "PERMISO_AUTH_RATE_LIMITED": "false",
            **extra,
        }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def start_reference(tmp_path: Path, *extra: str, tls: bool = True) -> Iterator[RunningReference]:
    """A reference Permiso started on its own (known secret, extra `serve` options), like a deployment
    the suite did not start; stopped on exit. ``tls=False``: plain HTTP only (no redirect port)."""
    port, http_port = free_port(), free_port()
    secret = "e2e-" + os.urandom(12).hex()
    front = ["--tls", "--http-port", str(http_port)] if tls else []
    argv = [
        sys.executable, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())",
        "serve", "--port", str(port), *front,
        "--db", str(tmp_path / "ref.db"), f"--jwt-secret={secret}", "--lockout-seconds", "2", "--quiet", *extra,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if requests.get(base + "/health", verify=False, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, "reference server exited during start"
            assert time.monotonic() < deadline, "reference server did not become healthy"
            time.sleep(0.05)
        yield RunningReference(base, f"http://127.0.0.1:{http_port}" if tls else "", secret, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def reference_server(tmp_path: Path) -> Iterator[RunningReference]:
    """A reference Permiso started on its own, like a deployment the suite did not start."""
    with start_reference(tmp_path) as ref:
        yield ref


def read_until(proc: subprocess.Popen[str], done: Callable[[str], bool], timeout: float = 30) -> str:
    """Read ``proc``'s output line by line until ``done(everything read so far)`` holds; bounded by
    ``timeout`` (the whole output so far is in the failure message)."""
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen += line
        if done(seen):
            return seen
    raise AssertionError(f"the process did not get far enough; output so far: {seen[-3000:]!r}")
