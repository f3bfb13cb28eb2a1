"""The embedded target's optional auth rate limit: the setting, the server flag, pacing, the capability."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from support.domains import hygiene
from support.lifecycle.target import embedded_auth_rate, embedded_settings
from support.wire.settings import Settings, SettingsError


def test_the_limit_is_off_by_default_and_read_from_overrides_and_env(clean_env: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().permiso_reference_auth_rate_limit is None
    assert Settings.load({"permiso_reference_auth_rate_limit": ""}).permiso_reference_auth_rate_limit is None
    assert Settings.load({"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"}).permiso_reference_auth_rate_limit == 5.0
    monkeypatch.setenv("PERMISO_REFERENCE_AUTH_RATE_LIMIT", "2.5")
    assert Settings.load().permiso_reference_auth_rate_limit == 2.5
    assert Settings.load().redacted()["PERMISO_REFERENCE_AUTH_RATE_LIMIT"] == "2.5"


def test_a_limit_of_zero_or_less_is_refused(clean_env: Path) -> None:
    with pytest.raises(SettingsError, match="positive"):
        Settings.load({"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "0"})


@pytest.mark.parametrize(
    ("configured", "limit", "expected"),
    [
        (4.0, None, 50.0),   # no limiter: effectively unpaced, as before
        (80.0, None, 80.0),  # ... unless the configured pace is even faster
        (4.0, 5.0, 4.0),     # behind a limit of 5/s, 0.9 x 5 = 4.5: a configured 4/s is a ceiling
        (10.0, 5.0, 4.5),    # a configured pace above the limit is brought under it
        (1.0, 5.0, 1.0),     # a slower configured pace is kept
        (4.0, 2.0, 1.8),
        (None, 5.0, 4.5),    # not configured: the known limit decides (0.9 x limit)
    ],
)
def test_sign_ins_are_paced_under_the_embedded_limit(clean_env: Path, configured: float | None,
                                                     limit: float | None, expected: float) -> None:
    """Against a limited embedded server the suite paces like behind the front, never at 50/s."""
    overrides = {} if configured is None else {"PERMISO_AUTH_RATE_PER_SECOND": str(configured)}
    if limit is not None:
        overrides["PERMISO_REFERENCE_AUTH_RATE_LIMIT"] = str(limit)
    settings = Settings.load(overrides)
    assert embedded_auth_rate(settings) == pytest.approx(expected)
    pointed = embedded_settings(settings, "https://127.0.0.1:1", "http://127.0.0.1:2", "k" * 32)
    assert pointed.permiso_auth_rate_per_second == pytest.approx(expected)
    assert pointed.permiso_reference_auth_rate_limit == limit


def test_start_embedded_passes_the_limit_to_the_server(clean_env: Path, embedded_launch: Any) -> None:
    """The flag reaches `permiso-reference serve` only when the setting is given (no server is started)."""
    without, _ = embedded_launch.command(Settings.load({}))
    with_limit, _ = embedded_launch.command(Settings.load({"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"}))
    assert "--auth-rate-limit" not in without
    assert with_limit[with_limit.index("--auth-rate-limit") + 1] == "5.0"


def test_an_embedded_target_with_a_limiter_counts_as_rate_limited(clean_env: Path) -> None:
    embedded = SimpleNamespace(embedded=True)
    plain = Settings.load()
    reason = hygiene.rate_limit_reason(plain, embedded, {"tls_front": None})
    assert reason and "PERMISO_REFERENCE_AUTH_RATE_LIMIT" in reason
    limited = Settings.load({"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5"})
    assert hygiene.rate_limit_reason(limited, embedded, {"tls_front": None}) is None
    # An explicit PERMISO_AUTH_RATE_LIMITED still wins.
    denied = Settings.load({"PERMISO_REFERENCE_AUTH_RATE_LIMIT": "5", "PERMISO_AUTH_RATE_LIMITED": "false"})
    assert hygiene.rate_limit_reason(denied, embedded, {"tls_front": None})
