"""One ``Settings`` object for the whole suite, read from ``-D`` overrides, the environment and ``.env``.

Why one place: the deployment guide defines a set of environment names (design.md §6); the suite adds a
few of its own. Keeping every name, default and type here means nothing else in the project touches
``os.environ``, secrets are typed as :class:`~pydantic.SecretStr` (so they never print by accident),
and every secret value is registered with :mod:`support.wire.redaction` the moment settings are loaded.

Precedence (highest first): behave ``-D NAME=value`` overrides (names case-insensitive), environment
variables, the ``.env`` file, defaults.

Validation happens here, once, before anything starts: :meth:`Settings.load` raises :class:`SettingsError`
whose message is ONE line naming the setting, where it came from and what is wrong (the run prints it and
exits 2). Checked:

- types (``PERMISO_PERF_SAMPLES=abc``) and a bound for every number (samples, users, retries at least
  1 or 0, timeouts and budgets above 0, ... see the ``Field`` bounds below);
- URLs: ``PERMISO_BASE_URL`` / ``PERMISO_HTTP_URL`` need an ``http://`` or ``https://`` scheme and a host
  (``localhost:9`` would otherwise only fail after the 10 s health wait);
- unknown names. The suite's prefixes are ``PERMISO_``, ``TEST_``, ``PERF_``, ``RATE_LIMIT_`` and
  ``SECURITY_``, but other programs share them, so the rule depends on where a name comes from:

  * ``-D`` and ``.env`` are written for this suite: a name with one of the prefixes that is not a setting
    is an error; a name without them (``AllureFormatter.hide_excluded``, behavex's ``worker_id``) is
    someone else's and ignored, unless it is a near miss of a setting (``PERMSO_PERF_SAMPLES``).
  * the environment is shared with CI systems and other tools (``TEST_*`` of a CI, the reference
    server's own ``PERMISO_REFERENCE_*`` options, test harness variables): an unknown name there is an
    error only when it is a near miss of a setting (difflib ratio >= 0.85, e.g. ``PERMISO_PERF_SAMPLE``).
    The reference server's own names (``PERMISO_REFERENCE_*`` that are not settings) are never errors.

  Every error for an unknown name suggests the nearest setting ("did you mean PERMISO_PERF_SAMPLES?").
"""

from __future__ import annotations

import difflib
import functools
import os
import secrets as _secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from support.wire import redaction

#: Generated examples per operation and kind of data when PERMISO_FUZZ_EXAMPLES is unset (docs/fuzzing.md).
DEFAULT_FUZZ_EXAMPLES = 25
DEFAULT_CONTAINERS = ("permiso-app-1", "permiso-postgres-prod", "permiso-redis-prod", "permiso-nginx-prod")


def _new_run_id() -> str:
    return _secrets.token_hex(3)


#: Name prefixes that mark a name as (meant to be) one of the suite's settings.
SUITE_PREFIXES = ("PERMISO_", "TEST_", "PERF_", "RATE_LIMIT_", "SECURITY_")
#: Names under this prefix that are not settings belong to the reference server's CLI (never errors).
REFERENCE_PREFIX = "PERMISO_REFERENCE_"
#: How close an unknown name must be to a setting to count as its misspelling (difflib ratio).
NEAR_MISS = 0.85


class SettingsError(ValueError):
    """A setting the run cannot start with; its message is one line naming the setting."""


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
    test_concurrent_users: int = Field(100, ge=1, le=100_000)
    test_duration_seconds: int = Field(300, ge=1, le=86_400)
    test_timeout_seconds: float = Field(30, gt=0, le=3_600)
    test_retry_attempts: int = Field(3, ge=0, le=100)
    test_retry_delay: float = Field(1, ge=0, le=600)
    # --- response-time budgets (ms) ---
    perf_health_threshold_ms: float = Field(100, gt=0, le=600_000)
    perf_auth_threshold_ms: float = Field(500, gt=0, le=600_000)
    perf_crud_threshold_ms: float = Field(1000, gt=0, le=600_000)
    perf_admin_threshold_ms: float = Field(2000, gt=0, le=600_000)
    # --- rate limits, security, TLS ---
    rate_limit_test_requests: int = Field(10, ge=1, le=100_000)
    rate_limit_test_window: int = Field(60, ge=1, le=86_400)
    security_scan_enabled: bool = True
    test_verify_ssl: bool = False
    test_ssl_cert_path: str | None = None
    # --- added by this project (design.md §6, decisions.md) ---
    permiso_lockout_threshold: int = Field(5, ge=1, le=1_000)
    permiso_lockout_minutes: float = Field(15, gt=0, le=10_080)
    # 0: the suite does not pace its sign-ins at all
    permiso_auth_rate_per_second: float = Field(4, ge=0, le=10_000)
    # Every other call, under the front's API limit (10/s, burst 20, contract Part B); 0: unpaced. The embedded
    # server has no API limiter: against it the suite does not pace these (support/lifecycle/target.py).
    permiso_api_rate_per_second: float = Field(8, ge=0, le=10_000)
    # Non-destructive scenarios borrow throwaway people made once per run (support/people/pool.py); false: each
    # scenario makes its own, as before.
    permiso_people_pool: bool = True
    permiso_containers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CONTAINERS))
    permiso_perf_samples: int = Field(20, ge=1, le=100_000)
    permiso_jwt_secret: SecretStr | None = None
    permiso_reference_faults: str = ""
    # The embedded server's profile (`permiso-reference profiles`): "contract" (default) or e.g. "release-1.0",
    # the current release as observed (contract Part D); PERMISO_REFERENCE_FAULTS adds to it.
    permiso_reference_profile: str = "contract"
    # The embedded server gets an auth rate limit like the front's (e.g. 5 per second, burst 2x, 503 HTML
    # rejections), so the flood scenarios can run against it; None: it starts without a limiter.
    permiso_reference_auth_rate_limit: float | None = None
    # How the embedded server hashes passwords: "fast" (bcrypt cost 4) or "production" (argon2id, 64 MiB,
    # 3 passes, as the release: contract D.5); with PERMISO_REFERENCE_AUTH_RATE_LIMIT=5 a production-like target.
    permiso_reference_hashing: Literal["fast", "production"] = "fast"
    permiso_max_expiry_wait_seconds: float = Field(30, ge=0, le=86_400)
    # None: judged from the target (a deployment behind the TLS front is limited, Part B); true/false wins.
    permiso_auth_rate_limited: bool | None = None
    # Registration spends a budget shared with real sign-ups (3 per hour per address; behind the front
    # every client shares one address): against a deployment it runs only when this is true.
    permiso_allow_registration: bool = False
    # Print the settings and every capability at the start (they always go to Allure's environment).
    permiso_verbose: bool = False
    # A release gate with @critical scenarios that did not run (a missing capability) is NOT release-ready.
    permiso_require_complete_gate: bool = False
    # The sign-off's baseline (`permiso-acceptance baseline accept` writes it) and waivers
    # (support/lifecycle/signoff.py);
    # a missing file means none. Relative paths are read from where behave runs (the project root).
    permiso_signoff_baseline: Path = Path("signoff/baseline.json")
    permiso_signoff_waivers: Path = Path("signoff/waivers.toml")
    # Generated-input robustness (features/security/generated_input.feature, docs/fuzzing.md). Examples per
    # operation and kind of data; set, it also selects the @fuzz scenarios in a run that does not name @fuzz.
    permiso_fuzz_examples: int | None = Field(None, ge=1, le=10_000)
    # Wall-clock budget of one @fuzz scenario (one router), shared by its operations.
    permiso_fuzz_seconds: float = Field(20, gt=0, le=86_400)
    # The fuzzer's seed (printed by every run; set it to replay a finding); unset: a fresh one per run.
    permiso_fuzz_seed: int | None = Field(None, ge=0, le=2**63 - 1)
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

    @field_validator("permiso_base_url", "permiso_http_url")
    @classmethod
    def _url_has_scheme_and_host(cls, value: str | None) -> str | None:
        """`localhost:9` would only fail after the health wait (requests: InvalidSchema); say it now."""
        if value is None:
            return None
        text = value.strip()
        if text.lower() in ("http:", "https:"):  # "https://" after the trailing slashes went
            raise ValueError("names no host")
        parts = urlsplit(text) if "://" in text else None
        if parts is None:
            raise ValueError(f"has no http:// or https:// scheme (did you mean https://{text}?)")
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError(f"must start with http:// or https://, not {parts.scheme}://")
        if not parts.hostname:
            raise ValueError("names no host")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("has a port that is not a number from 0 to 65535") from None
        return text.rstrip("/")

    @field_validator("permiso_reference_profile", mode="before")
    @classmethod
    def _blank_profile_is_contract(cls, value: Any) -> Any:
        """`-D PERMISO_REFERENCE_PROFILE=` (empty) means the default profile, like leaving it unset."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return "contract"
        return value.strip() if isinstance(value, str) else value

    @field_validator("permiso_reference_hashing", mode="before")
    @classmethod
    def _blank_hashing_is_fast(cls, value: Any) -> Any:
        """`-D PERMISO_REFERENCE_HASHING=` (empty) means the default, like leaving it unset."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return "fast"
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("permiso_reference_auth_rate_limit", "permiso_fuzz_examples", "permiso_fuzz_seed",
                     mode="before")
    @classmethod
    def _blank_limit_is_none(cls, value: Any) -> Any:
        """`-D PERMISO_REFERENCE_AUTH_RATE_LIMIT=` (empty) means no limiter, like leaving it unset (same for
        the fuzzer's examples and seed: empty is the default)."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("permiso_reference_auth_rate_limit")
    @classmethod
    def _limit_is_positive(cls, value: float | None) -> float | None:
        """A limit of 0 or less would refuse every sign-in: a typo, not a configuration."""
        if value is not None and value <= 0:
            raise ValueError("must be a positive number of requests per second")
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

        Override names are case-insensitive; names without the suite's prefixes that are not settings
        (e.g. formatter options behave keeps in the same userdata) are ignored. Raises
        :class:`SettingsError` (one line) for a bad value or an unknown name (rule: module docstring).
        """
        known = set(cls.model_fields)
        init: dict[str, Any] = {}
        for key, value in (overrides or {}).items():
            name = str(key).strip().lower()
            if name in known:
                init[name] = value
        dotenv_names = _dotenv_names(env_file)
        _check_names((str(k) for k in (overrides or {})), strict=True, origin="-D")
        _check_names(dotenv_names, strict=True, origin=f"{env_file}")
        _check_names(os.environ, strict=False, origin="the environment")
        try:
            return cls(_env_file=env_file, **init)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise SettingsError(_describe_error(exc, overrides or {}, dotenv_names, env_file)) from None

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
    def fuzz_examples(self) -> int:
        """Generated examples per operation and kind of data (``PERMISO_FUZZ_EXAMPLES``, default 25)."""
        return self.permiso_fuzz_examples if self.permiso_fuzz_examples is not None else DEFAULT_FUZZ_EXAMPLES

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


# ---------------------------------------------------------------------- validation helpers (one line each)
def nearest_setting(name: str, cutoff: float = 0.75) -> str | None:
    """The setting (env name) closest to ``name``, or None when nothing is at least ``cutoff`` alike."""
    names = [field.upper() for field in Settings.model_fields]
    found = difflib.get_close_matches(name.strip().upper(), names, n=1, cutoff=cutoff)
    return found[0] if found else None


@functools.lru_cache(maxsize=4096)
def unknown_name_problem(name: str, *, strict: bool, origin: str) -> str | None:
    """The one-line complaint about ``name``, or None when it is a setting or someone else's name.

    ``strict`` (``-D``, ``.env``): a name with a suite prefix must be a setting. Not strict (the
    environment): only near misses of a setting are complaints, never the reference server's names.

    Cached: the answer depends on nothing but its arguments and the fixed list of settings, and every
    ``Settings.load`` asks it about every environment variable (a near-miss search each). A behavex
    worker loads the settings once per feature: 5-8 ms of each feature's start went here.
    """
    upper = name.strip().upper()
    if upper.lower() in Settings.model_fields:
        return None
    near = nearest_setting(upper, NEAR_MISS)
    if strict:
        if near is None and not upper.startswith(SUITE_PREFIXES):
            return None
    elif near is None or upper.startswith(REFERENCE_PREFIX):
        return None
    hint = near or nearest_setting(upper)
    advice = f"did you mean {hint}?" if hint else "README.md lists the settings"
    return f"unknown setting {upper} (from {origin}); {advice}"


def _check_names(names: Iterable[str], *, strict: bool, origin: str) -> None:
    for name in names:
        problem = unknown_name_problem(name, strict=strict, origin=origin)
        if problem:
            raise SettingsError(problem)


def _dotenv_names(env_file: str | Path | None) -> list[str]:
    if env_file is None or not Path(env_file).is_file():
        return []
    from dotenv import dotenv_values

    return [str(k) for k in dotenv_values(env_file)]


_REASONS = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "finite_number": "must be a finite number",
}


def _number(value: Any) -> Any:
    """10 rather than 10.0 in messages."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _describe_error(exc: ValidationError, overrides: Mapping[str, Any], dotenv_names: list[str],
                    env_file: str | Path | None) -> str:
    """One line for the first problem pydantic found: the setting, its value, its origin, the reason."""
    errors = exc.errors()
    first = errors[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    name = field.upper() or "settings"
    if field in {str(k).strip().lower() for k in overrides}:
        origin = "-D"
    elif name in {k.upper() for k in os.environ}:
        origin = "the environment"
    elif name in {k.upper() for k in dotenv_names}:
        origin = str(env_file)
    else:
        origin = "default"
    value = first.get("input")
    shown = ""
    if field not in SECRET_FIELDS and isinstance(value, str | int | float | bool):
        text = redaction.redact_text(str(value))
        shown = "=" + (text if len(text) <= 60 else text[:57] + "...")
    template = _REASONS.get(str(first.get("type")))
    if template:
        reason = template.format(**{k: _number(v) for k, v in (first.get("ctx") or {}).items()})
    else:
        reason = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"setting {name}{shown} (from {origin}) {reason}{more}"


def child_environment(extra: Mapping[str, str], *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment for a child process the suite starts: ours, plus ``extra``, minus ``drop``.

    Lives here because this module is the only one that touches ``os.environ``; used to hand secrets to
    the embedded server through its environment instead of its command line (visible in ``ps``).
    """
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env
