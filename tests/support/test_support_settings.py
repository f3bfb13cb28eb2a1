"""Settings: every env name with its default, precedence -D > env > .env > defaults, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from support.wire import redaction
from support.wire.settings import SECRET_FIELDS, Settings, SettingsError

GUIDE_DEFAULTS = {
    "PERMISO_API_BASE": "/api/v1",
    "TEST_ADMIN_USERNAME": "admin",
    "TEST_ADMIN_EMAIL": "admin@example.com",
    "TEST_USER_USERNAME": "testuser",
    "TEST_USER_EMAIL": "testuser@example.com",
    "TEST_CLIENT_ID": "test-client-001",
    "TEST_CONCURRENT_USERS": "100",
    "TEST_DURATION_SECONDS": "300",
    "TEST_TIMEOUT_SECONDS": "30.0",
    "TEST_RETRY_ATTEMPTS": "3",
    "TEST_RETRY_DELAY": "1.0",
    "PERF_HEALTH_THRESHOLD_MS": "100.0",
    "PERF_AUTH_THRESHOLD_MS": "500.0",
    "PERF_CRUD_THRESHOLD_MS": "1000.0",
    "PERF_ADMIN_THRESHOLD_MS": "2000.0",
    "RATE_LIMIT_TEST_REQUESTS": "10",
    "RATE_LIMIT_TEST_WINDOW": "60",
    "SECURITY_SCAN_ENABLED": "true",
    "TEST_VERIFY_SSL": "false",
    "TEST_SSL_CERT_PATH": "",
    "PERMISO_BASE_URL": "",
    "PERMISO_HTTP_URL": "",
    "PERMISO_LOCKOUT_THRESHOLD": "5",
    "PERMISO_LOCKOUT_MINUTES": "15.0",
    "PERMISO_AUTH_RATE_PER_SECOND": "4.0",
    "PERMISO_CONTAINERS": "permiso-app-1,permiso-postgres-prod,permiso-redis-prod,permiso-nginx-prod",
    "PERMISO_PERF_SAMPLES": "20",
}


def test_every_guide_name_has_its_default(clean_env: Path) -> None:
    values = Settings.load(env_file=None).redacted()
    for name, default in GUIDE_DEFAULTS.items():
        assert values[name] == default, name
    for secret in ("TEST_ADMIN_PASSWORD", "TEST_USER_PASSWORD", "TEST_CLIENT_SECRET"):
        assert values[secret] == redaction.MASK


def test_credential_defaults_are_the_guides(clean_env: Path) -> None:
    s = Settings.load(env_file=None)
    assert s.test_admin_password.get_secret_value() == "AdminPass123!"
    assert s.test_user_password.get_secret_value() == "TestPass123!"
    assert s.test_client_secret.get_secret_value() == "test-secret-123456789"
    assert s.embedded and s.permiso_jwt_secret is None
    assert len(s.permiso_run_id) == 6 and int(s.permiso_run_id, 16) >= 0


def test_precedence_override_env_dotenv_default(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text(
        "TEST_TIMEOUT_SECONDS=11\nTEST_RETRY_ATTEMPTS=7\nPERF_AUTH_THRESHOLD_MS=42\nTEST_VERIFY_SSL=true\n"
    )
    monkeypatch.setenv("TEST_RETRY_ATTEMPTS", "8")
    monkeypatch.setenv("PERF_AUTH_THRESHOLD_MS", "43")
    s = Settings.load({"perf_auth_threshold_ms": "44"})
    assert s.test_timeout_seconds == 11  # .env beats default
    assert s.test_retry_attempts == 8  # env beats .env
    assert s.perf_auth_threshold_ms == 44  # -D beats env
    assert s.test_verify_ssl is True
    assert s.perf_crud_threshold_ms == 1000  # default


def test_override_names_are_case_insensitive_and_unknown_ignored(clean_env: Path) -> None:
    s = Settings.load({"PERMISO_BASE_URL": "https://permiso.example.com/", "Test_Retry_Delay": "0.5",
                       "AllureFormatter.hide_excluded": "True"}, env_file=None)
    assert s.permiso_base_url == "https://permiso.example.com"
    assert s.api_url == "https://permiso.example.com/api/v1"
    assert s.test_retry_delay == 0.5
    assert not s.embedded


def test_containers_are_comma_separated_in_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERMISO_CONTAINERS", "a-1, b ,c")
    assert Settings.load(env_file=None).permiso_containers == ["a-1", "b", "c"]


def test_secrets_are_secretstr_registered_and_never_described(clean_env: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ADMIN_PASSWORD", "Sup3r$ecretAdm1n")
    monkeypatch.setenv("PERMISO_JWT_SECRET", "jwt-signing-key-0123456789")
    s = Settings.load(env_file=None)
    assert isinstance(s.test_admin_password, SecretStr)
    assert {"test_admin_password", "test_user_password", "test_client_secret",
            "permiso_jwt_secret"} <= SECRET_FIELDS
    text = s.describe() + repr(s) + str(s.redacted())
    assert "Sup3r$ecretAdm1n" not in text and "jwt-signing-key-0123456789" not in text
    # registered at load: masked in any free text from now on
    assert redaction.redact_text("oops Sup3r$ecretAdm1n leaked") == "oops *** leaked"


def test_with_target_points_a_copy_at_the_embedded_server(clean_env: Path) -> None:
    s = Settings.load(env_file=None)
    t = s.with_target("https://127.0.0.1:8443", "http://127.0.0.1:8080", "embedded-jwt-secret-xyz",
                      permiso_auth_rate_per_second=50)
    assert s.embedded and not t.embedded
    assert t.api_url == "https://127.0.0.1:8443/api/v1"
    assert t.permiso_http_url == "http://127.0.0.1:8080"
    assert t.permiso_jwt_secret is not None
    assert t.permiso_jwt_secret.get_secret_value() == "embedded-jwt-secret-xyz"
    assert t.permiso_auth_rate_per_second == 50
    assert t.permiso_run_id == s.permiso_run_id
    assert redaction.redact_text("embedded-jwt-secret-xyz") == redaction.MASK


def test_base_url_missing_is_a_clear_error(clean_env: Path) -> None:
    with pytest.raises(RuntimeError, match="PERMISO_BASE_URL"):
        _ = Settings.load(env_file=None).api_url


def test_verify_uses_cert_path_only_when_verifying(clean_env: Path) -> None:
    assert Settings.load({"TEST_SSL_CERT_PATH": "/ca.pem"}, env_file=None).verify is False
    assert Settings.load({"TEST_VERIFY_SSL": "true"}, env_file=None).verify is True
    assert Settings.load({"TEST_VERIFY_SSL": "1", "TEST_SSL_CERT_PATH": "/ca.pem"},
                         env_file=None).verify == "/ca.pem"


def test_faults_and_protected_accounts(clean_env: Path) -> None:
    s = Settings.load({"PERMISO_REFERENCE_FAULTS": "revoke_noop, slow_health"}, env_file=None)
    assert s.faults == {"revoke_noop", "slow_health"}
    assert s.protected_usernames == {"admin", "testuser"}
    assert s.protected_client_ids == {"test-client-001"}


# ------------------------------------------------------------------ validation in one place (SettingsError)
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"PERMISO_PERF_SAMPLES": "abc"}, "setting PERMISO_PERF_SAMPLES=abc (from -D) is not a whole number"),
        ({"PERMISO_PERF_SAMPLES": "0"}, "setting PERMISO_PERF_SAMPLES=0 (from -D) must be at least 1"),
        ({"TEST_TIMEOUT_SECONDS": "-1"}, "TEST_TIMEOUT_SECONDS=-1 (from -D) must be greater than 0"),
        ({"TEST_RETRY_ATTEMPTS": "-1"}, "TEST_RETRY_ATTEMPTS=-1 (from -D) must be at least 0"),
        ({"TEST_RETRY_DELAY": "-0.5"}, "TEST_RETRY_DELAY=-0.5 (from -D) must be at least 0"),
        ({"PERF_AUTH_THRESHOLD_MS": "0"}, "PERF_AUTH_THRESHOLD_MS=0 (from -D) must be greater than 0"),
        ({"RATE_LIMIT_TEST_WINDOW": "0"}, "RATE_LIMIT_TEST_WINDOW=0 (from -D) must be at least 1"),
        ({"TEST_CONCURRENT_USERS": "1e9"}, "TEST_CONCURRENT_USERS=1e9 (from -D) is not a whole number"),
        ({"PERMISO_LOCKOUT_THRESHOLD": "0"}, "PERMISO_LOCKOUT_THRESHOLD=0 (from -D) must be at least 1"),
        ({"TEST_VERIFY_SSL": "maybe"}, "TEST_VERIFY_SSL=maybe (from -D) is not true or false"),
        ({"PERMISO_BASE_URL": "localhost:9"},
         "PERMISO_BASE_URL=localhost:9 (from -D) has no http:// or https:// scheme (did you mean https://localhost:9?)"),
        ({"PERMISO_HTTP_URL": "ftp://host"}, "PERMISO_HTTP_URL=ftp://host (from -D) must start with http:// or https://"),
        ({"PERMISO_BASE_URL": "https://"}, "PERMISO_BASE_URL=https:// (from -D) names no host"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(clean_env: Path, overrides: dict[str, str],
                                                    expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(overrides, env_file=None)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_every_number_has_a_bound(clean_env: Path) -> None:
    """No numeric setting accepts anything at all: each has a lower bound (and an upper one)."""
    for name, field in Settings.model_fields.items():
        if field.annotation not in (int, float):
            continue
        bounds = {type(m).__name__ for m in field.metadata}
        assert bounds & {"Ge", "Gt"}, f"{name} has no lower bound"
        assert bounds & {"Le", "Lt"}, f"{name} has no upper bound"


def test_zero_auth_pacing_and_zero_retries_stay_allowed(clean_env: Path) -> None:
    s = Settings.load({"PERMISO_AUTH_RATE_PER_SECOND": "0", "TEST_RETRY_ATTEMPTS": "0",
                       "PERMISO_MAX_EXPIRY_WAIT_SECONDS": "0"}, env_file=None)
    assert (s.permiso_auth_rate_per_second, s.test_retry_attempts) == (0, 0)


def test_the_origin_of_a_bad_value_is_named(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERMISO_PERF_SAMPLES", "x")
    with pytest.raises(SettingsError, match=r"PERMISO_PERF_SAMPLES=x \(from the environment\)"):
        Settings.load(env_file=None)
    monkeypatch.delenv("PERMISO_PERF_SAMPLES")
    (clean_env / ".env").write_text("TEST_RETRY_DELAY=soon\n")
    with pytest.raises(SettingsError, match=r"TEST_RETRY_DELAY=soon \(from \.env\) is not a number"):
        Settings.load()


def test_a_secret_value_is_never_shown_in_the_error(clean_env: Path) -> None:
    """Only the field's name: a rejected secret must not end up on the console."""
    from support.wire.settings import _describe_error  # the one place that renders a pydantic error

    try:
        Settings.model_validate({"test_admin_password": 12345})
    except Exception as exc:  # pydantic refuses an int for SecretStr
        message = _describe_error(exc, {"test_admin_password": 12345}, [], None)  # type: ignore[arg-type]
        assert "TEST_ADMIN_PASSWORD" in message and "12345" not in message


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("PERMISO_PERF_SAMPLE", "PERMISO_PERF_SAMPLES"),
        ("permiso_perf_sample", "PERMISO_PERF_SAMPLES"),
        ("TEST_ADMIN_PASWORD", "TEST_ADMIN_PASSWORD"),
        ("PERMSO_BASE_URL", "PERMISO_BASE_URL"),  # a typo in the prefix is still ours
        ("PERF_HEALTH_TRESHOLD_MS", "PERF_HEALTH_THRESHOLD_MS"),
    ],
)
def test_an_unknown_override_is_refused_with_did_you_mean(clean_env: Path, name: str, suggestion: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load({name: "5"}, env_file=None)
    assert str(info.value) == f"unknown setting {name.upper()} (from -D); did you mean {suggestion}?"


def test_an_unknown_override_with_our_prefix_is_refused_even_without_a_near_miss(clean_env: Path) -> None:
    with pytest.raises(SettingsError, match=r"unknown setting PERMISO_WHATEVER_ELSE \(from -D\)"):
        Settings.load({"PERMISO_WHATEVER_ELSE": "1"}, env_file=None)


def test_overrides_of_other_tools_are_not_ours(clean_env: Path) -> None:
    """Formatter options and behavex's worker data share behave's userdata; they are no settings."""
    s = Settings.load({"AllureFormatter.hide_excluded": "true", "worker_id": "3", "allure_results": "x"},
                      env_file=None)
    assert s.permiso_perf_samples == 20


def test_unknown_names_in_the_environment_only_count_when_near_misses(clean_env: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Other programs' variables with our prefixes: CI systems, the reference server's CLI, test harnesses.
    for name in ("TEST_RUN_NUMBER", "TEST_WITH_INTERNET", "PERMISO_REFERENCE_JWT_SECRET",
                 "PERMISO_REFERENCE_ADMIN_PASSWORD", "PERMISO_TEST_SECRET_RECORD", "SECURITY_HEADERS"):
        monkeypatch.setenv(name, "1")
    assert Settings.load(env_file=None).permiso_perf_samples == 20
    monkeypatch.setenv("PERMISO_PERF_SAMPLE", "5")
    with pytest.raises(SettingsError) as info:
        Settings.load(env_file=None)
    assert str(info.value) == ("unknown setting PERMISO_PERF_SAMPLE (from the environment); "
                               "did you mean PERMISO_PERF_SAMPLES?")


def test_the_dotenv_file_is_the_suites_own(clean_env: Path) -> None:
    """.env is written for this suite: a name with our prefix that is not a setting is a mistake."""
    (clean_env / ".env").write_text("TEST_TIMEOUT_SECONDZ=5\n")
    with pytest.raises(SettingsError, match=r"unknown setting TEST_TIMEOUT_SECONDZ \(from \.env\); "
                                            r"did you mean TEST_TIMEOUT_SECONDS\?"):
        Settings.load()
    (clean_env / ".env").write_text("COMPOSE_PROJECT_NAME=permiso\nTEST_TIMEOUT_SECONDS=5\n")
    assert Settings.load().test_timeout_seconds == 5


def test_run_before_all_turns_a_settings_error_into_one_line_and_exit_2(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from support.lifecycle import run

    stopped: list[str] = []
    monkeypatch.setattr(run, "fail_fast", lambda context, message: stopped.append(message))
    monkeypatch.setattr(run, "selected_scenarios", lambda context: 1)
    context = SimpleNamespace(config=SimpleNamespace(userdata={"PERMISO_PERF_SAMPLES": "abc"}, dry_run=False))
    run.before_all(context)
    assert stopped == ["setting PERMISO_PERF_SAMPLES=abc (from -D) is not a whole number"]
    assert not hasattr(context, "run_state")
