"""Nothing is left in the temp folder: after a TLS start, after SIGTERM to `permiso-reference serve`, after
Ctrl-C (or SIGTERM) to a behave run.

Where leftovers came from: every TLS start wrote its certificate and key into a `permiso-ref-tls-*`
folder removed only by a clean `stop()`; and `permiso-reference serve` had no SIGTERM handler, so a
`kill` (which is how the suite's `Target.stop()` ends the embedded server) skipped `stop()`, leaving
that folder and, without `--db`, the temporary SQLite file with its 4 MB `-wal` and `-shm`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from permiso_reference.config import ReferenceSettings
from permiso_reference.server import ReferenceServer
from tests.e2e.conftest import ROOT, clean_env, read_until

SERVE = [sys.executable, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())", "serve"]


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    return read_until(proc, lambda seen: needle in seen, timeout)


def test_a_tls_start_keeps_no_certificate_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with ReferenceServer(ReferenceSettings(port=0, tls=True, http_port=0)) as server:
        assert server.cert_pem and server.cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("permiso-ref-tls-")]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_serve_stopped_by_a_signal_leaves_the_temp_folder_empty(tmp_path: Path, sig: signal.Signals) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env({"TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)})
    proc = subprocess.Popen([*SERVE, "--tls", "--http-port", "0", "--port", "0"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _wait_for_line(proc, "listening on https://")
        # the temporary database is there while it serves (it is what must go)
        assert any(p.name.endswith(".sqlite3-wal") for p in tmp.iterdir()), sorted(os.listdir(tmp))
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sorted(os.listdir(tmp)) == []


@pytest.mark.parametrize(
    ("how", "sig"),
    [("the whole process group, like Ctrl-C", signal.SIGINT), ("behave alone", signal.SIGTERM)],
    ids=["ctrl-c", "sigterm"],
)
def test_an_interrupted_behave_run_leaves_nothing_in_tmp(tmp_path: Path, how: str, sig: signal.Signals) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env({"TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)})
    argv = [sys.executable, "-m", "behave", "--no-color", "-f", "plain", "--no-junit",
            "--tags=not @slow", str(ROOT / "features")]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # mid-way: the embedded server runs and scenarios are passing
        _wait_for_line(proc, "Scenario", timeout=60)
        _wait_for_line(proc, "passed", timeout=60)
        assert any(p.name.startswith("permiso-") for p in tmp.iterdir()), "the run has not started its server"
        if how.startswith("the whole"):
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    time.sleep(0.5)  # the server's own cleanup may finish a moment after behave
    leftovers = sorted(p.name for p in tmp.iterdir() if p.name.startswith("permiso-"))
    assert leftovers == [], leftovers
