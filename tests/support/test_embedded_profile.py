"""The embedded target's reference profile: the setting, the server flag, the target's description."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.settings import Settings
from support.target import Target


def test_the_profile_is_contract_by_default_and_read_from_overrides_and_env(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().permiso_reference_profile == "contract"
    assert Settings.load({"permiso_reference_profile": ""}).permiso_reference_profile == "contract"
    assert Settings.load({"PERMISO_REFERENCE_PROFILE": "release-1.0"}).permiso_reference_profile == "release-1.0"
    monkeypatch.setenv("PERMISO_REFERENCE_PROFILE", " release-1.0 ")
    assert Settings.load().permiso_reference_profile == "release-1.0"
    assert Settings.load().redacted()["PERMISO_REFERENCE_PROFILE"] == "release-1.0"


def test_start_embedded_passes_the_profile_to_the_server(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--profile` always reaches `permiso-reference serve`; an inherited env variable never does."""
    import support.target as target

    seen: list[tuple[list[str], dict[str, str]]] = []

    class Stop(Exception):
        pass

    def fake_popen(argv: list[str], **kwargs: object) -> None:
        seen.append((list(argv), dict(kwargs.get("env") or {})))  # type: ignore[call-overload]
        raise Stop

    monkeypatch.setattr(target.subprocess, "Popen", fake_popen)
    monkeypatch.setenv("PERMISO_REFERENCE_PROFILE", "release-1.0")
    for overrides in ({"PERMISO_REFERENCE_PROFILE": "contract"}, {}):
        with pytest.raises(Stop):
            target.start_embedded(Settings.load(overrides))
    (default_argv, default_env), (release_argv, _) = seen
    assert "--profile=contract" in default_argv and "PERMISO_REFERENCE_PROFILE" not in default_env
    assert "--profile=release-1.0" in release_argv


def test_the_description_names_the_profile() -> None:
    embedded = Target("https://127.0.0.1:1", None, True, version="1.0.0", profile="release-1.0")
    assert embedded.describe() == ("embedded reference Permiso at https://127.0.0.1:1, Permiso 1.0.0, "
                                   "profile release-1.0")
    deployment = Target("https://permiso.example", None, False, profile=None)
    assert "profile" not in deployment.describe()
