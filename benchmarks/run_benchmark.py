"""Benchmark, run by hand (not part of the test suite): is the load generator or the suite the bottleneck?

Prints, measured in ONE run and side by side:

1. requests/s that ``wrk`` (a C load generator) and Locust (FastHttpUser, one process and two) drive
   against the same ``/health`` of one embedded reference Permiso, over HTTPS on loopback. If Locust
   gets far less out of the server than wrk does, Locust is the bottleneck and a load test with it
   measures Locust, not Permiso (then run it distributed: ``permiso-acceptance load --master/--worker``);
2. the wall time of the whole behave suite against the sum of the transport times of all its HTTP
   calls (what is left is the suite's own work: start-up, the embedded server, hashing, waiting);
3. the wall time of the ``@critical`` release gate, with the same split.

Usage:  python benchmarks/run_benchmark.py [--seconds 10] [--connections 20] [--skip-suite]
Needs:  wrk (``apt-get install -y wrk``). Targets are loopback only; every run is bounded.
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
    from support.perf import histogram_percentile

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
def run_suite(label: str, behave_args: list[str], workdir: Path) -> SuiteTiming:
    """Run behave (in a temp dir: its reports never land in the repo) and time it from outside."""
    folder = workdir / label.strip("@").replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    totals = folder / "totals.json"
    argv = [sys.executable, str(HERE / "timed_behave.py"), str(totals), "--no-color", "-f", "plain",
            "-o", str(folder / "plain.txt"), *behave_args, str(ROOT / "features")]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S, check=False, cwd=folder)
    wall = time.perf_counter() - started
    data = json.loads(totals.read_text()) if totals.exists() else {"http_ms": 0.0, "calls": 0}
    summary = re.search(r"^(\d+ scenarios? passed, \d+ failed.*)$", proc.stdout + proc.stderr, re.M)
    return SuiteTiming(label, wall, float(data["http_ms"]) / 1000.0, int(data["calls"]), proc.returncode,
                       f"exit {proc.returncode}: " + (summary.group(1) if summary else "no behave summary"))


# ---------------------------------------------------------------------------------------- output
def render(health: list[Throughput], suites: list[SuiteTiming], seconds: int) -> str:
    cpu = os.cpu_count() or 0
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    # never `import locust` here: it monkey-patches ssl after requests loaded it (RecursionError)
    locust_version = metadata.version("locust")
    lines = [
        f"Benchmark, one run: {time.strftime('%Y-%m-%d %H:%M')}, {platform.system()} {platform.machine()}, "
        f"{cpu} CPU cores, Python {platform.python_version()}, Locust {locust_version}, "
        f"{(wrk_version.stdout or wrk_version.stderr).split(chr(10))[0].strip()}",
        f"Load average at the start: {LOAD_AT_START[0]:.1f} / {LOAD_AT_START[1]:.1f} / {LOAD_AT_START[2]:.1f} "
        "(1/5/15 min; above the core count, other work shares the CPUs and every figure drops)",
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
        lines += ["", "2./3. behave suite: wall time vs the sum of its HTTP call times (transport only)", "",
                  f"   {'run':<16} {'wall s':>8} {'HTTP s':>8} {'HTTP share':>10} {'calls':>7}  outcome"]
        for s in suites:
            share = s.http_s / s.wall_s if s.wall_s else 0.0
            lines.append(f"   {s.run:<16} {s.wall_s:>8.1f} {s.http_s:>8.1f} {share:>10.0%} {s.calls:>7}  "
                         f"{s.scenarios}")
        lines += ["", "   HTTP s counts every PermisoClient call in the behave process (hooks included). The",
                  "   full suite includes load.feature, whose Locust requests run in a subprocess: that",
                  "   load's duration is wall time without suite HTTP calls."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each /health measurement")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections = Locust users")
    parser.add_argument("--skip-suite", action="store_true", help="only the /health comparison")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from support.settings import Settings
    from support.target import start_embedded

    health: list[Throughput] = []
    with tempfile.TemporaryDirectory(prefix="permiso-bench-") as tmp:
        workdir = Path(tmp)
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
            print("Running the whole behave suite, then the @critical gate ...", flush=True)
            suites.append(run_suite("full suite", [], workdir))
            suites.append(run_suite("@critical", ["--tags=@critical"], workdir))
    print()
    print(render(health, suites, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
