"""Redacted evidence in the running scenario's Allure result: the HTTP exchanges and their timings as
attachments, parameters, the domain's epic, the cause labels, and skipped scenarios written as skipped.

Why a module of its own: it is the part of the sign-off reporting that works on the result allure-behave is
building while a scenario runs (the hooks in support/lifecycle/run.py and some steps call it), and the one
that depends on allure-behave's internals. ``Exchange.render()`` is already redacted; the text goes through
``support.wire.redaction.redact_text`` once more on the way out, because an attachment is the one place where
a missed secret would be published to everyone who opens the report.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import allure
import allure_commons
from allure_commons.model2 import Label, Parameter, StatusDetails

from support.lifecycle.summary_records import DOMAIN_EPICS, DOMAIN_TAGS, tag_name

# the suite's one redaction function, never re-implemented here (no fallback: a silent no-op would leak)
from support.wire.redaction import redact_text as _redact
from support.wire.redaction import redact_url as _redact_url

__all__ = [
    "apply_domain_labels",
    "attach_exchanges",
    "attach_note",
    "attach_timings",
    "label_cause",
    "report_skip_to_allure",
    "set_parameter",
]


class RenderableExchange(Protocol):
    """What the reporting functions need of ``support.wire.evidence.Exchange`` (duck typing keeps tests light)."""

    method: str
    url: str
    status: int | None
    elapsed_ms: float

    def render(self) -> str: ...


# -- Allure attachments ------------------------------------------------------------------------------


def render_exchanges(exchanges: Sequence[RenderableExchange]) -> str:
    """All exchanges as one readable, redacted text (numbered, blank line between them)."""
    parts = []
    for i, exchange in enumerate(exchanges, start=1):
        parts.append(f"──── exchange {i} of {len(exchanges)} ────\n{exchange.render().rstrip()}\n")
    return _redact("\n".join(parts))


def attach_exchanges(
    exchanges: Sequence[RenderableExchange], name: str = "HTTP exchanges (redacted)"
) -> bool:
    """Attach the scenario's HTTP exchanges to the current Allure test as one text/plain attachment.

    Call it from a step, ``before_scenario`` or ``after_scenario`` (allure-behave has no current test in
    ``before_all``/``before_feature``). Returns False, attaching nothing, when there are no exchanges.
    """
    if not exchanges:
        return False
    allure.attach(render_exchanges(exchanges), name=name, attachment_type=allure.attachment_type.TEXT)
    return True


def attach_note(text: str, name: str) -> bool:
    """Attach a short text (a step's statistics, say) to the running scenario's Allure result, redacted.

    The place for what a step measured: a step must not print it (behave shows a step's output on the
    console only when the scenario fails, and a ``--no-capture`` run would interleave it with the steps).
    Returns False when no Allure test is running (nothing is attached then).
    """
    if _current_allure_test() is None:
        return False
    allure.attach(_redact(text), name=name, attachment_type=allure.attachment_type.TEXT)
    return True


def timings_table(exchanges: Sequence[RenderableExchange]) -> tuple[str, float]:
    """A fixed-width table of method, path, status and elapsed ms, and the total elapsed ms."""
    rows = [("#", "method", "path", "status", "elapsed ms")]
    total = 0.0
    for i, ex in enumerate(exchanges, start=1):
        # Path only: a query string may carry a token, and the host is in environment.properties.
        path = urlsplit(_redact_url(ex.url)).path or "/"
        elapsed = float(ex.elapsed_ms or 0.0)
        total += elapsed
        status = "-" if ex.status is None else str(ex.status)
        rows.append((str(i), ex.method.upper(), path, status, f"{elapsed:.1f}"))
    rows.append(("", "", "total", "", f"{total:.1f}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[c]) if c in (0, 3, 4) else cell.ljust(widths[c]) for c, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return _redact("\n".join(lines) + "\n"), total


def _current_allure_test() -> Any | None:
    """The TestResult allure-behave is building for the running scenario, or None outside a test.

    allure-behave 2.16.2 implements no ``add_parameter``/``add_label`` hooks, so
    ``allure.dynamic.parameter``/``allure.dynamic.epic`` are silently dropped in a behave run (checked).
    Its listener keeps the scheduled result on ``listener.logger``; writing to that object is the one
    way to add a parameter or label at run time. Returns None (callers then do nothing) when no
    listener is registered, e.g. in unit tests or a run without the Allure formatter.
    """
    for plugin in allure_commons.plugin_manager.get_plugins():
        logger = getattr(plugin, "logger", None)
        if type(plugin).__name__ == "AllureListener" and logger is not None and hasattr(logger, "get_test"):
            return logger.get_test(None)
    return None


def set_parameter(name: str, value: str, *, excluded: bool = True) -> bool:
    """Add (or replace) a parameter on the running scenario's Allure result; True when it was set.

    ``excluded=True`` keeps the parameter out of the history id, so trends stay joined across runs.
    """
    test = _current_allure_test()
    if test is None:
        return False
    test.parameters = [p for p in (test.parameters or []) if p.name != name]
    test.parameters.append(Parameter(name=name, value=_redact(str(value)), excluded=excluded or None))
    return True


def apply_domain_labels(feature_tags: Iterable[str], scenario_tags: Iterable[str] = ()) -> str | None:
    """Give the running scenario the Allure epic of its domain tag (call from ``before_scenario``).

    The feature label comes from allure-behave already; stories stay with ``@allure.story:`` tags.
    Returns the epic set, or None when there is no domain tag, an explicit ``@allure.epic:`` tag, or
    no Allure test running.
    """
    tags = [tag_name(t) for t in (*feature_tags, *scenario_tags)]
    if any(t.startswith("allure.epic:") for t in tags):
        return None
    epic = next((DOMAIN_EPICS[d] for d in DOMAIN_TAGS if d in tags), None)
    test = _current_allure_test()
    if epic is None or test is None:
        return None
    test.labels.append(Label(name="epic", value=epic))
    return epic


def attach_timings(exchanges: Sequence[RenderableExchange], name: str = "HTTP timings") -> float | None:
    """Attach the per-call timing table and set the total as the Allure parameter ``HTTP total ms``.

    The parameter is marked ``excluded`` so it never changes the test's history id (trends stay joined
    across runs). Works in steps and in ``after_scenario`` (allure-behave wraps ``Scenario.run``, so
    the hooks still belong to the test; see :func:`set_parameter` for why not ``allure.dynamic``).
    Returns the total in ms, or None when there were no calls.
    """
    if not exchanges:
        return None
    table, total = timings_table(exchanges)
    allure.attach(table, name=name, attachment_type=allure.attachment_type.TEXT)
    set_parameter("HTTP total ms", f"{total:.0f}")
    return total


def label_cause(cause: Any) -> bool:
    """Give the running scenario's Allure result the labels ``cause`` and ``cause_kind`` (call from
    ``after_scenario`` of a failed scenario): the report's categories group failures by them."""
    test = _current_allure_test()
    if test is None or cause is None:
        return False
    test.labels = [lb for lb in (test.labels or []) if lb.name not in ("cause", "cause_kind")]
    for text in (cause.cause, *getattr(cause, "also", ())):  # a scenario with several findings: each
        test.labels.append(Label(name="cause", value=_redact(str(text))))
    test.labels.append(Label(name="cause_kind", value=str(cause.kind)))
    return True


# -- skipped scenarios and runs that never started --------------------------------------------------------

def report_skip_to_allure(reason: str) -> bool:
    """Write the running scenario's Allure result as ``skipped`` with ``reason`` as its message.

    Call it from ``after_scenario`` of a scenario skipped for a missing capability. allure-behave 2.16.2
    drops every skipped scenario when behave's ``show_skipped`` is off (``listener.stop_scenario``:
    ``should_drop_skipped_by_option``), and ``show_skipped = false`` must stay in pyproject (it keeps the
    scenarios a ``--tags`` selection leaves out off the console and out of JUnit). So the result the
    listener scheduled for this scenario (its name, labels, history id: trends stay joined) is written
    here through allure's own file logger; the listener then drops its copy, so it is written once.
    Call it only when ``show_skipped`` is off (else the listener writes it too). True when written.
    """
    test = _current_allure_test()
    if test is None:
        return False
    test.status = "skipped"
    test.statusDetails = StatusDetails(message=_redact(reason))
    test.stop = int(time.time() * 1000)
    test.stage = "finished"
    allure_commons.plugin_manager.hook.report_result(result=test)
    return True
