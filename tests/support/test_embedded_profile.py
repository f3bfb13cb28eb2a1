"""The embedded target's reference profile and hashing: the settings, the server flags, the description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.lifecycle.target import Target
from support.wire.settings import Settings


def test_the_profile_is_contract_by_default_and_read_from_overrides_and_env(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().permiso_reference_profile == "contract"
    assert Settings.load({"permiso_reference_profile": ""}).permiso_reference_profile == "contract"
    assert Settings.load({"PERMISO_REFERENCE_PROFILE": "release-1.0"}).permiso_reference_profile == "release-1.0"
    monkeypatch.setenv("PERMISO_REFERENCE_PROFILE", " release-1.0 ")
    assert Settings.load().permiso_reference_profile == "release-1.0"
    assert Settings.load().redacted()["PERMISO_REFERENCE_PROFILE"] == "release-1.0"


def test_start_embedded_passes_the_profile_to_the_server(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                         embedded_launch: Any) -> None:
    """`--profile` always reaches `permiso-reference serve`; an inherited env variable never does."""
    monkeypatch.setenv("PERMISO_REFERENCE_PROFILE", "release-1.0")
    default_argv, default_env = embedded_launch.command(Settings.load({"PERMISO_REFERENCE_PROFILE": "contract"}))
    release_argv, _ = embedded_launch.command(Settings.load({}))
    assert "--profile=contract" in default_argv and "PERMISO_REFERENCE_PROFILE" not in default_env
    assert "--profile=release-1.0" in release_argv


def test_the_description_names_the_profile() -> None:
    embedded = Target("https://127.0.0.1:1", None, True, version="1.0.0", profile="release-1.0")
    assert embedded.describe() == ("embedded reference Permiso at https://127.0.0.1:1, Permiso 1.0.0, "
                                   "profile release-1.0")
    deployment = Target("https://permiso.example", None, False, profile=None)
    assert "profile" not in deployment.describe()


def test_hashing_is_fast_by_default_and_production_on_request(clean_env: Path) -> None:
    assert Settings.load().permiso_reference_hashing == "fast"
    assert Settings.load({"PERMISO_REFERENCE_HASHING": ""}).permiso_reference_hashing == "fast"
    assert Settings.load({"PERMISO_REFERENCE_HASHING": " Production "}).permiso_reference_hashing == "production"


def test_an_unknown_hashing_is_a_settings_error(clean_env: Path) -> None:
    from support.wire.settings import SettingsError

    with pytest.raises(SettingsError, match="PERMISO_REFERENCE_HASHING"):
        Settings.load({"PERMISO_REFERENCE_HASHING": "slow"})


def test_start_embedded_passes_the_hashing_to_the_server(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                         embedded_launch: Any) -> None:
    """`--hashing` always reaches `permiso-reference serve`; an inherited env variable never does."""
    monkeypatch.setenv("PERMISO_REFERENCE_HASHING", "production")
    production_argv, env = embedded_launch.command(Settings.load({}))
    fast_argv, _ = embedded_launch.command(Settings.load({"PERMISO_REFERENCE_HASHING": "fast"}))
    assert "--hashing=production" in production_argv and "PERMISO_REFERENCE_HASHING" not in env
    assert "--hashing=fast" in fast_argv


def test_start_embedded_runs_meanwhile_while_the_server_boots(clean_env: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """behavex's main process loads the step definitions in the half second the server takes to boot; what
    the caller does meanwhile never stops the start, even when it fails."""
    import support.lifecycle.target as target_module

    events: list[str] = []
    waited = target_module.wait_until_healthy

    def wait(*args: Any, **kwargs: Any) -> None:
        events.append("wait for health")
        waited(*args, **kwargs)

    def failing() -> None:
        events.append("meanwhile")
        raise RuntimeError("whatever the caller did")

    monkeypatch.setattr(target_module, "wait_until_healthy", wait)
    target, pointed = target_module.start_embedded(Settings.load({}, env_file=None), meanwhile=failing)
    try:
        assert events == ["meanwhile", "wait for health"]
        assert target.version and pointed.base_url == target.base_url
    finally:
        target.stop()
