"""Parts of support/domains/containers.py that need no engine: the no-engine reasons (fast, one line) and the
reading of inspect data from Docker and podman. These run everywhere, podman or not."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from support.domains.containers import (
    ContainerStatus,
    _health_status,
    _is_podman,
    describe_problems,
    docker_engine,
)


def test_no_engine_gives_a_reason_fast(tmp_path: Path) -> None:
    address = f"unix://{tmp_path}/no-such/podman.sock"
    started = time.monotonic()

    probe = docker_engine(address)

    assert time.monotonic() - started < 3
    assert not probe.available and probe.client is None
    assert probe.reason == (
        f"no container engine at {address}: the socket does not exist (is the engine running?)"
    )
    assert "\n" not in probe.reason


def test_silent_engine_times_out_within_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(8)  # accepts at kernel level, never answers
        started = time.monotonic()
        probe = docker_engine(f"unix://{path}", timeout=0.5)
        elapsed = time.monotonic() - started

    assert elapsed < 3, elapsed
    assert probe.reason is not None and probe.reason.endswith("no answer within 0.5 s"), probe.reason


def test_refused_tcp_engine(tmp_path: Path) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    probe = docker_engine(f"tcp://127.0.0.1:{port}")
    assert probe.reason is not None and "connection refused" in probe.reason, probe.reason


def test_health_status_from_docker_and_podman_inspect() -> None:
    assert _health_status({"Status": "running"}) is None  # Docker: no Health key without a health check
    assert _health_status({"Health": {"Status": ""}}) is None  # podman: empty status without one
    assert _health_status({"Health": {"Status": "healthy"}}) == "healthy"
    assert _health_status({"Health": {"Status": "Unhealthy"}}) == "unhealthy"


def test_podman_is_recognised_from_version() -> None:
    assert _is_podman({"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]})
    docker_ce = {"Platform": {"Name": "Docker Engine - Community"}, "Components": [{"Name": "Engine"}]}
    assert not _is_podman(docker_ce)


def test_each_problem_line_names_its_container() -> None:
    statuses = [
        ContainerStatus("permiso-app-1", exists=True, running=True, health="unhealthy"),
        ContainerStatus("permiso-postgres-prod", exists=True, running=True, health=None),
        ContainerStatus(
            "permiso-redis-prod", exists=True, running=False, health=None, detail="exited, exit code 137"
        ),
        ContainerStatus("permiso-nginx-prod", exists=False, running=False, health=None),
    ]
    assert describe_problems(statuses) == [
        "container permiso-redis-prod is not running (exited, exit code 137)",
        "container permiso-nginx-prod does not exist",
        "container permiso-app-1 is unhealthy",
    ]
