"""One fuzz scenario end to end: the run's fuzzing session, the three callers, one area, the evidence.

Why apart from :mod:`support.domains.fuzzing`: that module is the engine (Schemathesis, Hypothesis, policy); this
one is what a step needs, so steps stay one line each: the schema and seed are chosen once per run
(:func:`session`) and printed; the callers are the administrator's token (never signed out or changed
by the fuzzing), a throwaway regular user made for the scenario (deleted after it) and a visitor;
:func:`fuzz_area` runs every operation of an area within the scenario's time budget; the findings are
raised as :class:`support.checks.causes.Findings` (each its own cause in the sign-off summary).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from support.checks.causes import Findings, could_not_prepare
from support.domains.fuzz_findings import BOOK, Finding, FindingBook, findings_message, summarize_statuses
from support.domains.fuzzing import (
    ADMIN,
    FUZZ_RATE,
    USER,
    VISITOR,
    Fuzzer,
    OperationReport,
    announce,
    budget_per_operation,
    is_loopback,
    load_schema,
    load_spec,
    new_seed,
    operations_of,
    plan_for,
    replay_hint,
)
from support.wire.client import PermisoClient
from support.wire.pacing import AuthPacer
from support.wire.settings import Settings


@dataclass
class Session:
    """The run's fuzzing choices: one schema, one seed (so one line replays the whole run)."""

    run_id: str
    schema: Any
    source: str
    seed: int


_SESSION: Session | None = None
_HYPOTHESIS_HOME: str | None = None


def _private_hypothesis_home() -> None:
    """Hypothesis keeps caches (``.hypothesis/constants``, ``unicode_data``) in the working directory even
    without an example database; the run gives it a private temporary directory instead, removed by
    :func:`reset` at the end of the run, so nothing is left in the repository or the temporary folder."""
    global _HYPOTHESIS_HOME
    if _HYPOTHESIS_HOME is None:
        from hypothesis.configuration import set_hypothesis_home_dir

        _HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="permiso-fuzz-")
        set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def session(settings: Settings, visitor: PermisoClient) -> Session:
    """The run's session, made (and announced on the console) by the first fuzz scenario of the run."""
    global _SESSION
    if _SESSION is None or _SESSION.run_id != settings.permiso_run_id:
        _private_hypothesis_home()
        spec, source = load_spec(visitor)
        seed = settings.permiso_fuzz_seed if settings.permiso_fuzz_seed is not None else new_seed()
        _SESSION = Session(settings.permiso_run_id, load_schema(spec), source, seed)
        announce(f"Fuzzing: seed {seed} ({replay_hint(seed)}), schema from {source}, "
                 f"{settings.fuzz_examples} examples per operation and kind of data, "
                 f"{settings.permiso_fuzz_seconds:g} s per area")
    BOOK.replay = replay_hint(_SESSION.seed)
    return _SESSION


def reset() -> None:
    """Forget the session and the findings, remove Hypothesis' caches (end of a run; a behavex worker's
    next feature)."""
    global _SESSION, _HYPOTHESIS_HOME
    _SESSION = None
    BOOK.reset()
    if _HYPOTHESIS_HOME is not None:
        shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)
        _HYPOTHESIS_HOME = None


def callers_for(settings: Settings, admin: PermisoClient, identities: Any) -> tuple[dict[str, PermisoClient], set[str]]:
    """The three callers and the names no generated request may carry (configured accounts, throwaway).

    The administrator's client is a copy holding only its token: fuzzing never signs it in, out, or
    changes it. The regular user is a throwaway made for the scenario and deleted after it.
    """
    person = identities.user("fuzz")
    user = PermisoClient(settings, name=USER)
    answer = user.sign_in(person.username, person.password)
    if answer.status != 200:
        raise could_not_prepare(answer, "the throwaway regular user signs in")
    acting_admin = PermisoClient(settings, name=ADMIN)
    acting_admin.token = admin.token
    callers = {ADMIN: acting_admin, USER: user, VISITOR: PermisoClient(settings, name=VISITOR)}
    protected = {settings.test_admin_username, settings.test_admin_email, settings.test_user_username,
                 settings.test_user_email, settings.test_client_id, person.username, person.email}
    return callers, {name.strip().lower() for name in protected if name}


@dataclass
class AreaReport:
    """What one fuzz scenario did and found."""

    area: str
    seed: int
    source: str
    seconds: float = 0.0
    operations: list[OperationReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def note(self) -> str:
        """The scenario's statistics (an Allure attachment): budget, seed, schema, each operation."""
        calls = sum(op.calls for op in self.operations)
        lines = [f"{self.area}: {len(self.operations)} operations, {calls} generated requests in {self.seconds:.1f} s",
                 f"seed {self.seed} ({replay_hint(self.seed)}); schema from {self.source}", ""]
        for op in self.operations:
            state = f"not fuzzed: {op.skipped}" if op.skipped and not op.calls else summarize_statuses(op.statuses)
            lines.append(f"- {op.label}: {op.calls} requests ({state})" + (" (time ran out)" if op.out_of_time
                                                                           else ""))
        return "\n".join(lines)


def fuzz_area(area: str, settings: Settings, callers: dict[str, PermisoClient], identities: Any,
              protected: set[str], scenario: str, *, book: FindingBook = BOOK) -> AreaReport:
    """Fuzz every documented operation of ``area``; the findings are kept in ``book`` and returned."""
    current = session(settings, callers[VISITOR])
    target = callers[VISITOR].base_url
    local = is_loopback(target)
    fuzzer = Fuzzer(settings, callers, identities, protected, current.seed, scenario, book,
                    paced_auth=not local or settings.permiso_reference_auth_rate_limit is not None,
                    pacer=None if local else AuthPacer(), rate=0.0 if local else FUZZ_RATE)
    report = AreaReport(area, current.seed, current.source)
    started = time.monotonic()
    deadline = started + settings.permiso_fuzz_seconds
    operations = operations_of(current.schema, area, settings.permiso_api_base)
    for index, operation in enumerate(operations):
        plan = plan_for(operation.method, operation.path, settings.permiso_api_base)
        until = budget_per_operation(deadline, len(operations) - index)
        report.operations.append(fuzzer.run(operation, plan, settings.fuzz_examples, until))
    report.seconds = time.monotonic() - started
    report.findings = book.of_scenario(scenario)
    return report


def raise_findings(report: AreaReport) -> None:
    """Fail the scenario with its findings (each once per operation and check), or do nothing."""
    if report.findings:
        message = findings_message(report.findings, replay_hint(report.seed))
        raise Findings(message, [f.cause for f in report.findings])
