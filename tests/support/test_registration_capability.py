"""Registration scenarios need consent on a deployment (support/provisioning.registration_reason).

Self-registration spends an hourly budget that real newcomers share behind the front (D19), so a run
against a deployment registers only with PERMISO_ALLOW_REGISTRATION=true; the embedded server always.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from support.lifecycle.provisioning import registration_reason
from support.wire.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings.load({"PERMISO_BASE_URL": "https://permiso.example.com",
                          **{k: str(v) for k, v in values.items()}}, env_file=None)


def test_a_deployment_registers_only_with_consent(clean_env: Any) -> None:
    deployment = SimpleNamespace(embedded=False)
    reason = registration_reason(_settings(), deployment)  # type: ignore[arg-type]
    assert reason is not None and "PERMISO_ALLOW_REGISTRATION=true" in reason
    assert registration_reason(_settings(PERMISO_ALLOW_REGISTRATION="true"), deployment) is None  # type: ignore[arg-type]


def test_the_embedded_server_always_allows_registration(clean_env: Any) -> None:
    assert registration_reason(_settings(), SimpleNamespace(embedded=True)) is None  # type: ignore[arg-type]
