"""Fixtures for the container-health tests: one private podman engine per session (see podman_sandbox.py).

Every test that needs the engine is skipped, with the reason, when podman is not installed here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from podman_sandbox import PodmanSandbox, podman_missing_reason, start_sandbox


@pytest.fixture(scope="session")
def podman_sandbox() -> Iterator[PodmanSandbox]:
    """Start the private podman service with the test image; containers, service and files go at the end."""
    reason = podman_missing_reason()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    sandbox = start_sandbox()
    print(f"\npodman sandbox ready in {time.monotonic() - started:.2f} s at {sandbox.url}")
    try:
        yield sandbox
    finally:
        sandbox.teardown()


@pytest.fixture
def production(podman_sandbox: PodmanSandbox) -> Iterator[PodmanSandbox]:
    """The four production containers, freshly deployed and healthy; each test may break them."""
    podman_sandbox.deploy()
    yield podman_sandbox
    podman_sandbox.remove(list(podman_sandbox.created))
