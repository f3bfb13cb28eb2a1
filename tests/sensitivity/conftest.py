"""Shared helpers for the sensitivity tests: the reference's fault list, read once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from permiso_acceptance.sensitivity import reference_faults


@pytest.fixture(scope="session")
def reference_fault_names() -> dict[str, str]:
    """name -> description, from `permiso-reference faults` (as the tool itself reads it)."""
    return reference_faults()


def two_domain_features(tmp_path: Path) -> Path:
    """A features folder with two domains (``auth``, ``other``) of one scenario each."""
    root = tmp_path / "features"
    for domain in ("auth", "other"):
        (root / domain).mkdir(parents=True)
        (root / domain / f"{domain}.feature").write_text(f"Feature: {domain}\n  Scenario: s\n    Given x\n")
    return root
