"""The sign-off summary names causes: Markdown opening with Causes, the JSON beside it, one Allure result
and one JUnit testcase per run-wide rule, the behavex merge, all redacted. In-process, no behave run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from support.checks.causes import FailureCause, PreconditionRefused
from support.lifecycle import parallel, worker
from support.lifecycle.rule_results import write_rule_junit, write_rule_results
from support.lifecycle.summary_page import render_markdown, to_json, write_json, write_summary
from support.lifecycle.summary_records import RuleRecord, merge_rules
from support.lifecycle.verdict import RunSummary

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYW5hIn0.c2lnbmF0dXJlLXNpZw"
REFUSED = PreconditionRefused("POST", "/api/v1/roles/", 422, "query.current_user missing")


def rule(rid: str = "bearer_challenge", violations: int = 0, checked: int = 40, defect: str | None = None,
         **extra: Any) -> RuleRecord:
    examples = tuple({"method": "GET", "url": f"https://h/api/v1/users/me?access_token={TOKEN}", "status": 401,
                      "problem": "no WWW-Authenticate header"} for _ in range(min(violations, 3)))
    return RuleRecord(id=rid, rule=extra.pop("text", "Every 401 refusal says how to authenticate"),
                      clause="A.2, A.11", tag="contract.A2", defect=defect, defects=("D9",), checked=checked,
                      violations=violations, examples=examples, **extra)


def failing_summary() -> RunSummary:
    s = RunSummary()
    s.record("Roles", ["@admin"], "An administrator creates a role", [], "failed", 0.1,
             cause=FailureCause("precondition", REFUSED.signature, "D1", None, False, str(REFUSED)))
    s.record("Roles", ["@admin"], "A role is renamed", [], "failed", 0.1,
             cause=FailureCause("precondition", REFUSED.signature, "D1", None, False, str(REFUSED)))
    s.record("Hygiene", ["@security"], "A refusal says how to authenticate", ["allure.issue:D9", "critical"],
             "failed", 0.1, cause=FailureCause("scenario", "D9: 401s lose WWW-Authenticate", "D9"))
    s.record("Login", ["@auth"], "Dana signs in", ["critical"], "failed", 0.1,
             cause=FailureCause("scenario", "Login › Dana signs in", None, "Login › Dana signs in"))
    s.record("Users", ["@admin"], "Listing users", [], "error", 0.1,
             cause=FailureCause("scenario", "Users › Listing users", None, "Users › Listing users", True,
                                "KeyError: 'users'"))
    s.record("Login", ["@auth"], "Signing in works", ["critical"], "passed", 0.1)
    s.record("Docker", ["@infrastructure"], "Containers", [], "skipped", 0.0, skip_reason="needs docker: none")
    s.rules = [rule(violations=32, checked=300, defect="D9"), rule("no_store", text="Token answers are never cached")]
    return s


def test_markdown_opens_with_causes_sorted_by_how_many_they_affect() -> None:
    page = render_markdown(failing_summary())
    lines = page.splitlines()
    assert lines[2].startswith("Verdict: NOT RELEASE-READY")
    assert "1 run-wide rule broken" in lines[2]
    assert lines[4] == "## Causes"
    causes = page.split("## Causes")[1].split("\n## ")[0].strip().splitlines()
    assert causes[0].startswith("- **rule** [D9] Every 401 refusal says how to authenticate: 32 of 300 answers")
    assert "e.g. GET https://h/api/v1/users/me" in causes[0] and TOKEN not in page
    # refusals showing one known defect are one cause, with the refused calls listed under it
    assert causes[1].startswith("- **precondition** [D1] could not prepare: the target refused setup calls (D1: ")
    assert causes[1].endswith("(refused: POST /api/v1/roles/ answered 422 (query.current_user missing)): "
                              "2 scenarios; first: Roles › An administrator creates a role")
    assert any(c.startswith("- **scenario** [D9] D9: 401s lose") and "1 scenario; first: Hygiene" in c for c in causes)
    assert "- **scenario** Login › Dana signs in: 1 scenario" in causes
    assert any("Users › Listing users (error: KeyError: 'users')" in c for c in causes)
    assert len(causes) == 5
    assert "| Token answers are never cached |  | 40 | 0 | held |" in page
    assert page.index("## Causes") < page.index("## Scenarios by domain")


def test_a_clean_run_names_no_cause_and_lists_the_rules_as_held() -> None:
    s = RunSummary()
    s.record("Login", ["@auth"], "Signing in works", ["critical"], "passed", 0.1)
    s.rules = [rule(), rule("no_store", text="Token answers are never cached")]
    page = render_markdown(s)
    assert page.splitlines()[2] == "Verdict: RELEASE-READY"
    assert page.split("## Causes")[1].split("##")[0].strip() == "None."
    data = to_json(s)
    assert data["verdict"] == "RELEASE-READY" and data["causes"] == []
    assert all(r["held"] and r["violations"] == 0 for r in data["rules"])


def test_json_shape() -> None:
    data = to_json(failing_summary())
    assert set(data) >= {"verdict", "counts", "causes", "interrupted", "skipped", "rules"}
    assert data["verdict"].startswith("NOT RELEASE-READY (")
    assert data["counts"] | {} == {**data["counts"], "passed": 1, "failed": 4, "errors": 1, "skipped": 1,
                                   "untested": 0, "total": 7}
    assert data["interrupted"] is False
    assert data["skipped"] == [{"scenario": "Docker › Containers", "reason": "needs docker: none", "critical": False}]
    kinds = {c["kind"] for c in data["causes"]}
    assert kinds == {"rule", "precondition", "scenario"}
    for cause in data["causes"]:
        assert cause["rule"] or cause["defect"], cause
        assert set(cause) >= {"cause", "defect", "rule", "kind", "scenarios"}
    precondition = next(c for c in data["causes"] if c["kind"] == "precondition")
    assert precondition["defect"] == "D1" and len(precondition["scenarios"]) == 2
    untagged = next(c for c in data["causes"] if c["cause"] == "Login › Dana signs in")
    assert untagged["rule"] == "Login › Dana signs in" and untagged["defect"] is None
    broken = next(c for c in data["causes"] if c["kind"] == "rule")
    assert broken["violations"] == 32 and broken["checked"] == 300 and broken["defect"] == "D9"
    assert {"rule", "defect", "checked", "violations", "examples"} <= set(data["rules"][0])
    assert TOKEN not in json.dumps(data)


def test_write_puts_the_json_beside_the_markdown(tmp_path: Path) -> None:
    md = write_summary(failing_summary(), tmp_path / "reports" / "signoff-summary.md")
    data = json.loads(md.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["counts"]["total"] == 7


def test_scan_disabled_lists_rules_but_keeps_them_out_of_the_verdict() -> None:
    s = RunSummary(scan_enabled=False)
    s.record("Login", ["@auth"], "Signing in works", [], "passed", 0.1)
    s.rules = [rule(violations=3, defect="D9")]
    assert s.release_ready
    page = render_markdown(s)
    assert "not counted: SECURITY_SCAN_ENABLED=false" in page and "**BROKEN**" in page


def test_interruption_is_recorded_and_refuses_release() -> None:
    s = RunSummary(interrupted=True)
    s.record("Login", ["@auth"], "Signing in works", [], "passed", 0.1)
    assert "the run was interrupted" in s.verdict and to_json(s)["interrupted"] is True


def test_one_allure_result_per_rule(tmp_path: Path) -> None:
    rules = [rule(violations=5, defect="D9"), rule("no_store", text="Token answers are never cached")]
    paths = write_rule_results(tmp_path, rules)
    results = {r["name"]: r for r in (json.loads(p.read_text()) for p in paths)}
    broken = results["Run-wide rule: Every 401 refusal says how to authenticate"]
    held = results["Run-wide rule: Token answers are never cached"]
    assert broken["status"] == "failed" and held["status"] == "passed"
    assert broken["statusDetails"]["message"].startswith("5 of 40 answers broke it (defect D9)")
    assert "no WWW-Authenticate header" in broken["statusDetails"]["message"]
    labels = {(lb["name"], lb["value"]) for lb in broken["labels"]}
    assert ("epic", "Run-wide rules") in labels and ("severity", "critical") in labels
    assert ("cause", "Every 401 refusal says how to authenticate") in labels
    assert broken["links"] == [{"type": "issue", "name": "D9", "url": "D9"}]
    assert broken["historyId"] != held["historyId"]
    assert all(p.name.endswith("-result.json") for p in paths)
    assert not any(TOKEN in p.read_text() for p in paths)
    skipped = json.loads(write_rule_results(tmp_path / "off", rules[:1], scan_enabled=False)[0].read_text())
    assert skipped["status"] == "skipped"


def test_one_junit_testcase_per_rule(tmp_path: Path) -> None:
    path = write_rule_junit(tmp_path, [rule(violations=2, defect="D9"), rule("no_store", text="No cache")])
    assert path.name == "TESTS-run_wide_rules.xml"
    suite = ET.parse(path).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert cases[0].find("failure") is not None and cases[1].find("failure") is None
    assert "2 of 40 answers broke it" in (cases[0].find("failure").text or "")
    assert TOKEN not in path.read_text()


def test_rules_and_causes_survive_the_behavex_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    monkeypatch.setattr(worker, "shared", lambda context: {"parts_dir": str(parts)})
    one, two = failing_summary(), RunSummary()
    two.record("Tokens", ["@tokens"], "Refresh", ["allure.issue:D28"], "failed", 0.1,
               cause=FailureCause("scenario", "D28: token answers carry no Cache-Control: no-store", "D28"))
    two.rules = [rule(violations=4, checked=10, defect="D9"), rule("no_store", text="Token answers are never cached")]
    assert worker.stash_summary(object(), one) and worker.stash_summary(object(), two)
    merged = parallel.merge_summaries(parts)
    assert len(merged.records) == 8
    bearer = next(r for r in merged.rules if r.id == "bearer_challenge")
    assert (bearer.checked, bearer.violations, bearer.defect, len(bearer.examples)) == (310, 36, "D9", 3)
    causes = {c["cause"] for c in merged.causes()}
    assert "D28: token answers carry no Cache-Control: no-store" in causes
    refused = next(c for c in merged.causes() if c["kind"] == "precondition")
    assert refused["defect"] == "D1" and refused["calls"] == [REFUSED.signature]


def test_merge_rules_keeps_the_first_seen_order() -> None:
    merged = merge_rules([rule("a"), rule("b"), rule("a", violations=1, defect="D9")])
    assert [r.id for r in merged] == ["a", "b"] and merged[0].violations == 1 and merged[0].defect == "D9"


# -- the report's categories follow the causes -------------------------------------------------------------
SUMMARY_CAUSES = {"causes": [
    {"cause": "Every 401 refusal says how to authenticate", "kind": "rule", "defect": "D9", "count": 3},
    {"cause": REFUSED.signature, "kind": "precondition", "defect": "D1", "count": 1},
    {"cause": 'D9: 401s lose "WWW-Authenticate"', "kind": "scenario", "defect": "D9", "count": 1},
]}


def test_cause_categories_are_one_rule_per_cause_in_order() -> None:
    from permiso_acceptance import report as report_cli

    rules = report_cli.cause_categories(SUMMARY_CAUSES)
    assert len(rules) == 3 and '"rule [D9]: Every 401 refusal says how to authenticate (3 answers)"' in rules[0]
    assert '"could not prepare' in rules[1] and "d.message" in rules[1]
    assert '\\"WWW-Authenticate\\"' in rules[2], "cause texts are JSON-escaped"
    assert report_cli.cause_categories(None) == [] and report_cli.cause_categories({"causes": []}) == []
    text = report_cli.config_module_text(Path("/x/allurerc.mjs"), Path("/o"), None, multi=True, single=False,
                                         categories=rules)
    assert text.index("cause-1") < text.index("...(base.categories?.rules")


def _result(folder: Path, name: str, cause: str, kind: str, message: str) -> None:
    uid = f"{abs(hash(name)):032x}"[:32]
    data = {"uuid": uid, "historyId": uid, "name": name, "fullName": name, "status": "failed", "stage": "finished",
            "statusDetails": {"message": message}, "start": 1, "stop": 2,
            "labels": [{"name": "cause", "value": cause}, {"name": "cause_kind", "value": kind},
                       {"name": "severity", "value": "critical"}]}
    (folder / f"{uid}-result.json").write_text(json.dumps(data), encoding="utf-8")


def test_the_report_has_one_category_per_cause(tmp_path: Path) -> None:
    from report_helpers import node_available

    from permiso_acceptance import report as report_cli

    if not node_available() or not (report_cli.PROJECT_ROOT / "node_modules" / ".bin" / "allure").exists():
        pytest.skip("the Allure 3 CLI is not installed (npm ci): no report to build")
    results = tmp_path / "allure-results"
    results.mkdir()
    _result(results, "Roles are created", REFUSED.signature, "precondition", str(REFUSED))
    _result(results, "A refusal says how", 'D9: 401s lose "WWW-Authenticate"', "scenario", "Expected: challenge")
    write_rule_results(results, [rule(violations=3, checked=9, defect="D9")])
    summary = tmp_path / "signoff-summary.json"
    summary.write_text(json.dumps(SUMMARY_CAUSES), encoding="utf-8")
    report_cli.build_report(results, tmp_path / "report", summary=summary, single_file=False)
    widget = json.loads((tmp_path / "report" / "widgets" / "categories.json").read_text(encoding="utf-8"))
    categories = {n["name"]: n for n in widget["nodes"].values() if n.get("type") == "category"}
    names = [widget["nodes"][root]["name"] for root in widget["roots"]]
    assert names[0] == "rule [D9]: Every 401 refusal says how to authenticate (3 answers)", names
    assert f"precondition [D1]: {REFUSED.signature} (1 scenarios)" in categories
    assert 'scenario [D9]: D9: 401s lose "WWW-Authenticate" (1 scenarios)' in categories
    assert all(n["statistic"]["total"] == 1 for n in categories.values()), categories


# -- the verdict at a glance: gate gaps, NOT RUN, INTERRUPTED, behave's counts ----------------------------------
def gate_summary(**options: Any) -> RunSummary:
    s = RunSummary(**options)
    s.record("Login", ["@auth"], "Signing in works", ["critical"], "passed", 0.1)
    for capability, n in (("signing_key", 6), ("tls_front", 7), ("docker", 1)):
        for i in range(n):
            s.record("F", ["@security"], f"{capability} {i}", ["critical", f"needs.{capability}"], "skipped", 0.0,
                     skip_reason=f"needs {capability}: not configured here")
    s.record("F", ["@security"], "not critical", ["needs.docker"], "skipped", 0.0, skip_reason="needs docker: x")
    return s


def test_the_verdict_names_the_critical_scenarios_not_run_by_capability() -> None:
    s = gate_summary()
    expected = ("Verdict: RELEASE-READY — 14 @critical scenarios not run: 7 need tls_front, 6 need signing_key, "
                "1 needs docker")
    assert s.release_ready and s.verdict == expected
    assert render_markdown(s).splitlines()[2] == expected
    data = to_json(s)
    assert data["verdict"] == expected.removeprefix("Verdict: ")
    assert data["critical_not_run"] == {"tls_front": 7, "signing_key": 6, "docker": 1}
    section = render_markdown(s).split("## @critical scenarios not run")[1].split("\n## ")[0]
    assert "- F › docker 0: needs docker: not configured here" in section and "not critical" not in section


def test_a_complete_gate_makes_any_gap_not_release_ready() -> None:
    s = gate_summary(require_complete_gate=True)
    assert not s.release_ready
    assert s.verdict == ("Verdict: NOT RELEASE-READY (14 @critical scenarios not run: 7 need tls_front, 6 need "
                         "signing_key, 1 needs docker (PERMISO_REQUIRE_COMPLETE_GATE=true))")
    one = RunSummary(require_complete_gate=True)
    one.record("Login", ["@auth"], "Signing in works", ["critical"], "passed", 0.1)
    assert one.release_ready and one.verdict == "Verdict: RELEASE-READY"


def test_a_skip_without_the_needs_form_is_its_own_group() -> None:
    s = RunSummary()
    s.record("Login", ["@auth"], "ok", ["critical"], "passed", 0.1)
    s.record("Login", ["@auth"], "a", ["critical"], "skipped", 0.0, skip_reason="the front is not a release one")
    s.record("Login", ["@auth"], "b", ["critical"], "skipped", 0.0)
    assert s.verdict == ("Verdict: RELEASE-READY — 2 @critical scenarios not run: 1 skipped without a reason, "
                         "1 the front is not a release one")


def test_not_run_says_why_and_nothing_else() -> None:
    s = RunSummary(not_run="setting PERMISO_PERF_SAMPLES=abc (from -D) is not a whole number")
    page = render_markdown(s)
    assert page.splitlines()[:3] == ["# Permiso acceptance: release sign-off", "",
                                     "Verdict: NOT RUN (setting PERMISO_PERF_SAMPLES=abc (from -D) is not a whole "
                                     "number)"]
    assert "## Causes" not in page and "RELEASE-READY" not in page
    data = to_json(s)
    assert data["verdict"].startswith("NOT RUN (setting PERMISO_PERF_SAMPLES=abc")
    assert data["release_ready"] is False and data["not_run"] and data["counts"]["total"] == 0


def test_interruption_names_what_never_ran_and_does_not_count_the_cut_short_scenario_as_failed() -> None:
    s = RunSummary(interrupted=True, selected=10)
    s.record("Login", ["@auth"], "Signing in works", ["critical"], "passed", 0.1)
    s.record("Login", ["@auth"], "Signing out", ["critical"], "error", 0.1, interrupted=True,
             cause=FailureCause("scenario", "Login › Signing out", None, "Login › Signing out", True,
                                "KeyboardInterrupt"))
    assert s.verdict == "Verdict: INTERRUPTED (8 of 10 selected scenarios never ran, 1 was cut short)"
    assert not s.release_ready and s.causes() == []
    data = to_json(s)
    assert data["interrupted"] is True and data["never_ran"] == 8 and data["selected"] == 10
    assert data["counts"]["untested"] == 8 and data["counts"]["errors"] == 1 and data["counts"]["total"] == 10
    assert "Cut short by the interruption" in render_markdown(s)
    s.record("Login", ["@auth"], "Refused", [], "failed", 0.1)
    assert s.verdict == "Verdict: INTERRUPTED (7 of 10 selected scenarios never ran, 1 was cut short; " \
                        "1 other scenario failed)"


def test_behave_counts_add_the_scenarios_the_selection_left_out() -> None:
    s = gate_summary(deselected=100, selected=16)
    assert s.behave_counts() == {"passed": 1, "failed": 0, "error": 0, "skipped": 115, "untested": 0, "total": 116}
    assert s.counts()["not_selected"] == 100 and s.counts()["total"] == 16
    assert "behave's count: 1 passed, 0 failed, 0 error, 115 skipped (100 of them not selected), 0 untested." \
        in render_markdown(s)


def test_a_passing_known_defect_is_news_only_off_the_clean_reference() -> None:
    def page(clean: bool) -> str:
        s = RunSummary(clean_reference=clean)
        s.record("T", ["@tokens"], "Refresh reuse", ["known_defect", "allure.issue:D6"], "passed", 0.1)
        return render_markdown(s).split("## Known defects")[1]

    assert "may be fixed" in page(False)
    assert "may be fixed" not in page(True) and "Refresh reuse [D6]: passed" in page(True)


def test_the_gate_and_the_selection_survive_the_behavex_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    monkeypatch.setattr(worker, "shared", lambda context: {"parts_dir": str(parts)})
    one = gate_summary(selected=16, deselected=3, require_complete_gate=True, clean_reference=True)
    one.capabilities = {"docker": "no engine", "signing_key": None}
    two = RunSummary(selected=2, deselected=1, clean_reference=True)
    two.record("Login", ["@auth"], "Signing out", [], "passed", 0.1)
    two.record("Login", ["@auth"], "Signing in", [], "passed", 0.1)
    assert worker.stash_summary(object(), one) and worker.stash_summary(object(), two)
    merged = parallel.merge_summaries(parts)
    assert (merged.selected, merged.deselected, merged.require_complete_gate, merged.clean_reference) == \
        (18, 4, True, True)
    assert merged.capabilities == {"docker": "no engine", "signing_key": None}
    assert merged.gate_gaps() == one.gate_gaps()


def test_the_json_summary_stays_valid_json_when_a_masked_value_meets_a_quote(tmp_path: Path) -> None:
    s = RunSummary()
    cause = 'POST /api/v1/auth/token body grant_type=password&password=hunter2"x&username=dana'
    s.record("Fuzz", ["@security"], "Sign-in", [], "failed", 0.1,
             cause=FailureCause("scenario", cause, None, "Sign-in"))
    path = write_json(s, tmp_path / "summary.json")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert "hunter2" not in text and data["causes"][0]["cause"].startswith("POST /api/v1/auth/token")
