"""Benchmark, run by hand (not part of the test suite): is the load generator or the suite the bottleneck?

Prints, measured in ONE run and side by side:

1. requests/s that ``wrk`` (a C load generator) and Locust (FastHttpUser, one process and two) drive
   against the same ``/health`` of one embedded reference Permiso, over HTTPS on loopback. If Locust
   gets far less out of the server than wrk does, Locust is the bottleneck and a load test with it
   measures Locust, not Permiso (then run it distributed: ``permiso-acceptance load --master/--worker``);
2. the wall time of the whole behave suite against the sum of the transport times of all its HTTP
   calls (what is left is the suite's own work: start-up, the embedded server, hashing, waiting);
3. the wall time of the ``@critical`` release gate, with the same split;
4. both again on the *production-like* embedded target (``PERMISO_REFERENCE_HASHING=production``:
   argon2id as the release, ``PERMISO_REFERENCE_AUTH_RATE_LIMIT=5``: the front's auth limit), with the
   sign-ins and user creations each run made;
5. the whole suite with ``behavex --parallel-processes 2`` on the clean target, right after the serial
   run of 2., and the speed-up; with ``--pairs N``, N such back-to-back pairs, each speed-up and
   their median.

Suite runs happen in the project folder, exactly as a release engineer types them (``behave``,
``behave --tags=@critical``, ``behavex ...``), so they read pyproject.toml and write ``reports/`` and
``allure-results/`` like any run; wall time is measured from outside and includes the embedded server's
start. The machine's load average is printed with every figure: on a shared machine it moves them.

Usage:  python benchmarks/run_benchmark.py [--seconds 10] [--connections 20] [--skip-suite] [--skip-health]
                                           [--skip-production] [--skip-behavex] [--pairs N]
Needs:  wrk (``apt-get install -y wrk``) for 1. Targets are loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SUITE_TIMEOUT_S = 1800
LOAD_AT_START = os.getloadavg()


@dataclass
class Throughput:
    tool: str
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int


@dataclass
class SuiteTiming:
    run: str
    wall_s: float
    http_s: float
    calls: int
    returncode: int
    scenarios: str
    load: str = ""
    sign_ins: int = 0
    users_created: int = 0
    retried: int = 0


#: the two embedded targets: the clean default and the production-like one (contract D.5, Part B)
TARGETS: dict[str, dict[str, str]] = {
    "clean": {},
    "production-like": {"PERMISO_REFERENCE_HASHING": "production", "PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"},
}
#: what a target's environment must not inherit from the caller's
TARGET_NAMES = ("PERMISO_BASE_URL", "PERMISO_REFERENCE_HASHING", "PERMISO_REFERENCE_AUTH_RATE_LIMIT",
                "PERMISO_REFERENCE_PROFILE", "PERMISO_REFERENCE_FAULTS")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def _env(target: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TARGET_NAMES}
    return env | TARGETS[target]


# ---------------------------------------------------------------------------------------- /health
def _ms(text: str) -> float:
    value = float(re.sub(r"[a-z]+$", "", text))
    return value * 1000 if text.endswith("s") and not text.endswith(("ms", "us")) else \
        value / 1000 if text.endswith("us") else value


def run_wrk(url: str, seconds: int, connections: int) -> Throughput:
    threads = max(1, min(connections, os.cpu_count() or 1))
    proc = subprocess.run(["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                           url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = proc.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+\w+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+\w+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if not rps or not total:
        raise RuntimeError(f"wrk gave no figures (exit {proc.returncode}): {(out + proc.stderr)[-500:]}")
    error_count = int(errors.group(1)) if errors else 0
    if socket_errors:
        error_count += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Throughput(f"wrk ({threads} threads, {connections} connections)", float(rps.group(1)),
                      _ms(p50.group(1)) if p50 else None, _ms(p99.group(1)) if p99 else None,
                      int(total.group(1)), error_count)


def run_locust(base_url: str, seconds: int, users: int, processes: int, workdir: Path) -> Throughput:
    from support.domains.perf import histogram_percentile

    prefix = workdir / f"locust-{processes}"
    argv = [sys.executable, "-m", "locust", "-f", str(HERE / "locust_health.py"), "--headless",
            "--host", base_url, "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--only-summary",
            "--json-file", str(prefix), "--exit-code-on-error", "0", "--loglevel", "WARNING",
            "--stop-timeout", "2"]
    if processes > 1:
        argv += ["--processes", str(processes)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90, check=False, cwd=ROOT)
    path = Path(f"{prefix}.json")
    if not path.exists():
        raise RuntimeError(f"Locust wrote no statistics (exit {proc.returncode}): {proc.stderr[-500:]}")
    entries = [e for e in json.loads(path.read_text()) if e["num_requests"]]
    requests = sum(e["num_requests"] for e in entries)
    elapsed = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    histogram: dict[float, int] = {}
    for entry in entries:
        for key, count in entry["response_times"].items():
            histogram[float(key)] = histogram.get(float(key), 0) + int(count)
    label = "process" if processes == 1 else "processes"
    return Throughput(f"Locust FastHttpUser ({processes} {label}, {users} users, no wait)",
                      requests / elapsed if elapsed > 0 else 0.0, histogram_percentile(histogram, 0.5),
                      histogram_percentile(histogram, 0.99), requests, sum(e["num_failures"] for e in entries))


# ---------------------------------------------------------------------------------------- the suite
def run_suite(label: str, behave_args: list[str], workdir: Path, target: str = "clean") -> SuiteTiming:
    """Run behave in the project folder (as typed by hand) and time it from outside; the HTTP totals come
    from timed_behave.py (every PermisoClient exchange of the process)."""
    folder = workdir / re.sub(r"\W+", "-", label).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    totals = folder / "totals.json"
    argv = [sys.executable, str(HERE / "timed_behave.py"), str(totals), "--no-color", *behave_args]
    proc, wall, outcome, load = _timed_run(label, argv, target, "behave")
    data = json.loads(totals.read_text()) if totals.exists() else {"http_ms": 0.0, "calls": 0}
    by_call = data.get("by_call") or {}
    return SuiteTiming(label, wall, float(data["http_ms"]) / 1000.0, int(data["calls"]), proc.returncode,
                       outcome, load=load,
                       sign_ins=int(by_call.get("POST /api/v1/auth/token", [0])[0]),
                       users_created=int(by_call.get("POST /api/v1/users/", [0])[0]),
                       retried=int(data.get("retried") or 0))


def run_behavex(label: str, workdir: Path, processes: int = 2, target: str = "clean") -> SuiteTiming:
    """The whole suite with behavex (feature scheme, the longest features first), timed from outside."""
    out = workdir / "behavex"
    argv = [sys.executable, "-m", "behavex", "--parallel-processes", str(processes), "--parallel-scheme",
            "feature", "--order-tests", "-o", str(out)]
    proc, wall, outcome, load = _timed_run(label, argv, target, "behavex")
    return SuiteTiming(label, wall, 0.0, 0, proc.returncode, outcome, load=load)


def _timed_run(label: str, argv: list[str], target: str, tool: str
               ) -> tuple[subprocess.CompletedProcess[str], float, str, str]:
    """Run one suite command in the project folder, timed from outside: the process, its wall time, its
    outcome (exit code and the scenario line) and the load average before -> after."""
    load = _load()
    print(f"   {label} (load {load}) ...", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S, check=False, cwd=ROOT,
                          env=_env(target))
    wall = time.perf_counter() - started
    summary = re.search(r"^(\d+ scenarios? passed, \d+ failed.*)$", proc.stdout + proc.stderr, re.M)
    outcome = f"exit {proc.returncode}: " + (summary.group(1) if summary else f"no {tool} summary")
    return proc, wall, outcome, f"{load} -> {_load()}"


# ---------------------------------------------------------------------------------------- output
SERIAL_RUN = "clean: whole suite"
PARALLEL_RUN = "clean: whole suite, behavex 2 processes"


def pair_label(label: str, n: int) -> str:
    """The label of the n-th back-to-back pair's run (the first pair keeps the plain label)."""
    return label if n == 1 else f"{label} (pair {n})"


def speed_ups(suites: list[SuiteTiming]) -> list[tuple[float, float]]:
    """(serial wall s, behavex wall s) of every back-to-back pair measured, in order.

    One pair is one sample of a ratio that moves by a tenth from one pair to the next on this machine
    (other guests, the 10 s load's timing), so ``--pairs N`` measures N pairs back to back and the
    benchmark prints each and their median: no pair is left out."""
    by_label = {s.run: s for s in suites}
    pairs: list[tuple[float, float]] = []
    n = 1
    while pair_label(SERIAL_RUN, n) in by_label and pair_label(PARALLEL_RUN, n) in by_label:
        serial, parallel = by_label[pair_label(SERIAL_RUN, n)], by_label[pair_label(PARALLEL_RUN, n)]
        if serial.wall_s and parallel.wall_s:
            pairs.append((serial.wall_s, parallel.wall_s))
        n += 1
    return pairs


def render(health: list[Throughput], suites: list[SuiteTiming], seconds: int) -> str:
    cpu = os.cpu_count() or 0
    wrk = "wrk not run"
    if shutil.which("wrk"):
        found = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk = (found.stdout or found.stderr).split(chr(10))[0].strip()
    # never `import locust` here: it monkey-patches ssl after requests loaded it (RecursionError)
    locust_version = metadata.version("locust")
    lines = [
        f"Benchmark, one run: {time.strftime('%Y-%m-%d %H:%M')}, {platform.system()} {platform.machine()}, "
        f"{cpu} CPU cores, Python {platform.python_version()}, Locust {locust_version}, {wrk}",
        f"Load average at the start: {LOAD_AT_START[0]:.1f} / {LOAD_AT_START[1]:.1f} / {LOAD_AT_START[2]:.1f} "
        "(1/5/15 min; above the core count, other work shares the CPUs and every figure drops)",
    ]
    if health:
        lines += [
            "",
            f"1. GET /health of one embedded reference Permiso (HTTPS, loopback, same server), {seconds} s each",
            "",
            f"   {'load generator':<52} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'requests':>9} {'errors':>6}",
        ]
    for row in health:
        p50 = f"{row.p50_ms:.1f}" if row.p50_ms is not None else "-"
        p99 = f"{row.p99_ms:.1f}" if row.p99_ms is not None else "-"
        lines.append(f"   {row.tool:<52} {row.rps:>9.0f} {p50:>7} {p99:>7} {row.requests:>9} {row.errors:>6}")
    if health and health[0].rps:
        for row in health[1:]:
            lines.append(f"   {row.tool.split(' (')[0]} {row.tool.split('(')[1].split(',')[0]}: "
                         f"{row.rps / health[0].rps:.0%} of wrk's rate")
    if suites:
        width = max(42, *(len(s.run) for s in suites))
        lines += ["", "2.-5. the suite: wall time (from outside, server start included) vs the sum of its HTTP "
                  "call times (transport only)", "",
                  f"   {'run':<{width}} {'wall s':>7} {'HTTP s':>7} {'share':>6} {'calls':>6} {'sign-ins':>8} "
                  f"{'users':>6} {'retried':>7}  {'load before -> after':<21} outcome"]
        for s in suites:
            share = f"{s.http_s / s.wall_s:.0%}" if s.wall_s and s.calls else "-"
            lines.append(f"   {s.run:<{width}} {s.wall_s:>7.1f} {s.http_s:>7.1f} {share:>6} {s.calls or '-':>6} "
                         f"{s.sign_ins or '-':>8} {s.users_created or '-':>6} {s.retried:>7}  {s.load:<21} "
                         f"{s.scenarios}")
        pairs = speed_ups(suites)
        for n, (serial_s, parallel_s) in enumerate(pairs, start=1):
            which = f" (pair {n})" if len(pairs) > 1 else ""
            lines.append(f"   behavex speed-up on the clean target{which}: {serial_s / parallel_s:.2f}x "
                         f"({serial_s:.1f} s serial, {parallel_s:.1f} s with 2 processes, back to back)")
        if len(pairs) > 1:
            ratios = sorted(serial_s / parallel_s for serial_s, parallel_s in pairs)
            lines.append(f"   behavex speed-up, median of {len(pairs)} pairs: {median(ratios):.2f}x "
                         f"(lowest {ratios[0]:.2f}x, highest {ratios[-1]:.2f}x)")
        lines += ["", "   HTTP s counts every PermisoClient call in the behave process (hooks included); "
                  "sign-ins are POST /auth/token,",
                  "   users are POST /users/ (throwaway people), retried are front 503 pages retried (never "
                  "evidence). The full",
                  "   suite includes load.feature, whose Locust requests run in a subprocess (and which needs "
                  "no auth rate limit)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each /health measurement")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections = Locust users")
    parser.add_argument("--skip-suite", action="store_true", help="only the /health comparison")
    parser.add_argument("--skip-health", action="store_true", help="no /health comparison (no wrk needed)")
    parser.add_argument("--skip-production", action="store_true", help="no runs on the production-like target")
    parser.add_argument("--skip-behavex", action="store_true", help="no behavex run")
    parser.add_argument("--pairs", type=int, default=1,
                        help="back-to-back (serial, behavex) pairs of the whole suite on the clean target; "
                             "with more than one, each speed-up and their median are printed")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None and not args.skip_health:
        print("wrk is not installed: apt-get install -y wrk (or --skip-health)", file=sys.stderr)
        return 2

    from support.lifecycle.target import start_embedded
    from support.wire.settings import Settings

    health: list[Throughput] = []
    with tempfile.TemporaryDirectory(prefix="permiso-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_health:
            target, _ = start_embedded(Settings.load())
            try:
                url = f"{target.base_url}/health"
                print(f"Measuring /health at {url} ...", flush=True)
                health.append(run_wrk(url, args.seconds, args.connections))
                health.append(run_locust(target.base_url, args.seconds, args.connections, 1, workdir))
                if (os.cpu_count() or 1) > 1:
                    health.append(run_locust(target.base_url, args.seconds, args.connections, 2, workdir))
            finally:
                target.stop()
        suites: list[SuiteTiming] = []
        if not args.skip_suite:
            print("Running the suite ...", flush=True)
            suites.append(run_suite("clean: @critical", ["--tags=@critical"], workdir))
            suites.append(run_suite(SERIAL_RUN, [], workdir))
            if not args.skip_behavex:
                suites.append(run_behavex(PARALLEL_RUN, workdir))
                for n in range(2, args.pairs + 1):  # further back-to-back pairs: serial, then behavex
                    suites.append(run_suite(pair_label(SERIAL_RUN, n), [], workdir))
                    suites.append(run_behavex(pair_label(PARALLEL_RUN, n), workdir))
            if not args.skip_production:
                suites.append(run_suite("production-like: @critical", ["--tags=@critical"], workdir,
                                        "production-like"))
                suites.append(run_suite("production-like: whole suite", [], workdir, "production-like"))
    print()
    print(render(health, suites, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
