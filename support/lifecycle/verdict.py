"""The run's sign-off verdict: :class:`RunSummary` collects one record per scenario (and the performance
budgets and the run-wide rules) and decides whether the build may ship.

Why a module of its own: the verdict is the logic the release decision rests on (which failures count,
which causes a waiver accepts, what behave's exit code must agree with: support/lifecycle/run.py), and every
writer of the summary needs it. The page and its JSON (support/lifecycle/summary_page.py) and the Allure
environment (support/lifecycle/allure_environment.py) import this module; it imports neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from support.checks.causes import DEFECTS
from support.lifecycle.summary_records import (
    DOMAIN_TAGS,
    ERROR,
    FAILED,
    FAILING,
    NEEDS,
    OTHER_DOMAIN,
    PASSED,
    SKIPPED,
    UNTESTED,
    BudgetRecord,
    RuleRecord,
    ScenarioRecord,
    needed_capability,
    status_name,
    tag_name,
)

# the suite's one redaction function, never re-implemented here (no fallback: a silent no-op would leak)
from support.wire.redaction import redact_text as _redact

__all__ = ["RunSummary"]


@dataclass
class RunSummary:
    """Collects scenario outcomes and budgets during a run; support/lifecycle/summary_page.py renders it as the
    one-page sign-off summary.

    The verdict is RELEASE-READY only when at least one scenario ran, no scenario failed or errored
    (known defects excepted: they are documented, still run, and are listed apart), no ``@critical``
    scenario was left untested, every recorded performance budget was met, no counted run-wide rule was
    broken and the run was not interrupted; with ``require_complete_gate`` also no ``@critical``
    scenario may have been skipped. Otherwise it is NOT RELEASE-READY, INTERRUPTED (Ctrl-C) or NOT RUN
    (the run stopped before any scenario); see :attr:`verdict`. support/lifecycle/run.py makes behave's exit code
    agree with it.

    Counts (:meth:`counts`, :meth:`behave_counts`) are scenario counts equal to behave's own summary line:
    the run-wide rules are listed apart (they are not scenarios), known-defect scenarios are counted with
    the rest (and listed apart as well).
    """

    title: str = "Permiso acceptance: release sign-off"
    records: list[ScenarioRecord] = field(default_factory=list)
    budgets: list[BudgetRecord] = field(default_factory=list)
    #: the run-wide rules (support/domains/hygiene_rules.py RULES) as the watch saw them, held or broken
    rules: list[RuleRecord] = field(default_factory=list)
    #: SECURITY_SCAN_ENABLED: with False the rules are listed but do not count in the verdict
    scan_enabled: bool = True
    #: the run was interrupted (Ctrl-C, SIGTERM): what is listed is what ran
    interrupted: bool = False
    #: the run stopped before any scenario ran (a bad setting, a misspelled tag, an unreachable target):
    #: the reason; the verdict is then ``NOT RUN (<reason>)`` and nothing else of the page applies
    not_run: str | None = None
    #: how many scenarios the selection picked (None: unknown); an interrupted run tells how many never ran
    selected: int | None = None
    #: scenarios of the features behave read that the selection (tags, names) left out; behave's own
    #: summary line counts them as "skipped", so :meth:`behave_counts` adds them to match it
    deselected: int = 0
    #: PERMISO_REQUIRE_COMPLETE_GATE: any @critical scenario that did not run makes the run NOT RELEASE-READY
    require_complete_gate: bool = False
    #: the target is the embedded reference on its clean ``contract`` profile (no injected faults): it has
    #: none of the documented defects, so a passing ``@known_defect`` scenario there tells nothing
    clean_reference: bool = False
    #: capability name -> why it is missing (None: present), as probed at the start of the run
    capabilities: dict[str, str | None] = field(default_factory=dict)
    #: what the run was aimed at (support.lifecycle.target.Target.describe), recorded in the JSON for the baseline
    target: str = ""
    #: the baseline and waivers the causes are judged against (support.lifecycle.signoff.Policy); None: neither
    policy: Any = None
    #: causes other checkers list themselves, one entry each, shaped like :meth:`causes` entries (the
    #: fuzzer's findings: kind ``finding``, one per operation and check); the failed scenarios an entry
    #: names in ``scenarios`` are not listed again under a cause of their own
    extra_causes: list[dict[str, Any]] = field(default_factory=list)
    #: run-wide notes that are not failures (the fuzzer's note on the API schema), listed once
    notes: list[str] = field(default_factory=list)

    def record(
        self,
        feature_name: str,
        feature_tags: Iterable[str],
        scenario_name: str,
        scenario_tags: Iterable[str],
        status: str,
        duration_s: float,
        skip_reason: str | None = None,
        cause: Any = None,
        interrupted: bool = False,
    ) -> ScenarioRecord:
        """Record one scenario; tags may be given with or without the leading ``@``. ``cause`` is the
        :class:`support.checks.causes.FailureCause` of a failed scenario (None when it passed or was skipped)."""
        tags = frozenset(tag_name(t) for t in (*feature_tags, *scenario_tags))
        rec = ScenarioRecord(
            feature=feature_name,
            scenario=scenario_name,
            tags=tags,
            status=status_name(status),
            duration_s=float(duration_s),
            skip_reason=skip_reason,
            cause_kind=getattr(cause, "kind", None),
            cause=_redact(cause.cause) if cause is not None else None,
            defect=getattr(cause, "defect", None),
            rule=getattr(cause, "rule", None),
            error_note=(f"error: {cause.message}" if cause.message else "error") if getattr(cause, "error", False)
            else None,
            interrupted=interrupted and status_name(status) in FAILING,
        )
        self.records.append(rec)
        return rec

    def record_budget(self, name: str, p50_ms: float, p95_ms: float, budget_ms: float) -> BudgetRecord:
        """Record a response-time budget (performance steps call this once per measured endpoint)."""
        budget = BudgetRecord(name, float(p50_ms), float(p95_ms), float(budget_ms))
        self.budgets.append(budget)
        return budget

    # -- derived views -------------------------------------------------------------------------------

    @property
    def _counted(self) -> list[ScenarioRecord]:
        return [r for r in self.records if not r.known_defect and not r.interrupted]

    @property
    def cut_short(self) -> list[ScenarioRecord]:
        """Scenarios that were running when the run was interrupted (their failure is the interruption)."""
        return [r for r in self.records if r.interrupted]

    @property
    def failed_critical(self) -> list[ScenarioRecord]:
        """Failed ``@critical`` scenarios that block (a waiver's accepted scenarios are :attr:`waived`)."""
        waived = self.judgement().accepted_scenarios
        return [r for r in self._counted if r.critical and r.status in FAILING and r.title not in waived]

    @property
    def failed_other(self) -> list[ScenarioRecord]:
        waived = self.judgement().accepted_scenarios
        return [r for r in self._counted if not r.critical and r.status in FAILING and r.title not in waived]

    @property
    def waived(self) -> list[ScenarioRecord]:
        """Failed scenarios whose cause a valid waiver accepts: listed, not counted in the verdict."""
        waived = self.judgement().accepted_scenarios
        return [r for r in self._counted if r.status in FAILING and r.title in waived]

    @property
    def untested_critical(self) -> list[ScenarioRecord]:
        return [r for r in self._counted if r.critical and r.status == UNTESTED]

    @property
    def known_defects(self) -> list[ScenarioRecord]:
        return [r for r in self.records if r.known_defect]

    @property
    def missed_budgets(self) -> list[BudgetRecord]:
        return [b for b in self.budgets if not b.met]

    @property
    def broken_rules(self) -> list[RuleRecord]:
        return [r for r in self.rules if r.broken]

    @property
    def blocking_rules(self) -> list[RuleRecord]:
        """Broken rules no valid waiver accepts."""
        waived = self.judgement().accepted_rules
        return [r for r in self.broken_rules if r.id not in waived]

    @property
    def executed(self) -> int:
        return sum(1 for r in self.records if r.status not in (SKIPPED, UNTESTED))

    @property
    def skipped_critical(self) -> list[ScenarioRecord]:
        """``@critical`` scenarios that were selected but skipped (a missing capability): the gate's gaps."""
        return [r for r in self.records if r.critical and r.status == SKIPPED]

    @property
    def never_ran(self) -> int | None:
        """Selected scenarios that never reached their end (an interrupted run), or None when unknown."""
        if self.selected is None:
            return None
        return max(0, self.selected - len(self.records))

    def gate_gaps(self) -> dict[str, int]:
        """The skipped ``@critical`` scenarios grouped by what they need (``tls_front``: 7), most first.

        A capability skip reason reads ``needs <capability>: <why>``; any other reason is its own group.
        """
        groups: dict[str, int] = {}
        for rec in self.skipped_critical:
            key = needed_capability(rec.skip_reason)
            groups[key] = groups.get(key, 0) + 1
        return dict(sorted(groups.items(), key=lambda item: (-item[1], item[0])))

    def gate_gap_text(self) -> str:
        """``14 @critical scenarios not run: 7 need tls_front, 6 need signing_key, 1 needs docker`` or ''."""
        gaps = self.gate_gaps()
        if not gaps:
            return ""
        total = sum(gaps.values())
        parts = []
        for what, n in gaps.items():
            if what.startswith(NEEDS):
                parts.append(f"{n} {'needs' if n == 1 else 'need'} {what.removeprefix(NEEDS)}")
            else:
                parts.append(f"{n} {what}")
        return f"{total} @critical scenario{'s' if total != 1 else ''} not run: {', '.join(parts)}"

    def reasons_not_ready(self) -> list[str]:
        """Why the run is not release-ready (empty when it is)."""
        if self.not_run:
            return [f"not run: {self.not_run}"]
        reasons: list[str] = []
        if self.executed == 0:
            reasons.append("no scenario ran")
        if n := len(self.failed_critical):
            reasons.append(f"{n} @critical scenario{'s' if n != 1 else ''} failed")
        if n := len(self.failed_other):
            reasons.append(f"{n} other scenario{'s' if n != 1 else ''} failed")
        if n := len(self.untested_critical):
            reasons.append(f"{n} @critical scenario{'s' if n != 1 else ''} not run")
        if n := len(self.missed_budgets):
            reasons.append(f"{n} performance budget{'s' if n != 1 else ''} missed")
        if self.scan_enabled and (n := len(self.blocking_rules)):
            reasons.append(f"{n} run-wide rule{'s' if n != 1 else ''} broken")
        reasons += self.judgement().blocking_notes()
        if self.require_complete_gate and (gap := self.gate_gap_text()):
            reasons.append(gap + " (PERMISO_REQUIRE_COMPLETE_GATE=true)")
        if self.interrupted:
            reasons.append("the run was interrupted")
        return reasons

    @property
    def release_ready(self) -> bool:
        return not self.reasons_not_ready()

    @property
    def verdict(self) -> str:
        """The one line a release engineer reads first.

        - ``Verdict: NOT RUN (<reason>)``: the run stopped before any scenario (nothing was checked);
        - ``Verdict: INTERRUPTED (<n> of <m> selected scenarios never ran; <other reasons>)``;
        - ``Verdict: NOT RELEASE-READY (<reasons>)`` or ``Verdict: RELEASE-READY``; either is followed by
          `` — <n> @critical scenarios not run: 7 need tls_front, ...`` when the gate was not complete
          (unless PERMISO_REQUIRE_COMPLETE_GATE made that gap one of the reasons already).

        Against a baseline (support/lifecycle/signoff.py) a run that is not ready names its new causes first
        (``NOT RELEASE-READY (1 new cause since the baseline of 2026-11-30; ...)``); causes accepted by
        waivers, and new causes that do not block, are said in the tail.
        """
        if self.not_run:
            return f"Verdict: NOT RUN ({self.not_run})"
        reasons = self.reasons_not_ready()
        judged = self.judgement()
        if reasons and judged.baseline is not None and judged.new:
            reasons = [judged.new_text(), *reasons]
        gap = "" if self.require_complete_gate else self.gate_gap_text()
        tails = [gap] if gap else []
        if accepted := [c for c in judged.causes if c.get("waiver_state") == "accepted"]:
            ids = ", ".join(dict.fromkeys(str(c["waiver"]) for c in accepted))
            tails.append(f"{len(accepted)} cause{'s' if len(accepted) != 1 else ''} accepted by waiver ({ids})")
        if not reasons and judged.baseline is not None and judged.new:
            tails.append(judged.new_text() + ", none blocking")
        tail = "".join(f" — {t}" for t in tails)
        if self.interrupted:
            never = self.never_ran
            head = (f"{never} of {self.selected} selected scenario{'s' if self.selected != 1 else ''} never ran"
                    if never is not None else "the run was interrupted")
            if n := len(self.cut_short):
                head += f", {n} {'was' if n == 1 else 'were'} cut short"
            others = [r for r in reasons if r not in ("the run was interrupted", "no scenario ran")]
            return f"Verdict: INTERRUPTED ({'; '.join([head, *others])}){tail}"
        if not reasons:
            return f"Verdict: RELEASE-READY{tail}"
        return f"Verdict: NOT RELEASE-READY ({'; '.join(reasons)}){tail}"

    def domain_counts(self) -> dict[str, dict[str, int]]:
        """Per domain: passed / failed / skipped / known_defect counts (failed includes errors)."""
        counts: dict[str, dict[str, int]] = {}
        for rec in self.records:
            row = counts.setdefault(rec.domain, {"passed": 0, "failed": 0, "skipped": 0, "known_defect": 0})
            if rec.known_defect:
                row["known_defect"] += 1
            elif rec.status == PASSED:
                row["passed"] += 1
            elif rec.status in FAILING:
                row["failed"] += 1
            else:
                row["skipped"] += 1
        order = [*DOMAIN_TAGS, OTHER_DOMAIN]
        return {d: counts[d] for d in order if d in counts}

    # -- causes --------------------------------------------------------------------------------------

    def excused(self, title: str) -> bool:
        """Whether the last recorded failure of this scenario is one the verdict does not count: a
        ``@known_defect``, or a failure all of whose causes valid waivers accept (support/lifecycle/run.py uses it so
        behave's exit code agrees with the verdict). Judged on what the run has seen so far: a cause can
        only lose its waiver later (a scenario the waiver does not name joins it), and then the verdict is
        not ready and the run fails anyway."""
        rec = next((r for r in reversed(self.records) if r.title == title), None)
        if rec is None or rec.status not in FAILING:
            return False
        if rec.known_defect:
            return True
        if self.policy is None or not self.policy.waivers:
            return False
        return title in self.judgement().accepted_scenarios

    def judgement(self) -> Any:
        """The causes judged against the baseline and waivers (support.lifecycle.signoff.Judgement): each cause
        with its ``key``, ``change`` (new / persisting) and waiver state; the fixed ones; every waiver."""
        from support.lifecycle import signoff

        protected = {r.title: r.critical and r.domain in signoff.PROTECTED_DOMAINS for r in self.records}
        return signoff.evaluate(self.causes(), self.policy or signoff.Policy(), protected)

    def causes(self) -> list[dict[str, Any]]:
        """One entry per distinct cause of the run, most affected first.

        ``kind`` is ``rule`` (a broken run-wide rule; ``count`` = answers that broke it, ``checked`` =
        answers it applied to), ``precondition`` (a refused setup call) or ``scenario`` (the scenario's
        own rule; ``error`` marks scenarios that ended in a suite error). Every entry names a ``rule``
        or a ``defect``; ``scenarios`` lists the failed scenarios it explains.
        """
        groups: dict[tuple[str, str, bool], dict[str, Any]] = {}
        listed = {title for extra in self.extra_causes for title in extra.get("scenarios", ())}
        for r in self.records:
            if r.status not in FAILING or r.interrupted or (r.cause_kind == "finding" and r.title in listed):
                continue
            kind = r.cause_kind or "scenario"
            cause = r.cause or r.title
            error = r.status == ERROR or r.error_note is not None
            # Refusals that show one known defect are one cause, however many setup calls it refused
            # (D1 refuses roles, scopes and service clients alike): the calls are listed under it.
            grouped = kind == "precondition" and r.defect is not None
            if grouped:
                cause = f"could not prepare: the target refused setup calls ({r.defect}: {DEFECTS.get(r.defect, '')})"
            entry = groups.setdefault((kind, cause, error), {
                "cause": cause, "kind": kind, "defect": r.defect,
                "rule": r.rule if (r.rule or r.defect) else r.title,
                "scenarios": [], "error": error, "known_defect": True, "notes": [], "calls": [],
            })
            if grouped and r.cause and r.cause not in entry["calls"]:
                entry["calls"].append(r.cause)
            entry["scenarios"].append(r.title)
            entry["known_defect"] = entry["known_defect"] and r.known_defect
            if r.error_note and r.error_note not in entry["notes"]:
                entry["notes"].append(r.error_note)
        entries: list[dict[str, Any]] = []
        for entry in groups.values():
            entry["count"] = len(entry["scenarios"])
            entry["first"] = entry["scenarios"][0]
            entries.append(entry)
        for rule in self.broken_rules:
            examples = rule.example_lines()
            entries.append({
                "cause": rule.rule, "kind": "rule", "defect": rule.defect, "rule": rule.rule,
                "rule_id": rule.id, "scenarios": [], "seen_in": list(rule.scenarios), "count": rule.violations,
                "checked": rule.checked, "violations": rule.violations, "first": examples[0] if examples else "",
                "counted": self.scan_enabled, "error": False, "known_defect": False, "notes": [],
            })
        entries += [dict(extra) for extra in self.extra_causes]
        order = {"rule": 0, "precondition": 1, "finding": 2, "scenario": 3}
        entries.sort(key=lambda e: (-int(e["count"]), order.get(str(e["kind"]), 3)))
        return entries

    def counts(self) -> dict[str, int]:
        """Scenario counts by status (all scenarios, known defects included) and rule counts.

        ``passed``/``failed``/``errors``/``skipped``/``untested``/``total`` count the scenarios the selection
        picked, the same scenarios behave's summary line counts (the run-wide rules are NOT scenarios: they
        are under ``rules``). ``not_selected`` counts those the selection left out, which behave's line
        adds to its "skipped"; ``behave`` holds behave's own numbers (see :meth:`behave_counts`).
        """
        by_status = {PASSED: 0, FAILED: 0, ERROR: 0, SKIPPED: 0, UNTESTED: 0}
        for r in self.records:
            by_status[r.status if r.status in by_status else UNTESTED] += 1
        never = self.never_ran or 0
        return {
            "passed": by_status[PASSED], "failed": by_status[FAILED], "errors": by_status[ERROR],
            "skipped": by_status[SKIPPED], "untested": by_status[UNTESTED] + never,
            "total": len(self.records) + never, "not_selected": self.deselected,
            "known_defects": len(self.known_defects), "rules": len(self.rules),
            "rules_broken": len(self.broken_rules), "budgets_missed": len(self.missed_budgets),
        }

    def behave_counts(self) -> dict[str, int]:
        """The numbers of behave's own "N scenarios passed, M failed, K skipped" line for this run.

        behave counts every scenario of the features it read: those the selection left out as skipped,
        errors (hook and cleanup errors too) apart from failures, and the scenarios an interrupted run
        never reached as untested.
        """
        c = self.counts()
        return {"passed": c["passed"], "failed": c["failed"], "error": c["errors"],
                "skipped": c["skipped"] + c["not_selected"], "untested": c["untested"],
                "total": c["total"] + c["not_selected"]}
