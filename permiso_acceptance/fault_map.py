"""Which scenarios can possibly observe each injectable fault: `features/fault_map.toml`, parsed.

The sensitivity run (`permiso_acceptance/sensitivity.py`) runs the suite once per fault. Running all of it every time
would take too long, so each fault has a *decision* in the map: either a narrow selection (feature
directories or files under `features/`, optionally a tag expression) or the full suite. A narrow selection
is only an optimisation: a fault that escapes it is run against the full suite before it is called
escaped, so a too-narrow entry costs time, never a wrong verdict.

Paths that do not exist are dropped (and reported), so the map can name a domain folder before its first
feature lands; when nothing is left, the selection falls back to the full suite.

An entry may also carry `settings = { NAME = "value" }`: suite settings the target needs for the fault to
be observable at all (e.g. an auth rate limit on the embedded server for `rate_limit_off`). They are a
general mechanism, not a verdict: the sensitivity run passes them as `-D NAME=value` to the fault's runs
and runs a clean control with the same settings, which must be green, before a failure counts as a catch.
Names must be fields of :class:`support.wire.settings.Settings` (case-insensitive), so a typo fails loudly.

An entry with `acceptable = true` is an *acceptable variant* of the reference (a behaviour of the current
release the contract allows, listed with kind `variant` by `permiso-reference faults`), not a fault: the
sensitivity run runs its selection as a "must stay green" check (`tolerated` / `NOT TOLERATED`) and leaves
it out of the `caught N/M faults` count.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository's features folder (the map's paths are relative to it).
FEATURES_DIR = Path(__file__).resolve().parents[1] / "features"
#: The map itself.
DEFAULT_MAP_PATH = FEATURES_DIR / "fault_map.toml"

_ENTRY_KEYS = {"paths", "full", "tags", "why", "settings", "acceptable"}


class FaultMapError(ValueError):
    """The map file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class MapEntry:
    """One fault's decision: `paths` (narrow) or None (full suite), an optional tag expression, the why."""

    fault: str
    paths: tuple[str, ...] | None
    why: str
    tags: str | None = None
    #: Suite settings (upper-case env names -> value) the target needs for this fault to be observable.
    settings: tuple[tuple[str, str], ...] = ()
    #: An acceptable variant: the selection must stay green with it on (not a fault to catch).
    acceptable: bool = False

    @property
    def full(self) -> bool:
        return self.paths is None


@dataclass(frozen=True)
class Selection:
    """What one behave run selects: feature paths (absolute, empty = all of `features/`) and tag expressions.

    `label` says in a few words which selection this is, for the table; `dropped` lists map paths that
    did not exist.
    """

    kind: str  # "narrow" or "full"
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    label: str
    reason: str = ""
    dropped: tuple[str, ...] = field(default=())

    @property
    def is_full(self) -> bool:
        return self.kind == "full"


@dataclass(frozen=True)
class FaultMap:
    """All decisions of the map file, by fault name."""

    entries: Mapping[str, MapEntry]
    source: Path | None = None

    def missing(self, faults: Iterable[str]) -> list[str]:
        """Faults (from the reference's list) that have no decision in the map."""
        return sorted(set(faults) - set(self.entries))

    def unknown(self, faults: Iterable[str]) -> list[str]:
        """Map entries that name no fault of the reference (stale or misspelled)."""
        return sorted(set(self.entries) - set(faults))

    def acceptable(self, fault: str) -> bool:
        """True when the map calls this entry an acceptable variant (`acceptable = true`)."""
        entry = self.entries.get(fault)
        return entry is not None and entry.acceptable

    def settings(self, fault: str) -> tuple[tuple[str, str], ...]:
        """The settings (NAME, value) the fault's runs need, in map order; () when none or no entry."""
        entry = self.entries.get(fault)
        return entry.settings if entry is not None else ()

    def selection(
        self, fault: str, *, features_dir: Path = FEATURES_DIR, extra_tags: Iterable[str] = ()
    ) -> Selection:
        """The selection to run `fault` with: narrow when the map says so and a named path exists."""
        extra = tuple(t for t in extra_tags if t)
        entry = self.entries.get(fault)
        if entry is None:
            return full_selection(features_dir, extra, reason="no decision in the fault map")
        tags = (*extra, entry.tags) if entry.tags else extra
        if entry.paths is None:
            return full_selection(features_dir, tags, reason=entry.why)
        present = [p for p in entry.paths if (features_dir / p).exists()]
        dropped = tuple(p for p in entry.paths if p not in present)
        if not present:
            return full_selection(
                features_dir, tags, reason=f"none of {', '.join(entry.paths)} exists yet", dropped=dropped
            )
        label = "narrow: " + ", ".join(present)
        if entry.tags:
            label += f" [{entry.tags}]"
        return Selection(
            "narrow", tuple(str(features_dir / p) for p in present), tags, label, entry.why, dropped
        )


def full_selection(
    features_dir: Path = FEATURES_DIR, tags: Iterable[str] = (), *, reason: str = "", dropped: tuple[str, ...] = ()
) -> Selection:
    """The whole suite (still narrowed by `tags`, e.g. the user's `--tags`)."""
    return Selection("full", (str(features_dir),), tuple(tags), "full suite", reason, dropped)


def _entry(fault: str, raw: Any) -> MapEntry:
    if not isinstance(raw, Mapping):
        raise FaultMapError(f"fault map entry {fault!r}: expected a table like {{ paths = [...], why = \"...\" }}")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise FaultMapError(f"fault map entry {fault!r}: unknown key(s) {', '.join(sorted(unknown))}")
    why = raw.get("why")
    if not isinstance(why, str) or not why.strip():
        raise FaultMapError(f"fault map entry {fault!r}: 'why' (what a scenario must do to notice it) is required")
    tags = raw.get("tags")
    if tags is not None and (not isinstance(tags, str) or not tags.strip()):
        raise FaultMapError(f"fault map entry {fault!r}: 'tags' must be a non-empty tag expression")
    acceptable = raw.get("acceptable", False)
    if acceptable is not False and acceptable is not True:
        raise FaultMapError(f"fault map entry {fault!r}: 'acceptable' must be true or false")
    full, paths = raw.get("full", False), raw.get("paths")
    if full is not False and full is not True:
        raise FaultMapError(f"fault map entry {fault!r}: 'full' must be true or false")
    if full and paths is not None:
        raise FaultMapError(f"fault map entry {fault!r}: give either 'paths' or 'full = true', not both")
    if not full:
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip() for p in paths):
            raise FaultMapError(f"fault map entry {fault!r}: 'paths' must be a non-empty list of feature paths")
        for p in paths:
            if Path(p).is_absolute() or ".." in Path(p).parts:
                raise FaultMapError(f"fault map entry {fault!r}: path {p!r} must be relative to features/")
    return MapEntry(fault, None if full else tuple(p.strip().rstrip("/") for p in paths), why.strip(),
                    tags.strip() if tags else None, _entry_settings(fault, raw.get("settings")), acceptable)


def setting_names() -> frozenset[str]:
    """The names a map entry may set: the suite's settings fields (lower case, as Settings keeps them)."""
    from support.wire.settings import Settings  # imported late: the map parser stays usable without pydantic set up

    return frozenset(name.lower() for name in Settings.model_fields)


def _entry_settings(fault: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """Validate an entry's `settings` table: known setting names, scalar values, given as strings for `-D`."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise FaultMapError(f"fault map entry {fault!r}: 'settings' must be a non-empty table like "
                            f"{{ NAME = \"value\" }}")
    known = setting_names()
    reserved = {"permiso_reference_faults", "permiso_reference_profile", "permiso_base_url", "permiso_http_url"}
    result: list[tuple[str, str]] = []
    for name, value in raw.items():
        if str(name).strip().lower() not in known:
            raise FaultMapError(f"fault map entry {fault!r}: {name!r} in 'settings' is not a suite setting "
                                f"(see support/wire/settings.py)")
        if str(name).strip().lower() in reserved:
            raise FaultMapError(f"fault map entry {fault!r}: {name!r} is set by the sensitivity run itself "
                                f"(the fault and the embedded target), not by the map")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise FaultMapError(f"fault map entry {fault!r}: setting {name!r} must be a string or number")
        if "\n" in text or "\r" in text:
            raise FaultMapError(f"fault map entry {fault!r}: setting {name!r} must be one line")
        result.append((str(name).strip().upper(), text))
    return tuple(result)


def parse_fault_map(text: str, source: Path | None = None) -> FaultMap:
    """Parse the TOML text of a fault map; raises FaultMapError naming the bad entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FaultMapError(f"fault map {source or ''} is not valid TOML: {exc}") from exc
    faults = data.get("faults")
    if not isinstance(faults, Mapping):
        raise FaultMapError("fault map: a [faults] table is required")
    extra = set(data) - {"faults"}
    if extra:
        raise FaultMapError(f"fault map: unknown top-level key(s) {', '.join(sorted(extra))}")
    return FaultMap({name: _entry(name, raw) for name, raw in faults.items()}, source)


def load_fault_map(path: Path = DEFAULT_MAP_PATH) -> FaultMap:
    """Read and parse the map file."""
    return parse_fault_map(path.read_text(encoding="utf-8"), path)
