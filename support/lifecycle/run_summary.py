"""The run's sign-off summary and metadata: what the hooks (support/lifecycle/run.py) and behavex's main process
(support/lifecycle/parallel.py) write at the start and the end of a run.

Kept apart from support/lifecycle/run.py, which holds the hooks' life cycle; everything here only formats and
writes (the summary page and JSON, Allure's environment.properties and rule results, JUnit of the rules).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from support.lifecycle.target import Target
from support.wire.settings import Settings


def _suite_version() -> str:
    try:
        return importlib.metadata.version("permiso-acceptance")
    except importlib.metadata.PackageNotFoundError:  # running from a plain checkout
        return "0+unknown"


SUITE_VERSION = _suite_version()

#: Where allure-behave writes (pyproject [tool.behave] outfiles); metadata goes next to its results.
ALLURE_RESULTS = Path("allure-results")
SUMMARY_PATH = Path("reports") / "signoff-summary.md"
JUNIT_DIR = Path("reports") / "junit"


def capability_lines(capabilities: Mapping[str, str | None]) -> list[str]:
    """One line per missing capability, printed once per run."""
    return [f"Capability {name}: missing ({reason}); @needs.{name} scenarios will be skipped"
            for name, reason in sorted(capabilities.items()) if reason]


def new_summary(state: Any = None) -> Any:
    from support.lifecycle.verdict import RunSummary

    summary = RunSummary()
    if state is not None:
        settings, target = state.settings, state.target
        summary.selected = state.expected
        summary.policy = state.policy
        summary.target = target_text(target, settings)
        summary.capabilities = state.capabilities
        summary.deselected = state.deselected
        summary.require_complete_gate = bool(getattr(settings, "permiso_require_complete_gate", False))
        summary.clean_reference = bool(
            target is not None and target.embedded
            and getattr(settings, "permiso_reference_profile", "contract") == "contract"
            and not getattr(settings, "permiso_reference_faults", ""))
    return summary


def target_text(target: Target | None, settings: Settings) -> str:
    """What the run was aimed at, stable between runs (an embedded server's port changes every time)."""
    if target is None:
        return ""
    if target.embedded:
        faults = getattr(settings, "permiso_reference_faults", "")
        return (f"embedded reference Permiso (profile {getattr(settings, 'permiso_reference_profile', 'contract')}"
                + (f", faults {faults}" if faults else "") + ")")
    return target.base_url


def write_metadata(state: Any) -> None:
    from support.lifecycle.allure_environment import write_run_metadata

    assert state.target is not None
    write_run_metadata(
        ALLURE_RESULTS,
        target_url=state.target.base_url,
        permiso_version=state.target.version,
        suite_version=SUITE_VERSION,
        run_id=state.settings.permiso_run_id,
        capabilities=state.capabilities,
        extra={"target_kind": "embedded reference" if state.target.embedded else "deployment",
               **{f"setting.{k}": v for k, v in state.settings.redacted().items()}},
    )


def finish_summary(context: Any, summary: Any, settings: Settings | None) -> None:
    """Give the summary what only the end of the run knows: the run-wide rules as the watch saw them
    (then forgotten, so a behavex worker's next feature starts afresh), the scan switch, interruption."""
    from support.domains import hygiene
    from support.lifecycle.summary_records import RuleRecord

    summary.rules = [RuleRecord.from_dict(r) for r in hygiene.WATCH.rule_records()]
    hygiene.WATCH.reset()
    from support.domains import fuzz_area, fuzz_findings

    summary.extra_causes = fuzz_findings.BOOK.cause_entries()  # the fuzzer's findings, one cause each
    note = fuzz_findings.BOOK.schema_note()
    summary.notes = [note] if note else []
    fuzz_area.reset()  # forgets the findings, removes Hypothesis' caches
    summary.scan_enabled = bool(getattr(settings, "security_scan_enabled", True))
    summary.require_complete_gate = bool(getattr(settings, "permiso_require_complete_gate", False))
    runner = getattr(context, "_runner", None)
    summary.interrupted = bool(getattr(runner, "aborted", False))


def allure_results_dir(context: Any) -> Path | None:
    """Where the active allure-behave formatter writes, or None when no Allure formatter runs."""
    runner = getattr(context, "_runner", None)
    for formatter in getattr(runner, "formatters", None) or []:
        if type(formatter).__module__.startswith("allure_behave"):
            name = getattr(getattr(formatter, "stream_opener", None), "name", None)
            return Path(name) if name and name != "-" else ALLURE_RESULTS
    return None


def publish_summary(summary: Any, *, allure_dir: Path | None = ALLURE_RESULTS,
                    junit_dir: Path | None = JUNIT_DIR) -> None:
    """Write the sign-off summary (Markdown + JSON), one Allure result per run-wide rule and the JUnit
    file of the rules, then print the summary past behave's capture."""
    from support.lifecycle import allure_environment, rule_results, summary_page

    summary_page.write_summary(summary, SUMMARY_PATH)
    if allure_dir is not None:
        allure_environment.append_properties(allure_dir, allure_environment.signoff_properties(summary))
    if summary.rules and allure_dir is not None:
        rule_results.write_rule_results(allure_dir, summary.rules, scan_enabled=summary.scan_enabled)
    if summary.rules and junit_dir is not None:
        rule_results.write_rule_junit(junit_dir, summary.rules, scan_enabled=summary.scan_enabled)
    if getattr(summary, "notes", None) and allure_dir is not None:
        from support.domains.fuzz_findings import write_note_result

        for note in summary.notes:
            write_note_result(allure_dir, note)
    # behave captures what after_all prints; the summary writes past the capture on purpose.
    summary_page.print_to_console(summary)


class RunNotReleaseReady(Exception):
    """Raised from after_all only when behave's runner cannot be told that the run failed (see `fail_run`)."""
