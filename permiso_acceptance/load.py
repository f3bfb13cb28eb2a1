"""`permiso-acceptance load`: the command line of the load engine (support/domains/load.py).

It parses the options (defaults from the settings), resolves the target (``PERMISO_BASE_URL`` or
``--host``, else the embedded reference Permiso, started here and stopped afterwards), runs the engine
and prints its summary. Exit 0 when the failure ratio is at most 1 % and every p95 is within budget, 1
when not, 2 when the load could not run at all. Distributed mode: ``--master --expect-workers N`` (it
listens on ``--master-bind-host``, loopback by default) and ``--worker --master-host H`` on each load
machine. See docs/performance.md "Load".
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support.domains.load import (
    DEFAULT_REPORTS_DIR,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_PASSED,
    LoadOptions,
    run_load,
    run_worker,
)
from support.domains.load_results import LoadError
from support.lifecycle.target import TargetError, resolve_target
from support.wire.settings import Settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="permiso-acceptance load",
        description="Run a headless Locust load (locustfile.py journeys) against the target and judge "
                    "failure ratio and p95 per step against the PERF_*_THRESHOLD_MS budgets.",
    )
    parser.add_argument("--users", type=int, default=settings.test_concurrent_users,
                        help="concurrent simulated users (default TEST_CONCURRENT_USERS = %(default)s)")
    parser.add_argument("--spawn-rate", type=float, default=None,
                        help="users started per second (default: users/10, at least 1)")
    parser.add_argument("--duration", type=int, default=settings.test_duration_seconds,
                        help="seconds of load (default TEST_DURATION_SECONDS = %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--master", action="store_true",
                      help="run as Locust master: owns target, pool, reports and verdict; waits for workers")
    mode.add_argument("--worker", action="store_true",
                      help="run as Locust worker of the master at --master-host (needs no other option)")
    parser.add_argument("--master-host", default="127.0.0.1", help="worker: the master's address")
    parser.add_argument("--master-port", type=int, default=5557,
                        help="master: port to listen on; worker: port to connect to (default %(default)s)")
    parser.add_argument("--master-bind-host", default="127.0.0.1",
                        help="master: address to listen on (default loopback; 0.0.0.0 for remote workers)")
    parser.add_argument("--expect-workers", type=int, default=1,
                        help="master: start when this many workers are connected (default %(default)s)")
    parser.add_argument("--expect-workers-max-wait", type=int, default=60,
                        help="master: give up after this many seconds without enough workers")
    parser.add_argument("--host", default=None,
                        help="target base URL for this run (overrides PERMISO_BASE_URL; unset and no "
                             "PERMISO_BASE_URL = the embedded reference Permiso)")
    parser.add_argument("--reports-dir", type=Path, default=DEFAULT_REPORTS_DIR,
                        help="where the JSON, CSV, HTML report and Locust log go (default %(default)s)")
    return parser


def parse_options(argv: Sequence[str], settings: Settings) -> LoadOptions:
    parser = build_parser(settings)
    args = parser.parse_args(list(argv))
    for name in ("users", "duration", "expect_workers", "expect_workers_max_wait"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")  # exits 2, like argparse
    spawn_rate = args.spawn_rate if args.spawn_rate is not None else max(1.0, args.users / 10)
    if spawn_rate <= 0:
        parser.error("--spawn-rate must be positive")
    return LoadOptions(
        users=args.users, spawn_rate=spawn_rate, duration_s=args.duration, master=args.master,
        worker=args.worker, master_host=args.master_host, master_port=args.master_port,
        master_bind_host=args.master_bind_host, expect_workers=args.expect_workers,
        expect_workers_max_wait_s=args.expect_workers_max_wait, host=args.host, reports_dir=args.reports_dir,
    )


def _install_sigterm() -> None:
    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, on_term)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``permiso-acceptance load``; returns the exit code."""
    settings = Settings.load()
    options = parse_options(sys.argv[1:] if argv is None else argv, settings)
    _install_sigterm()
    if options.worker:
        try:
            return run_worker(options)
        except KeyboardInterrupt:
            return 130
    if options.host:
        settings = settings.with_target(options.host, settings.permiso_http_url)
    try:
        target, settings = resolve_target(settings)
    except TargetError as exc:
        print(f"permiso-acceptance load: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        print(f"Target: {target.describe()}", flush=True)
        result = run_load(settings, options, embedded=target.embedded, target_description=target.describe(),
                          echo=lambda line: print(line, flush=True))
    except LoadError as exc:
        print(f"permiso-acceptance load: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("permiso-acceptance load: interrupted; the account pool was deleted", file=sys.stderr)
        return 130
    finally:
        target.stop()
    print(result.render(), flush=True)
    return EXIT_PASSED if result.passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
