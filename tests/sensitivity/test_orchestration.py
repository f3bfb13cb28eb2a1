"""The sensitivity run's logic with a scripted runner (no behave, no server): verdicts and escalation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from permiso_acceptance.fault_map import parse_fault_map
from permiso_acceptance.sensitivity_behave import RunOutcome, RunRequest
from permiso_acceptance.sensitivity_orchestration import run_sensitivity

MAP = parse_fault_map(
    "[faults]\n"
    'caught_narrow = { paths = ["auth"], why = "w" }\n'
    'caught_only_by_full = { paths = ["auth"], why = "w" }\n'
    'escapes = { paths = ["auth"], why = "w" }\n'
    'full_only = { full = true, why = "no narrow selection" }\n'
    'nothing_there = { paths = ["auth"], why = "w", tags = "@nope" }\n'
    'broken = { paths = ["auth"], why = "w" }\n'
)
FAULTS = {name: f"{name} description" for name in MAP.entries}


def scripted(script: Callable[[RunRequest], RunOutcome]) -> tuple[Callable[[RunRequest], RunOutcome], list[RunRequest]]:
    calls: list[RunRequest] = []

    def runner(request: RunRequest) -> RunOutcome:
        calls.append(request)
        return script(request)

    return runner, calls


def behaviour(request: RunRequest) -> RunOutcome:
    fault, full = request.fault, request.selection.is_full
    if fault is None:
        return RunOutcome(0, 1.0, passed=10)
    if fault == "caught_narrow" or (fault == "caught_only_by_full" and full) or (fault == "full_only"):
        return RunOutcome(1, 1.0, passed=3, failed=["auth/x: one", "auth/x: two"])
    if fault == "nothing_there" and not full:
        return RunOutcome(1, 1.0, nothing_selected=True)
    if fault == "broken":
        return RunOutcome(2, 1.0, problem="run ended with exit code 2: the target did not start")
    return RunOutcome(0, 1.0, passed=4)


def _features(tmp_path: Path) -> Path:
    """Two domain folders with a feature each; the map's narrow paths name `auth` only."""
    root = tmp_path / "features"
    for domain, scenarios in (("auth", 2), ("other", 5)):
        (root / domain).mkdir(parents=True)
        body = "".join(f"  Scenario: s{i}\n    Given x\n" for i in range(scenarios))
        (root / domain / f"{domain}.feature").write_text(f"Feature: {domain}\n{body}")
    (root / "steps").mkdir()
    (root / "steps" / "ignored.feature").write_text("Feature: not a feature of the suite\n")
    return root


def test_verdicts_and_selections(tmp_path: Path) -> None:
    runner, calls = scripted(behaviour)
    report = run_sensitivity(FAULTS, MAP, jobs=2, workroot=tmp_path, runner=runner, features_dir=_features(tmp_path))
    by = {r.fault: r for r in report.results}
    assert report.baseline_green
    assert by["caught_narrow"].verdict == "caught" and by["caught_narrow"].selection == "narrow: auth"
    assert by["caught_narrow"].failing == ["auth/x: one", "auth/x: two"] and len(by["caught_narrow"].runs) == 1
    # An escape from the narrow selection is confirmed with the full suite before it counts.
    assert by["caught_only_by_full"].verdict == "caught"
    assert by["caught_only_by_full"].selection == "full suite (narrow escaped: auth)"
    assert by["escapes"].verdict == "escaped" and len(by["escapes"].runs) == 2
    assert by["full_only"].verdict == "caught" and by["full_only"].selection == "full suite"
    assert by["nothing_there"].verdict == "escaped"
    assert by["nothing_there"].selection.startswith("full suite (narrow selected nothing")
    # A run that ends badly without a failing scenario is retried once, then is an error, never a catch.
    assert by["broken"].verdict == "error" and not by["broken"].caught and len(by["broken"].runs) == 2
    assert "did not start" in by["broken"].note
    assert (report.caught, report.total) == (3, 6)
    # The baseline runs first, split over the jobs by feature file (steps/ is no feature folder).
    baseline = [c for c in calls if c.fault is None]
    assert calls[0].fault is None and len(baseline) == 2
    assert sorted(Path(p).name for c in baseline for p in c.selection.paths) == ["auth.feature", "other.feature"]
    # The confirmation of an escape only runs what the narrow selection did not cover.
    confirm = [c for c in calls if c.fault == "escapes" and c.selection.is_full]
    assert [Path(p).name for c in confirm for p in c.selection.paths] == ["other.feature"]
    assert all(c.workdir.is_relative_to(tmp_path) for c in calls)
    assert len({c.workdir for c in calls}) == len(calls)  # every run has its own output folder


def test_user_tags_narrow_the_baseline_and_every_run(tmp_path: Path) -> None:
    runner, calls = scripted(behaviour)
    run_sensitivity(FAULTS, MAP, jobs=1, tags=["@auth"], workroot=tmp_path, runner=runner,
                    features_dir=_features(tmp_path))
    assert all(c.selection.tags[0] == "@auth" for c in calls)
    nothing = [c for c in calls if c.fault == "nothing_there" and not c.selection.is_full]
    assert nothing[0].selection.tags == ("@auth", "@nope")


def test_a_red_baseline_stops_before_any_fault_runs(tmp_path: Path) -> None:
    def red_in_auth(request: RunRequest) -> RunOutcome:
        if any("auth" in p for p in request.selection.paths):
            return RunOutcome(1, 1.0, passed=9, failed=["auth/x: flaky"])
        return RunOutcome(0, 1.0, passed=3)

    runner, calls = scripted(red_in_auth)
    report = run_sensitivity(FAULTS, MAP, jobs=2, workroot=tmp_path, runner=runner, features_dir=_features(tmp_path))
    assert not report.baseline_green
    assert len(calls) == 2 and all(c.fault is None for c in calls) and report.results == []
    assert report.baseline["failed"] == ["auth/x: flaky"]


def test_shards_that_select_nothing_are_fine_when_another_shard_ran(tmp_path: Path) -> None:
    def only_auth_matches(request: RunRequest) -> RunOutcome:
        if any("auth" in p for p in request.selection.paths):
            return RunOutcome(0, 1.0, passed=2)
        return RunOutcome(1, 0.5, nothing_selected=True)

    runner, _ = scripted(only_auth_matches)
    report = run_sensitivity({}, MAP, jobs=2, workroot=tmp_path, runner=runner, features_dir=_features(tmp_path))
    assert report.baseline_green and report.baseline["passed"] == 2


def test_a_baseline_that_selects_nothing_is_not_green(tmp_path: Path) -> None:
    runner, _ = scripted(lambda request: RunOutcome(1, 1.0, nothing_selected=True))
    report = run_sensitivity(FAULTS, MAP, jobs=2, workroot=tmp_path, runner=runner, features_dir=_features(tmp_path))
    assert not report.baseline_green


def test_split_selection_balances_cost_and_keeps_every_file(tmp_path: Path) -> None:
    from permiso_acceptance.fault_map import full_selection
    from permiso_acceptance.sensitivity_orchestration import split_selection

    files = [tmp_path / f"f{i}.feature" for i in range(5)]
    weights = dict(zip(files, [10.0, 1.0, 1.0, 1.0, 8.0], strict=True))
    shards = split_selection(full_selection(tmp_path, ["@t"]), files, weights, 2)
    assert len(shards) == 2 and all(s.tags == ("@t",) for s in shards)
    assert sorted(p for s in shards for p in s.paths) == sorted(str(f) for f in files)
    costs = sorted(sum(weights[Path(p)] for p in s.paths) for s in shards)
    assert costs == [10.0, 11.0]
    single = split_selection(full_selection(tmp_path), files, weights, 1)
    assert len(single) == 1 and len(single[0].paths) == 5


def test_estimated_seconds_counts_scenarios_and_example_rows(tmp_path: Path) -> None:
    from permiso_acceptance.sensitivity_orchestration import estimated_seconds

    path = tmp_path / "x.feature"
    path.write_text(
        "Feature: x\n  Scenario: a\n    Given y\n  Scenario Outline: b <n>\n    Given <n>\n"
        "    Examples:\n      | n |\n      | 1 |\n      | 2 |\n      | 3 |\n"
    )
    assert estimated_seconds(path) == 0.5 * (2 + 2)
