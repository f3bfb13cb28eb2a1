"""Parallel runs with behavex (`behavex --parallel-processes N --parallel-scheme feature`): the main process.

The workers' side (what each feature's behave run takes from here) is support/lifecycle/worker.py.

Why this module exists: behavex runs every feature as its own behave run inside a pool of worker
processes, so behave's `before_all`/`after_all` run once PER FEATURE, not once per run. Left alone that
means one embedded server start per feature (≈1-1.7 s each on a 2-core machine, more than the features
themselves take), one sign-off summary per feature that overwrites the previous one, the console filled
with interleaved pretty output from all workers, a misspelled `--tags` passing silently (behavex simply
dispatches nothing), and - against a real front - every worker pacing its sign-ins at the full
`PERMISO_AUTH_RATE_PER_SECOND`, so N workers together exceed the front's per-IP limit.

What it does instead:
- `before_all_workers` (behavex calls it once, in the main process, before the pool starts) starts ONE
  embedded reference Permiso for the whole run when no `PERMISO_BASE_URL` is configured, and hands its
  address and signing key to the workers through behavex's shared context. Workers treat it as the
  embedded target (`Target.embedded` stays True) but do not own it; `after_all_workers` stops it.
  Measured on this machine: sharing is faster than a server per feature, and isolation does not need
  separate servers: every throwaway identity is named `pa_<runid>_<pid>_<n>` (support/people/identities.py),
  unique per run, per worker process and per call.
- It also signs the configured administrator in, probes the capabilities and provisions the configured
  accounts ONCE (`_set_up_once`) and hands the tokens and capabilities to the workers, which would
  otherwise repeat them per feature (7 auth calls and two argon2 checks each against the release);
  `after_all_workers` undoes the provisioning and revokes the tokens.
- Each worker paces its calls at `PERMISO_AUTH_RATE_PER_SECOND / N` and `PERMISO_API_RATE_PER_SECOND / N`
  so that the workers together stay under the front's limits (the pacers are per process), also against
  an embedded server with `PERMISO_REFERENCE_AUTH_RATE_LIMIT`.
- Each worker stashes its part of the sign-off summary; `after_all_workers` merges them into the one
  summary (`reports/signoff-summary.md`), prints the missing capabilities once, and fails the run (one
  ``HOOK-ERROR in after_all_workers: ...`` line, behavex's only way to a non-zero exit from a hook)
  whenever the verdict is not RELEASE-READY, nothing selected included.
- `before_all_workers` empties `allure-results/` (workers never do: they write into it at the same time)
  and refuses a bad setting with one line and exit 2, writing a NOT RUN summary, like `run.fail_fast`.
- Allure: behave merges the `format` list of `pyproject.toml` with behavex's `--format null`, so the
  allure-behave FORMATTER from pyproject is already active in every worker and writes complete results
  (attachments included) to `allure-results/`. Adding allure-behave's hooks mode on top would register a
  second listener (the "formatter listed twice" crash). So hooks mode is installed only when the
  formatter is NOT active in a worker (a config without it); then it writes to `allure-results/` too.
  Either way exactly one Allure listener runs. Console formatters of workers are dropped when behavex
  asked for silence (`--format null`): behavex prints its own progress and summary.
- `@SERIAL` (upper case, exactly: behavex compares the tag literally) on a feature makes behavex run it
  alone in the main process before the parallel ones.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.lifecycle.signoff import Policy, SignoffFileError, policy_for
from support.lifecycle.target import Target, TargetError, resolve_target, start_embedded
from support.lifecycle.worker import ALLURE_RESULTS, SHARED_KEY, preload_step_definitions
from support.wire.admin_session import AdminSession, AdminSignInRefused
from support.wire.client import PermisoClient
from support.wire.settings import Settings, SettingsError
from support.wire.transport import close_process_connections

# Main-process state between before_all_workers and after_all_workers.
_owned_target: Target | None = None
_parts_dir: tempfile.TemporaryDirectory[str] | None = None
#: the sign-off baseline and waivers, loaded (and validated) once before any worker starts
_policy: Policy | None = None
#: the administrator's one sign-in for all workers, and how to undo the provisioning done for them
_admin: AdminSession | None = None
_provisioned: list[Callable[[], None]] = []
_owned_settings: Settings | None = None


def _behavex_defines() -> dict[str, str]:
    """`-D name=value` given to behavex (the same overrides behave's `-D` gives Settings.load)."""
    try:
        from behavex.conf_mgr import get_param

        raw = get_param("define") or []
    except Exception:
        return {}
    if isinstance(raw, str):
        raw = [raw]
    defines: dict[str, str] = {}
    for item in raw:
        name, _, value = str(item).partition("=")
        if name:
            defines[name] = value
    return defines


def _steps_to_preload() -> Callable[[], object] | None:
    """What loads this run's step definitions ahead of behave, or None when that is not certain.

    Only for the plain case behave itself resolves to ``<folder>/steps``: behavex given one folder that
    holds the steps (``FEATURES_PATH``, behavex's own record of the paths it was given, "features" by
    default). A file, a sub-folder or several paths are left to behave, which then loads as usual."""
    paths = [p.strip() for p in os.environ.get("FEATURES_PATH", "features").split(",") if p.strip()]
    if len(paths) != 1 or not os.path.isdir(os.path.join(paths[0], "steps")):
        return None
    folder = paths[0]
    return lambda: preload_step_definitions(folder)


def _parallel_processes() -> int:
    try:
        from behavex.conf_mgr import get_param

        return max(1, int(get_param("parallel_processes") or 1))
    except Exception:
        return 1


# ------------------------------------------------------------------------- main-process hooks
def before_all_workers(bhx_context: Any) -> None:
    """Start the one embedded server for all workers (unless a deployment is configured).

    Raising here makes behavex print HOOK-ERROR and exit non-zero before any worker starts, which is the
    one-line failure a configuration problem deserves.
    """
    global _owned_target, _parts_dir, _policy
    try:
        settings = Settings.load(_behavex_defines())
        _policy = policy_for(settings)
    except (SettingsError, SignoffFileError) as exc:
        _stop_before_start(str(exc))
        return
    from support.lifecycle import results

    results.empty_folder(Path(ALLURE_RESULTS), results.ALLURE_PATTERNS)  # this run's results only
    _parts_dir = tempfile.TemporaryDirectory(prefix="permiso-parallel-")
    data: dict[str, Any] = {
        "processes": _parallel_processes(),
        "parts_dir": _parts_dir.name,
        "run_id": settings.permiso_run_id,
    }
    if not settings.permiso_base_url:
        # While the server boots (~0.5 s), load the step definitions that the @SERIAL features here and
        # every worker forked from this process would otherwise load after it.
        target, pointed = start_embedded(settings, meanwhile=_steps_to_preload())
        _owned_target = target
        atexit.register(target.stop)  # behavex may die before after_all_workers; stop() is idempotent
        secret = pointed.permiso_jwt_secret.get_secret_value() if pointed.permiso_jwt_secret else ""
        data["embedded"] = {
            "base_url": target.base_url,
            "http_url": target.http_url,
            "jwt_secret": secret,
            "version": target.version,
            "environment": target.environment,
        }
        print(f"permiso-acceptance: one {target.describe()} shared by {data['processes']} behavex workers",
              flush=True)
    else:
        try:
            target, pointed = resolve_target(settings)
        except TargetError as exc:
            _stop_before_start(str(exc))
            return
    data.update(_set_up_once(pointed, target))
    setattr(bhx_context, SHARED_KEY, data)
    # behavex forks its multiprocessing.Manager next, and that process lives until the run ends: a
    # keep-alive connection still open here would be copied into it and stay open past after_all_workers,
    # where the server then waited out its graceful-shutdown timeout on it (a stop of 0.57 s, not 0.32 s).
    close_process_connections()


def _set_up_once(settings: Settings, target: Target) -> dict[str, Any]:
    """What every feature's before_all would otherwise repeat in each worker: the administrator's sign-in,
    the capability probes and the provisioning of the configured accounts, done once in the main process.

    Per feature that was an administrator sign-in, a sign-in of the configured user and of the configured
    client and four revocations: against the release (argon2, the front's 5 auth calls/s) seconds per
    feature. The workers get the administrator's tokens and the capabilities through the shared data;
    after_all_workers undoes the provisioning and revokes the tokens.
    """
    global _admin, _provisioned, _owned_settings
    from support.lifecycle import provisioning
    from support.wire.transport import TargetUnreachable

    _owned_settings = settings
    admin = PermisoClient(settings, name="administrator")
    _admin = AdminSession()
    try:
        _admin.lend(admin)
    except (AdminSignInRefused, TargetUnreachable) as exc:
        status = f"HTTP {exc.answer.status}" if isinstance(exc, AdminSignInRefused) else str(exc)
        _stop_before_start(f"the configured administrator {settings.test_admin_username!r} cannot sign in at "
                           f"{target.base_url} ({status}); check TEST_ADMIN_USERNAME and TEST_ADMIN_PASSWORD")
    capabilities = provisioning.probe_capabilities(settings, target, admin)
    _provisioned = provisioning.provision_configured_accounts(settings, admin, capabilities)
    return {"admin": _admin.handoff(), "capabilities": capabilities}


def _stop_before_start(message: str) -> None:
    """One line and exit 2 before any worker starts (as `run.fail_fast`), leaving a NOT RUN summary."""
    from support.lifecycle.run_summary import SUMMARY_PATH
    from support.lifecycle.summary_page import write_summary
    from support.lifecycle.verdict import RunSummary

    with contextlib.suppress(Exception):
        write_summary(RunSummary(not_run=message), SUMMARY_PATH)
    sys.stdout.flush()
    print(f"\npermiso-acceptance: {message}", file=sys.stderr, flush=True)
    os._exit(2)


def after_all_workers(bhx_context: Any) -> None:
    """Stop the shared server, merge the workers' summaries; fail unless the verdict is RELEASE-READY."""
    global _owned_target, _parts_dir, _admin, _provisioned
    target, _owned_target = _owned_target, None
    parts, _parts_dir = _parts_dir, None
    try:
        summary = merge_summaries(Path(parts.name)) if parts is not None else None
    finally:
        for undo in reversed(_provisioned):
            with contextlib.suppress(Exception):
                undo()
        if _admin is not None and _owned_settings is not None:
            _admin.end(lambda: PermisoClient(_owned_settings, name="administrator"))
        _admin, _provisioned = None, []
        if target is not None:
            target.stop()
        if parts is not None:
            parts.cleanup()
    from support.lifecycle.run_summary import SUMMARY_PATH, RunNotReleaseReady, capability_lines, publish_summary
    from support.lifecycle.selection import NOTHING_SELECTED
    from support.lifecycle.summary_page import write_summary
    from support.lifecycle.verdict import RunSummary

    if summary is None or not summary.records:
        write_summary(RunSummary(not_run=NOTHING_SELECTED), SUMMARY_PATH)
        raise RunNotReleaseReady(NOTHING_SELECTED)
    summary.policy = _policy
    for line in capability_lines(summary.capabilities):
        print(line)
    publish_summary(summary, allure_dir=Path(ALLURE_RESULTS))
    if not summary.release_ready:
        raise RunNotReleaseReady(summary.verdict)


def merge_summaries(parts_dir: Path) -> Any:
    """One RunSummary from every part the workers wrote (None when there is none)."""
    from support.lifecycle.summary_records import BudgetRecord, RuleRecord, ScenarioRecord, merge_rules
    from support.lifecycle.verdict import RunSummary

    files = sorted(parts_dir.glob("part-*.json"))
    if not files:
        return None
    summary = RunSummary()
    rules: list[Any] = []
    selected: int | None = 0
    clean: list[bool] = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        summary.records += [ScenarioRecord(**{**r, "tags": frozenset(r["tags"])}) for r in data["records"]]
        summary.budgets += [BudgetRecord(**b) for b in data["budgets"]]
        rules += [RuleRecord.from_dict(r) for r in data.get("rules", [])]  # causes ride on the records
        summary.scan_enabled = summary.scan_enabled and bool(data.get("scan_enabled", True))
        summary.interrupted = summary.interrupted or bool(data.get("interrupted", False))
        part_selected = data.get("selected")
        selected = None if selected is None or part_selected is None else selected + int(part_selected)
        summary.deselected += int(data.get("deselected", 0) or 0)
        summary.require_complete_gate = summary.require_complete_gate or bool(data.get("require_complete_gate"))
        clean.append(bool(data.get("clean_reference", False)))
        summary.capabilities.update(data.get("capabilities") or {})
        summary.target = summary.target or str(data.get("target") or "")
        summary.extra_causes += list(data.get("extra_causes") or [])  # the fuzzer's findings (one feature)
        summary.notes += [n for n in data.get("notes") or [] if n not in summary.notes]
    summary.rules = merge_rules(rules)
    summary.selected = selected
    summary.clean_reference = bool(clean) and all(clean)
    return summary


