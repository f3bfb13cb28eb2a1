"""Steps for the production containers of a deployment: are they there, running and healthy.

Covers the deployment guide's infrastructure checks (issue 10). The engine is reached at
`settings.docker_host` (DOCKER_HOST) and the containers are `settings.permiso_containers`
(PERMISO_CONTAINERS); all engine talk lives in support/domains/containers.py, and a failure lists one line per
problem, naming the container.
"""

from __future__ import annotations

from typing import Any

from behave import given, then, when
from hamcrest import assert_that, is_not

from support.domains.containers import all_healthy, all_running, check_containers, docker_engine


@given("the deployment's production containers")
def given_production_containers(context: Any) -> None:
    names = list(context.settings.permiso_containers)
    assert_that(names, is_not([]), "PERMISO_CONTAINERS names no container to check")
    context.container_names = names


@when("the container engine reports on them")
def when_engine_reports_on_containers(context: Any) -> None:
    probe = docker_engine(context.settings.docker_host)
    # The capability was there when the run started; if the engine has gone since, that is a failure.
    assert_that(probe.client is not None, probe.reason or "")
    context.add_cleanup(probe.close)
    context.container_statuses = check_containers(
        probe.client, context.container_names, is_podman=probe.is_podman
    )


@then("every production container is running")
def then_every_container_running(context: Any) -> None:
    assert_that(context.container_statuses, all_running())


@then("every production container that has a health check reports healthy")
def then_every_container_healthy(context: Any) -> None:
    assert_that(context.container_statuses, all_healthy())
