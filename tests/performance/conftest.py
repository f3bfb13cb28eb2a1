"""Fixtures of the performance tests (helpers live in load_helpers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.performance.load_helpers import Embedded


@pytest.fixture(scope="module")
def embedded() -> Iterator[Embedded]:
    from support.lifecycle.target import start_embedded
    from support.wire.settings import Settings

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("PERMISO_", "TEST_", "PERF_"))}
    try:
        target, settings = start_embedded(Settings.load({}, env_file=None))
    finally:
        os.environ.update(saved)
    try:
        yield Embedded(target.base_url, settings)
    finally:
        target.stop()
