"""Shared helpers for the sensitivity tests: the reference's fault list, read once per session."""

from __future__ import annotations

import pytest

from support.sensitivity import reference_faults


@pytest.fixture(scope="session")
def reference_fault_names() -> dict[str, str]:
    """name -> description, from `permiso-reference faults` (as the tool itself reads it)."""
    return reference_faults()
