"""The sign-off against a baseline and waivers (support/lifecycle/signoff.py, RunSummary, the baseline command).

In-process, no behave run: tests/e2e/test_signoff_workflow.py runs the release-meeting workflow for real.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from permiso_acceptance import baseline as baseline_cli
from permiso_acceptance.report import cause_categories
from support.checks.causes import FailureCause
from support.lifecycle import signoff
from support.lifecycle.allure_environment import signoff_properties
from support.lifecycle.signoff import Baseline, Policy, SignoffFileError, Waiver
from support.lifecycle.summary_page import render_markdown, to_json
from support.lifecycle.summary_records import RuleRecord
from support.lifecycle.verdict import RunSummary

TODAY = dt.date(2026, 12, 2)
REFRESH = "Refreshing a session › An old refresh token is refused"


def waiver(wid: str = "w1", *, defect: str | None = None, rule: str | None = None, scenarios: tuple[str, ...] = (),
           expires: dt.date = dt.date(2027, 1, 31)) -> Waiver:
    return Waiver(id=wid, reason="fixed in 1.0.1", accepted_by="Jane", expires=expires, defect=defect, rule=rule,
                  scenarios=scenarios)


def summary(*, refresh_fails: bool = True, cors_broken: bool = False, policy: Policy | None = None) -> RunSummary:
    s = RunSummary(policy=policy, target="embedded reference Permiso (profile contract)")
    s.record("Login", ["@auth"], "Dana signs in", ["critical"], "passed", 0.1)
    if refresh_fails:
        s.record("Refreshing a session", ["@tokens"], "An old refresh token is refused", ["critical"], "failed",
                 0.1, cause=FailureCause("scenario", REFRESH, None, REFRESH))
    s.record("Hygiene", ["@security"], "A refusal says how to authenticate", ["allure.issue:D9"], "failed", 0.1,
             cause=FailureCause("scenario", "D9: 401s lose WWW-Authenticate", "D9"))
    s.rules = [RuleRecord(id="cors", rule="CORS never allows any origin with credentials", defect="D16",
                          checked=10, violations=2 if cors_broken else 0)]
    return s


def baseline_of(s: RunSummary) -> Baseline:
    return signoff.baseline_from_summary(to_json(s), TODAY)


# ------------------------------------------------------------------------------------ cause identity
def test_a_cause_is_known_by_its_defect_rule_or_title_never_by_its_message() -> None:
    assert signoff.cause_key({"kind": "rule", "rule_id": "cors", "rule": "CORS ..."}) == "rule:cors"
    assert signoff.cause_key({"kind": "precondition", "defect": "D1", "cause": "could not prepare: x"}) == \
        "precondition:D1"
    assert signoff.cause_key({"kind": "scenario", "rule": REFRESH, "cause": REFRESH}) == f"scenario:{REFRESH}"
    assert signoff.cause_key({"kind": "scenario", "defect": "D7", "error": True}) == "scenario:D7 (error)"


# ------------------------------------------------------------------------------------------ baseline
def test_new_fixed_and_persisting_against_the_baseline() -> None:
    base = baseline_of(summary(refresh_fails=False, cors_broken=True))
    assert {c["key"] for c in base.causes} == {"scenario:D9", "rule:cors"}
    now = summary(policy=Policy(baseline=base, today=TODAY))
    judged = now.judgement()
    assert [c["key"] for c in judged.new] == [f"scenario:{REFRESH}"]
    assert [c["key"] for c in judged.persisting] == ["scenario:D9"]
    assert [c["key"] for c in judged.fixed] == ["rule:cors"]
    assert now.verdict.startswith("Verdict: NOT RELEASE-READY (1 new cause since the baseline of 2026-12-02; ")
    page = render_markdown(now)
    assert "## Since the baseline of 2026-12-02" in page and "**Fixed** (1):" in page
    assert f"- **NEW** **scenario** {REFRESH}" in page and "- persisting **scenario** [D9]" in page
    data = to_json(now)
    assert data["target"] == "embedded reference Permiso (profile contract)"
    assert data["signoff"]["new"] == [f"scenario:{REFRESH}"] and data["signoff"]["fixed"][0]["key"] == "rule:cors"
    assert {c["change"] for c in data["causes"]} == {"new", "persisting"}
    props = signoff_properties(now)
    assert props["signoff.causes"] == "1 new, 1 persisting, 1 fixed" and props["signoff.fixed"] == "rule:cors"
    assert props["signoff.new"] == f"scenario:{REFRESH}"


def test_without_a_baseline_nothing_is_called_new() -> None:
    s = summary()
    assert "new cause" not in s.verdict and "Since the baseline" not in render_markdown(s)
    assert {c["change"] for c in to_json(s)["causes"]} == {None}


def test_a_baseline_comes_only_from_a_complete_run() -> None:
    with pytest.raises(SignoffFileError, match="checked nothing"):
        signoff.baseline_from_summary(to_json(RunSummary(not_run="bad setting")), TODAY)
    interrupted = summary()
    interrupted.interrupted = True
    with pytest.raises(SignoffFileError, match="interrupted"):
        signoff.baseline_from_summary(to_json(interrupted), TODAY)


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "not readable JSON"),
    ('{"date": "2026-12-02"}', "'causes' list"),
    ('{"date": "02/12/2026", "causes": []}', "is not YYYY-MM-DD"),
    ('{"date": "2026-12-02", "causes": [{"cause": "x"}]}', "cause 1 has no 'key'"),
])
def test_a_bad_baseline_is_one_line_naming_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SignoffFileError) as caught:
        signoff.load_baseline(path)
    assert problem in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_no_baseline_file_means_no_baseline(tmp_path: Path) -> None:
    assert signoff.load_baseline(tmp_path / "missing.json") is None
    assert signoff.load_policy(tmp_path / "a.json", tmp_path / "b.toml").empty


# ------------------------------------------------------------------------------------------- waivers
def test_a_valid_waiver_accepts_its_cause_and_the_run_is_ready() -> None:
    policy = Policy(waivers=(waiver("refresh", scenarios=("An old refresh token is refused",)),
                             waiver("hdr", defect="D9")), today=TODAY)
    s = summary(policy=policy)
    assert s.release_ready, s.reasons_not_ready()
    assert s.verdict == "Verdict: RELEASE-READY — 2 causes accepted by waiver (refresh, hdr)"
    assert s.excused("Refreshing a session › An old refresh token is refused")
    assert [r.title for r in s.waived] == [REFRESH, "Hygiene › A refusal says how to authenticate"]
    page = render_markdown(s)
    assert "(accepted: waiver refresh)" in page and "## Failed, accepted by a waiver" in page
    assert "- **accepted** refresh (" in page
    assert signoff_properties(s)["signoff.waiver.refresh"].startswith("accepted (until 2027-01-31")


def test_an_expired_waiver_blocks_again_and_is_named() -> None:
    policy = Policy(waivers=(waiver("refresh", scenarios=(REFRESH,), expires=dt.date(2026, 12, 1)),
                             waiver("hdr", defect="D9")), today=TODAY)
    s = summary(policy=policy)
    assert not s.release_ready
    assert "waiver refresh expired (it held until 2026-12-01)" in s.verdict
    assert "1 @critical scenario failed" in s.verdict
    assert not s.excused(REFRESH)
    assert "- **expired** refresh" in render_markdown(s)


def test_a_waiver_is_valid_through_its_expiry_day() -> None:
    policy = Policy(waivers=(waiver("refresh", scenarios=(REFRESH,), expires=TODAY), waiver("h", defect="D9")),
                    today=TODAY)
    assert summary(policy=policy).release_ready


def test_a_stale_waiver_is_reported_and_does_not_block() -> None:
    policy = Policy(waivers=(waiver("refresh", scenarios=(REFRESH,)), waiver("h", defect="D9"),
                             waiver("old", defect="D16")), today=TODAY)
    s = summary(policy=policy)
    assert s.release_ready
    states = {w["id"]: w["state"] for w in s.judgement().waivers}
    assert states == {"refresh": "accepted", "h": "accepted", "old": "stale"}
    assert "- **stale** old (D16" in render_markdown(s)


def test_a_defect_waiver_cannot_cover_a_critical_auth_or_token_scenario_it_does_not_name() -> None:
    s = RunSummary(policy=Policy(waivers=(waiver("d7", defect="D7"),), today=TODAY))
    s.record("Refreshing a session", ["@tokens"], "An old refresh token is refused", ["critical", "allure.issue:D7"],
             "failed", 0.1, cause=FailureCause("scenario", "D7: refresh ignores revocation", "D7"))
    assert not s.release_ready and not s.excused(REFRESH)
    assert "waiver d7 does not name 1 scenario it would cover" in s.verdict
    named = RunSummary(policy=Policy(waivers=(waiver("d7", defect="D7", scenarios=(REFRESH,)),), today=TODAY),
                       records=s.records)
    assert named.release_ready and named.excused(REFRESH)


def test_a_defect_waiver_covers_other_domains_without_naming_them() -> None:
    s = RunSummary(policy=Policy(waivers=(waiver("d16", defect="D16"),), today=TODAY))
    s.record("Hygiene", ["@security"], "CORS is closed", ["critical", "allure.issue:D16"], "failed", 0.1,
             cause=FailureCause("scenario", "D16: CORS", "D16"))
    s.rules = [RuleRecord(id="cors", rule="CORS never allows any origin", defect="D16", checked=5, violations=1)]
    assert s.release_ready, s.reasons_not_ready()
    assert not s.blocking_rules and s.broken_rules


def test_a_rule_waiver_matches_by_id_or_text() -> None:
    for rule in ("cors", "CORS never allows any origin"):
        s = RunSummary(policy=Policy(waivers=(waiver("r", rule=rule),), today=TODAY))
        s.record("Login", ["@auth"], "Dana signs in", [], "passed", 0.1)
        s.rules = [RuleRecord(id="cors", rule="CORS never allows any origin", checked=5, violations=1)]
        assert s.release_ready


def test_a_known_defect_failure_is_excused_from_the_exit_code() -> None:
    s = RunSummary()
    s.record("Forged tokens", ["@security"], "Audience", ["known_defect", "allure.issue:D6"], "failed", 0.1,
             cause=FailureCause("scenario", "D6: audience", "D6"))
    assert s.release_ready and s.excused("Forged tokens › Audience")
    assert not summary().excused(REFRESH)


GOOD = '''
[[waiver]]
id = "refresh"
defect = "D7"
reason = "fixed in 1.0.1"
accepted_by = "Jane"
expires = 2027-01-31
'''


@pytest.mark.parametrize(("change", "problem"), [
    (('defect = "D7"', 'defect = "D99"'), "unknown defect id 'D99'"),
    (("expires = 2027-01-31\n", ""), "missing 'expires'"),
    (("expires = 2027-01-31", 'expires = "31/01/2027"'), "is not a date (write YYYY-MM-DD)"),
    (('reason = "fixed in 1.0.1"', 'reason = ""'), "missing 'reason'"),
    (('accepted_by = "Jane"', 'acceptedby = "Jane"'), "unknown key 'acceptedby'"),
    (('defect = "D7"', 'defect = "D7"\nrule = "cors"'), "either 'defect' or 'rule'"),
    (('defect = "D7"', ""), "says nothing to accept"),
    (('defect = "D7"', 'rule = "no_such_rule"'), "unknown run-wide rule"),
    (("[[waiver]]", "[waiver]"), "array of tables"),
    (("[[waiver]]", "[[waivers]]"), "unknown table 'waivers'"),
    (("expires = 2027-01-31", "expires = 2027-01-31\n["), "not valid TOML"),
])
def test_a_bad_waiver_file_is_one_line(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(SignoffFileError) as caught:
        signoff.load_policy(None, path)
    assert problem in str(caught.value), caught.value
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_the_committed_waiver_file_is_valid_and_accepts_nothing() -> None:
    root = Path(__file__).resolve().parents[2]
    assert signoff.load_policy(None, root / "signoff" / "waivers.toml").waivers == ()


def test_two_waivers_with_one_id_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD + GOOD, encoding="utf-8")
    with pytest.raises(SignoffFileError, match="two waivers are called 'refresh'"):
        signoff.load_policy(None, path)


# ---------------------------------------------------------------------------- the command and Allure
def test_baseline_accept_show_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary_path = tmp_path / "signoff-summary.json"
    summary_path.write_text(json.dumps(to_json(summary())), encoding="utf-8")
    base = tmp_path / "signoff" / "baseline.json"
    assert baseline_cli.main(["accept", "--summary", str(summary_path), "--baseline", str(base)], today=TODAY) == 0
    out = capsys.readouterr().out
    assert "baseline of 2026-12-02 written to" in out and "2 causes" in out
    stored = json.loads(base.read_text(encoding="utf-8"))
    assert stored["date"] == "2026-12-02" and stored["verdict"].startswith("NOT RELEASE-READY")
    assert {c["key"] for c in stored["causes"]} == {f"scenario:{REFRESH}", "scenario:D9"}
    assert baseline_cli.main(["show", "--baseline", str(base)]) == 0
    assert "scenario:D9" in capsys.readouterr().out
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(GOOD, encoding="utf-8")
    assert baseline_cli.main(["check", "--baseline", str(base), "--waivers", str(waivers)], today=TODAY) == 0
    assert "60 days left" in capsys.readouterr().out


def test_baseline_accept_refuses_a_run_that_checked_nothing(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    summary_path = tmp_path / "signoff-summary.json"
    summary_path.write_text(json.dumps(to_json(RunSummary(not_run="unreachable"))), encoding="utf-8")
    code = baseline_cli.main(["accept", "--summary", str(summary_path), "--baseline", str(tmp_path / "b.json")])
    err = capsys.readouterr().err
    assert code == 2 and "a baseline must come from a complete run" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b.json").exists()
    assert baseline_cli.main(["accept", "--summary", str(tmp_path / "none.json")]) == 2
    assert "run behave first" in capsys.readouterr().err


def test_allure_categories_say_new_and_accepted() -> None:
    base = baseline_of(summary(refresh_fails=False))
    policy = Policy(baseline=base, waivers=(waiver("hdr", defect="D9"),), today=TODAY)
    names = [json.loads(c.split("name: ", 1)[1].split(", matchers", 1)[0])
             for c in cause_categories(to_json(summary(policy=policy)))]
    assert names[0].startswith(f"NEW · scenario: {REFRESH}")
    assert names[1].startswith("accepted by waiver hdr · scenario [D9]")


def test_an_expired_waiver_does_not_block_what_another_waiver_accepts() -> None:
    policy = Policy(waivers=(waiver("old", defect="D9", expires=dt.date(2026, 1, 1)), waiver("new", defect="D9"),
                             waiver("refresh", scenarios=(REFRESH,))), today=TODAY)
    s = summary(policy=policy)
    assert s.release_ready, s.reasons_not_ready()
    assert {w["id"]: w["state"] for w in s.judgement().waivers}["old"] == "expired"
