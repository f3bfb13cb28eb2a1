"""Unit tests of support/security_checks.py: the hygiene watch, its rules, and the security matchers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from support import security_checks as sc
from support.client import ApiResponse, Exchange
from support.matchers import SECURITY_HEADERS

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
    assert sc.exchange_problems(exchange()) == []


def test_missing_or_wrong_security_headers_are_named() -> None:
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "X-Frame-Options"}
    headers["X-Content-Type-Options"] = "sniff"
    problems = sc.exchange_problems(exchange(headers=headers))
    assert "no X-Frame-Options" in problems
    assert any(p.startswith("X-Content-Type-Options was") for p in problems)


def test_hsts_is_required_on_https_only() -> None:
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "Strict-Transport-Security"}
    assert "no Strict-Transport-Security on HTTPS" in sc.exchange_problems(exchange(headers=headers))
    assert sc.exchange_problems(exchange(headers=headers, url="http://127.0.0.1:8080/health")) == []


@pytest.mark.parametrize(("name", "value", "leaks"), [
    ("Server", "uvicorn", True), ("Server", "nginx/1.22.1", True), ("Server", "nginx", False),
    ("X-Powered-By", "FastAPI 0.110.0", True), ("Server", "gunicorn", True),
])
def test_server_software_and_versions_are_leaks(name: str, value: str, leaks: bool) -> None:
    assert bool(sc.version_leak_problems({name: value})) is leaks


def test_error_bodies_with_internals_are_findings_but_success_bodies_are_not_scanned() -> None:
    leak = {"error": "internal_server_error",
            "traceback": 'Traceback (most recent call last):\n  File "/app/x.py", line 3'}
    assert any("traceback" in p for p in sc.exchange_problems(exchange(500, body=leak)))
    assert sc.exchange_problems(exchange(200, body={"bio": "Traceback (most recent call last)"})) == []


def test_cors_with_credentials_for_a_foreign_or_any_origin_is_a_finding() -> None:
    reflected = {**GOOD_HEADERS, "Access-Control-Allow-Origin": "https://evil.example",
                 "Access-Control-Allow-Credentials": "true"}
    assert sc.exchange_problems(exchange(headers=reflected, request_headers={"Origin": "https://evil.example"}))
    wildcard = {**GOOD_HEADERS, "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}
    assert sc.exchange_problems(exchange(headers=wildcard))
    public = {**GOOD_HEADERS, "Access-Control-Allow-Origin": "*"}
    assert sc.exchange_problems(exchange(headers=public)) == []


# ---------------------------------------------------------------------------------------- watch and hook
def context(tags: tuple[str, ...] = (), scan: bool = True) -> Any:
    return SimpleNamespace(scenario=SimpleNamespace(effective_tags=list(tags)),
                           settings=SimpleNamespace(security_scan_enabled=scan))


def step(status: str = "passed") -> Any:
    return SimpleNamespace(status=SimpleNamespace(name=status))


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> sc.HygieneWatch:
    fresh = sc.HygieneWatch()
    monkeypatch.setattr(sc, "WATCH", fresh)
    return fresh


def test_the_hook_fails_the_step_that_saw_a_bad_answer_and_then_forgets_it(watch: sc.HygieneWatch) -> None:
    watch(exchange(headers={}))
    with pytest.raises(AssertionError, match="run-wide security hygiene"):
        sc.after_step(context(), step())
    sc.after_step(context(), step())  # drained: the next step is not blamed
    assert watch.checked == 1


def test_a_clean_answer_passes_the_hook(watch: sc.HygieneWatch) -> None:
    watch(exchange())
    sc.after_step(context(), step())


def test_the_exempt_tag_and_the_scan_switch_keep_the_step_green(watch: sc.HygieneWatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    watch(exchange(headers={}))
    sc.after_step(context(tags=(sc.EXEMPT_TAG,)), step())
    watch(exchange(headers={}))
    sc.after_step(context(scan=False), step())
    assert "SECURITY_SCAN_ENABLED=false" in capsys.readouterr().out


def test_a_step_that_failed_already_keeps_its_own_failure(watch: sc.HygieneWatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    watch(exchange(headers={}))
    sc.after_step(context(), step("failed"))
    assert "run-wide" in capsys.readouterr().out


def test_retried_front_pages_are_not_judged(watch: sc.HygieneWatch) -> None:
    page = exchange(503, headers={"Content-Type": "text/html"}, body="<html>busy</html>")
    page.retried = True
    watch(page)
    assert watch.drain() == [] and watch.checked == 0


def test_findings_are_redacted() -> None:
    finding = sc.Finding("GET https://x/api?token=eyJabc.eyJdef.sig -> 500", ("the body contains eyJa.eyJb.c",))
    assert "eyJdef" not in finding.render() and "eyJb" not in finding.render()


# ---------------------------------------------------------------------------------------- capabilities
def test_rate_limit_capability() -> None:
    settings = SimpleNamespace()
    assert sc.rate_limit_reason(settings, SimpleNamespace(embedded=True), {"tls_front": None})
    assert sc.rate_limit_reason(settings, SimpleNamespace(embedded=False), {"tls_front": None}) is None
    assert sc.rate_limit_reason(settings, SimpleNamespace(embedded=False), {"tls_front": "no front"})
    assert sc.rate_limit_reason(SimpleNamespace(permiso_auth_rate_limited=True), SimpleNamespace(embedded=True),
                                {}) is None


def test_install_adds_the_capability(watch: sc.HygieneWatch) -> None:
    ctx = SimpleNamespace(capabilities={"tls_front": None}, target=SimpleNamespace(embedded=False),
                          settings=SimpleNamespace())
    sc.install(ctx)
    try:
        assert ctx.capabilities[sc.AUTH_RATE_LIMIT] is None
    finally:
        watch.unsubscribe()




# ---------------------------------------------------------------------------------------- matchers
def test_client_refusal() -> None:
    assert sc.is_client_refusal().matches(response(422, body={"error": "validation_error"}))
    assert not sc.is_client_refusal().matches(response(500, body={"error": "internal_server_error"}))
    assert not sc.is_client_refusal().matches(response(200, body={}))


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


def test_reveals_nothing_internal_requires_the_plain_500_shape() -> None:
    plain = {"error": "internal_server_error", "error_description": "An internal server error occurred"}
    assert sc.reveals_nothing_internal().matches(response(500, body=plain))
    assert not sc.reveals_nothing_internal().matches(response(500, body={**plain, "traceback": "x"}))


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


def test_refused_as_invalid_token_needs_400_invalid_token_without_leak_or_echo() -> None:
    good = response(400, body={"error": "invalid_token", "error_description": "Invalid or expired token"})
    assert sc.refused_as_invalid_token("forged-token").matches(good)
    d11 = response(500, body={"error": "internal_server_error", "error_description": ""})
    assert not sc.refused_as_invalid_token().matches(d11)
    echoed = response(400, body={"error": "invalid_token", "error_description": "bad token forged-token"})
    assert not sc.refused_as_invalid_token("forged-token").matches(echoed)
    leaky = response(400, body={"error": "invalid_token",
                                "error_description": "Traceback (most recent call last): KeyError: x"})
    assert not sc.refused_as_invalid_token().matches(leaky)
    other = response(400, body={"error": "invalid_request", "error_description": "no"})
    assert not sc.refused_as_invalid_token().matches(other)
