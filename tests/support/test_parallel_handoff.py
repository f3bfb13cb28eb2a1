"""behavex: the administrator's sign-in, the capability probes and the provisioning happen once, in the main
process (before_all_workers), and reach every worker through behavex's shared data."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support_testkit import Reply, ScriptedServer

from support.lifecycle import parallel, worker
from support.lifecycle.run_summary import RunNotReleaseReady

TOKENS = {"access_token": "handoff-access-token-1", "token_type": "Bearer", "expires_in": 900,
          "refresh_token": "handoff-refresh-token-1", "scope": "admin:system", "session_id": "s-1"}


def _worker_context(data: dict[str, Any]) -> Any:
    return SimpleNamespace(config=SimpleNamespace(userdata={"worker_id": "1"}), **{worker.SHARED_KEY: data})


def test_set_up_once_in_the_main_process_and_handed_to_workers(
        clean_env: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script("GET", "/health", Reply(200, {"status": "healthy", "version": "1.0.0", "environment": "prod"}))
    server.script("POST", "/api/v1/auth/token", Reply(200, TOKENS))
    server.script("POST", "/api/v1/auth/service-token", Reply(200, {**TOKENS, "refresh_token": None}))
    server.script("POST", "/api/v1/auth/revoke", Reply(200, {"message": "Token revoked successfully"}))
    monkeypatch.setattr(parallel, "_behavex_defines", lambda: {"PERMISO_BASE_URL": server.url,
                                                               "PERMISO_AUTH_RATE_PER_SECOND": "0",
                                                               "PERMISO_API_RATE_PER_SECOND": "0"})
    monkeypatch.setitem(sys.modules, "behavex", sys.modules.get("behavex") or SimpleNamespace())
    main = SimpleNamespace()
    parallel.before_all_workers(main)
    data = getattr(main, worker.SHARED_KEY)
    sign_ins = len(server.hits("POST", "/api/v1/auth/token"))
    assert sign_ins == 2  # the administrator, and the configured user's probe
    assert data["capabilities"]["admin"] is None and "docker" in data["capabilities"]

    for _ in range(3):  # three features in workers: no sign-in, no probe, no provisioning of their own
        feature = _worker_context(data)
        session = worker.admin_session(feature)
        assert session.fresh and session.token == TOKENS["access_token"] and session.borrowed
        assert worker.shared_capabilities(feature) == data["capabilities"]
    assert len(server.hits("POST", "/api/v1/auth/token")) == sign_ins
    assert worker.shared_capabilities(SimpleNamespace(config=SimpleNamespace(userdata={}))) is None

    revoked = len(server.hits("POST", "/api/v1/auth/revoke"))
    with pytest.raises(RunNotReleaseReady):  # no worker ran a scenario: nothing selected
        parallel.after_all_workers(main)
    assert len(server.hits("POST", "/api/v1/auth/revoke")) == revoked + 2  # the administrator's tokens
    assert not server.hits("POST", "/api/v1/auth/logout")


def test_steps_are_preloaded_only_where_behave_would_load_them(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The main process preloads ``<folder>/steps`` only when behavex was given exactly that one folder;
    for a sub-folder, a file or several paths it leaves the loading to behave (nothing preloaded)."""
    (tmp_path / "features" / "steps").mkdir(parents=True)
    (tmp_path / "features" / "security").mkdir()
    (tmp_path / "features" / "one.feature").write_text("Feature: one\n")
    monkeypatch.chdir(tmp_path)
    preloaded: list[str] = []
    monkeypatch.setattr(parallel, "preload_step_definitions", lambda folder: preloaded.append(str(folder)))
    monkeypatch.delenv("FEATURES_PATH", raising=False)  # behavex's default: "features"
    preload = parallel._steps_to_preload()
    assert preload is not None
    preload()
    assert preloaded == ["features"]
    for given in ("features/security", "features/one.feature", "features,other", "nowhere"):
        monkeypatch.setenv("FEATURES_PATH", given)
        assert parallel._steps_to_preload() is None, given
