"""The load engine: a headless Locust load against the target, judged against the budgets.

Why Locust is never imported here: Locust monkey-patches the standard library with gevent at import
time, and doing that after ``requests``/``ssl`` are loaded breaks TLS (RecursionError). So Locust always
runs as a **subprocess** on ``locustfile.py``; this module only prepares, starts, watches and judges it.
Both ``permiso-acceptance load`` (permiso_acceptance/load.py: the command line and the target) and
``features/performance/load.feature`` run it.

What a run does (standalone or ``--master``), given settings that already point at the target:
1. create a pool of throwaway accounts through the admin API (one regular user per simulated user, an
   administrator, a service client), named like every throwaway of the suite;
2. write target and pool to a private temp JSON file (mode 0600) handed to Locust as
   ``--permiso-config PATH``: no password ever appears on a command line or in output;
3. run ``locust --headless`` writing JSON, CSV and the HTML report under ``reports/load/``;
4. delete the pool (also after a failure, Ctrl-C or SIGTERM) and judge: total req/s, failure ratio,
   p50/p95/p99 per journey and per step, each step's p95 against its ``PERF_*_THRESHOLD_MS``.

Reading Locust's statistics back and the verdict (:class:`~support.domains.load_results.LoadResult`) are
in :mod:`support.domains.load_results`.

Distributed mode is Locust's own: a master owns target, pool, reports and verdict; ``run_worker`` is a
load machine that receives target and pool from its master over Locust's message channel.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.domains.load_results import MAX_FAILURE_RATIO, LoadError, LoadResult, parse_locust_results
from support.wire import redaction
from support.wire.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = PROJECT_ROOT / "locustfile.py"
DEFAULT_REPORTS_DIR = Path("reports") / "load"
#: seconds Locust may take beyond the load's duration (start-up, stop timeout, writing reports)
LOCUST_GRACE_S = 60.0
#: seconds each simulated user may finish its current task after the duration is over
STOP_TIMEOUT_S = 5
#: pool creation pace against a real deployment: under the front's API limit of 10 r/s (Part B)
DEPLOYMENT_ADMIN_RATE_PER_S = 8.0

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

FRONT_WARNING = (
    "Note: a real deployment's front (nginx) rate-limits each client IP: auth paths 5 r/s (burst 10), "
    "the API 10 r/s (burst 20), 20 connections; rejections are 503 pages. A load from one machine with "
    "{users} users goes past that, so expect 503s: that is the deployment's rate limit speaking, not the "
    "service failing. Run workers from several machines (distributed mode) to load the service itself."
)


# --------------------------------------------------------------------------------------- options
@dataclass
class LoadOptions:
    """What to run; built from the command line (defaults from settings) or by a behave step."""

    users: int
    spawn_rate: float
    duration_s: int
    master: bool = False
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    master_bind_host: str = "127.0.0.1"
    expect_workers: int = 1
    expect_workers_max_wait_s: int = 60
    host: str | None = None
    reports_dir: Path = DEFAULT_REPORTS_DIR
    locustfile: Path = LOCUSTFILE
    max_failure_ratio: float = MAX_FAILURE_RATIO

    @property
    def workers(self) -> int:
        return self.expect_workers if self.master else 1

    @property
    def mode(self) -> str:
        return "master" if self.master else "worker" if self.worker else "standalone"


# --------------------------------------------------------------------------------------- the pool
@dataclass
class Pool:
    """Throwaway accounts for one load; ``accounts()`` is what the locustfile receives."""

    users: list[Any]
    admins: list[Any]
    service_clients: list[Any]
    cleanup_problem: str | None = None

    def accounts(self) -> dict[str, Any]:
        return {
            "users": [{"username": u.username, "password": u.password} for u in self.users],
            "admins": [{"username": a.username, "password": a.password} for a in self.admins],
            "service_clients": [{"client_id": c.client_id, "client_secret": c.secret}
                                for c in self.service_clients],
        }


def pool_size(options: LoadOptions) -> int:
    """Regular accounts needed: one per simulated user (a sign-out revokes all refresh tokens of an
    account, so two simultaneous journeys must not share one), plus slack for uneven worker splits."""
    return options.users + options.workers


@contextlib.contextmanager
def account_pool(settings: Settings, size: int, *, embedded: bool,
                 echo: Callable[[str], None] = print) -> Iterator[Pool]:
    """Create the pool through the admin API; delete it on exit, whatever happened (Ctrl-C included)."""
    from support.people.identities import Identities, ProvisioningError
    from support.wire.client import PermisoClient
    from support.wire.pacing import AuthPacer
    from support.wire.transport import TargetUnreachable

    admin = PermisoClient(settings, name="load administrator")
    try:
        answer = admin.sign_in_administrator()
    except TargetUnreachable as exc:
        raise LoadError(str(exc)) from None
    if answer.status != 200:
        raise LoadError(f"the configured administrator {settings.test_admin_username!r} cannot sign in "
                        f"(HTTP {answer.status}); the load needs it to create its account pool")
    cleanups: list[Callable[[], None]] = []
    identities = Identities(admin, settings, cleanups.append)
    pacer = AuthPacer()
    pool = Pool([], [], [])
    started = time.monotonic()
    try:
        echo(f"Creating the load's account pool: {size} users, 1 administrator, 1 service client ...")
        try:
            for _ in range(size):
                if not embedded:
                    pacer.wait(DEPLOYMENT_ADMIN_RATE_PER_S)
                pool.users.append(identities.user("load"))
            pool.admins.append(identities.user("load admin", roles=("admin",)))
            pool.service_clients.append(identities.service_client("load"))
        except (ProvisioningError, TargetUnreachable) as exc:
            raise LoadError(f"could not create the account pool: {exc}") from None
        echo(f"Account pool ready in {time.monotonic() - started:.1f} s")
        yield pool
    finally:
        created = len(pool.users) + len(pool.admins) + len(pool.service_clients)
        with _sigint_deferred():
            try:
                for cleanup in cleanups:
                    cleanup()
                if created:
                    echo(f"Account pool deleted ({created} accounts)")
            except Exception as exc:  # reported in the summary; must not hide the load's own outcome
                pool.cleanup_problem = redaction.redact_text(" ".join(str(exc).split()))[:500]
                echo(f"Account pool cleanup problem: {pool.cleanup_problem}")
            finally:
                with contextlib.suppress(Exception):  # never a logout: it would end every admin session
                    admin.revoke_own_tokens()
                admin.close()


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Ignore a second Ctrl-C while the pool is being deleted (cleanup must finish)."""
    previous: Any = None
    with contextlib.suppress(ValueError):  # not the main thread: nothing to defer
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if previous is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def private_config(data: dict[str, Any]) -> Iterator[Path]:
    """A JSON file only this user can read, removed on exit (it holds the pool's passwords)."""
    with tempfile.TemporaryDirectory(prefix="permiso-load-") as folder:
        path = Path(folder) / "load-config.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        yield path


# --------------------------------------------------------------------------------------- Locust
def locust_command(options: LoadOptions, *, host: str | None = None, config: Path | None = None,
                   out_prefix: Path | None = None) -> list[str]:
    """The Locust command line for the mode (no secret: the config file path only)."""
    argv = [sys.executable, "-m", "locust", "-f", str(options.locustfile)]
    if options.worker:
        return [*argv, "--worker", "--master-host", options.master_host,
                "--master-port", str(options.master_port), "--loglevel", "INFO"]
    assert host and config and out_prefix
    argv += [
        "--headless", "--host", host, "--permiso-config", str(config),
        "-u", str(options.users), "-r", f"{options.spawn_rate:g}", "-t", f"{options.duration_s}s",
        "--stop-timeout", str(STOP_TIMEOUT_S), "--only-summary", "--exit-code-on-error", "0",
        "--csv", str(out_prefix), "--json-file", str(out_prefix.parent / "stats"),
        "--html", str(out_prefix.parent / "report.html"), "--loglevel", "INFO",
    ]
    if options.master:
        argv += ["--master", "--master-bind-host", options.master_bind_host,
                 "--master-bind-port", str(options.master_port),
                 "--expect-workers", str(options.expect_workers),
                 "--expect-workers-max-wait", str(options.expect_workers_max_wait_s)]
    return argv


def run_locust(argv: list[str], *, log_path: Path | None, timeout_s: float,
               echo: Callable[[str], None] | None = None) -> tuple[int, list[str]]:
    """Run Locust, streaming its (redacted) output to ``log_path`` and/or ``echo``; bounded by timeout.

    Returns the exit code and the last lines of output. On timeout Locust is stopped (SIGINT, so it
    still writes its reports, then SIGKILL) and the code is 124. Ctrl-C stops it the same way and is
    re-raised so the caller's cleanup runs.
    """
    tail: deque[str] = deque(maxlen=25)
    log = log_path.open("w", encoding="utf-8", buffering=1) if log_path else None
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, bufsize=1, cwd=PROJECT_ROOT)

    def pump() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = redaction.redact_text(raw.rstrip("\n"))
            tail.append(line)
            if log:
                log.write(line + "\n")
            if echo:
                echo(line)

    reader = threading.Thread(target=pump, name="locust-output", daemon=True)
    reader.start()
    try:
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop(process)
            code = 124
            tail.append(f"(stopped: Locust ran longer than {timeout_s:.0f} s)")
    except BaseException:
        _stop(process)
        raise
    finally:
        reader.join(timeout=5)
        if log:
            log.close()
    return code, list(tail)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S + 15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run_load(settings: Settings, options: LoadOptions, *, embedded: bool, target_description: str,
             echo: Callable[[str], None] = print) -> LoadResult:
    """Pool → Locust → pool deleted → judged result. ``settings`` already point at the target."""
    if options.worker:
        raise ValueError("run_load is for standalone and master mode; workers use run_worker")
    if not embedded:
        echo(FRONT_WARNING.format(users=options.users))
    reports = options.reports_dir.resolve()  # Locust runs in the project root: hand it absolute paths
    reports.mkdir(parents=True, exist_ok=True)
    for old in reports.glob("load_*.csv"):
        old.unlink()
    for name in ("stats.json", "report.html", "locust.log"):
        (reports / name).unlink(missing_ok=True)
    prefix = reports / "load"
    tail: list[str] = []
    code = 0
    with account_pool(settings, pool_size(options), embedded=embedded, echo=echo) as pool:
        config = {
            "base_url": settings.base_url,
            "api_base": settings.permiso_api_base,
            "verify": bool(settings.test_verify_ssl),
            "ca_path": settings.test_ssl_cert_path,
            "timeout_s": float(settings.test_timeout_seconds),
            "workers": options.workers,
            **pool.accounts(),
        }
        with private_config(config) as config_path:
            argv = locust_command(options, host=settings.base_url, config=config_path, out_prefix=prefix)
            waiting = f", waiting for {options.expect_workers} worker(s)" if options.master else ""
            echo(f"Running Locust ({options.mode}{waiting}): {options.users} users, spawn rate "
                 f"{options.spawn_rate:g}/s, {options.duration_s} s; log in {reports / 'locust.log'}")
            timeout = options.duration_s + LOCUST_GRACE_S + (
                options.expect_workers_max_wait_s if options.master else 0)
            code, tail = run_locust(argv, log_path=reports / "locust.log", timeout_s=timeout)
    json_path = reports / "stats.json"
    if code not in (0, 1) or not json_path.exists():
        detail = "\n".join(f"  | {line}" for line in tail[-15:])
        raise LoadError(f"Locust did not complete (exit code {code}); last output:\n{detail}")
    parsed = parse_locust_results(json_path, prefix, settings)
    result = LoadResult(
        users=options.users, spawn_rate=options.spawn_rate, duration_s=options.duration_s,
        target=target_description, embedded=embedded, mode=options.mode,
        reports=[p for p in (json_path, Path(f"{prefix}_stats.csv"), reports / "report.html",
                             reports / "locust.log") if p.exists()],
        max_failure_ratio=options.max_failure_ratio, cleanup_problem=pool.cleanup_problem, **parsed,
    )
    return result


def run_worker(options: LoadOptions) -> int:
    """A Locust worker: connects to the master, receives target and pool from it, runs users."""
    argv = locust_command(options)
    print(f"Locust worker connecting to master {options.master_host}:{options.master_port} ...", flush=True)
    # Bounded: a worker whose master never comes (or never ends) stops by itself. Give workers of a
    # load longer than TEST_DURATION_SECONDS the same --duration as the master.
    timeout = options.duration_s + 2 * LOCUST_GRACE_S + 600
    code, _ = run_locust(argv, log_path=None, timeout_s=timeout,
                         echo=lambda line: print(f"[worker] {line}", flush=True))
    return 0 if code in (0, 1) else code
