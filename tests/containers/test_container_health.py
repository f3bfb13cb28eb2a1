"""support/domains/containers.py against a real (podman) engine: the four production containers, then each way
they break. Every failure line must name the container, because that is what the operator acts on."""

from __future__ import annotations

import pytest
from hamcrest import assert_that, contains_string
from podman_sandbox import PRODUCTION_CONTAINERS, PodmanSandbox, podman_missing_reason

from support.domains.containers import all_healthy, all_running, check_containers, describe_problems, docker_engine

pytestmark = pytest.mark.skipif(podman_missing_reason() is not None, reason=podman_missing_reason() or "")


def _statuses(sandbox: PodmanSandbox):  # type: ignore[no-untyped-def]
    probe = docker_engine(sandbox.url)
    assert probe.available, probe.reason
    try:
        assert probe.is_podman
        return check_containers(probe.client, PRODUCTION_CONTAINERS)
    finally:
        probe.close()


def test_all_four_running_and_healthy(production: PodmanSandbox) -> None:
    statuses = _statuses(production)

    assert [s.name for s in statuses] == list(PRODUCTION_CONTAINERS)
    assert all(s.exists and s.running and s.health == "healthy" for s in statuses), statuses
    assert describe_problems(statuses) == []
    assert_that(statuses, all_running())
    assert_that(statuses, all_healthy())


def test_stopped_container_is_reported_by_name(production: PodmanSandbox) -> None:
    production.stop("permiso-redis-prod")

    statuses = _statuses(production)

    redis = next(s for s in statuses if s.name == "permiso-redis-prod")
    assert redis.exists and not redis.running
    problems = describe_problems(statuses)
    assert len(problems) == 1, problems
    assert problems[0].startswith("container permiso-redis-prod is not running (exited"), problems
    with pytest.raises(AssertionError) as failure:
        assert_that(statuses, all_running())
    assert_that(str(failure.value), contains_string("container permiso-redis-prod is not running"))
    # positive control: the others are still fine
    assert all(s.ok for s in statuses if s.name != "permiso-redis-prod")


def test_failing_health_check_is_unhealthy_by_name(podman_sandbox: PodmanSandbox) -> None:
    podman_sandbox.deploy(unhealthy={"permiso-app-1"})
    try:
        statuses = _statuses(podman_sandbox)
    finally:
        podman_sandbox.remove(PRODUCTION_CONTAINERS)

    app = next(s for s in statuses if s.name == "permiso-app-1")
    assert app.running and app.health == "unhealthy"
    problems = describe_problems(statuses)
    assert len(problems) == 1, problems
    assert problems[0].startswith("container permiso-app-1 is unhealthy"), problems
    assert_that(statuses, all_running())  # running, but not healthy
    with pytest.raises(AssertionError) as failure:
        assert_that(statuses, all_healthy())
    assert_that(str(failure.value), contains_string("container permiso-app-1 is unhealthy"))


def test_missing_container_and_no_health_check(podman_sandbox: PodmanSandbox) -> None:
    podman_sandbox.deploy(missing={"permiso-nginx-prod"}, without_healthcheck={"permiso-postgres-prod"})
    try:
        statuses = _statuses(podman_sandbox)
    finally:
        podman_sandbox.remove(PRODUCTION_CONTAINERS)

    postgres = next(s for s in statuses if s.name == "permiso-postgres-prod")
    assert postgres.running and postgres.health is None  # podman's {"Status": ""} means "no health check"
    assert describe_problems(statuses) == ["container permiso-nginx-prod does not exist"]
