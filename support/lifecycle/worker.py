"""A behavex worker's side of a parallel run (``behavex --parallel-processes N --parallel-scheme feature``).

behavex runs every feature as its own behave run inside a worker process; the behave hooks (``run``) ask
this module whether they are in such a run and take what the main process (``parallel``) handed over:
the shared embedded server, the administrator's sign-in, the capabilities, each worker's share of the
front's rate budgets. It also writes the worker's part of the sign-off summary for the main process to
merge, keeps the console to behavex, makes sure exactly one Allure listener runs, and takes out what
behavex repeats for every feature without need.

A module of its own so that the hooks never import behavex's main-process side, which imports them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from support.lifecycle.target import Target, embedded_settings
from support.wire.admin_session import AdminSession
from support.wire.redaction import register_secret
from support.wire.settings import Settings

#: attribute name of the shared data on behavex's context (and thus on every worker's behave context)
SHARED_KEY = "permiso_parallel"


#: where allure-behave writes in hooks mode (the same folder the formatter of pyproject.toml uses)
ALLURE_RESULTS = "allure-results"


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

    def load_step_definitions(self: Any, extra_step_paths: Any = None) -> Any:
        steps_dir = os.path.abspath(os.path.join(self.base_dir or ".", self.config.steps_dir))
        key = (steps_dir, tuple(str(p) for p in extra_step_paths or ()))
        # the registry this run will match against (behave's decorators write into the same one)
        registry = getattr(self, "step_registry", None) or behave_runner.the_step_registry
        if _already_loaded(key, registry):
            return None
        result = original(self, extra_step_paths)
        _LOADED[key] = registry
        return result

    load_step_definitions._permiso_once = True  # type: ignore[attr-defined]
    Runner.load_step_definitions = load_step_definitions  # type: ignore[method-assign]


#: the step folders (and extra paths) whose definitions this process has loaded, with the registry they went to
_LOADED: dict[tuple[str, tuple[str, ...]], Any] = {}


def _already_loaded(key: tuple[str, tuple[str, ...]], registry: Any) -> bool:
    """These definitions went into this very registry, and it was not emptied since (behave's
    ``reset_runtime`` replaces or empties it; then they are loaded again)."""
    return _LOADED.get(key) is registry and any(registry.steps.values())


def preload_step_definitions(features_dir: str | Path = "features", steps_dir: str = "steps") -> bool:
    """Load the step definitions now, as behave would for a run of ``features_dir``; True when loaded.

    behavex's main process calls it while the embedded server starts (``start_embedded(meanwhile=...)``):
    the @SERIAL features, which run in that process, and every worker, forked from it, then find the
    definitions loaded (``load_step_definitions_once``) instead of spending 0.17 s on them after the
    server is up. Where the folder is not there, nothing is loaded and behave loads as usual later.
    """
    from behave import runner as behave_runner
    from behave.runner_util import load_step_modules

    path = os.path.abspath(os.path.join(str(features_dir), steps_dir))
    key = (path, ())
    registry = behave_runner.the_step_registry
    if not os.path.isdir(path) or _already_loaded(key, registry):
        return False
    load_step_definitions_once()
    load_step_modules([path])
    _LOADED[key] = registry
    return True


def shared_capabilities(context: Any) -> dict[str, str | None] | None:
    """In a worker: the capabilities the main process probed (and provisioned) once; else None."""
    data = shared(context)
    caps = data.get("capabilities") if data else None
    return dict(caps) if isinstance(caps, dict) else None


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
