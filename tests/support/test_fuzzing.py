"""The fuzzer's pieces without a server: what an answer breaks, findings once per operation and check, the
redacted minimal request, the schema note, the policy (data, callers), the @fuzz opt-in and its settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from support.checks.causes import FINDING, Findings, attribute_failure
from support.domains import fuzzing
from support.domains.fuzz_findings import FindingBook, classify, render_request
from support.lifecycle import selection
from support.lifecycle.summary_page import render_markdown, to_json
from support.lifecycle.verdict import RunSummary
from support.wire import redaction
from support.wire.evidence import Exchange
from support.wire.settings import DEFAULT_FUZZ_EXAMPLES, Settings, SettingsError

TOKEN_URL = "https://127.0.0.1:8443/api/v1/auth/token"


def exchange(status: int = 422, body: Any = None, *, method: str = "POST", url: str = TOKEN_URL,
             request_body: Any = None, request_headers: dict[str, str] | None = None) -> Exchange:
    text = json.dumps(body) if body is not None else ""
    return Exchange(method, url, status, request_headers or {}, request_body,
                    {"content-type": "application/json"}, text, 1.0, datetime.now(UTC))


VALIDATION = {"error": "validation_error", "error_description": "Request validation failed",
              "details": [{"type": "missing", "loc": ["body", "username"], "msg": "Field required"}]}


# ---------------------------------------------------------------------------------------- classification
def test_a_clean_refusal_breaks_nothing() -> None:
    assert classify(exchange(422, VALIDATION), negative=True) == []


def test_a_server_error_with_a_traceback_breaks_two_checks() -> None:
    body = {"error": "internal_server_error", "error_description": "boom",
            "traceback": 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f'}
    checks = [check for check, _ in classify(exchange(500, body), negative=False)]
    assert checks == ["server_error", "internals"]


def test_an_echoed_value_is_the_echo_check() -> None:
    body = {**VALIDATION, "details": [{**VALIDATION["details"][0], "input": "hunter2-secret"}]}
    assert [c for c, _ in classify(exchange(422, body), negative=True)] == ["echo"]


def test_a_success_for_invalid_data_is_a_finding_and_the_schema_is_asked_only_for_successes() -> None:
    asked: list[int] = []

    def schema_problem() -> str | None:
        asked.append(1)
        return "body is not an object"

    found = classify(exchange(200, {"ok": True}), negative=True, schema_problem=schema_problem)
    assert [c for c, _ in found] == ["accepted_invalid", "schema"]
    assert classify(exchange(404, {"detail": "Not Found"}), negative=True, schema_problem=schema_problem) == []
    assert asked == [1]
    assert classify(exchange(200, {"ok": True}), negative=False) == []


# ---------------------------------------------------------------------------------------- evidence
def test_the_minimal_request_is_redacted_and_shows_control_characters() -> None:
    ex = exchange(500, request_body="username=qqzz%00admin&password=S3cret-Value!",
                  request_headers={"Authorization": "Bearer abc.def.ghi",
                                   "Content-Type": "application/x-www-form-urlencoded"})
    text = render_request(ex, "a visitor", "username: null byte")
    assert "S3cret-Value!" not in text and "abc.def.ghi" not in text
    assert "username=qqzz%00admin" in text and "(as a visitor)" in text
    assert "(hostile values: username: null byte)" in text and text.endswith("--> 500")
    as_json = render_request(exchange(422, request_body='{"bio": "a\\u0000b", "password": "S3cret-Value!"}',
                                      request_headers={"Content-Type": "application/json"}), "the administrator")
    assert "\\u0000" in as_json and "S3cret-Value!" not in as_json


def test_each_finding_is_kept_once_per_operation_and_check_with_the_smallest_request() -> None:
    book = FindingBook()
    long = exchange(500, request_body="username=" + "a" * 300, request_headers={"Content-Type": "x"})
    short = exchange(500, request_body="username=%00", request_headers={"Content-Type": "x"})
    book.record("POST /api/v1/auth/token", "server_error", "answered 500", long, "a visitor", "S")
    book.record("POST /api/v1/auth/token", "server_error", "answered 500", short, "the administrator", "S")
    book.record("POST /api/v1/auth/token", "internals", "a traceback", long, "a visitor", "S")
    assert len(book.findings) == 2
    kept = book.findings[("POST /api/v1/auth/token", "server_error")]
    assert kept.count == 2 and "%00" in kept.request and kept.caller == "the administrator"
    assert {f.check for f in book.of_scenario("S")} == {"server_error", "internals"}
    assert book.of_scenario("another") == []


def test_findings_become_causes_without_double_quotes() -> None:
    book = FindingBook(replay="replay with PERMISO_FUZZ_SEED=7")
    ex = exchange(422, request_body='{"name": "x"}', request_headers={"Content-Type": "application/json"})
    book.record("POST /api/v1/roles/", "echo", "input echoed", ex, "the administrator", "F › S")
    (entry,) = book.cause_entries()
    assert entry["kind"] == FINDING and entry["defect"] == "D10" and entry["scenarios"] == ["F › S"]
    assert entry["cause"] == "POST /api/v1/roles/ echoes submitted values in an error answer"
    assert '"' not in entry["first"] and entry["first"].endswith("(replay with PERMISO_FUZZ_SEED=7)")


def test_undocumented_client_errors_are_one_note_for_the_run() -> None:
    book = FindingBook()
    assert book.schema_note() is None
    for operation in ("GET /a", "GET /b"):
        book.note_status(operation, 401, ["200", "422"])
    book.note_status("GET /a", 422, ["200", "422"])  # documented
    book.note_status("GET /a", 500, ["200", "422"])  # a server error is a finding, not a note
    book.note_status("GET /c", 404, ["200", "default"])  # "default" documents everything
    note = book.schema_note()
    assert note is not None
    counted = note.split("answer (")[1].split(")")[0]
    assert counted == "401 by 2 operations"


def test_the_summary_lists_each_finding_once_and_the_note_apart() -> None:
    summary = RunSummary()
    title = "Generated input › No operation of sign-in and tokens crashes on malformed input -- @1.1 "
    crash = "POST /x answers generated input with a server error (5xx)"
    summary.record("Generated input", ["security", "fuzz"], title.split(" › ")[1], [], "failed", 1.0,
                   cause=SimpleNamespace(kind=FINDING, cause=crash, defect=None, rule=None, error=False, message=""))
    summary.extra_causes = [{"cause": crash, "kind": FINDING,
                             "defect": None, "rule": "r", "scenarios": [title], "count": 3, "first": "POST /x",
                             "error": False, "known_defect": False, "notes": []},
                            {"cause": "POST /x reveals the server's internals", "kind": FINDING, "defect": "D10",
                             "rule": "r", "scenarios": [title], "count": 3, "first": "POST /x", "error": False,
                             "known_defect": False, "notes": []}]
    summary.notes = ["Note on the API schema: 401 by 2 operations"]
    causes = summary.causes()
    assert [c["kind"] for c in causes] == [FINDING, FINDING]
    page = render_markdown(summary)
    assert "- **finding** POST /x answers generated input with a server error (5xx): 3 answers" in page
    assert "## Notes (not failures)" in page and to_json(summary)["notes"] == summary.notes
    assert not summary.release_ready


def test_a_step_raising_findings_is_attributed_to_all_of_them() -> None:
    step = SimpleNamespace(status="failed", keyword="Then", name="x",
                           exception=Findings("2 findings", ["first cause", "second cause"]))
    cause = attribute_failure("F › S", [], "failed", [step])
    assert cause is not None and cause.kind == FINDING and cause.cause == "first cause"
    assert cause.also == ("second cause",)


# ---------------------------------------------------------------------------------------- policy
@pytest.mark.parametrize(("method", "path", "modes", "admin"), [
    ("GET", "/api/v1/users/", ("negative", "positive"), True),
    ("POST", "/api/v1/auth/token", ("negative", "positive"), True),
    ("POST", "/api/v1/users/", ("negative",), True),
    ("DELETE", "/api/v1/users/{user_id}", ("negative",), True),
    ("POST", "/api/v1/auth/logout", ("negative",), False),
    ("POST", "/api/v1/auth/revoke", ("negative",), False),
    ("DELETE", "/api/v1/sessions/", ("negative",), False),
    ("PUT", "/api/v1/users/me", ("negative",), False),
    ("GET", "/health", ("negative", "positive"), True),
])
def test_invalid_data_everywhere_valid_data_only_on_reads_and_never_the_admin_on_its_own_account(
        method: str, path: str, modes: tuple[str, ...], admin: bool) -> None:
    plan = fuzzing.plan_for(method, path, "/api/v1")
    assert plan.modes == modes
    assert (fuzzing.ADMIN in plan.callers) is admin and fuzzing.VISITOR in plan.callers


@pytest.mark.parametrize(("url", "local"), [("https://127.0.0.1:8443", True), ("https://localhost", True),
                                            ("http://[::1]:80", True), ("https://permiso.example.com", False),
                                            ("https://10.0.0.5", False)])
def test_only_a_target_on_this_machine_goes_unpaced(url: str, local: bool) -> None:
    assert fuzzing.is_loopback(url) is local


def test_a_request_naming_a_configured_account_is_never_sent() -> None:
    case = SimpleNamespace(path_parameters={}, query={"search": "ADMIN "}, body=None)
    assert fuzzing.names_protected(case, {"admin"})
    case = SimpleNamespace(path_parameters={"user_id": "x"}, query={}, body={"nested": [{"k": "dana"}]})
    assert not fuzzing.names_protected(case, {"admin"}) and fuzzing.names_protected(case, {"dana"})


class FakeIdentities:
    def __init__(self) -> None:
        self.tracked: list[tuple[str, str]] = []

    def track_user(self, user_id: str, username: str | None = None) -> None:
        self.tracked.append(("user", user_id))

    def track_client(self, client_id: str) -> None:
        self.tracked.append(("client", client_id))

    def track_role(self, role_id: str, name: str = "") -> None:
        self.tracked.append(("role", role_id))

    def track_scope(self, scope_id: str, name: str = "") -> None:
        self.tracked.append(("scope", scope_id))


def test_whatever_a_success_created_is_tracked_for_cleanup() -> None:
    identities = FakeIdentities()
    base = "https://127.0.0.1/api/v1"
    fuzzing.track_created(identities, exchange(201, {"id": "u1", "username": "x"}, url=f"{base}/users/"), "/api/v1")
    fuzzing.track_created(identities, exchange(201, {"client": {"client_id": "c1"}, "client_secret": "s"},
                                               url=f"{base}/service-clients/"), "/api/v1")
    fuzzing.track_created(identities, exchange(201, {"id": "s1", "name": "a:b"}, url=f"{base}/roles/scopes/"),
                          "/api/v1")
    fuzzing.track_created(identities, exchange(201, {"id": "r1", "name": "r"}, url=f"{base}/roles/"), "/api/v1")
    fuzzing.track_created(identities, exchange(422, VALIDATION, url=f"{base}/users/"), "/api/v1")
    fuzzing.track_created(identities, exchange(200, {"id": "u2", "username": "y"}, method="GET",
                                               url=f"{base}/users/u2"), "/api/v1")
    assert identities.tracked == [("user", "u1"), ("client", "c1"), ("scope", "s1"), ("role", "r1")]


def test_generated_bodies_go_out_as_text_without_registering_junk_secrets() -> None:
    before = redaction.registered_count()
    headers: dict[str, str] = {}
    assert fuzzing.encoded_body({"json": {"password": "Junk-Pass-123"}}, headers) == '{"password": "Junk-Pass-123"}'
    assert headers == {"Content-Type": "application/json"}
    assert fuzzing.encoded_body({"data": {"username": "a\x00b", "password": "x"}}, {}) == "username=a%00b&password=x"
    assert fuzzing.encoded_body({"data": b"\x00raw"}, {}) == b"\x00raw"
    assert redaction.registered_count() == before


def test_the_schema_copy_covers_every_router_and_the_dictionary_holds_the_release_crashes() -> None:
    spec = fuzzing.read_snapshot()
    schema = fuzzing.load_schema(spec)
    counts = {area: len(fuzzing.operations_of(schema, area, "/api/v1")) for area in fuzzing.AREAS}
    assert all(counts.values()) and sum(counts.values()) == sum(len(item) for item in spec["paths"].values())
    values = fuzzing.hostile_values()
    assert any("\x00" in v for v in values) and "1" + "0" * 30 in values
    assert {"body.username", "query.search", "query.page", "path.user_id"} <= fuzzing.parameter_names(spec)
    with pytest.raises(AssertionError, match="unknown area"):
        fuzzing.operations_of(schema, "the moon", "/api/v1")


def test_a_success_body_is_judged_against_the_documented_schema() -> None:
    schema = fuzzing.load_schema(fuzzing.read_snapshot())
    (operation,) = [op for op in fuzzing.operations_of(schema, "the user administration", "/api/v1")
                    if op.label == "GET /api/v1/users/{user_id}"]
    url = "https://127.0.0.1/api/v1/users/x"
    assert fuzzing.schema_problem(operation, exchange(200, {"id": "x"}, method="GET", url=url)) is None
    assert fuzzing.schema_problem(operation, exchange(200, ["not", "an", "object"], method="GET", url=url))


def test_each_operation_gets_its_share_of_the_time_left() -> None:
    assert fuzzing.budget_per_operation(100.0, 4, clock=lambda: 60.0) == 70.0
    assert fuzzing.budget_per_operation(50.0, 2, clock=lambda: 60.0) == 60.0


# ---------------------------------------------------------------------------------------- settings, opt-in
def test_fuzz_settings_have_defaults_and_bounds(clean_env: Path) -> None:
    s = Settings.load({}, env_file=None)
    assert (s.fuzz_examples, s.permiso_fuzz_examples, s.permiso_fuzz_seed) == (DEFAULT_FUZZ_EXAMPLES, None, None)
    assert Settings.load({"PERMISO_FUZZ_EXAMPLES": "", "PERMISO_FUZZ_SEED": ""}, env_file=None).fuzz_examples == 25
    s = Settings.load({"PERMISO_FUZZ_EXAMPLES": "3", "PERMISO_FUZZ_SECONDS": "5", "PERMISO_FUZZ_SEED": "42"},
                      env_file=None)
    assert (s.fuzz_examples, s.permiso_fuzz_seconds, s.permiso_fuzz_seed) == (3, 5.0, 42)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"PERMISO_FUZZ_EXAMPLES": "0"}, "setting PERMISO_FUZZ_EXAMPLES=0 (from -D) must be at least 1"),
    ({"PERMISO_FUZZ_SECONDS": "0"}, "setting PERMISO_FUZZ_SECONDS=0 (from -D) must be greater than 0"),
    ({"PERMISO_FUZZ_SEED": "abc"}, "setting PERMISO_FUZZ_SEED=abc (from -D) is not a whole number"),
    ({"PERMISO_FUZ_SEED": "1"}, "did you mean PERMISO_FUZZ_SEED?"),
])
def test_a_bad_fuzz_setting_is_one_line(clean_env: Path, overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(overrides, env_file=None)
    assert expected in str(info.value) and "\n" not in str(info.value)


class Expression:
    def check(self, tags: Any) -> bool:
        return "wip" not in tags

    def to_string(self) -> str:
        return "not @wip"


def test_fuzz_scenarios_run_only_when_asked_for(clean_env: Path) -> None:
    plain = Settings.load({}, env_file=None)
    asked = Settings.load({"PERMISO_FUZZ_EXAMPLES": "2"}, env_file=None)
    assert selection.fuzz_selected(SimpleNamespace(tags=["@fuzz"]), plain)
    assert not selection.fuzz_selected(SimpleNamespace(tags=["@security"]), plain)
    assert selection.fuzz_selected(SimpleNamespace(tags=None), asked)
    config = SimpleNamespace(tag_expression=Expression())
    selection.leave_out_fuzz(config)
    selection.leave_out_fuzz(config)  # idempotent
    assert config.tag_expression.check(["security"]) and not config.tag_expression.check(["security", "fuzz"])
    assert not config.tag_expression.check(["wip"]) and config.tag_expression.to_string() == "not @wip"


def test_hypothesis_keeps_its_caches_in_a_private_directory_removed_at_the_end_of_the_run() -> None:
    from hypothesis.configuration import set_hypothesis_home_dir

    from support.domains import fuzz_area

    try:
        fuzz_area._private_hypothesis_home()
        home = Path(fuzz_area._HYPOTHESIS_HOME or "")
        assert home.is_dir() and home.name.startswith("permiso-fuzz-")
    finally:
        fuzz_area.reset()
        set_hypothesis_home_dir(None)
    assert not home.exists() and fuzz_area._HYPOTHESIS_HOME is None
