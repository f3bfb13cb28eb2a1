"""The fault map: parsing, selections, and a decision for every fault the reference server can inject."""

from __future__ import annotations

from pathlib import Path

import pytest

from permiso_acceptance.fault_map import (
    DEFAULT_MAP_PATH,
    FaultMap,
    FaultMapError,
    load_fault_map,
    parse_fault_map,
)

#: The domain folders of design.md §2: every map path must start with one of them.
DOMAINS = {"infrastructure", "authentication", "tokens", "service_clients", "administration", "security",
           "performance"}


def test_every_reference_fault_has_a_decision_in_the_map(reference_fault_names: dict[str, str]) -> None:
    """A new fault added to the reference without a decision (narrow paths or full = true) fails here."""
    fault_map = load_fault_map()
    missing = fault_map.missing(reference_fault_names)
    assert not missing, f"add a decision to {DEFAULT_MAP_PATH.name} for: {', '.join(missing)}"


def test_the_map_names_no_fault_the_reference_does_not_have(reference_fault_names: dict[str, str]) -> None:
    stale = load_fault_map().unknown(reference_fault_names)
    assert not stale, f"{DEFAULT_MAP_PATH.name} names unknown faults (renamed? misspelled?): {stale}"


def test_there_are_at_least_30_faults(reference_fault_names: dict[str, str]) -> None:
    assert len(reference_fault_names) >= 30


def test_every_map_path_lies_in_a_domain_folder() -> None:
    for entry in load_fault_map().entries.values():
        for path in entry.paths or ():
            assert Path(path).parts[0] in DOMAINS, f"{entry.fault}: {path!r} is not under a domain folder"
            assert path.endswith(".feature") or "." not in Path(path).name, f"{entry.fault}: {path!r}"


def test_a_narrow_entry_selects_the_paths_that_exist(tmp_path: Path) -> None:
    (tmp_path / "authentication").mkdir()
    (tmp_path / "authentication" / "lockout.feature").write_text("Feature: x\n")
    fault_map = parse_fault_map(
        '[faults]\nlockout_never = { paths = ["authentication/lockout.feature", "security"], why = "w" }\n'
    )
    sel = fault_map.selection("lockout_never", features_dir=tmp_path, extra_tags=["@auth"])
    assert sel.kind == "narrow"
    assert sel.paths == (str(tmp_path / "authentication" / "lockout.feature"),)
    assert sel.dropped == ("security",)
    assert sel.tags == ("@auth",)
    assert sel.label == "narrow: authentication/lockout.feature"


def test_a_narrow_entry_whose_paths_are_all_missing_falls_back_to_the_full_suite(tmp_path: Path) -> None:
    fault_map = parse_fault_map('[faults]\ncors_any_origin = { paths = ["security"], why = "w" }\n')
    sel = fault_map.selection("cors_any_origin", features_dir=tmp_path)
    assert sel.is_full and sel.paths == (str(tmp_path),)
    assert "security" in sel.reason


def test_a_full_entry_and_a_missing_entry_run_the_full_suite(tmp_path: Path) -> None:
    fault_map = parse_fault_map('[faults]\nrate_limit_off = { full = true, why = "needs a limit", tags = "@x" }\n')
    full = fault_map.selection("rate_limit_off", features_dir=tmp_path, extra_tags=["@user"])
    assert full.is_full and full.tags == ("@user", "@x") and full.reason == "needs a limit"
    undecided = fault_map.selection("brand_new_fault", features_dir=tmp_path)
    assert undecided.is_full and undecided.reason == "no decision in the fault map"
    assert fault_map.missing(["rate_limit_off", "brand_new_fault"]) == ["brand_new_fault"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("faults = 3", "[faults] table"),
        ("[faults]\na = 1\n", "expected a table"),
        ('[faults]\na = { paths = ["tokens"] }\n', "'why'"),
        ('[faults]\na = { paths = ["tokens"], full = true, why = "w" }\n', "not both"),
        ('[faults]\na = { paths = [], why = "w" }\n', "non-empty list"),
        ('[faults]\na = { why = "w" }\n', "non-empty list"),
        ('[faults]\na = { paths = ["/etc"], why = "w" }\n', "relative"),
        ('[faults]\na = { paths = ["../x"], why = "w" }\n', "relative"),
        ('[faults]\na = { paths = ["tokens"], why = "w", oops = 1 }\n', "unknown key"),
        ('[faults]\na = { full = "yes", why = "w" }\n', "true or false"),
        ("[faults\n", "not valid TOML"),
        ("[faults]\n[other]\n", "unknown top-level"),
    ],
)
def test_a_malformed_map_is_refused_with_the_entry_named(text: str, problem: str) -> None:
    with pytest.raises(FaultMapError, match=None) as info:
        parse_fault_map(text)
    assert problem in str(info.value)


def test_the_repository_map_parses() -> None:
    fault_map = load_fault_map()
    assert isinstance(fault_map, FaultMap) and len(fault_map.entries) >= 30
    assert all(entry.why for entry in fault_map.entries.values())
