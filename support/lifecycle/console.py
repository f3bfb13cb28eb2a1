"""The suite's console formatter: each feature, scenario and step once, readable in a pipe and on a terminal.

Why not behave's ``pretty``: with formatters listed in ``[tool.behave]`` and none on the command line,
behave 1.3.3 (``behave/__main__.py``, ``run_behave``) APPENDS its ``default_format`` ("pretty") to them,
and that extra formatter gets the default stream, stdout. With ``format = ["pretty", <Allure>]`` and
``outfiles = ["-", "allure-results"]`` two pretty formatters wrote to stdout: every header, step and
failure twice, interleaved (the feature description of one ran into the tag line of the other), and
on a terminal each one's cursor-up colour redraws landed on lines the other had written. pyproject.toml
therefore lists only the Allure formatter and makes THIS formatter behave's ``default_format``, so
exactly one console formatter runs (``-f plain`` etc. on the command line still replace it).

Besides, ``pretty`` redraws lines (unreadable in a log), prints a step before it runs and again after,
and shows a Python traceback for every failure. Here:

- ``[n/N] Feature: ...`` for each feature that runs (progress on long runs), its tags and description;
- each scenario title once (``  Scenario: ...  # file:line``, so it can be re-run by location);
- each step once, AFTER it ran, with its status and duration; no cursor movement at all;
- a failing step's evidence as one indented block under it: the assertion's message (no traceback:
  an assertion failure is a finding about the target, not a bug of the suite), and what the step
  printed or logged (e.g. the run-wide hygiene watch's findings). A traceback is shown only for an
  unexpected exception outside the suite's own support code, i.e. when the suite itself is broken;
- a scenario skipped for a missing capability shows its reason once instead of its steps;
- colour only when the stream is a terminal (behave's ``--color`` / ``--no-color`` still decide).
"""

from __future__ import annotations

import sys
from typing import Any

from behave.formatter.base import Formatter
from behave.model_type import Status

#: ANSI colours per status (only used on a terminal).
_COLOURS = {
    "passed": "\x1b[32m",
    "failed": "\x1b[31m",
    "error": "\x1b[31m",
    "hook_error": "\x1b[31m",
    "undefined": "\x1b[33m",
    "pending": "\x1b[33m",
    "skipped": "\x1b[36m",
    "untested": "\x1b[36m",
    "comment": "\x1b[90m",
    "feature": "\x1b[1m",
}
_RESET = "\x1b[0m"
#: Statuses that mean the step did not hold (evidence follows it).
_BAD = {"failed", "error", "hook_error", "undefined", "pending"}
#: Exceptions from these modules are the suite's own findings or the target's state, not a broken suite.
_OWN_MODULES = ("support.", "requests.", "urllib3.", "hamcrest.")

INDENT_SCENARIO = "  "
INDENT_STEP = "    "
INDENT_EVIDENCE = "      "


def _status_name(status: Any) -> str:
    return status.name if isinstance(status, Status) else str(status or "untested")


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.rstrip().splitlines())


def find_runner(formatter: Any, start: Any = None) -> Any:
    """The behave Runner that calls ``formatter`` (its ``features`` give the run's size), or None.

    behave hands formatters no runner; the runner is the caller of ``uri()``/``feature()``. Looked up
    once, by walking the calling frames for an object that owns this formatter.
    """
    frame = start or sys._getframe(1)
    while frame is not None:
        for candidate in (frame.f_locals.get("self"), frame.f_locals.get("runner")):
            formatters = getattr(candidate, "formatters", None)
            if isinstance(formatters, list) and formatter in formatters and hasattr(candidate, "features"):
                return candidate
        frame = frame.f_back
    return None


def selected_feature_count(runner: Any, config: Any) -> int | None:
    """How many features have at least one scenario the selection (tags, names, locations) runs."""
    try:
        return sum(
            1 for feature in runner.features
            if any(scenario.should_run(config) for scenario in feature.walk_scenarios())
        )
    except Exception:
        return None


class ConsoleFormatter(Formatter):
    """One clean console stream: see the module docstring."""

    name = "console"
    description = "Each feature, scenario and step once; failures as one block; colour only on a terminal"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.stream = self.open()
        self.colored = bool(config.has_colored_mode(self.stream))
        self.show_timings = bool(getattr(config, "show_timings", True))
        self.show_source = bool(getattr(config, "show_source", True))
        self.show_multiline = bool(getattr(config, "show_multiline", True))
        self.features_total: int | None = None
        self.features_seen = 0
        self._looked_for_runner = False
        self.current: Any = None
        self.steps: list[Any] = []

    # ------------------------------------------------------------------ output helpers
    def _paint(self, text: str, key: str) -> str:
        if not self.colored or key not in _COLOURS:
            return text
        # per line, so a pager (less -R) or a log viewer never carries a colour over a line break
        return "\n".join(f"{_COLOURS[key]}{line}{_RESET}" if line else line for line in text.split("\n"))

    def _write(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _location(self, thing: Any) -> str:
        if not self.show_source:
            return ""
        return self._paint(f"  # {thing.location}", "comment")

    # ------------------------------------------------------------------ behave's formatter interface
    def uri(self, uri: str) -> None:
        if not self._looked_for_runner:
            self._looked_for_runner = True
            runner = find_runner(self, sys._getframe(1))
            if runner is not None:
                self.features_total = selected_feature_count(runner, self.config)

    def feature(self, feature: Any) -> None:
        self._finish_scenario()
        self.features_seen += 1
        total = f"/{self.features_total}" if self.features_total else ""
        if self.features_seen > 1:
            self._write()
        if feature.tags:
            self._write(self._paint(" ".join(f"@{t}" for t in feature.tags), "comment"))
        title = f"[{self.features_seen}{total}] {feature.keyword}: {feature.name}"
        self._write(self._paint(title, "feature") + self._location(feature))
        for line in feature.description or []:
            self._write(f"  {line}".rstrip())

    def rule(self, rule: Any) -> None:
        self._finish_scenario()
        self._write()
        self._write(f"{INDENT_SCENARIO}{rule.keyword}: {rule.name}")

    def background(self, background: Any) -> None:
        """Background steps run (and are shown) as part of every scenario."""

    def scenario(self, scenario: Any) -> None:
        self._finish_scenario()
        self.current = scenario
        self.steps = []
        self._write()
        if scenario.tags:
            self._write(INDENT_SCENARIO + self._paint(" ".join(f"@{t}" for t in scenario.tags), "comment"))
        self._write(f"{INDENT_SCENARIO}{scenario.keyword}: {scenario.name}{self._location(scenario)}")

    def step(self, step: Any) -> None:
        self.steps.append(step)

    def match(self, match: Any) -> None:
        """Nothing: a step is shown once, after it ran."""

    def result(self, step: Any) -> None:
        # By identity: the same step text may stand in the Background and in the scenario.
        position = next((i for i, queued in enumerate(self.steps) if queued is step), None)
        if position is not None:
            self.steps = self.steps[position + 1:]
        self._print_step(step, _status_name(step.status))

    def eof(self) -> None:
        self._finish_scenario()

    def close(self) -> None:
        self._finish_scenario()
        super().close()

    # ------------------------------------------------------------------ the parts
    def _print_step(self, step: Any, status: str) -> None:
        timing = ""
        if self.show_timings and status not in ("skipped", "untested") and getattr(step, "duration", 0):
            timing = f" in {step.duration:.3f}s"
        line = f"{INDENT_STEP}{step.keyword} {step.name} ... {status}{timing}"
        self._write(self._paint(line, status if status in _COLOURS else "untested"))
        if self.show_multiline and status not in ("skipped", "untested"):
            if step.table:
                self._write(_indent(self._table(step.table), INDENT_EVIDENCE))
            if step.text:
                self._write(_indent('"""\n' + str(step.text) + '\n"""', INDENT_EVIDENCE))
        if status in _BAD:
            evidence = self.evidence(step, status)
            if evidence:
                self._write(self._paint(_indent(evidence, INDENT_EVIDENCE), status))

    def evidence(self, step: Any, status: str) -> str:
        """What went wrong in the step: the assertion's message, or where the suite broke."""
        exception = getattr(step, "exception", None)
        if status == "undefined":
            return "no step definition matches this step (behave prints a snippet at the end)"
        if status == "failed" and exception is not None:
            return str(exception).strip() or type(exception).__name__
        if status in ("error", "pending") and exception is not None:
            if (type(exception).__module__ + ".").startswith(_OWN_MODULES):
                return f"{type(exception).__name__}: {exception}".strip()
            # an unexpected exception: the suite itself is broken, so show where
            return (getattr(step, "error_message", "") or "").strip() or f"{type(exception).__name__}: {exception}"
        return ""  # hook_error: the hook's message is in the scenario's captured output (shown at its end)

    @staticmethod
    def captured_output(scenario: Any) -> str:
        """What the scenario printed or logged (hook errors included), without behave's copies of errors.

        Read from the scenario, not the step: behave 1.3.3's per-step capture delta keeps a bookmark from
        an earlier scenario and can cut off the start of a step's output.
        """
        captured = getattr(scenario, "captured", None)
        if captured is None or not captured.has_output():
            return ""
        stderr = captured.stderr or ""
        for step in getattr(scenario, "all_steps", []):
            message = getattr(step, "error_message", None)
            if message:
                stderr = stderr.replace(message, "")
        parts = [captured.stdout or "", stderr, captured.log or ""]
        return "\n".join(part.strip("\n") for part in parts if part.strip())

    @staticmethod
    def _table(table: Any) -> str:
        rows = [list(table.headings), *[list(r.cells) for r in table.rows]]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |"
                         for row in rows)

    def _finish_scenario(self) -> None:
        scenario, self.current = self.current, None
        if scenario is None:
            return
        status = _status_name(scenario.status)
        step_statuses = {_status_name(step.status) for step in getattr(scenario, "all_steps", [])}
        # A failing step's output (and an after_step hook's complaint) goes right under that step, before
        # the steps that did not run. A before/after_scenario hook's error behave prints itself.
        if status in ("failed", "error") or "hook_error" in step_statuses:
            output = self.captured_output(scenario)
            if output:
                paint = "hook_error" if "hook_error" in step_statuses else status
                self._write(self._paint(_indent(output, INDENT_EVIDENCE), paint))
        reason = getattr(scenario, "skip_reason", None)
        if status == "skipped" and reason:
            self._write(self._paint(f"{INDENT_STEP}skipped: {reason}", "skipped"))
        else:
            for step in self.steps:  # not run after a failure (or the run stopped)
                self._print_step(step, "skipped")
        self.steps = []
