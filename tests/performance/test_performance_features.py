"""The performance features run by behave end to end against the embedded default.

budgets.feature must pass against a healthy reference server (figures attached to Allure and listed in
the sign-off summary) and fail on the `slow_health` fault; load.feature must pass its short load.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import run_behave
from tests.performance.load_helpers import (
    assert_no_secrets,
    skip_if_budget_missed_on_an_overloaded_machine,
)


def _failures(output: str) -> str:
    """The lines of a behave run that say what failed (the whole output is too long for a message)."""
    lines = output.splitlines()
    keep = [i for i, line in enumerate(lines) if "failed" in line or "ASSERT" in line or "but:" in line]
    return "\n".join(lines[max(0, i - 1)] + "\n" + lines[i] for i in keep[:20]) or output[-3000:]


def _attachments(allure: Path, needle: str) -> list[str]:
    texts = [p.read_text(errors="replace") for p in allure.glob("*-attachment*")]
    return [t for t in texts if needle in t]


def test_budgets_feature_passes_and_reports_p50_p95_max(tmp_path: Path) -> None:
    run = run_behave(["features/performance/budgets.feature"], tmp_path)  # default: 20 samples

    skip_if_budget_missed_on_an_overloaded_machine(run.returncode, run.output)
    assert run.returncode == 0, _failures(run.output)
    assert "12 scenarios passed" in run.output
    assert "## Performance budgets" in run.output and "| sign-in |" in run.output
    figures = _attachments(tmp_path / "allure-results", "p95")
    assert len(figures) >= 12, "each endpoint's p50/p95/max must be attached to the Allure report"
    assert all("samples        20" in text for text in figures)
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    assert {r["status"] for r in results} == {"passed"}
    assert_no_secrets(run.output)


def test_budgets_feature_fails_on_a_slow_health_check(tmp_path: Path) -> None:
    run = run_behave(["features/performance/budgets.feature", "--name", "The health endpoint",
                      "-D", "PERMISO_PERF_SAMPLES=5"], tmp_path,
                     env={"PERMISO_REFERENCE_FAULTS": "slow_health"})

    assert run.returncode != 0, _failures(run.output)
    assert "1 scenario passed" not in run.output
    assert "OVER the health budget of 100 ms" in run.output


def test_load_feature_passes_its_short_load(tmp_path: Path) -> None:
    run = run_behave(["features/performance/load.feature"], tmp_path)

    skip_if_budget_missed_on_an_overloaded_machine(run.returncode, run.output)
    assert run.returncode == 0, _failures(run.output)
    assert "1 scenario passed" in run.output
    assert _attachments(tmp_path / "allure-results", "Load summary"), "the load summary must be attached"
    assert "| load user: sign-in |" in run.output
    assert_no_secrets(run.output)
