"""What the behave hooks do, kept out of `features/environment.py` so it can be unit-tested.

The run's life cycle:
1. `before_all`: load settings (environment, `.env`, `-D`), resolve the target (start the embedded
   reference server or gate on the configured deployment's health), check that the configured
   administrator can sign in, probe capabilities (Docker engine, signing key, TLS front, ...), provision
   the configured test user and service client when a deployment lacks them, write run metadata for
   Allure. Any problem here ends the run at once with ONE readable line and a non-zero exit.
2. per feature: a client of the configured administrator holding the run's one sign-in (never signed out:
   its tokens are revoked at the end of the run).
3. per scenario: skip `@needs.<capability>` scenarios whose capability is missing, with the reason; give
   the scenario a fresh exchange log, identities and actors; on failure attach the redacted exchange.
4. `after_all`: print and write the sign-off summary (Markdown and JSON, opening with the causes of
   the failures), write one Allure result and one JUnit testcase per run-wide rule, remove everything
   the run created (also what a Ctrl-C left behind), stop the embedded server, and make behave's exit
   code non-zero whenever the verdict is not RELEASE-READY (see `fail_run`).

The verdict and the exit code always agree:
- RELEASE-READY: exit 0;
- NOT RELEASE-READY / INTERRUPTED (a failed scenario, a broken run-wide rule, a missed budget, a Ctrl-C,
  nothing selected): exit 1, through behave's own failure count (`fail_run`), no traceback;
- NOT RUN (a bad setting, a misspelled tag, an unreachable target, a refused administrator): exit 2 from
  `fail_fast`, after writing a NOT RUN summary over any older one and removing the older run's results.

One rule per scenario (design.md section 2): the run-wide watch (support/domains/hygiene.py) only
reports; `after_scenario` attributes each failed scenario to ONE cause (support/checks/causes.py).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from support.lifecycle import results, worker
from support.lifecycle.run_summary import (
    SUMMARY_PATH,
    RunNotReleaseReady,
    allure_results_dir,
    capability_lines,
    finish_summary,
    new_summary,
    publish_summary,
    write_metadata,
)
from support.lifecycle.selection import (
    FUZZ_HINT,
    NOTHING_SELECTED,
    all_scenarios,
    fuzz_selected,
    leave_out_fuzz,
    mark_deselected_skipped,
    selected_scenarios,
)
from support.lifecycle.signoff import SignoffFileError, policy_for
from support.lifecycle.target import Target, TargetError, resolve_target
from support.people import lending
from support.people.identities import Identities
from support.wire.admin_session import AdminSession, AdminSignInRefused, ensure_admin
from support.wire.client import PermisoClient
from support.wire.evidence import ExchangeLog
from support.wire.settings import Settings, SettingsError
from support.wire.transport import TargetUnreachable


@dataclass
class RunState:
    """Everything the run keeps between hooks (stored on the behave context's root layer)."""

    settings: Settings
    target: Target | None = None
    capabilities: dict[str, str | None] = field(default_factory=dict)
    selected: int = 0
    ledger: CleanupLedger = field(default_factory=lambda: CleanupLedger())
    provisioned: list[Callable[[], None]] = field(default_factory=list)
    summary: Any = None
    #: how many scenarios the selection picks, and how many of the read features' scenarios it leaves out
    expected: int | None = None
    deselected: int = 0
    #: the baseline and waivers the sign-off judges causes against (support.lifecycle.signoff.Policy)
    policy: Any = None
    #: the configured administrator's one sign-in for the run
    admin_session: AdminSession = field(default_factory=lambda: AdminSession())
    #: the people lent to non-destructive scenarios (support/people/pool.py), None when switched off
    pool: Any = None


class CleanupLedger:
    """Cleanups registered per scenario, remembered run-wide until they have run.

    behave runs `context.add_cleanup` functions when the scenario ends, also after a failure. If the run
    is interrupted (Ctrl-C, SIGTERM) between creation and that point, the ledger still holds the
    cleanup and `sweep()` in after_all runs it, so nothing the suite created stays on the target.
    """

    def __init__(self) -> None:
        self._pending: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self.errors: list[str] = []

    def register(self, add_cleanup: Callable[[Callable[[], None]], None], fn: Callable[[], None]) -> None:
        key = next(self._ids)
        self._pending[key] = fn

        def run_once() -> None:
            pending = self._pending.pop(key, None)
            if pending is not None:
                pending()

        add_cleanup(run_once)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def sweep(self) -> None:
        """Run every cleanup that has not run yet, newest first; collect errors, never raise."""
        for key in sorted(self._pending, reverse=True):
            fn = self._pending.pop(key)
            try:
                fn()
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")


def fail_fast(context: Any, message: str) -> None:
    """End the run now with one readable line and exit code 2, after stopping what we started.

    Raising from before_all would make behave print "ABORTED: By user." and a zero summary, which reads
    like something else happened; an explicit exit is the clearest answer to a configuration problem.

    Before it exits it writes the NOT RUN summary (`write_not_run`): a run that stopped before any
    scenario must not leave an earlier run's RELEASE-READY page (or its results) to be signed off.
    """
    state: RunState | None = getattr(context, "run_state", None)
    if state is not None:
        with contextlib.suppress(Exception):
            state.ledger.sweep()
        if state.target is not None:
            state.target.stop()
    with contextlib.suppress(Exception):  # the one line below must come out whatever happens here
        write_not_run(context, message)
    sys.stdout.flush()
    print(f"\npermiso-acceptance: {message}", file=sys.stderr, flush=True)
    os._exit(2)


def write_not_run(context: Any, reason: str) -> Any:
    """Replace the sign-off summary and this run's result folders with a NOT RUN record of ``reason``.

    Markdown and JSON say ``Verdict: NOT RUN (<reason>)``; the Allure and JUnit folders are emptied of
    the older run's files (support/lifecycle/results.py), so no earlier run's results can be signed off as this
    one's. No JUnit testcase is invented for the reason: the exit code (2) says the run failed, and
    `permiso-acceptance sensitivity` reads every JUnit testcase as a scenario. Not in a behavex worker
    (the main process owns the summary). Returns the summary written, or None.
    """
    from support.lifecycle.summary_page import write_summary
    from support.lifecycle.verdict import RunSummary

    if worker.in_worker(context):
        return None
    results.start_fresh(context)
    summary = RunSummary(not_run=reason)
    write_summary(summary, SUMMARY_PATH)
    return summary


def fail_run(context: Any) -> None:
    """Make behave's exit code non-zero at the end of a run that is not release-ready, quietly.

    behave's `Runner.run_model` ends with ``failed = failed_count > 0 or self.aborted or
    self.hook_failures > 0 or ...`` and `behave.__main__` turns ``failed`` into exit code 1. Counting one
    more hook failure changes nothing else: no scenario is marked failed, nothing is printed. Raising from
    after_all would do the same but print ``HOOK-ERROR in after_all`` with a traceback-like message,
    which reads as a broken suite; `os._exit` would skip behave's formatters and JUnit. Only when there
    is no such runner (a unit test, another behave) does it raise `RunNotReleaseReady`.
    """
    runner = getattr(context, "_runner", None)
    if runner is not None and isinstance(getattr(runner, "hook_failures", None), int):
        runner.hook_failures += 1
        return
    raise RunNotReleaseReady("the run is not release-ready")


def excuse_accepted_failures() -> None:
    """Let a failed scenario the verdict does not count (a ``@known_defect``, or one a valid waiver
    accepts) leave behave's exit code alone; idempotent.

    behave exits 1 when any feature failed (a local count in ``Runner.run_model``), so a RELEASE-READY
    verdict with an accepted failure would still exit 1 and the verdict and the exit code would disagree.
    ``Scenario.run`` returns whether the scenario failed, and that return value is all the count reads:
    wrapping it changes nothing else. The scenario stays *failed* in behave's summary line, Allure and
    JUnit (it did fail); only its vote on the exit code goes (and on the root ``context.failed`` it set,
    which is what a behavex worker reports). Whatever else makes the run not ready still ends it with 1
    (`fail_run`, or after_all_workers under behavex).
    """
    from behave.model import Scenario

    if getattr(Scenario.run, "_permiso_excuses", False):
        return
    original = Scenario.run

    def run(self: Any, runner: Any) -> bool:
        context = getattr(runner, "context", None)
        failed_before = bool(getattr(context, "failed", False))
        failed = original(self, runner)
        if failed:
            summary = getattr(getattr(context, "run_state", None), "summary", None)
            if summary is not None and summary.excused(f"{self.feature.name} › {self.name}"):
                # behavex reads the root ``context.failed`` (set by the failed step) as the worker's result
                with contextlib.suppress(Exception):
                    context._set_root_attribute("failed", failed_before)
                return False
        return failed

    run._permiso_excuses = True  # type: ignore[attr-defined]
    Scenario.run = run  # type: ignore[method-assign]


def _install_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so behave's abort path (and our cleanups) run."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not in the main thread
        signal.signal(signal.SIGTERM, on_term)


def _userdata(context: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(context.config.userdata).items()}


def before_all(context: Any) -> None:
    # Under behavex each feature is its own behave run; "nothing selected" is judged run-wide there.
    if not worker.in_worker(context) and not context.config.dry_run and selected_scenarios(context) == 0:
        fail_fast(context, NOTHING_SELECTED)
        return
    try:
        settings = Settings.load(_userdata(context))
        policy = policy_for(settings)
    except (SettingsError, SignoffFileError) as exc:
        fail_fast(context, str(exc))
        return
    excuse_accepted_failures()
    if not fuzz_selected(context.config, settings):
        leave_out_fuzz(context.config)
        if not worker.in_worker(context) and not context.config.dry_run and selected_scenarios(context) == 0:
            fail_fast(context, NOTHING_SELECTED + FUZZ_HINT)
            return
    if not context.config.dry_run:
        mark_deselected_skipped(context)
    results.start_fresh(context)  # empty allure-results/ (not in behavex workers) before anything is written
    results.install_junit_reporter(context)  # JUnit keeps scenarios skipped for a missing capability
    state = RunState(settings=settings, policy=policy)
    state.expected = selected_scenarios(context)
    everything = all_scenarios(context)
    if state.expected is not None and everything is not None:
        state.deselected = everything - state.expected
    context.run_state = state
    context.settings = settings
    context.capabilities = state.capabilities
    if context.config.dry_run:
        return
    _install_sigterm()
    settings, shared_target = worker.prepare_worker(context, settings)  # behavex: one shared server
    try:
        target, settings = (shared_target, settings) if shared_target else resolve_target(settings)
    except TargetError as exc:
        fail_fast(context, str(exc))
        return
    state.target, state.settings = target, settings
    context.target, context.settings = target, settings
    if not worker.in_worker(context):  # behavex prints its own progress; once per feature is noise
        print(f"Target: {target.describe()}")
        if settings.permiso_verbose:  # always in Allure's environment.properties (_write_metadata)
            print(settings.describe())
    admin = PermisoClient(settings, name="administrator")
    state.admin_session = worker.admin_session(context)  # behavex: the main process's sign-in
    try:
        state.admin_session.lend(admin)  # one sign-in for the whole run (support/wire/admin_session.py)
    except TargetUnreachable as exc:
        fail_fast(context, str(exc))
        return
    except AdminSignInRefused as exc:
        answer = exc.answer
        error = answer.body.get("error") if isinstance(answer.body, dict) else None
        fail_fast(
            context,
            f"the configured administrator {settings.test_admin_username!r} cannot sign in at {target.base_url} "
            f"(HTTP {answer.status}{', ' + str(error) if error else ''}); check TEST_ADMIN_USERNAME and "
            "TEST_ADMIN_PASSWORD",
        )
        return
    from support.domains import hygiene  # local: keeps hook import cheap for --dry-run
    from support.lifecycle import provisioning

    handed = worker.shared_capabilities(context)  # behavex: probed and provisioned once, in the main process
    state.capabilities.update(handed or provisioning.probe_capabilities(settings, target, admin))
    # The hygiene watch (headers, leaks) on every response of the run; adds the auth_rate_limit capability.
    hygiene.install(context)
    if handed is None:
        state.provisioned = provisioning.provision_configured_accounts(settings, admin, state.capabilities)
    if settings.permiso_people_pool:
        state.pool = lending.start(state)  # throwaway people lent to non-destructive scenarios
    write_metadata(state)
    if not worker.in_worker(context):  # under behavex: once, by before_all_workers in the main process
        for line in capability_lines(state.capabilities):
            print(line)
    state.summary = new_summary(state)


def before_feature(context: Any, feature: Any) -> None:
    if context.config.dry_run:
        return
    state: RunState = context.run_state
    # The run's one administrator sign-in is lent to it on first use (ensure_admin); never signed out.
    context.admin = PermisoClient(state.settings, name="administrator")


def missing_capability(context: Any, tags: list[str]) -> str | None:
    """The reason to skip a scenario with these tags, or None when all its needs are met."""
    capabilities: Mapping[str, str | None] = context.run_state.capabilities
    for tag in tags:
        if tag.startswith("needs."):
            name = tag.removeprefix("needs.")
            if name not in capabilities:
                return f"needs {name}: no such capability is known to the suite"
            if capabilities[name]:
                return f"needs {name}: {capabilities[name]}"
    return None


def before_scenario(context: Any, scenario: Any) -> None:
    state: RunState = context.run_state
    state.selected += 1
    if context.config.dry_run:
        return
    reason = missing_capability(context, list(scenario.effective_tags))
    if reason:
        scenario.skip(reason)
        return
    from support.domains import hygiene
    from support.lifecycle.allure_evidence import apply_domain_labels

    hygiene.scenario_started(context, scenario)
    apply_domain_labels(scenario.feature.tags, scenario.tags)
    context.log = ExchangeLog()
    context.admin.log = context.log
    context.scenario_started = time.monotonic()
    context.identities = Identities(
        ensure_admin(context), state.settings, lambda fn: state.ledger.register(context.add_cleanup, fn)
    )
    context.actors = {}
    context.response = None
    lending.scenario_started(context, state, scenario)


def after_scenario(context: Any, scenario: Any) -> None:
    state: RunState = context.run_state
    if context.config.dry_run:
        return
    from support.checks import causes
    from support.domains import hygiene
    from support.lifecycle import allure_evidence

    hygiene.verify_scenario(context, scenario)  # judge this scenario's last answers (never raises)
    status = scenario.status.name if hasattr(scenario.status, "name") else str(scenario.status)
    lending.scenario_ended(context, status)  # before the scenario's cleanups hand its borrowed people back
    cause = causes.attribute_scenario(scenario)
    log: ExchangeLog | None = getattr(context, "log", None)
    if log is not None and log.records:
        if status in {"failed", "error", "hook_error"}:
            allure_evidence.attach_exchanges(log.records)
        allure_evidence.attach_timings([r for r in log.records if not r.retried])  # a retried 503 is no answer
    if cause is not None:
        allure_evidence.label_cause(cause)
    reason = getattr(scenario, "skip_reason", None)
    if status == "skipped" and reason and not getattr(context.config, "show_skipped", False):
        allure_evidence.report_skip_to_allure(reason)  # allure-behave drops skipped scenarios otherwise
    if state.summary is not None:
        state.summary.record(
            feature_name=scenario.feature.name,
            feature_tags=list(scenario.feature.tags),
            scenario_name=scenario.name,
            scenario_tags=list(scenario.effective_tags),
            status=status,
            duration_s=float(getattr(scenario, "duration", 0.0) or 0.0),
            skip_reason=getattr(scenario, "skip_reason", None),
            cause=cause,
            interrupted=bool(getattr(getattr(context, "_runner", None), "aborted", False)),
        )


def after_step(context: Any, step: Any) -> None:
    """Judge the step's answers against the run-wide rules: reported once for the run, never failing."""
    from support.domains import hygiene

    hygiene.after_step(context, step)


def after_feature(context: Any, feature: Any) -> None:
    """Nothing beyond the cleanups registered in before_feature."""


def after_all(context: Any) -> None:
    """Clean up, publish the summary, and end with an exit code that agrees with its verdict.

    Under behavex the worker only stashes its part: the main process judges the whole run.
    """
    state: RunState | None = getattr(context, "run_state", None)
    if state is None:
        return
    nothing_selected = state.selected == 0 and not context.config.dry_run and not worker.in_worker(context)
    published = None
    try:
        lending.stop(state)
        state.ledger.sweep()
        for undo in reversed(state.provisioned):
            with contextlib.suppress(Exception):
                undo()
        state.admin_session.end(lambda: PermisoClient(state.settings, name="administrator"))
        if nothing_selected:
            published = write_not_run(context, NOTHING_SELECTED)
            print(f"\npermiso-acceptance: {NOTHING_SELECTED}", file=sys.__stderr__ or sys.stderr, flush=True)
        elif state.summary is not None:
            finish_summary(context, state.summary, state.settings)
            if not worker.stash_summary(context, state.summary):
                junit = results.junit_dir(context)
                publish_summary(state.summary, allure_dir=allure_results_dir(context), junit_dir=junit)
                published = state.summary
        for error in state.ledger.errors:
            print(f"cleanup problem: {error}", file=sys.stderr)
    finally:
        if state.target is not None:
            state.target.stop()
    if published is not None and not published.release_ready:
        fail_run(context)
