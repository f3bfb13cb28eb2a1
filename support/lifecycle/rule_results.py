"""The run-wide rules (support/domains/security_checks.py) as results of their own: one Allure result and one
JUnit testcase per rule, held or broken.

Why a module of its own: a broken run-wide rule is reported once, as itself, never as another scenario's
failure. These writers run once at the end of a run (support/lifecycle/run_summary.py) and build their
result files by hand, outside allure-behave; every text in them is redacted.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from support.lifecycle.summary_records import RuleRecord

# the suite's one redaction function, never re-implemented here (no fallback: a silent no-op would leak)
from support.wire.redaction import redact_text as _redact

__all__ = ["RULES_EPIC", "RULES_JUNIT_NAME", "rule_message", "write_rule_junit", "write_rule_results"]

RULES_EPIC = "Run-wide rules"
RULES_JUNIT_NAME = "TESTS-run_wide_rules.xml"


def _rule_status(rule: RuleRecord, scan_enabled: bool) -> str:
    if not rule.broken:
        return "passed"
    return "failed" if scan_enabled else "skipped"


def rule_message(rule: RuleRecord, scan_enabled: bool = True) -> str:
    """The one message of a rule's result: counts, defect, and the examples (redacted)."""
    if not rule.broken:
        return f"held on all {rule.checked} answers it applies to"
    defect = f" (defect {rule.defect})" if rule.defect else ""
    head = f"{rule.violations} of {rule.checked} answers broke it{defect}"
    if not scan_enabled:
        head = "not counted (SECURITY_SCAN_ENABLED=false): " + head
    examples = "".join(f"\n  - {line}" for line in rule.example_lines())
    return _redact(f"{head}; e.g.:{examples}" if examples else head)


def write_rule_results(results_dir: Path, rules: Sequence[RuleRecord], *, scan_enabled: bool = True) -> list[Path]:
    """One Allure result per run-wide rule (broken: failed; held: passed) into ``results_dir``."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    written = []
    for rule in rules:
        history = hashlib.md5(f"run-wide-rule:{rule.id}".encode()).hexdigest()
        labels = [
            {"name": "epic", "value": RULES_EPIC}, {"name": "feature", "value": RULES_EPIC},
            {"name": "suite", "value": RULES_EPIC}, {"name": "story", "value": rule.rule},
            {"name": "severity", "value": rule.severity}, {"name": "framework", "value": "permiso-acceptance"},
            {"name": "language", "value": "python"},
        ]
        if rule.tag:
            labels.append({"name": "tag", "value": rule.tag})
        if rule.broken:
            labels += [{"name": "cause", "value": rule.rule}, {"name": "cause_kind", "value": "rule"}]
        links = [{"type": "issue", "name": d, "url": d} for d in ([rule.defect] if rule.defect else [])]
        message = rule_message(rule, scan_enabled)
        seen = "".join(f"\n  - {t}" for t in rule.scenarios[:10])
        result = {
            "uuid": str(uuid.uuid4()), "historyId": history, "testCaseId": history,
            "fullName": f"run_wide_rules.{rule.id}", "name": f"Run-wide rule: {rule.rule}",
            "status": _rule_status(rule, scan_enabled),
            "statusDetails": {"message": message,
                              "trace": _redact(f"seen in:{seen}") if seen else ""},
            "stage": "finished", "start": now, "stop": now,
            "description": _redact(f"{rule.rule} (contract {rule.clause}). Checked by the run-wide watch on every "
                                   "answer of the run; reported once here, never as another scenario's failure."),
            "labels": labels, "links": links, "parameters": [], "steps": [], "attachments": [],
        }
        path = results_dir / f"{result['uuid']}-result.json"
        path.write_text(_redact(json.dumps(result, ensure_ascii=False)), encoding="utf-8")
        written.append(path)
    return written


def write_rule_junit(junit_dir: Path, rules: Sequence[RuleRecord], *, scan_enabled: bool = True) -> Path:
    """``TESTS-run_wide_rules.xml``: one testcase per rule, a failure element for a broken one."""
    junit_dir = Path(junit_dir)
    junit_dir.mkdir(parents=True, exist_ok=True)
    failures = sum(1 for r in rules if r.broken and scan_enabled)
    skipped = sum(1 for r in rules if r.broken and not scan_enabled)
    suite = ET.Element("testsuite", name=RULES_EPIC, tests=str(len(rules)), failures=str(failures),
                       errors="0", skipped=str(skipped), time="0")
    for rule in rules:
        case = ET.SubElement(suite, "testcase", classname="run_wide_rules", name=_redact(rule.rule), time="0")
        message = rule_message(rule, scan_enabled)
        if rule.broken and scan_enabled:
            failure = ET.SubElement(case, "failure", type="RunWideRuleBroken", message=message.splitlines()[0])
            failure.text = message
        elif rule.broken:
            ET.SubElement(case, "skipped", message=message.splitlines()[0])
        out = ET.SubElement(case, "system-out")
        out.text = message
    path = junit_dir / RULES_JUNIT_NAME
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
