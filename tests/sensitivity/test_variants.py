"""Acceptable variants in the sensitivity run: must-stay-green checks, outside the `caught N/M` count."""

from __future__ import annotations

from pathlib import Path

import pytest

from permiso_acceptance.fault_map import FaultMapError, load_fault_map, parse_fault_map
from permiso_acceptance.sensitivity import parse_fault_kinds, parse_fault_list
from permiso_acceptance.sensitivity_behave import RunOutcome, RunRequest
from permiso_acceptance.sensitivity_orchestration import run_sensitivity
from permiso_acceptance.sensitivity_report import (
    Report,
    render_markdown,
    render_table,
    report_json,
    summary_line,
    variants_line,
)
from tests.sensitivity.conftest import two_domain_features

MAP = parse_fault_map(
    "[faults]\n"
    'a_fault = { paths = ["auth"], why = "w" }\n'
    'kept_green = { acceptable = true, paths = ["auth"], why = "A.3 allows it" }\n'
    'turns_red = { acceptable = true, full = true, why = "A.3 allows it" }\n'
    'broken_variant = { acceptable = true, paths = ["auth"], why = "w" }\n'
)
FAULTS = {name: f"{name} description" for name in MAP.entries}


def _behaviour(request: RunRequest) -> RunOutcome:
    if request.fault in (None, "kept_green"):
        return RunOutcome(0, 1.0, passed=3)
    if request.fault in ("a_fault", "turns_red"):
        return RunOutcome(1, 1.0, passed=2, failed=["auth/auth: s"])
    return RunOutcome(2, 1.0, problem="run ended with exit code 2: the target did not start")


def _run(tmp_path: Path) -> tuple[Report, list[RunRequest]]:
    calls: list[RunRequest] = []

    def runner(request: RunRequest) -> RunOutcome:
        calls.append(request)
        return _behaviour(request)

    report = run_sensitivity(FAULTS, MAP, jobs=2, workroot=tmp_path, runner=runner,
                             features_dir=two_domain_features(tmp_path))
    return report, calls


def test_the_map_marks_acceptable_entries() -> None:
    assert MAP.acceptable("kept_green") and not MAP.acceptable("a_fault") and not MAP.acceptable("unknown")
    with pytest.raises(FaultMapError, match="'acceptable' must be true or false"):
        parse_fault_map('[faults]\nx = { acceptable = "yes", full = true, why = "w" }\n')


def test_variants_are_must_stay_green_checks(tmp_path: Path) -> None:
    report, calls = _run(tmp_path)
    by = {r.fault: r for r in report.results}
    assert by["kept_green"].verdict == "tolerated" and by["kept_green"].tolerated
    assert by["turns_red"].verdict == "not tolerated" and set(by["turns_red"].failing) == {"auth/auth: s"}
    assert by["broken_variant"].verdict == "error" and len(by["broken_variant"].runs) == 2  # retried once
    # A green narrow run of a variant is the verdict: no full-suite confirmation as for an escaped fault.
    assert len([c for c in calls if c.fault == "kept_green"]) == 1
    # Variants are not faults: the count is about a_fault alone.
    assert (report.caught, report.total) == (1, 1) and summary_line(report) == "caught 1/1 faults"
    assert report.escaped == [] and report.tolerated == 1
    assert [r.fault for r in report.not_tolerated] == ["broken_variant", "turns_red"]
    assert variants_line(report) == "tolerated 1/3 acceptable variants"


def test_variants_are_reported_as_tolerated_or_not(tmp_path: Path) -> None:
    report, _ = _run(tmp_path)
    table = render_table(report)
    assert "kept_green" in table and "tolerated" in table and "NOT TOLERATED" in table
    markdown = render_markdown(report)
    assert "tolerated 1/3 acceptable variants" in markdown and markdown.rstrip().splitlines()[-1].startswith(
        "caught 1/1 faults")
    data = report_json(report)
    assert data["caught"] == 1 and data["total"] == 1 and data["tolerated"] == 1 and data["variants"] == 3
    assert data["not_tolerated"] == ["broken_variant", "turns_red"]


def test_without_variants_nothing_changes(tmp_path: Path) -> None:
    only = {"a_fault": "d"}
    report = run_sensitivity(only, MAP, jobs=1, workroot=tmp_path,
                             runner=_behaviour, features_dir=two_domain_features(tmp_path))
    assert variants_line(report) is None and summary_line(report) == "caught 1/1 faults"


def test_the_fault_list_with_kinds() -> None:
    text = (
        "alg_none_accepted  fault    tokens with `alg: none` are accepted\n"
        "logout_count_all   variant  `sessions_terminated` counts differently\n"
        "slow_health  `/health` takes 150 ms\n\n"
    )
    assert parse_fault_list(text) == {
        "alg_none_accepted": "tokens with `alg: none` are accepted",
        "logout_count_all": "`sessions_terminated` counts differently",
        "slow_health": "`/health` takes 150 ms",
    }
    assert parse_fault_kinds(text) == {"alg_none_accepted": "fault", "logout_count_all": "variant",
                                       "slow_health": "fault"}


def test_the_repository_map_marks_exactly_the_reference_variants() -> None:
    """`acceptable = true` in features/fault_map.toml <=> kind `variant` in `permiso-reference faults`."""
    from permiso_acceptance.sensitivity import reference_kinds

    kinds = reference_kinds()
    fault_map = load_fault_map()
    assert {n for n, k in kinds.items() if k == "variant"} == {n for n in fault_map.entries
                                                              if fault_map.acceptable(n)}
