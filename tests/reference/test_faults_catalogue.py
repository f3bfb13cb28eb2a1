"""The fault catalogue: the CLI listing, refusal of unknown names, and probe coverage.

Every fault of the table in ``docs/decisions.md`` must be listed by ``permiso-reference faults`` and
have a probe in one of the ``test_faults_*.py`` modules.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import test_faults_access
import test_faults_auth
import test_faults_coverage
import test_faults_data
import test_faults_http
import test_faults_release
from helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())"]
LINE = re.compile(r"^([a-z0-9_]+) {2,}(\S.*)$")


def table_faults() -> set[str]:
    """Fault names from the table in docs/decisions.md."""
    text = (ROOT / "docs" / "decisions.md").read_text()
    section = text.split("## Injectable faults", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| ([a-z0-9_]+) \|", section, flags=re.M)) - {"name"}


def probed_faults() -> set[str]:
    """Faults that have a probe."""
    names: set[str] = set()
    for module in (test_faults_auth, test_faults_access, test_faults_coverage, test_faults_data, test_faults_http,
                   test_faults_release):
        overlap = names & set(module.PROBES)
        assert not overlap, overlap
        names |= set(module.PROBES)
    return names


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the reference CLI; a server that wrongly starts is killed after ``timeout``."""
    try:
        return subprocess.run(
            [*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:  # pragma: no cover - only on a server bug
        pytest.fail(f"CLI {args} did not exit within {timeout}s (fault name ignored?): {exc.stdout!r}")


def test_every_table_fault_is_probed() -> None:
    """Each fault of decisions.md has a probe (and no probe is for an undocumented fault)."""
    table = table_faults()
    assert len(table) >= 30, table
    assert probed_faults() == table


def test_cli_lists_faults() -> None:
    """``permiso-reference faults`` prints ≥ 30 sorted lines ``name  description`` = the table."""
    result = run_cli("faults")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) >= 30, result.stdout
    names = []
    for line in lines:
        match = LINE.match(line)
        assert match, f"not 'name  description': {line!r}"
        names.append(match.group(1))
    assert names == sorted(names)
    assert set(names) == table_faults()


def test_cli_unknown_fault_refused() -> None:
    """``serve --faults <unknown>`` exits 2 naming the bad fault."""
    result = run_cli("serve", "--port", str(free_port()), "--faults", "no_such_fault", "--quiet")
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "no_such_fault" in result.stderr + result.stdout


def test_env_unknown_fault_refused() -> None:
    """An unknown name in PERMISO_REFERENCE_FAULTS is refused too."""
    env = {**os.environ, "PERMISO_REFERENCE_FAULTS": "lockout_never,bogus_fault_x"}
    result = run_cli("serve", "--port", str(free_port()), "--quiet", env=env)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "bogus_fault_x" in result.stderr + result.stdout


def test_python_api_unknown_fault_refused() -> None:
    """The Python API never silently ignores an unknown fault."""
    from permiso_reference.config import ReferenceSettings
    from permiso_reference.server import ReferenceServer

    with pytest.raises(Exception, match="no_such_fault"):
        server = ReferenceServer(ReferenceSettings(port=free_port(), faults=frozenset({"no_such_fault"})))
        try:
            server.start()
        finally:
            with contextlib.suppress(Exception):
                server.stop()


def _serve(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start ``permiso-reference serve`` and return the process and its announced base URL."""
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(free_port()), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        if line.startswith("permiso-reference listening on "):
            return proc, line.split(" on ", 1)[1].split()[0]
    proc.kill()
    pytest.fail("the CLI never announced 'permiso-reference listening on <base_url>'")


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop a CLI server started by this test (by its own pid)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def test_cli_serve_announces_and_serves() -> None:
    """``serve`` prints the listening line and serves /health there."""
    proc, base_url = _serve("--jwt-secret", "cli-secret-" + "s" * 40)
    try:
        resp = httpx.get(base_url + "/health", timeout=5, verify=False)
        assert resp.status_code == 200
        assert resp.json()["status"] == "healthy"
    finally:
        _stop(proc)


def test_cli_env_turns_fault_on() -> None:
    """PERMISO_REFERENCE_FAULTS turns a fault on (here: server_version_leak)."""
    env = {**os.environ, "PERMISO_REFERENCE_FAULTS": "server_version_leak"}
    proc, base_url = _serve(env=env)
    try:
        resp = httpx.get(base_url + "/health", timeout=5, verify=False)
        leaked = "uvicorn" in resp.headers.get("server", "").lower() or "x-powered-by" in resp.headers
        assert leaked, dict(resp.headers)
    finally:
        _stop(proc)
