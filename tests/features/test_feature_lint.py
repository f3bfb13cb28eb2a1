"""The feature files pass the Gherkin linter with the house rules (features/README.md, design.md §3).

gherkin-lint (npm, pinned in package.json) runs with `.gherkin-lintrc`: one When per scenario, at most
8 steps, unique scenario names in a feature, no unused outline variables, feature descriptions in plain
prose (no setting names, contract sections or defect ids: those are tags), and the house rule of
`tools/gherkin-lint-rules/` that keeps HTTP words out of Given and When steps.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "node_modules" / ".bin" / "gherkin-lint"


def _linter() -> Path:
    if not LINT.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: the Gherkin linter is an npm package")
        proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=240)
        assert proc.returncode == 0, f"npm ci failed: {proc.stderr[-500:]}"
    return LINT


def _lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(_linter()), "-c", str(ROOT / ".gherkin-lintrc"), "-r",
                           str(ROOT / "tools" / "gherkin-lint-rules"), *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


def test_the_features_pass_the_house_rules() -> None:
    proc = _lint(ROOT / "features")
    assert proc.returncode == 0, proc.stdout + proc.stderr


BAD_FEATURE = """\
@auth
Feature: Signing in
  The administrator signs in with PERMISO_ADMIN and contract A.5 applies (defect D2).

  Scenario: Two things happen
    Given Dana has signed in
    When Dana sends POST /api/v1/auth/token with a JSON body
    And Dana signs out
    Then the answer is fine

  Scenario: Two things happen
    Given Dana has signed in
    Then the answer is fine
"""


def test_the_linter_refuses_what_the_house_rules_forbid(tmp_path: Path) -> None:
    bad = tmp_path / "bad.feature"
    bad.write_text(BAD_FEATURE)
    proc = _lint(bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for rule in ("only-one-when", "no-dupe-scenario-names", "no-restricted-patterns", "no-http-in-given-when"):
        assert rule in out, f"{rule} did not fire:\n{out}"
