"""Reusable helpers for the reporting tests: run behave, build the Allure 3 report, look at it in Chromium.

Why here and importable: the coordinator's end-to-end test on the real suite does the same things as
the fixture tests (run, build, render, search every output for secrets), so the mechanics live in one
place: :func:`run_behave`, :func:`build_report`, :func:`render_dom`, :func:`render_page`,
:func:`serve_directory`, :func:`test_result_id`, :func:`files_containing`.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from permiso_acceptance.report import build_report as _build_report

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixtures" / "project"
CDP_SCRIPT = Path(__file__).resolve().parent / "cdp.mjs"

#: shared/toolnotes.md: without the background-networking flags Chromium waits on refused connections.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


@dataclass(frozen=True)
class BehaveRun:
    """Where one behave run put its outputs."""

    returncode: int
    console: str
    out_dir: Path
    allure_results: Path
    junit_dir: Path
    summary: Path

    def output_files(self) -> list[Path]:
        """Every file the run wrote (console log included)."""
        return sorted(p for p in self.out_dir.rglob("*") if p.is_file())


def run_behave(
    out_dir: Path,
    *,
    project: Path = FIXTURE_PROJECT,
    tags: str | None = "not @flaky_once",
    userdata: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> BehaveRun:
    """Run behave as a subprocess with pretty + Allure formatters and JUnit, all into ``out_dir``.

    The console (stdout+stderr) is saved to ``out_dir/console.log`` so it can be searched like any file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    results, junit, summary = out_dir / "allure-results", out_dir / "junit", out_dir / "summary.md"
    data = {"allure_results": str(results), "summary": str(summary), **(userdata or {})}
    cmd = [
        sys.executable, "-m", "behave",
        "-f", "pretty", "-o", "-",
        "-f", "allure_behave.formatter:AllureFormatter", "-o", str(results),
        "--junit", "--junit-directory", str(junit),
        "-D", "AllureFormatter.hide_excluded=True",
    ]  # fmt: skip
    if tags:
        cmd += ["--tags", tags]
    for key, value in data.items():
        cmd += ["-D", f"{key}={value}"]
    cmd += list(extra_args)
    pythonpath = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    run_env = {**os.environ, "PYTHONPATH": pythonpath}
    run_env.update(env or {})
    proc = subprocess.run(
        cmd, cwd=project, env=run_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    console = proc.stdout + proc.stderr
    (out_dir / "console.log").write_text(console, encoding="utf-8")
    return BehaveRun(proc.returncode, console, out_dir, results, junit, summary)


def build_report(results: Path, out: Path, *, history_dir: Path | None = None) -> Path:
    """Build the multi-file report into ``out`` (plus the single file inside it); returns ``out``."""
    _build_report(results, out, history_dir=history_dir)
    return out


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def chromium_binary() -> str | None:
    """The Chromium executable (Debian's ``chromium``), or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on ``http://127.0.0.1:<free port>/`` for the duration of the block."""

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _as_url(url_or_file: str | Path) -> str:
    if isinstance(url_or_file, Path) or not re.match(r"^[a-z]+:", str(url_or_file)):
        return Path(url_or_file).resolve().as_uri()
    return str(url_or_file)


def render_dom(url_or_file: str | Path, *, budget_ms: int = 8000, timeout: float = 90) -> str:
    """The DOM after scripts ran (``--dump-dom`` after ``--virtual-time-budget``), as HTML."""
    chromium = chromium_binary()
    if chromium is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
             "--dump-dom", _as_url(url_or_file)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def visible_text(dom: str) -> str:
    """Rough visible text of a DOM dump: scripts/styles dropped, tags removed, whitespace collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom))).strip()


@dataclass(frozen=True)
class Click:
    """Click the element whose text is ``text``, then wait until every text of ``wait_for`` shows."""

    text: str
    wait_for: tuple[str, ...] = ()


def render_page(
    url_or_file: str | Path,
    *,
    wait_for: Iterable[str] = (),
    clicks: Iterable[Click] = (),
    screenshot: Path | None = None,
    size: tuple[int, int] = (1400, 1000),
    timeout_s: float = 60,
) -> str:
    """Open a page in headless Chromium via DevTools, wait for texts, click, return ``innerText``.

    Unlike :func:`render_dom` this can click (Allure 3 shows an attachment's content only once its row
    is clicked) and waits for content by polling rather than for a fixed virtual time.
    """
    chromium = chromium_binary()
    if chromium is None:
        raise RuntimeError("chromium is not installed")
    spec = {
        "chromium": chromium,
        "flags": list(CHROMIUM_FLAGS),
        "url": _as_url(url_or_file),
        "waitFor": list(wait_for),
        "click": [{"text": c.text, "waitFor": list(c.wait_for)} for c in clicks],
        "screenshot": str(screenshot) if screenshot else None,
        "width": size[0],
        "height": size[1],
        "timeoutMs": int(timeout_s * 1000),
    }
    # Everything Chromium and the script leave in TMPDIR (their profile, org.chromium.* files of helpers
    # that outlive the browser) goes into a folder of ours, removed afterwards: nothing stays in /tmp.
    scratch = Path(tempfile.mkdtemp(prefix="permiso-cdp-"))
    try:
        proc = subprocess.run(
            ["node", "--experimental-websocket", "--no-warnings", str(CDP_SCRIPT), json.dumps(spec)],
            capture_output=True, text=True, timeout=timeout_s + 30, check=False,
            env={**os.environ, "TMPDIR": str(scratch)},
        )  # fmt: skip
    finally:
        _remove_when_quiet(scratch)
    if proc.returncode != 0:
        raise AssertionError(f"browser check failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["text"]


def _remove_when_quiet(folder: Path, seconds: float = 10.0) -> None:
    """Kill what still runs with ``folder`` on its command line (Chromium's helpers outlive the browser
    the script killed and write its cache index late), wait until they are gone, then remove ``folder``."""
    import signal
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = []
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                if str(folder).encode() in (proc_dir / "cmdline").read_bytes():
                    alive.append(int(proc_dir.name))
            except OSError:
                continue
        for pid in alive:
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if not alive:
            break
        time.sleep(0.05)
    shutil.rmtree(folder, ignore_errors=True)


def test_result_id(report_dir: Path, scenario_name: str) -> str:
    """The Allure 3 test-result id of a scenario (its page is ``<report>/#/<id>``)."""
    for path in (report_dir / "data" / "test-results").glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("name") == scenario_name:
            return path.stem
    raise LookupError(f"no test result named {scenario_name!r} in {report_dir}")


test_result_id.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name


def files_containing(roots: Iterable[Path], needles: Iterable[str]) -> dict[str, list[str]]:
    """``{needle: [files that contain it]}`` over every file under ``roots`` (bytes, any encoding)."""
    needles = [n for n in needles if n]
    hits: dict[str, list[str]] = {}
    for root in roots:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            blob = path.read_bytes()
            for needle in needles:
                if needle.encode() in blob:
                    hits.setdefault(needle, []).append(str(path))
    return hits
