"""`permiso-acceptance load` end to end: embedded default, a budget-breaking fault, the account pool's
clean-up (also after Ctrl-C), and Locust's distributed mode with one master and two workers on loopback.

These run real Locust subprocesses against a real reference server: about a minute in all.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.performance.load_helpers import (
    Embedded,
    assert_no_secrets,
    count_users,
    free_port,
    run_load,
    skip_if_budget_missed_on_an_overloaded_machine,
    start_load,
    stop,
    wait_for_line,
)


def test_the_documented_command_passes_against_the_embedded_default(tmp_path: Path) -> None:
    run = run_load(["--users", "10", "--spawn-rate", "10", "--duration", "8"], tmp_path)

    skip_if_budget_missed_on_an_overloaded_machine(run.returncode, run.output)
    assert run.returncode == 0, run.output
    assert " rps; " in run.output and "req/s" in run.output and "p95 ms" in run.output
    assert "Verdict: PASSED" in run.output
    for journey in ("user", "service", "admin", "monitor"):
        assert f"\n{journey} " in run.output, f"journey {journey} missing from the summary"
    for name in ("stats.json", "load_stats.csv", "load_failures.csv", "report.html", "locust.log"):
        assert (run.reports / name).is_file(), f"{name} was not written under reports/load/"
    stats = json.loads((run.reports / "stats.json").read_text())
    assert sum(e["num_requests"] for e in stats) > 50
    assert_no_secrets(run.output)
    assert_no_secrets((run.reports / "locust.log").read_text())


def test_a_slow_health_check_fails_the_load(tmp_path: Path) -> None:
    run = run_load(["--users", "10", "--spawn-rate", "10", "--duration", "4"], tmp_path,
                   env={"PERMISO_REFERENCE_FAULTS": "slow_health"})

    assert run.returncode == 1, run.output
    assert "Verdict: FAILED" in run.output
    assert "monitor: health: p95" in run.output and "PERF_HEALTH_THRESHOLD_MS" in run.output


def test_the_account_pool_is_deleted_after_the_load(tmp_path: Path, embedded: Embedded) -> None:
    before = count_users(embedded.settings)

    run = run_load(["--host", embedded.base_url, "--users", "4", "--spawn-rate", "4", "--duration", "3"],
                   tmp_path)

    skip_if_budget_missed_on_an_overloaded_machine(run.returncode, run.output)
    assert run.returncode == 0, run.output
    assert "Account pool deleted" in run.output
    assert "rate-limits each client IP" in run.output, "a deployment target must get the front warning"
    assert count_users(embedded.settings) == before


def test_the_account_pool_is_deleted_after_ctrl_c(tmp_path: Path, embedded: Embedded) -> None:
    before = count_users(embedded.settings)
    out = tmp_path / "output.txt"
    proc = start_load(["--host", embedded.base_url, "--users", "4", "--spawn-rate", "4", "--duration", "60"],
                      tmp_path / "run", output=out)
    try:
        assert wait_for_line(out, "Running Locust", timeout=60), out.read_text()
        assert wait_for_line(tmp_path / "run" / "reports" / "load" / "locust.log", "Ramping to", timeout=30)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        stop(proc)
    output = out.read_text()
    assert proc.returncode == 130, output
    assert "Account pool deleted" in output
    assert count_users(embedded.settings) == before


def test_distributed_master_with_two_workers_on_loopback(tmp_path: Path) -> None:
    port = str(free_port())
    master_out = tmp_path / "master.txt"
    worker_outs = [tmp_path / "worker1.txt", tmp_path / "worker2.txt"]
    master = start_load(["--master", "--expect-workers", "2", "--expect-workers-max-wait", "60",
                         "--master-port", port, "--users", "10", "--spawn-rate", "10", "--duration", "6"],
                        tmp_path / "master", output=master_out)
    workers: list[subprocess.Popen[str]] = []
    try:
        for out in worker_outs:
            workers.append(start_load(["--worker", "--master-host", "127.0.0.1", "--master-port", port],
                                      tmp_path / out.stem, output=out))
        master.wait(timeout=150)
        for worker in workers:
            worker.wait(timeout=60)
    finally:
        for proc in (master, *workers):
            stop(proc)

    master_output = master_out.read_text()
    skip_if_budget_missed_on_an_overloaded_machine(master.returncode, master_output)
    assert master.returncode == 0, master_output
    assert "Load summary (master)" in master_output and "Verdict: PASSED" in master_output
    log = (tmp_path / "master" / "reports" / "load" / "locust.log").read_text()
    assert "2 workers connected" in log
    worker_outputs = [out.read_text() for out in worker_outs]
    for worker, output in zip(workers, worker_outputs, strict=True):
        assert worker.returncode == 0, output
        assert "Received the load configuration from the master" in output, output
        assert_no_secrets(output)
    indexes = {line.rsplit("worker index", 1)[1].strip() for output in worker_outputs
               for line in output.splitlines() if "worker index" in line}
    assert indexes == {"0", "1"}, indexes
    assert_no_secrets(master_output)
