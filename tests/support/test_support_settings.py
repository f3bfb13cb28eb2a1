"""Settings: every env name with its default, precedence -D > env > .env > defaults, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from support import redaction
from support.settings import SECRET_FIELDS, Settings

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
