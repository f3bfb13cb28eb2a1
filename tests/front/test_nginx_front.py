"""The production-like nginx front (`permiso-reference front`) and parallel runs with behavex.

Why these tests: the infrastructure and rate-limit scenarios are about the front a deployment has
(contract Part B). Here they run through a REAL nginx - TLS, 301 to HTTPS dropping the port,
`/nginx-health`, the 5 r/s burst 10 auth zone answering 503 HTML - with the suite configured exactly
as for a deployment, so its pacing (PERMISO_AUTH_RATE_PER_SECOND=4, under the front's 5 r/s) is what
keeps ordinary scenarios under the limit. The behavex test shows `behavex --parallel-processes 2
--parallel-scheme feature` runs green with complete Allure results (attachments included), both with
the project's Allure formatter and with allure-behave's hooks mode (a config without the formatter).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import urllib3

from permiso_reference.front import find_nginx
from tests.e2e.conftest import ROOT, clean_env, run_behave

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

NGINX = find_nginx()
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install -y nginx)")
START_TIMEOUT_S = 30.0


@dataclass
class Front:
    base_url: str
    http_url: str
    jwt_secret: str

    def env(self) -> dict[str, str]:
        """The suite pointed at the front as at a deployment (short lockout, paced under 5 r/s)."""
        return {
            "PERMISO_BASE_URL": self.base_url,
            "PERMISO_HTTP_URL": self.http_url,
            "PERMISO_JWT_SECRET": self.jwt_secret,
            "PERMISO_LOCKOUT_MINUTES": str(2 / 60),
            "PERMISO_AUTH_RATE_PER_SECOND": "4",
        }


def _read_lines(stream: object, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        into.put(line)


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    """`permiso-reference front` as its own process, exactly as an engineer starts it."""
    secret = "front-" + os.urandom(12).hex()
    argv = [sys.executable, "-c", "import sys; from permiso_reference.cli import main; sys.exit(main())",
            "front", "--db", str(tmp_path / "front.db"), f"--jwt-secret={secret}", "--lockout-seconds", "2"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=clean_env())
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    seen: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the front did not announce itself within {START_TIMEOUT_S:.0f} s: {seen}")
            seen.append(line.strip())
            if "listening on" in line:
                words = line.split()
                https, http = words[words.index("on") + 1], words[words.index("and") + 1]
                break
            if proc.poll() is not None and lines.empty():
                pytest.fail(f"the front exited with code {proc.returncode}: {seen}")
        yield Front(https, http, secret)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0, f"the front did not stop cleanly: {seen}"


# ---------------------------------------------------------------------------------------- the front
@needs_nginx
def test_the_front_is_shaped_like_production(front: Front) -> None:
    https = requests.get(f"{front.base_url}/health", verify=False, timeout=5)
    assert https.status_code == 200
    assert https.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert https.headers["X-Frame-Options"] == "DENY"  # once, not "DENY, DENY" (app + front)
    assert https.headers["Server"] == "nginx"  # no version

    moved = requests.get(f"{front.http_url}/api/v1/users/me", allow_redirects=False, timeout=5)
    assert moved.status_code == 301
    assert moved.headers["Location"] == "https://127.0.0.1/api/v1/users/me"  # the port dropped
    assert moved.headers["X-Content-Type-Options"] == "nosniff"

    health = requests.get(f"{front.http_url}/nginx-health", timeout=5)
    assert health.status_code == 200

    def attempt(_: int) -> requests.Response:
        return requests.post(f"{front.base_url}/api/v1/auth/token", data={"username": "nobody", "password": "x"},
                             verify=False, timeout=10)

    # 30 attempts, 10 at a time (under the 20-connection limit): well past 5 r/s with a burst of 10.
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(attempt, range(30)))
    rejected = [a for a in answers if a.status_code == 503]
    assert rejected, [a.status_code for a in answers]
    assert rejected[0].headers["Content-Type"].startswith("text/html")
    assert all(a.status_code in (401, 503) for a in answers)


@needs_nginx
def test_infrastructure_and_rate_limit_scenarios_pass_through_the_front(tmp_path: Path, front: Front) -> None:
    paths = ["features/infrastructure"]
    rate_limits = ROOT / "features" / "security" / "rate_limits.feature"
    if rate_limits.exists():
        paths.append(str(rate_limits))
    run = run_behave(paths, tmp_path, env=front.env(), timeout=600)
    assert run.returncode == 0, run.output[-5000:]
    results = _allure_results(tmp_path / "allure-results")
    passed = {r["name"] for r in results if r["status"] == "passed"}
    assert any("HTTPS" in name for name in passed), sorted(passed)
    if rate_limits.exists():
        guessing = [r for r in results if "guessing" in r["name"].lower()]
        assert guessing and all(r["status"] == "passed" for r in guessing), guessing
        floods = [r for r in results if "flood" in r["name"].lower()]
        statuses = [(r["name"], r["status"]) for r in floods]
        if floods and all(r["status"] == "skipped" for r in floods) and not _rate_limit_capability_wired():
            pytest.xfail("the @needs.auth_rate_limit capability is not probed yet: "
                         "support.domains.hygiene.install "
                         "(context) is not called from the run's before_all, so the flood scenarios were skipped")
        assert floods and all(r["status"] == "passed" for r in floods), statuses


# ---------------------------------------------------------------------------------------- behavex
def _short_output_dir() -> str:
    """behavex puts multiprocessing's AF_UNIX sockets under its output folder; a pytest tmp_path (longer
    still under xdist) passes the 108-byte socket-path limit, so the output goes to a short /tmp dir."""
    out = tempfile.mkdtemp(prefix="bhx-", dir="/tmp")
    atexit.register(shutil.rmtree, out, True)
    return out


BEHAVEX_SUBSET = ["features/infrastructure", "features/tokens", "features/authentication/lockout.feature"]


@pytest.mark.parametrize("allure_mode", ["formatter", "hooks"])
def test_behavex_two_processes_green_with_allure_attachments(tmp_path: Path, allure_mode: str) -> None:
    """behavex runs in tmp_path; there a pyproject.toml either lists the Allure formatter (like the repo's)
    or not (then support/lifecycle/parallel.py switches to allure-behave's hooks mode in the workers)."""
    behavex = shutil.which("behavex", path=str(Path(sys.executable).parent)) or shutil.which("behavex")
    if behavex is None:
        pytest.skip("behavex is not installed (pip install -e '.[test]')")
    formats = '["pretty", "allure_behave.formatter:AllureFormatter"]' if allure_mode == "formatter" else '["pretty"]'
    outfiles = '["-", "allure-results"]' if allure_mode == "formatter" else '["-"]'
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.behave]\nformat = {formats}\noutfiles = {outfiles}\nshow_skipped = false\n"
        '[tool.behave.userdata]\n"AllureFormatter.hide_excluded" = "true"\n')
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    argv = [behavex, "--parallel-processes", "2", "--parallel-scheme", "feature", "-o", _short_output_dir(),
            *(str(ROOT / p) for p in BEHAVEX_SUBSET)]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "shared by 2 behavex workers" in output  # one embedded server, not one per feature
    results = _allure_results(tmp_path / "allure-results")
    statuses = {r["status"] for r in results}
    assert statuses <= {"passed", "skipped"}, statuses
    assert len(results) >= 10
    attachments = [a for r in results for a in _attachments(r)]
    assert attachments, "no Allure attachments from the workers"
    assert all((tmp_path / "allure-results" / a["source"]).is_file() for a in attachments)
    # the per-worker summaries were merged into one, not overwritten feature by feature
    summary = (tmp_path / "reports" / "signoff-summary.md").read_text()
    assert "RELEASE-READY" in summary
    assert "@infrastructure" in summary and "@tokens" in summary


def test_behavex_with_a_misspelled_tag_fails(tmp_path: Path) -> None:
    """behavex alone exits 0 when a tag matches nothing; the suite makes that run fail (run-wide)."""
    behavex = shutil.which("behavex", path=str(Path(sys.executable).parent)) or shutil.which("behavex")
    if behavex is None:
        pytest.skip("behavex is not installed (pip install -e '.[test]')")
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    argv = [behavex, "--parallel-processes", "2", "--parallel-scheme", "feature", "-o", _short_output_dir(),
            "-t", "@no_such_tag_anywhere", str(ROOT / "features" / "infrastructure")]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0, (proc.stdout + proc.stderr)[-3000:]
    assert "no scenario matched" in proc.stdout + proc.stderr


def _rate_limit_capability_wired() -> bool:
    """Whether the run's before_all probes the auth_rate_limit capability (support/domains/hygiene.py)."""
    return any("hygiene.install" in (ROOT / "support" / "lifecycle" / name).read_text()
               for name in ("run.py", "provisioning.py"))


def _allure_results(folder: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in folder.glob("*-result.json")]


def _attachments(node: dict[str, object]) -> list[dict[str, str]]:
    found = list(node.get("attachments", []))  # type: ignore[arg-type]
    for step in node.get("steps", []):  # type: ignore[union-attr]
        found += _attachments(step)
    return found
