"""Unit tests of support/domains/hygiene.py, hygiene_rules.py and security_checks.py: the hygiene watch, its
rules, and the security matchers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from support.checks.error_matchers import does_not_echo, reveals_nothing_internal
from support.checks.matchers import SECURITY_HEADERS
from support.domains import hygiene, hygiene_rules
from support.domains import security_checks as sc
from support.wire.evidence import ApiResponse, Exchange

GOOD_HEADERS = {**SECURITY_HEADERS, "Strict-Transport-Security": "max-age=63072000",
                "Content-Type": "application/json"}


def exchange(status: int = 200, headers: dict[str, str] | None = None, body: Any = None,
             url: str = "https://127.0.0.1:8443/api/v1/users/me", request_headers: dict[str, str] | None = None,
             method: str = "GET") -> Exchange:
    text = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
    return Exchange(method=method, url=url, status=status, request_headers=request_headers or {},
                    request_body=None, response_headers=dict(GOOD_HEADERS if headers is None else headers),
                    response_text=text, elapsed_ms=1.0, started_at=datetime.now(UTC))


def response(status: int = 200, headers: dict[str, str] | None = None, body: Any = None, **kw: Any) -> ApiResponse:
    ex = exchange(status, headers, body, **kw)
    return ApiResponse(status=status, headers=CaseInsensitiveDict(ex.response_headers), body=ex.json(),
                       text=ex.response_text, elapsed_ms=1.0, exchange=ex)


# ---------------------------------------------------------------------------------------- rules
def test_a_clean_answer_has_no_problem() -> None:
    assert hygiene_rules.exchange_problems(exchange()) == []


def test_missing_or_wrong_security_headers_are_named() -> None:
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "X-Frame-Options"}
    headers["X-Content-Type-Options"] = "sniff"
    problems = hygiene_rules.exchange_problems(exchange(headers=headers))
    assert "no X-Frame-Options" in problems
    assert any(p.startswith("X-Content-Type-Options was") for p in problems)


def test_hsts_is_required_on_https_only() -> None:
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "Strict-Transport-Security"}
    assert "no Strict-Transport-Security on HTTPS" in hygiene_rules.exchange_problems(exchange(headers=headers))
    assert hygiene_rules.exchange_problems(exchange(headers=headers, url="http://127.0.0.1:8080/health")) == []


@pytest.mark.parametrize(("name", "value", "leaks"), [
    ("Server", "uvicorn", True), ("Server", "nginx/1.22.1", True), ("Server", "nginx", False),
    ("X-Powered-By", "FastAPI 0.110.0", True), ("Server", "gunicorn", True),
])
def test_server_software_and_versions_are_leaks(name: str, value: str, leaks: bool) -> None:
    assert bool(hygiene_rules.version_leak_problems({name: value})) is leaks


def test_error_bodies_with_internals_are_problems_but_success_bodies_are_not_scanned() -> None:
    leak = {"error": "internal_server_error",
            "traceback": 'Traceback (most recent call last):\n  File "/app/x.py", line 3'}
    assert any("traceback" in p for p in hygiene_rules.exchange_problems(exchange(500, body=leak)))
    assert hygiene_rules.exchange_problems(exchange(200, body={"bio": "Traceback (most recent call last)"})) == []


def test_cors_with_credentials_for_a_foreign_or_any_origin_is_a_finding() -> None:
    reflected = {**GOOD_HEADERS, "Access-Control-Allow-Origin": "https://evil.example",
                 "Access-Control-Allow-Credentials": "true"}
    assert hygiene_rules.exchange_problems(exchange(headers=reflected, request_headers={"Origin": "https://evil.example"}))
    wildcard = {**GOOD_HEADERS, "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}
    assert hygiene_rules.exchange_problems(exchange(headers=wildcard))
    public = {**GOOD_HEADERS, "Access-Control-Allow-Origin": "*"}
    assert hygiene_rules.exchange_problems(exchange(headers=public)) == []


# ---------------------------------------------------------------------------------------- watch and hook
def context(tags: tuple[str, ...] = (), scan: bool = True) -> Any:
    return SimpleNamespace(scenario=SimpleNamespace(effective_tags=list(tags)),
                           settings=SimpleNamespace(security_scan_enabled=scan))


def step(status: str = "passed") -> Any:
    return SimpleNamespace(status=SimpleNamespace(name=status))


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> hygiene.HygieneWatch:
    fresh = hygiene.HygieneWatch()
    monkeypatch.setattr(hygiene, "WATCH", fresh)
    return fresh


def _tally(watch: hygiene.HygieneWatch, rule: str) -> tuple[int, int]:
    t = watch.tallies[rule]
    return t.checked, t.violations


def test_the_hook_never_fails_a_step_it_records_the_violation_under_its_rule(watch: hygiene.HygieneWatch) -> None:
    watch(exchange(headers={}))
    hygiene.after_step(context(), step())  # no exception: the watch reports, it never fails a scenario
    assert watch.checked == 1
    assert _tally(watch, "security_headers") == (1, 1)
    hygiene.after_step(context(), step())  # judged once
    assert watch.checked == 1


def test_every_cross_cutting_rule_is_recorded_with_its_defect(watch: hygiene.HygieneWatch) -> None:
    plain = {**GOOD_HEADERS}
    watch(exchange(401, body={"error": "http_error", "error_description": "Not authenticated"}))
    watch(exchange(429, body={"error": "rate_limit_exceeded", "error_description": "slow"}, method="POST",
                   url="https://127.0.0.1:8443/api/v1/users/register"))
    watch(exchange(200, body={"access_token": "x"}, method="POST", url="https://127.0.0.1:8443/api/v1/auth/refresh"))
    watch(exchange(409, body={"detail": "Username already exists"}, method="POST"))
    echo = exchange(422, method="POST", body={"error": "validation_error", "error_description": "x",
                                             "details": [{"type": "t", "loc": ["body"], "msg": "m", "input": "i"}]})
    echo.request_body = {"password": "Plain-Pa55word!"}
    watch(echo)
    watch(exchange(500, body={"error": "internal_server_error", "error_description": "x",
                              "traceback": 'Traceback (most recent call last):\n  File "/app/x.py", line 3'}))
    watch(exchange(headers={**plain, "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}))
    watch(exchange(headers={**plain, "Server": "uvicorn"}))
    redirect = exchange(301, headers={k: v for k, v in plain.items() if k != "Permissions-Policy"},
                        url="http://127.0.0.1:8080/api/v1/auth/token")
    watch(redirect)
    front = exchange(400, headers={"Strict-Transport-Security": "max-age=1", "Content-Type": "text/html"},
                     body="<html>400 Bad Request</html>")
    watch(front)
    hygiene.after_step(context(), step())
    broken = {t.rule.id: t for t in watch.broken()}
    assert set(broken) == {"bearer_challenge", "retry_after", "no_store", "error_shape", "no_echo", "no_internals",
                           "no_open_cors", "no_server_software", "security_headers"}
    assert broken["bearer_challenge"].defect == "D9" and broken["retry_after"].defect == "D9"
    assert broken["no_store"].defect == "D28" and broken["no_echo"].defect == "D10"
    assert broken["no_open_cors"].defect == "D16" and broken["error_shape"].defect is None
    assert broken["security_headers"].violations == 2
    assert set(broken["security_headers"].defects) == {"D32", "F1"}
    assert _tally(watch, "no_store") == (1, 1)  # only the token answer is checked for no-store
    assert _tally(watch, "retry_after") == (1, 1)


def test_examples_are_few_and_redacted(watch: hygiene.HygieneWatch) -> None:
    for _ in range(5):
        watch(exchange(401, body={"error": "http_error", "error_description": "x"},
                       url="https://127.0.0.1:8443/api/v1/users/me?access_token=eyJabc.eyJdef.sig"))
    hygiene.after_step(context(), step())
    tally = watch.tallies["bearer_challenge"]
    assert tally.violations == 5 and len(tally.examples) == 3
    example = tally.examples[0].as_example()
    assert example["method"] == "GET" and example["status"] == 401 and "WWW-Authenticate" in example["problem"]
    assert "eyJdef" not in str(watch.rule_records())


def test_the_scenario_of_a_violation_is_remembered(watch: hygiene.HygieneWatch) -> None:
    hygiene.scenario_started(context(), SimpleNamespace(name="S1", feature=SimpleNamespace(name="F"),
                                                        effective_tags=[]))
    watch(exchange(headers={}))
    hygiene.scenario_started(context(), SimpleNamespace(name="S2", feature=SimpleNamespace(name="F"),
                                                        effective_tags=[]))
    assert watch.tallies["security_headers"].scenarios == ["F › S1"]


def test_the_exempt_tag_keeps_a_scenario_out_of_the_watch(watch: hygiene.HygieneWatch) -> None:
    hygiene.scenario_started(context(), SimpleNamespace(name="S", feature=SimpleNamespace(name="F"),
                                                        effective_tags=[hygiene.EXEMPT_TAG]))
    watch(exchange(headers={}))
    hygiene.after_step(context(tags=(hygiene.EXEMPT_TAG,)), step())
    assert watch.checked == 0 and not watch.broken()


def test_retried_front_pages_are_not_judged_even_when_marked_after_publication(watch: hygiene.HygieneWatch) -> None:
    page = exchange(503, headers={"Content-Type": "text/html"}, body="<html>busy</html>")
    watch(page)  # the client publishes first ...
    page.retried = True  # ... and marks the page retried when it tries again
    assert watch.drain() == [] and watch.checked == 0


def test_answers_of_other_hosts_are_not_judged(watch: hygiene.HygieneWatch) -> None:
    watch.hosts = hygiene.target_hosts(SimpleNamespace(permiso_base_url="https://127.0.0.1:8443",
                                                       permiso_http_url="http://127.0.0.1:8080"))
    watch(exchange(headers={}, url="https://elsewhere.example/x"))
    watch(exchange(headers={}, url="http://127.0.0.1:8080/health"))
    hygiene.after_step(context(), step())
    assert watch.checked == 1


def test_reset_forgets_and_records_list_every_rule(watch: hygiene.HygieneWatch) -> None:
    watch(exchange(headers={}))
    records = watch.rule_records()
    assert [r["id"] for r in records] == [rule.id for rule in hygiene_rules.RULES]
    assert next(r for r in records if r["id"] == "security_headers")["violations"] == 1
    watch.reset()
    assert all(r["checked"] == 0 for r in watch.rule_records())


def test_findings_are_redacted() -> None:
    finding = hygiene.Finding("GET https://x/api?token=eyJabc.eyJdef.sig -> 500", ("the body contains eyJa.eyJb.c",))
    assert "eyJdef" not in finding.render() and "eyJb" not in finding.render()


def test_every_rule_names_a_clause_and_known_defects() -> None:
    from support.checks.causes import DEFECTS

    for rule in hygiene_rules.RULES:
        assert rule.text and rule.clause.startswith("A.") and rule.tag.startswith("contract.A")
        assert all(d in DEFECTS for d in rule.defects), rule.id


# ---------------------------------------------------------------------------------------- capabilities
def test_rate_limit_capability() -> None:
    settings = SimpleNamespace()
    assert hygiene.rate_limit_reason(settings, SimpleNamespace(embedded=True), {"tls_front": None})
    assert hygiene.rate_limit_reason(settings, SimpleNamespace(embedded=False), {"tls_front": None}) is None
    assert hygiene.rate_limit_reason(settings, SimpleNamespace(embedded=False), {"tls_front": "no front"})
    assert hygiene.rate_limit_reason(SimpleNamespace(permiso_auth_rate_limited=True), SimpleNamespace(embedded=True),
                                     {}) is None


def test_install_adds_the_capability(watch: hygiene.HygieneWatch) -> None:
    ctx = SimpleNamespace(capabilities={"tls_front": None}, target=SimpleNamespace(embedded=False),
                          settings=SimpleNamespace())
    hygiene.install(ctx)
    try:
        assert ctx.capabilities[hygiene.AUTH_RATE_LIMIT] is None
    finally:
        watch.unsubscribe()




# ---------------------------------------------------------------------------------------- matchers
def test_client_refusal() -> None:
    assert sc.is_client_refusal().matches(response(422, body={"error": "validation_error"}))
    assert not sc.is_client_refusal().matches(response(500, body={"error": "internal_server_error"}))
    assert not sc.is_client_refusal().matches(response(200, body={}))
    # what the refusal reveals is the internals rule's, not this one's
    assert sc.is_client_refusal().matches(response(400, body={"error": "x", "error_description": "KeyError: 'a'"}))
    assert not reveals_nothing_internal().matches(
        response(400, body={"error": "x", "error_description": "KeyError: 'a'"}))


def test_search_finds_nobody_or_refuses() -> None:
    assert sc.finds_nobody_or_refuses().matches(response(200, body={"users": []}))
    assert sc.finds_nobody_or_refuses().matches(response(422, body={"error": "validation_error"}))
    assert not sc.finds_nobody_or_refuses().matches(response(200, body={"users": [{"id": "1"}]}))
    assert not sc.finds_nobody_or_refuses().matches(response(500, body={}))


def test_introspection_matcher() -> None:
    assert sc.introspects_as(False).matches(response(body={"active": False, "sub": None}))
    assert not sc.introspects_as(False).matches(response(body={"active": False, "sub": "u1"}))
    assert sc.introspects_as(True).matches(response(body={"active": True, "sub": "u1"}))
    assert not sc.introspects_as(True).matches(response(body={"active": False}))


def test_reveals_nothing_internal() -> None:
    plain = {"error": "internal_server_error", "error_description": "An internal server error occurred"}
    assert reveals_nothing_internal().matches(response(500, body=plain))
    assert not reveals_nothing_internal().matches(response(500, body={**plain, "traceback": "x"}))
    d2 = {"error": "internal_error", "error_description": "An internal error occurred: can't compare "
          "offset-naive and offset-aware datetimes", "traceback": "Traceback (most recent call last): ..."}
    assert not reveals_nothing_internal().matches(response(500, body=d2))


def test_redirect_keeping_the_path() -> None:
    ok = response(301, headers={**GOOD_HEADERS, "Location": "https://127.0.0.1/api/v1/users/me"}, body="<html/>")
    assert sc.a_redirect_keeping("/api/v1/users/me", "127.0.0.1").matches(ok)
    assert not sc.a_redirect_keeping("/api/v1/auth/token", "127.0.0.1").matches(ok)
    assert not sc.a_redirect_keeping("/api/v1/users/me", "127.0.0.1").matches(response(401, body={"error": "x"}))


# ---------------------------------------------------------------------------------------- probes
def test_bursts_are_bounded_and_judged() -> None:
    calls: list[int] = []

    def attempt() -> ApiResponse:
        calls.append(1)
        return response(503 if len(calls) > 5 else 401, body="<html/>" if len(calls) > 5 else {"error": "x"})

    burst = sc.fire_burst(attempt, 12, workers=3)
    assert len(calls) == 12 and len(burst.limited) == 7
    assert sc.hits_the_limit_within(60).matches(burst)
    assert not sc.hits_the_limit_within(60).matches(sc.Burst([response(401, body={})], 0.1))
    assert sc.burst_size(10) == 2 * sc.FRONT_AUTH_BURST and sc.burst_size(50) == 50


def test_timing_comparison_catches_a_side_channel_and_tolerates_noise() -> None:
    def answering(ms: float) -> Any:
        def call() -> ApiResponse:
            answer = response(401, body={"error": "invalid_grant"})
            answer.elapsed_ms = ms
            return answer
        return call

    slow = iter([30.0 + (i % 5) for i in range(100)])
    fast = iter([1.0 + (i % 5) for i in range(100)])
    same_a = iter([5.0 + (i % 7) for i in range(100)])
    same_b = iter([5.0 + ((i + 3) % 7) for i in range(100)])

    different, answers = sc.compare_sign_in_timings(lambda: answering(next(slow))(), lambda: answering(next(fast))())
    assert different.distinguishable and len(answers) == 2 * sc.TIMING_PAIRS
    assert not sc.timings_indistinguishable().matches(different)
    same, _ = sc.compare_sign_in_timings(lambda: answering(next(same_a))(), lambda: answering(next(same_b))())
    assert sc.timings_indistinguishable().matches(same)


def test_payloads_are_named_or_literal() -> None:
    assert sc.payload("null byte").count("\x00") == 1
    assert sc.payload("something else") == "something else"
    assert len(sc.payload("huge (100 000 characters)")) == 100_000


# ---------------------------------------------------------------------------------------- one-time tokens
class _RecordingClient:
    """Stands in for PermisoClient: records the one-time-token calls and answers ``answer``."""

    def __init__(self, answer: ApiResponse) -> None:
        self.answer = answer
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def request_password_reset(self, email: str) -> ApiResponse:
        self.calls.append(("request_password_reset", (email,)))
        return response(200, body={"message": "sent if registered"})

    def confirm_password_reset(self, token: str, new_password: str) -> ApiResponse:
        self.calls.append(("confirm_password_reset", (token, new_password)))
        return self.answer

    def request_email_verification(self, email: str) -> ApiResponse:
        self.calls.append(("request_email_verification", (email,)))
        return response(200, body={"message": "sent if registered"})

    def confirm_email_verification(self, token: str) -> ApiResponse:
        self.calls.append(("confirm_email_verification", (token,)))
        return self.answer


@pytest.mark.parametrize(("purpose", "request_call", "confirm_call"), [
    ("password reset", "request_password_reset", "confirm_password_reset"),
    ("email verification", "request_email_verification", "confirm_email_verification"),
])
def test_a_made_up_token_is_confirmed_after_a_genuine_request(purpose: str, request_call: str,
                                                              confirm_call: str) -> None:
    refusal = response(400, body={"error": "invalid_token", "error_description": "Invalid or expired token"})
    client = _RecordingClient(refusal)
    answer, token = sc.confirm_with_made_up_token(client, purpose, "dana@example.com")  # type: ignore[arg-type]
    assert answer is refusal
    assert [name for name, _ in client.calls] == [request_call, confirm_call]
    assert client.calls[0][1] == ("dana@example.com",)
    assert client.calls[1][1][0] == token and len(token) >= 32


def test_an_unknown_one_time_purpose_is_named() -> None:
    with pytest.raises(AssertionError, match="known: password reset, email verification"):
        sc.confirm_with_made_up_token(_RecordingClient(response()), "magic link", "x@example.com")  # type: ignore[arg-type]


def test_refused_as_invalid_token_needs_400_invalid_token_only() -> None:
    good = response(400, body={"error": "invalid_token", "error_description": "Invalid or expired token"})
    assert sc.refused_as_invalid_token("forged-token").matches(good)
    d11 = response(500, body={"error": "internal_server_error", "error_description": ""})
    assert not sc.refused_as_invalid_token().matches(d11)
    # echo and internals are run-wide rules with their own scenarios, not this refusal's
    echoed = response(400, body={"error": "invalid_token", "error_description": "bad token forged-token"})
    assert sc.refused_as_invalid_token("forged-token").matches(echoed)
    assert not does_not_echo("forged-token").matches(echoed)
    other = response(400, body={"error": "invalid_request", "error_description": "no"})
    assert not sc.refused_as_invalid_token().matches(other)


def test_a_rule_names_the_defect_most_of_its_violations_show(watch: hygiene.HygieneWatch) -> None:
    app = {k: v for k, v in GOOD_HEADERS.items() if k != "X-Frame-Options"}  # a JSON answer of the app
    for _ in range(3):
        watch(exchange(headers=app))
    watch(exchange(301, headers=app, url="http://127.0.0.1:8080/health"))
    hygiene.after_step(context(), step())
    tally = watch.tallies["security_headers"]
    assert tally.violations == 4 and tally.defect is None, "most were no Part C defect"
    assert tally.defects["D32"] == 1
