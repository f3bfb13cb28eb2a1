"""Generated-input robustness: Schemathesis fuzzes every documented operation of an area.

Contract parts: A.11 (errors: no 5xx for bad input, no internals, no echo), A.1 (``/openapi.json``), and
the schema the service publishes (a success body must match it). Everything is in ``support/domains/fuzzing.py``
(the engine), ``support/domains/fuzz_findings.py`` (what is judged, findings once per operation and check) and
``support/domains/fuzz_area.py`` (session, callers, one area); docs/fuzzing.md explains the choices.
"""

from __future__ import annotations

from typing import Any

from behave import given, then, when

from support.domains import fuzz_area
from support.lifecycle import allure_evidence
from support.people import flows
from support.wire.admin_session import ensure_admin


@given("the fuzzer has read the service's description of its operations")
def given_fuzzer_read_description(context: Any) -> None:
    context.fuzz_session = fuzz_area.session(context.settings, flows.visitor(context).client)


@given("the administrator, a throwaway regular user and a visitor take turns as callers")
def given_callers_take_turns(context: Any) -> None:
    context.fuzz_callers, context.fuzz_protected = fuzz_area.callers_for(
        context.settings, ensure_admin(context), context.identities)


@when("the fuzzer sends generated input to every operation of {area}")
def when_fuzzer_sends_generated_input(context: Any, area: str) -> None:
    title = f"{context.scenario.feature.name} › {context.scenario.name}"
    context.fuzz_report = fuzz_area.fuzz_area(area, context.settings, context.fuzz_callers, context.identities,
                                              context.fuzz_protected, title)
    allure_evidence.attach_note(context.fuzz_report.note(), "Fuzzing statistics")


@then("every answer refuses bad input cleanly and every success looks as described")
def then_answers_refuse_cleanly(context: Any) -> None:
    report = context.fuzz_report
    if report.findings:
        allure_evidence.attach_note("\n\n".join(f.render() for f in report.findings),
                                    "Findings: minimal requests (redacted)")
    fuzz_area.raise_findings(report)
