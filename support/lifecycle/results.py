"""Each plain behave run starts with empty result folders, so a report shows that run and nothing else.

Why: allure-behave only ever adds files to ``allure-results/``; run after run the folder accumulated
(a report once showed "Total 373 · Retried tests 99": earlier runs' results read as retries). behave's
JUnit reporter likewise leaves the ``TESTS-<feature>.xml`` of features the last run did not select. Trends
across runs are not lost by emptying: ``permiso-acceptance report`` keeps them in its history file, which
lives OUTSIDE the results folder (``.allure-history/history.jsonl``, allurerc.mjs ``historyPath``).

When: from ``before_all``, before the first result is written. The Allure formatter is constructed
earlier (it creates the folder), but it writes a file only when a test or a fixture group finishes, so
emptying in ``before_all`` loses nothing of this run; run metadata (``environment.properties``,
``executor.json``) is written after it.

Not inside behavex workers: there every feature is its own behave run and they all write into the same
folder at the same time; the main process owns it (behavex empties its own output folder).

Skipped scenarios in JUnit: behave's JUnit reporter leaves out every skipped scenario when ``show_skipped``
is off, and it must stay off in pyproject (else a ``--tags`` selection lists every scenario it left out).
:class:`ReasonedSkipJUnitReporter` (installed by :func:`install_junit_reporter` from ``before_all``) keeps
the scenarios skipped WITH a reason (a missing capability: ``scenario.skip(reason)`` in before_scenario) as
``<testcase><skipped message="needs docker: ..."/></testcase>``; scenarios left out by the selection have
no reason and stay out, as before.

Only files these tools write are removed (Allure's ``*-result.json``, ``*-container.json``,
``*-attachment.*``, the metadata files; JUnit's ``TESTS-*.xml``), so an output path pointed at a folder
holding anything else (``-o .``) costs nothing but stale results.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from behave.model_type import Status
from behave.reporter.junit import JUnitReporter

from support.lifecycle import worker

#: What allure-behave (and support/lifecycle/allure_environment.py's metadata) writes into the results folder.
ALLURE_PATTERNS = (
    "*-result.json", "*-container.json", "*-attachment*", "environment.properties", "executor.json",
    "categories.json",
)
JUNIT_PATTERNS = ("TESTS-*.xml",)


def allure_result_dirs(context: Any) -> list[Path]:
    """The folders the active Allure formatters write to (none when no Allure formatter runs)."""
    runner = getattr(context, "_runner", None)
    found: list[Path] = []
    for formatter in getattr(runner, "formatters", None) or []:
        if not type(formatter).__module__.startswith("allure_behave"):
            continue
        name = getattr(getattr(formatter, "stream_opener", None), "name", None)
        if name and name != "-":
            found.append(Path(name))
    return found


def junit_dir(context: Any) -> Path | None:
    config = getattr(context, "config", None)
    if config is None or not getattr(config, "junit", False):
        return None
    directory = getattr(config, "junit_directory", None)
    return Path(directory) if directory else None


def empty_folder(folder: Path, patterns: tuple[str, ...]) -> int:
    """Remove the files matching ``patterns`` directly in ``folder``; returns how many went."""
    removed = 0
    if not folder.is_dir():
        return 0
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_file() or path.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
    return removed


def start_fresh(context: Any) -> int:
    """Empty this run's Allure results and JUnit folders (not in a behavex worker); returns files removed."""
    if worker.in_worker(context):
        return 0
    removed = sum(empty_folder(folder, ALLURE_PATTERNS) for folder in allure_result_dirs(context))
    junit = junit_dir(context)
    if junit is not None:
        removed += empty_folder(junit, JUNIT_PATTERNS)
    return removed


class ReasonedSkipJUnitReporter(JUnitReporter):
    """behave's JUnit reporter, plus a testcase for each scenario skipped with a reason (see module doc)."""

    _forced = False

    @property
    def show_skipped(self) -> bool:  # type: ignore[override]
        return bool(JUnitReporter.show_skipped.fget(self)) or self._forced  # type: ignore[attr-defined]

    def feature(self, feature: Any) -> None:
        # A feature whose selected scenarios were all skipped for a reason is "skipped" too: keep its file.
        self._forced = any(_reasoned_skip(s) for s in feature.walk_scenarios())
        try:
            super().feature(feature)
        finally:
            self._forced = False

    def _process_scenario(self, scenario: Any, report: Any) -> None:
        saved = self._forced
        self._forced = _reasoned_skip(scenario)
        before = len(report.testcases)
        try:
            super()._process_scenario(scenario, report)
        finally:
            forced, self._forced = self._forced, saved
        if forced and len(report.testcases) > before:
            for skipped in report.testcases[-1].iter("skipped"):
                skipped.set("message", str(scenario.skip_reason))


def _reasoned_skip(scenario: Any) -> bool:
    return getattr(scenario, "status", None) == Status.skipped and bool(getattr(scenario, "skip_reason", None))


def install_junit_reporter(context: Any) -> bool:
    """Replace behave's JUnit reporter of this run with :class:`ReasonedSkipJUnitReporter` (same config).

    Done in before_all, before any feature is reported. True when a reporter was replaced.
    """
    config = getattr(context, "config", None)
    reporters = getattr(config, "reporters", None)
    if not isinstance(reporters, list):
        return False
    replaced = False
    for i, reporter in enumerate(reporters):
        if type(reporter) is JUnitReporter:
            reporters[i] = ReasonedSkipJUnitReporter(config)
            replaced = True
    return replaced
