"""What the fuzzer's answers are judged by, and how its findings are kept: once per operation and check.

Why a module of its own: ``support/domains/fuzzing.py`` drives Schemathesis and Hypothesis; this module knows
nothing of either. It decides what is wrong with one answer (:func:`classify`), keeps each finding
ONCE per operation and check with the smallest request that showed it (:class:`FindingBook`: the
fuzzer shrinks each failure, and every call of the shrinking is recorded here, so the smallest is the
minimal reproduction), sums up the client-error statuses the schema does not list as one note for the
whole run (FastAPI documents only 200 and 422, so 401, 403, 404 and 409 are everywhere: one note on the
schema, never a failure per operation), and turns the findings into causes for the sign-off summary.

The checks reuse the run-wide rules of :mod:`support.domains.hygiene_rules` (internals, echo) rather than
copies: a traceback found by the fuzzer is judged exactly as one found by any other scenario.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from support.domains.hygiene_rules import RULES_BY_ID, Answer
from support.wire import redaction
from support.wire.evidence import Exchange

#: check id -> (the rule as the summary states it, the Part C defect a violation shows, if any)
CHECKS: dict[str, tuple[str, str | None]] = {
    "server_error": ("answers generated input with a server error (5xx)", None),
    "internals": ("reveals the server's internals (traceback, SQL, paths, exception text)", "D10"),
    "echo": ("echoes submitted values in an error answer", "D10"),
    "accepted_invalid": ("accepts invalid data (a success for input the schema forbids)", None),
    "schema": ("answers a success whose body does not match the documented schema", None),
}

#: One shown request is at most this long (a generated value can be large); the rest is elided.
MAX_REQUEST_CHARS = 1500


def classify(exchange: Exchange, *, negative: bool,
             schema_problem: Callable[[], str | None] | None = None) -> list[tuple[str, str]]:
    """Every check the answer breaks, as ``(check id, one-line detail)``; empty when it is clean.

    ``negative``: the request carried data the schema forbids, so any success (2xx) is a finding.
    ``schema_problem`` is asked only for successes: what is wrong with the body against the schema.
    """
    found: list[tuple[str, str]] = []
    status = exchange.status
    if status >= 500:
        found.append(("server_error", f"answered {status}"))
    answer = Answer(exchange)
    for check, rule_id in (("internals", "no_internals"), ("echo", "no_echo")):
        rule = RULES_BY_ID[rule_id]
        if rule.applies(answer):
            problems = rule.check(answer)
            if problems:
                found.append((check, "; ".join(problems)))
    if 200 <= status < 300:
        if negative:
            found.append(("accepted_invalid", f"answered {status} to data the schema forbids"))
        problem = schema_problem() if schema_problem is not None else None
        if problem:
            found.append(("schema", problem))
    return found


def _shown(value: Any) -> str:
    """A value as JSON with every control character escaped (a NUL byte must be seen, not swallowed)."""
    text = json.dumps(redaction.redact_json(value), ensure_ascii=True, default=str)
    return text if len(text) <= MAX_REQUEST_CHARS else text[:MAX_REQUEST_CHARS] + f"... ({len(text)} characters)"


def _escaped(text: str) -> str:
    """Control characters as ``\\u0000`` escapes; the rest as it is (a form body is already URL-encoded)."""
    shown = "".join(ch if ch >= " " or ch in "\t" else f"\\u{ord(ch):04x}" for ch in text)
    return shown if len(shown) <= MAX_REQUEST_CHARS else shown[:MAX_REQUEST_CHARS] + f"... ({len(shown)} characters)"


def _one_line(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def render_request(exchange: Exchange, caller: str, hint: str = "") -> str:
    """The request of ``exchange`` as a short, redacted text: method, path, query, who sent it, body.

    Authorization and every registered secret are masked; control characters in values are escaped
    (``\\u0000``), so the text can be pasted into a report and still shows what was sent. ``hint`` names
    the hostile values of the suite's catalogue the request carried (shown even where a value is masked
    because a password field carried the same text).
    """
    parts = urlsplit(exchange.url)
    query = redaction.redact_text(unquote(parts.query)) if parts.query else ""
    target = redaction.redact_text(unquote(parts.path)) + (f"?{query}" if query else "")
    lines = [f"{exchange.method} {_shown(target)[1:-1]} (as {caller})"]
    content_type = next((v for k, v in exchange.request_headers.items() if k.lower() == "content-type"), None)
    body = exchange.request_body
    if body is not None and body != "":
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if isinstance(body, str) and "json" in (content_type or "").lower():
            with contextlib.suppress(ValueError):
                body = json.loads(body)
        lines.append(_escaped(redaction.redact_text(body)) if isinstance(body, str) else _shown(body))
    if hint:
        lines.append(f"(hostile values: {hint})")
    lines.append(f"--> {exchange.status}")
    return redaction.redact_text("\n".join(lines))


@dataclass
class Finding:
    """One operation breaking one check: how often, and the smallest request that showed it."""

    operation: str
    check: str
    detail: str
    request: str
    caller: str
    status: int
    count: int = 1
    scenarios: list[str] = field(default_factory=list)

    @property
    def rule(self) -> str:
        return CHECKS[self.check][0]

    @property
    def defect(self) -> str | None:
        return CHECKS[self.check][1]

    @property
    def cause(self) -> str:
        """The cause line of the summary: the operation and the rule it broke."""
        return f"{self.operation} {self.rule}"

    def render(self) -> str:
        return redaction.redact_text(
            f"{self.cause} ({self.count} answer{'s' if self.count != 1 else ''}; {self.detail})\n"
            f"minimal request:\n{self.request}")


@dataclass
class FindingBook:
    """The run's findings, once per (operation, check), and the schema's undocumented statuses (thread-safe)."""

    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    #: status -> operations that answered it without the schema listing it
    undocumented: dict[int, set[str]] = field(default_factory=dict)
    #: replay information shown with every finding (the seed), set by the fuzzing session
    replay: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, operation: str, check: str, detail: str, exchange: Exchange, caller: str,
               scenario: str = "", hint: str = "") -> Finding:
        """Count one answer breaking ``check``; keep the smallest request seen for it."""
        request = render_request(exchange, caller, hint)
        with self._lock:
            key = (operation, check)
            known = self.findings.get(key)
            if known is None:
                known = self.findings[key] = Finding(operation, check, detail, request, caller, exchange.status,
                                                     count=0)
            elif len(request) < len(known.request):
                known.detail, known.request, known.caller, known.status = detail, request, caller, exchange.status
            known.count += 1
            if scenario and scenario not in known.scenarios:
                known.scenarios.append(scenario)
            return known

    def note_status(self, operation: str, status: int, documented: Iterable[str]) -> None:
        """Remember a client error (4xx) the operation's schema does not list (its ``responses`` keys)."""
        listed = set(documented)
        if not 400 <= status < 500 or str(status) in listed or "4XX" in listed or "default" in listed:
            return
        with self._lock:
            self.undocumented.setdefault(status, set()).add(operation)

    def of_scenario(self, scenario: str) -> list[Finding]:
        with self._lock:
            return [f for f in self.findings.values() if scenario in f.scenarios]

    def schema_note(self) -> str | None:
        """One line for the whole run, or None: which 4xx statuses operations answer undocumented."""
        with self._lock:
            if not self.undocumented:
                return None
            parts = [f"{status} by {len(ops)} operation{'s' if len(ops) != 1 else ''}"
                     for status, ops in sorted(self.undocumented.items())]
        return ("Note on the API schema: it does not list every client error its operations answer ("
                + ", ".join(parts) + "). Not a failure: the schema lists only 200 and 422 (FastAPI's "
                "default); document 401/403/404/409 where they apply.")

    def cause_entries(self) -> list[dict[str, Any]]:
        """One cause per finding for :attr:`support.lifecycle.verdict.RunSummary.extra_causes`, most answers first."""
        with self._lock:
            found = sorted(self.findings.values(), key=lambda f: (-f.count, f.operation, f.check))
        replay = f" ({self.replay})" if self.replay else ""
        return [{
            "cause": redaction.redact_text(f.cause).replace('"', "'"), "kind": "finding", "defect": f.defect,
            "rule": f.rule,
            "check": f.check, "operation": f.operation, "scenarios": list(f.scenarios), "count": f.count,
            # double quotes become single: the summary redacts its JSON as text, and a masked form field
            # right before an escaped quote would take the escape with it (support/lifecycle/summary_page.py to_json)
            "first": _one_line(redaction.redact_text(" | ".join(f.request.splitlines())), 400).replace('"', "'")
            + replay,
            "error": False, "known_defect": False, "notes": [],
        } for f in found]

    def reset(self) -> None:
        with self._lock:
            self.findings.clear()
            self.undocumented.clear()
            self.replay = ""


#: the run's one book; support/lifecycle/run.py hands it to the summary at the end of the run, then resets it
BOOK = FindingBook()


def findings_message(findings: list[Finding], replay: str = "") -> str:
    """The failure message of a fuzz scenario: each finding once, with its minimal request (redacted)."""
    lines = [f"{len(findings)} finding{'s' if len(findings) != 1 else ''} (each once per operation and check)"
             + (f"; {replay}" if replay else "") + ":"]
    for finding in findings:
        lines += ["", finding.render()]
    return redaction.redact_text("\n".join(lines))


def summarize_statuses(statuses: Mapping[int, int]) -> str:
    """``200 x3, 401 x12, 422 x40``: what the answers of an operation were."""
    return ", ".join(f"{status} x{n}" for status, n in sorted(statuses.items()))


def write_note_result(results_dir: Path, note: str) -> Path:
    """The run's note on the API schema as ONE Allure result (passed: a note, not a failure)."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    history = hashlib.md5(b"fuzzing-note:schema").hexdigest()
    result = {
        "uuid": str(uuid.uuid4()), "historyId": history, "testCaseId": history,
        "fullName": "fuzzing.schema_note", "name": "Note on the API schema (undocumented client errors)",
        "status": "passed", "statusDetails": {"message": redaction.redact_text(note), "trace": ""},
        "stage": "finished", "start": now, "stop": now, "description": redaction.redact_text(note),
        "labels": [{"name": "epic", "value": "Security"}, {"name": "feature", "value": "Generated input"},
                   {"name": "severity", "value": "minor"}, {"name": "framework", "value": "permiso-acceptance"}],
        "links": [], "parameters": [], "steps": [], "attachments": [],
    }
    path = results_dir / f"{result['uuid']}-result.json"
    path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return path
