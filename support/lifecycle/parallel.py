"""Parallel runs with behavex (`behavex --parallel-processes N --parallel-scheme feature`).

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
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from support.lifecycle.signoff import Policy, SignoffFileError, policy_for
from support.lifecycle.target import Target, TargetError, embedded_settings, resolve_target, start_embedded
from support.wire.admin_session import AdminSession, AdminSignInRefused
from support.wire.client import PermisoClient
from support.wire.redaction import register_secret
from support.wire.settings import Settings, SettingsError

#: attribute name of the shared data on behavex's context (and thus on every worker's behave context)
SHARED_KEY = "permiso_parallel"
#: where allure-behave writes in hooks mode (the same folder the formatter of pyproject.toml uses)
ALLURE_RESULTS = "allure-results"

# Main-process state between before_all_workers and after_all_workers.
_owned_target: Target | None = None
_parts_dir: tempfile.TemporaryDirectory[str] | None = None
#: the sign-off baseline and waivers, loaded (and validated) once before any worker starts
_policy: Policy | None = None
#: the administrator's one sign-in for all workers, and how to undo the provisioning done for them
_admin: AdminSession | None = None
_provisioned: list[Callable[[], None]] = []
_owned_settings: Settings | None = None


# ------------------------------------------------------------------------------------ detection
def in_worker(context: Any) -> bool:
    """True inside a behave run that behavex started (it always passes `-D worker_id=...`)."""
    if "behavex" not in sys.modules:
        return False
    userdata = getattr(getattr(context, "config", None), "userdata", None) or {}
    return "worker_id" in userdata


def shared(context: Any) -> dict[str, Any] | None:
    """What before_all_workers handed to the workers, or None (plain behave, or an older behavex)."""
    data = getattr(context, SHARED_KEY, None) if in_worker(context) else None
    return data if isinstance(data, dict) else None


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


def _parallel_processes() -> int:
    try:
        from behavex.conf_mgr import get_param

        return max(1, int(get_param("parallel_processes") or 1))
    except Exception:
        return 1


# ------------------------------------------------------------------- per-feature cost in workers
def lighten_feature_runs() -> None:
    """Take out what behavex repeats for every feature without need (environment.py calls it each time
    behavex executes it; both parts are idempotent and change no outcome and no report's content)."""
    load_step_definitions_once()
    clean_junit_text_in_one_pass()


#: the characters behavex's JUnit writer replaces by a space (its ``invalid_xml_remove`` ranges)
_XML_ILLEGAL = re.compile("[" + "".join(
    f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in (
        (0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x84), (0x86, 0x9F), (0xFDD0, 0xFDDF),
        (0xFFFE, 0xFFFF), *((plane + 0xFFFE, plane + 0xFFFF) for plane in range(0x10000, 0x110000, 0x10000)))
) + "]")


def clean_xml_text(text: Any) -> str:
    """What behavex's ``clean_invalid_xml_chars`` returns, computed in one pass instead of per character.

    behavex cleans every scenario and feature name and every error message it writes to its JUnit file
    character by character (a list of ranges built and a regular expression looked up per character):
    5 % of a worker's wall time in a whole-suite run here. Its per-character rules come down to: the
    XML-illegal ranges become a space, curly double quotes become straight ones (its other replacements
    are of characters inside those ranges, and its ANSI pattern needs two characters, so it never matches
    one). tests/support/test_parallel_handoff.py compares the two over every character of the BMP."""
    if isinstance(text, bytes):
        text = text.decode()
    return _XML_ILLEGAL.sub(" ", text).replace("\u201c", '"').replace("\u201d", '"')


def clean_junit_text_in_one_pass() -> None:
    """Give behavex's JUnit template :func:`clean_xml_text` as its ``CIXC`` filter (no-op without behavex)."""
    jinja_mgr = sys.modules.get("behavex.outputs.jinja_mgr")
    if jinja_mgr is None or getattr(jinja_mgr, "_permiso_one_pass", False):
        return
    original = jinja_mgr.clean_invalid_xml_chars

    def cleaned(text: Any) -> Any:
        return clean_xml_text(text) if isinstance(text, str | bytes) else original(text)

    jinja_mgr.clean_invalid_xml_chars = cleaned  # read when the template handler is first built
    handler_type = jinja_mgr.TemplateHandler
    for instance in list(getattr(type(handler_type), "_instances", {}).values()):  # built already
        with contextlib.suppress(Exception):
            if isinstance(instance, handler_type):
                instance.add_filter(cleaned, "CIXC")
    jinja_mgr._permiso_one_pass = True


def load_step_definitions_once() -> None:
    """Make behave load the step modules once per process instead of once per feature.

    Why: behavex runs every feature as a new behave ``Runner`` inside the same worker process, and each
    one compiles and executes every step module again - 325 definitions, each checked against all the
    ones before it - only for behave's registry to drop every one of them as already registered (the
    registry is process-wide and behavex never resets it, so the first load's functions are the ones
    that run anyway). Measured with py-spy on this 2-core machine: 21 % of a worker's CPU time. Skipping
    the repeat gives the same registry. Plain behave loads once per process already, so there it changes
    nothing; a registry that was replaced or emptied in between (behave's ``reset_runtime``) is loaded
    again. Idempotent: environment.py calls it every time behavex executes it.
    """
    from behave import runner as behave_runner
    from behave.runner import Runner

    if getattr(Runner.load_step_definitions, "_permiso_once", False):
        return
    original = Runner.load_step_definitions
    loaded: dict[tuple[str, tuple[str, ...]], Any] = {}

    def load_step_definitions(self: Any, extra_step_paths: Any = None) -> Any:
        steps_dir = os.path.abspath(os.path.join(self.base_dir or ".", self.config.steps_dir))
        key = (steps_dir, tuple(str(p) for p in extra_step_paths or ()))
        # the registry this run will match against (behave's decorators write into the same one)
        registry = getattr(self, "step_registry", None) or behave_runner.the_step_registry
        if loaded.get(key) is registry and any(registry.steps.values()):
            return None
        result = original(self, extra_step_paths)
        loaded[key] = registry
        return result

    load_step_definitions._permiso_once = True  # type: ignore[attr-defined]
    Runner.load_step_definitions = load_step_definitions  # type: ignore[method-assign]


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
        target, pointed = start_embedded(settings)
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
    from support.wire.client import TargetUnreachable

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


def shared_capabilities(context: Any) -> dict[str, str | None] | None:
    """In a worker: the capabilities the main process probed (and provisioned) once; else None."""
    data = shared(context)
    caps = data.get("capabilities") if data else None
    return dict(caps) if isinstance(caps, dict) else None


def _stop_before_start(message: str) -> None:
    """One line and exit 2 before any worker starts (as `run.fail_fast`), leaving a NOT RUN summary."""
    from support.lifecycle.reporting import RunSummary
    from support.lifecycle.run import SUMMARY_PATH

    with contextlib.suppress(Exception):
        RunSummary(not_run=message).write(SUMMARY_PATH)
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
    from support.lifecycle.reporting import RunSummary
    from support.lifecycle.run import (
        NOTHING_SELECTED,
        SUMMARY_PATH,
        RunNotReleaseReady,
        capability_lines,
        publish_summary,
    )

    if summary is None or not summary.records:
        RunSummary(not_run=NOTHING_SELECTED).write(SUMMARY_PATH)
        raise RunNotReleaseReady(NOTHING_SELECTED)
    summary.policy = _policy
    for line in capability_lines(summary.capabilities):
        print(line)
    publish_summary(summary, allure_dir=Path(ALLURE_RESULTS))
    if not summary.release_ready:
        raise RunNotReleaseReady(summary.verdict)


# ------------------------------------------------------------------------------- worker side
def admin_session(context: Any) -> AdminSession:
    """The run's administrator session: in a worker the one the main process signed in (when it did)."""
    data = shared(context)
    return AdminSession.from_handoff(data.get("admin") if data else None)


def prepare_worker(context: Any, settings: Settings) -> tuple[Settings, Target | None]:
    """Adjust a worker's settings; return the shared embedded target when there is one.

    Outside behavex this returns the settings unchanged and None, so plain `behave` is untouched.
    """
    data = shared(context)
    if data is None:
        return settings, None
    _quiet_console(context)
    _ensure_one_allure_listener(context)
    processes = int(data.get("processes") or 1)
    # One run id for all workers: their names then differ only by pid, which is what the ledger expects.
    settings = settings.model_copy(update={"permiso_run_id": str(data.get("run_id") or settings.permiso_run_id)})
    embedded = data.get("embedded")
    if isinstance(embedded, dict) and not settings.permiso_base_url:
        secret = str(embedded.get("jwt_secret") or "")
        if secret:
            register_secret(secret)
        target = Target(str(embedded["base_url"]), embedded.get("http_url"), embedded=True,
                        version=embedded.get("version"), environment=embedded.get("environment"))
        pointed = embedded_settings(settings, target.base_url, target.http_url or "", secret)
        # Without a limiter there is no budget to share: dividing the nominal 50/s only slowed the workers.
        limited = pointed.permiso_reference_auth_rate_limit is not None
        return (share_rates(pointed, processes) if limited else pointed), target
    return share_rates(settings, processes), None


def share_rates(settings: Settings, processes: int) -> Settings:
    """The pacers are per process: give each of ``processes`` workers its share of the front's budgets
    (auth and API), so that together they stay under them, also against an embedded server with a limiter."""
    if processes <= 1:
        return settings
    return settings.model_copy(update={
        "permiso_auth_rate_per_second": settings.permiso_auth_rate_per_second / processes,
        "permiso_api_rate_per_second": settings.permiso_api_rate_per_second / processes})


def stash_summary(context: Any, summary: Any) -> bool:
    """In a worker: save this feature run's part of the summary for after_all_workers; else False."""
    data = shared(context)
    if data is None or summary is None:
        return False
    parts = Path(str(data["parts_dir"]))
    # Not dataclasses.asdict: it deep-copies behave's Tag objects, which cannot be rebuilt that way.
    records = [{f.name: getattr(r, f.name) for f in fields(r)} | {"tags": sorted(str(t) for t in r.tags)}
               for r in summary.records]
    budgets = [{f.name: getattr(b, f.name) for f in fields(b)} for b in summary.budgets]
    fd, _path = tempfile.mkstemp(prefix=f"part-{os.getpid()}-", suffix=".json", dir=parts)
    rules = [r.as_dict() for r in getattr(summary, "rules", [])]
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"records": records, "budgets": budgets, "rules": rules,
                   "scan_enabled": getattr(summary, "scan_enabled", True),
                   "interrupted": getattr(summary, "interrupted", False),
                   "selected": getattr(summary, "selected", None), "deselected": getattr(summary, "deselected", 0),
                   "require_complete_gate": getattr(summary, "require_complete_gate", False),
                   "clean_reference": getattr(summary, "clean_reference", False),
                   "target": getattr(summary, "target", ""),
                   "extra_causes": list(getattr(summary, "extra_causes", []) or []),
                   "notes": list(getattr(summary, "notes", []) or []),
                   "capabilities": dict(getattr(summary, "capabilities", {}) or {})}, out)
    return True


def merge_summaries(parts_dir: Path) -> Any:
    """One RunSummary from every part the workers wrote (None when there is none)."""
    from support.lifecycle.reporting import BudgetRecord, RuleRecord, RunSummary, ScenarioRecord, merge_rules

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


def _writes_to_console(formatter: Any) -> bool:
    opener = getattr(formatter, "stream_opener", None)
    return opener is not None and getattr(opener, "name", None) in (None, "-")


def _quiet_console(context: Any) -> None:
    """Drop console formatters when behavex asked its workers for silence (`--format null`).

    The pretty formatter of pyproject.toml would otherwise interleave every worker's output.
    """
    runner = getattr(context, "_runner", None)
    if runner is None or "null" not in (context.config.format or []):
        return
    runner.formatters = [f for f in runner.formatters if not _writes_to_console(f)]


def allure_formatter_active(context: Any) -> bool:
    runner = getattr(context, "_runner", None)
    return any(type(f).__module__.startswith("allure_behave") for f in getattr(runner, "formatters", []))


def _ensure_one_allure_listener(context: Any) -> None:
    """Install allure-behave's hooks mode in this worker only when its formatter is not active."""
    runner = getattr(context, "_runner", None)
    if runner is None or allure_formatter_active(context) or getattr(runner, "_permiso_allure_hooks", False):
        return
    install_allure_hooks(runner, ALLURE_RESULTS)


def install_allure_hooks(runner: Any, result_dir: str) -> None:
    """allure-behave hooks mode wired into a running behave Runner, with the right order.

    `allure_behave.hooks.allure_report` runs the Allure hook BEFORE the user's hook for every hook,
    so attachments made in our `after_scenario` (the redacted exchange on failure) would land after the
    Allure test was closed, and be lost. Here the Allure `before_*` hooks run first and the `after_*`
    hooks last. It also re-parses `sys.argv` as behave options (behavex's options make it exit), hence
    the temporary `sys.argv`; and its thread-local file logger is registered only once per thread, so
    it is reset for each behave run a worker performs.
    """
    from allure_behave import hooks as allure_hooks

    with contextlib.suppress(AttributeError):
        del allure_hooks._storage.file_logger
    saved, sys.argv = sys.argv, sys.argv[:1]
    try:
        allured = allure_hooks.AllureHooks(result_dir)
    finally:
        sys.argv = saved
    for name in allure_hooks.HOOKS:
        mine = runner.hooks.get(name)
        theirs = getattr(allured, name)
        runner.hooks[name] = _chain(theirs, mine) if name.startswith("before_") else _chain(mine, theirs)
    runner._permiso_allure_hooks = True


def _chain(first: Any, second: Any) -> Any:
    def hook(*args: Any) -> None:
        try:
            if first is not None:
                first(*args)
        finally:
            if second is not None:
                second(*args)

    return hook
