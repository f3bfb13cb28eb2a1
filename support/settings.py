"""One ``Settings`` object for the whole suite, read from ``-D`` overrides, the environment and ``.env``.

Why one place: the deployment guide defines a set of environment names (design.md §6); the suite adds a
few of its own. Keeping every name, default and type here means nothing else in the project touches
``os.environ``, secrets are typed as :class:`~pydantic.SecretStr` (so they never print by accident),
and every secret value is registered with :mod:`support.redaction` the moment settings are loaded.

Precedence (highest first): behave ``-D NAME=value`` overrides (names case-insensitive), environment
variables, the ``.env`` file, defaults.
"""

from __future__ import annotations

import os
import secrets as _secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from support import redaction

DEFAULT_CONTAINERS = ("permiso-app-1", "permiso-postgres-prod", "permiso-redis-prod", "permiso-nginx-prod")


def _new_run_id() -> str:
    return _secrets.token_hex(3)


class Settings(BaseSettings):
    """Every configurable value of the suite; field names are the env names in lower case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        validate_default=True,
    )

    # --- target (deployment guide) ---
    permiso_base_url: str | None = None
    permiso_http_url: str | None = None
    permiso_api_base: str = "/api/v1"
    # --- configured accounts (deployment guide defaults) ---
    test_admin_username: str = "admin"
    test_admin_password: SecretStr = SecretStr("AdminPass123!")
    test_admin_email: str = "admin@example.com"
    test_user_username: str = "testuser"
    test_user_password: SecretStr = SecretStr("TestPass123!")
    test_user_email: str = "testuser@example.com"
    test_client_id: str = "test-client-001"
    test_client_secret: SecretStr = SecretStr("test-secret-123456789")
    # --- load, timeouts, retries ---
    test_concurrent_users: int = 100
    test_duration_seconds: int = 300
    test_timeout_seconds: float = 30
    test_retry_attempts: int = 3
    test_retry_delay: float = 1
    # --- response-time budgets (ms) ---
    perf_health_threshold_ms: float = 100
    perf_auth_threshold_ms: float = 500
    perf_crud_threshold_ms: float = 1000
    perf_admin_threshold_ms: float = 2000
    # --- rate limits, security, TLS ---
    rate_limit_test_requests: int = 10
    rate_limit_test_window: int = 60
    security_scan_enabled: bool = True
    test_verify_ssl: bool = False
    test_ssl_cert_path: str | None = None
    # --- added by this project (design.md §6, decisions.md) ---
    permiso_lockout_threshold: int = 5
    permiso_lockout_minutes: float = 15
    permiso_auth_rate_per_second: float = 4
    permiso_containers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CONTAINERS))
    permiso_perf_samples: int = 20
    permiso_jwt_secret: SecretStr | None = None
    permiso_reference_faults: str = ""
    # The embedded server gets an auth rate limit like the front's (e.g. 5 per second, burst 2x, 503 HTML
    # rejections), so the flood scenarios can run against it; None: it starts without a limiter.
    permiso_reference_auth_rate_limit: float | None = None
    permiso_max_expiry_wait_seconds: float = 30
    # None: judged from the target (a deployment behind the TLS front is limited, Part B); true/false wins.
    permiso_auth_rate_limited: bool | None = None
    permiso_run_id: str = Field(default_factory=_new_run_id)
    docker_host: str | None = None

    # ------------------------------------------------------------------ validation
    @field_validator("permiso_base_url", "permiso_http_url", "test_ssl_cert_path", "docker_host",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip().rstrip("/") if isinstance(value, str) and "://" in value else value

    @field_validator("permiso_reference_auth_rate_limit", mode="before")
    @classmethod
    def _blank_limit_is_none(cls, value: Any) -> Any:
        """`-D PERMISO_REFERENCE_AUTH_RATE_LIMIT=` (empty) means no limiter, like leaving it unset."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("permiso_reference_auth_rate_limit")
    @classmethod
    def _limit_is_positive(cls, value: float | None) -> float | None:
        """A limit of 0 or less would refuse every sign-in: a typo, not a configuration."""
        if value is not None and value <= 0:
            raise ValueError("PERMISO_REFERENCE_AUTH_RATE_LIMIT must be a positive number of requests per second")
        return value

    @field_validator("permiso_jwt_secret", mode="before")
    @classmethod
    def _blank_secret_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value:
            return None
        return value

    @field_validator("permiso_api_base", mode="before")
    @classmethod
    def _normalise_api_base(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            if value and not value.startswith("/"):
                value = "/" + value
        return value

    @field_validator("permiso_containers", mode="before")
    @classmethod
    def _split_containers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("permiso_run_id", mode="before")
    @classmethod
    def _run_id_default_when_blank(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return _new_run_id()
        return value.strip().lower() if isinstance(value, str) else value

    def model_post_init(self, __context: Any) -> None:
        """Register every secret value with redaction as soon as the settings exist."""
        for name in SECRET_FIELDS:
            value = getattr(self, name)
            if value is not None:
                redaction.register_secret(value.get_secret_value())

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, overrides: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
             ) -> Settings:
        """Build settings: ``overrides`` (behave ``-D``) > environment > ``env_file`` > defaults.

        Override names are case-insensitive; names that are not settings (e.g. formatter options
        behave keeps in the same userdata) are ignored.
        """
        known = set(cls.model_fields)
        init: dict[str, Any] = {}
        for key, value in (overrides or {}).items():
            name = str(key).strip().lower()
            if name in known:
                init[name] = value
        return cls(_env_file=env_file, **init)  # type: ignore[call-arg]

    def with_target(self, base_url: str, http_url: str | None = None, jwt_secret: str | None = None,
                    **changes: Any) -> Settings:
        """A copy pointed at another target (the embedded server), with optional further changes."""
        data = self.model_dump()
        data.update(permiso_base_url=base_url, permiso_http_url=http_url)
        if jwt_secret is not None:
            data["permiso_jwt_secret"] = jwt_secret
        data.update(changes)
        return type(self).model_validate(data)

    # ------------------------------------------------------------------ derived values
    @property
    def embedded(self) -> bool:
        """True when no target was configured: the suite must start the reference server."""
        return self.permiso_base_url is None

    @property
    def base_url(self) -> str:
        """The target's root URL; raises a clear error when no target is known yet."""
        if not self.permiso_base_url:
            raise RuntimeError("no target: PERMISO_BASE_URL is unset and no embedded target was started")
        return self.permiso_base_url

    @property
    def api_url(self) -> str:
        """``base_url`` + ``api_base`` (e.g. ``https://host/api/v1``)."""
        return self.base_url + self.permiso_api_base

    @property
    def verify(self) -> bool | str:
        """The ``verify`` argument for requests: False, True, or the CA bundle path."""
        if not self.test_verify_ssl:
            return False
        return self.test_ssl_cert_path or True

    @property
    def faults(self) -> frozenset[str]:
        """Fault names for the embedded server, from ``PERMISO_REFERENCE_FAULTS``."""
        return frozenset(f.strip() for f in self.permiso_reference_faults.split(",") if f.strip())

    @property
    def lockout_seconds(self) -> float:
        return self.permiso_lockout_minutes * 60

    @property
    def protected_usernames(self) -> frozenset[str]:
        """Configured accounts the suite must never lock, disable, delete or change."""
        return frozenset({self.test_admin_username.lower(), self.test_user_username.lower()})

    @property
    def protected_client_ids(self) -> frozenset[str]:
        return frozenset({self.test_client_id.lower()})

    def redacted(self) -> dict[str, str]:
        """Every setting by its env name, secrets masked (safe for reports and environment.properties)."""
        result: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                text = "" if value is None else redaction.MASK
            elif value is None:
                text = ""
            elif isinstance(value, list):
                text = ",".join(str(v) for v in value)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            result[name.upper()] = redaction.redact_text(text) if name not in SECRET_FIELDS else text
        return result

    def describe(self) -> str:
        """Multi-line ``NAME = value`` listing with secrets masked."""
        items = self.redacted()
        width = max(len(k) for k in items)
        return "\n".join(f"{key.ljust(width)} = {value}" for key, value in items.items())


SECRET_FIELDS: frozenset[str] = frozenset(
    name for name, field in Settings.model_fields.items()
    if field.annotation in (SecretStr, SecretStr | None)
)


def child_environment(extra: Mapping[str, str], *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment for a child process the suite starts: ours, plus ``extra``, minus ``drop``.

    Lives here because this module is the only one that touches ``os.environ``; used to hand secrets to
    the embedded server through its environment instead of its command line (visible in ``ps``).
    """
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env
