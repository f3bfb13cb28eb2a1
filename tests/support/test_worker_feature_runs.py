"""What behavex repeats per feature and need not (support/lifecycle/worker.py ``lighten_feature_runs``), and the
process's one pool of HTTPS connections (support/wire/transport.py ``process_connections``).

behavex runs every feature as a new behave ``Runner`` in the same worker process. The tests run two
Runners in one process the same way, on a throwaway features folder, and count how often the step module
was executed; the control without the change shows the count the change removes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.lifecycle import worker
from support.wire import transport as transport_module
from support.wire.client import PermisoClient
from support.wire.settings import Settings
from support.wire.transport import close_process_connections, process_connections

FEATURE = """Feature: one
  Scenario: one step
    Given a step that counts
"""

STEPS = """from pathlib import Path
from behave import given

LOADS = Path({loads!r})
LOADS.write_text(LOADS.read_text() + "x" if LOADS.exists() else "x")


@given("a step that counts")
def step_counts(context):
    pass
"""


@pytest.fixture
def fresh_behave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A features folder of its own, an empty step registry, and behave's Runner restored afterwards."""
    from behave import step_registry
    from behave.runner import Runner

    (tmp_path / "features" / "steps").mkdir(parents=True)
    (tmp_path / "features" / "one.feature").write_text(FEATURE)
    (tmp_path / "features" / "steps" / "count_steps.py").write_text(STEPS.format(loads=str(tmp_path / "loads.txt")))
    monkeypatch.chdir(tmp_path)  # no pyproject.toml: behave's defaults, not the project's formatters
    monkeypatch.setattr(Runner, "load_step_definitions", Runner.load_step_definitions)
    registry = step_registry.registry  # the one behave's decorators write into
    monkeypatch.setattr(registry, "steps", {kind: [] for kind in registry.steps})
    monkeypatch.setattr(worker, "_LOADED", {})
    yield tmp_path


def _run_feature_as_behavex_does(folder: Path) -> bool:
    from behave.configuration import Configuration
    from behave.runner import Runner

    config = Configuration(command_args=[str(folder / "features"), "--format", "null", "--no-capture"])
    return not Runner(config).run()


def test_step_modules_are_executed_once_per_process(fresh_behave: Path) -> None:
    worker.load_step_definitions_once()
    worker.load_step_definitions_once()  # idempotent: environment.py calls it for every feature
    assert _run_feature_as_behavex_does(fresh_behave)
    assert _run_feature_as_behavex_does(fresh_behave)  # the second feature still finds its steps
    assert (fresh_behave / "loads.txt").read_text() == "x"


def test_without_it_every_feature_executes_the_step_modules_again(fresh_behave: Path) -> None:
    assert _run_feature_as_behavex_does(fresh_behave)
    assert _run_feature_as_behavex_does(fresh_behave)
    assert (fresh_behave / "loads.txt").read_text() == "xx"  # what load_step_definitions_once saves


def test_an_emptied_registry_is_loaded_again(fresh_behave: Path) -> None:
    from behave import step_registry

    worker.load_step_definitions_once()
    assert _run_feature_as_behavex_does(fresh_behave)
    for definitions in step_registry.registry.steps.values():
        definitions.clear()
    assert _run_feature_as_behavex_does(fresh_behave)
    assert (fresh_behave / "loads.txt").read_text() == "xx"


def test_definitions_preloaded_while_the_server_starts_are_not_loaded_again(fresh_behave: Path) -> None:
    assert worker.preload_step_definitions("features")  # behavex's main process, while the server boots
    assert (fresh_behave / "loads.txt").read_text() == "x"
    assert not worker.preload_step_definitions("features")  # once
    assert _run_feature_as_behavex_does(fresh_behave)  # a @SERIAL feature in that process
    assert _run_feature_as_behavex_does(fresh_behave)  # a feature in a worker forked from it
    assert (fresh_behave / "loads.txt").read_text() == "x"


def test_nothing_is_preloaded_without_a_steps_folder(fresh_behave: Path) -> None:
    assert not worker.preload_step_definitions("elsewhere")
    assert not (fresh_behave / "loads.txt").exists()
    assert _run_feature_as_behavex_does(fresh_behave)  # behave loads as usual
    assert (fresh_behave / "loads.txt").read_text() == "x"


# ----------------------------------------------------------------------- behavex's JUnit text
def test_one_pass_cleaning_equals_behavex_per_character_cleaning() -> None:
    from behavex.outputs.jinja_mgr import clean_invalid_xml_chars

    every_bmp_character = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
    planes = "".join(chr(c) for start in range(0x10000, 0x110000, 0x10000)
                     for c in range(start + 0xFFF0, start + 0x10000))
    sample = "\x1b[31mred\x1b[0m \u201cquoted\u201d ]]> \x00\x0b\x7f\x85\ufdd0 caf\u00e9 \U0001f600"
    for text in (every_bmp_character, planes, sample, ""):
        assert worker.clean_xml_text(text) == clean_invalid_xml_chars(text)
    assert worker.clean_xml_text(sample.encode()) == clean_invalid_xml_chars(sample.encode())


def test_behavex_junit_template_gets_the_one_pass_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    import behavex.outputs.jinja_mgr as jinja_mgr

    original = jinja_mgr.clean_invalid_xml_chars
    monkeypatch.setattr(jinja_mgr, "clean_invalid_xml_chars", original)
    monkeypatch.delattr(jinja_mgr, "_permiso_one_pass", raising=False)
    worker.clean_junit_text_in_one_pass()
    worker.clean_junit_text_in_one_pass()
    replaced = jinja_mgr.clean_invalid_xml_chars
    assert replaced is not original
    assert replaced("a\x01b\u201c") == original("a\x01b\u201c") == 'a b"'
    with pytest.raises(TypeError):  # anything but text goes to behavex's own function, as before
        original(42)
    with pytest.raises(TypeError):
        replaced(42)


# ------------------------------------------------------------------ one connection pool per process
@pytest.fixture
def tls_target(clean_env: Path) -> Iterator[Settings]:
    from permiso_reference.config import ReferenceSettings
    from permiso_reference.server import ReferenceServer

    with ReferenceServer(ReferenceSettings(tls=True, bcrypt_rounds=4, jwt_secret="pool-tests-" + "k" * 40)) as srv:
        yield Settings.load({"PERMISO_BASE_URL": srv.base_url, "PERMISO_AUTH_RATE_PER_SECOND": "0",
                             "PERMISO_API_RATE_PER_SECOND": "0"}, env_file=None)


def _connections_made(verify: bool | str) -> int:
    adapter = process_connections(verify)
    return sum(pool.num_connections for pool in adapter.poolmanager.pools._container.values())


def test_clients_share_connections_but_not_identities(tls_target: Settings) -> None:
    close_process_connections()
    before = _connections_made(tls_target.verify)
    admin, user, visitor = (PermisoClient(tls_target, name=n) for n in ("admin", "user", "visitor"))
    assert admin.sign_in_administrator().status == 200
    assert user.sign_in(tls_target.test_user_username, tls_target.test_user_password.get_secret_value()
                        ).status == 200
    admin.close()  # closing one client's session leaves the pool to the others
    assert user.request("GET", "/users/me").body["username"] == tls_target.test_user_username
    assert visitor.request("GET", "/users/me", token=None).status == 401  # no one else's token
    assert _connections_made(tls_target.verify) - before == 1


def test_the_pool_is_the_process_own(monkeypatch: pytest.MonkeyPatch) -> None:
    here = process_connections(False)
    assert process_connections(False) is here
    assert process_connections(True) is not here
    parent = os.getpid()
    monkeypatch.setattr(transport_module.os, "getpid", lambda: parent + 1)  # as in a forked worker
    assert process_connections(False) is not here


def test_a_session_of_its_own_is_left_alone(clean_env: Path) -> None:
    own = requests.Session()
    client = PermisoClient(Settings.load({"PERMISO_BASE_URL": "https://127.0.0.1:9"}, env_file=None), session=own)
    assert client.session is own
    assert own.get_adapter("https://127.0.0.1:9/") is not process_connections(client.settings.verify)


def test_no_connection_is_open_when_behavex_forks_its_manager(
        tls_target: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """behavex forks its multiprocessing.Manager right after before_all_workers, and that process lives to the
    end of the run: a keep-alive connection open at that moment is copied into it, and the embedded server
    then waited out its graceful-shutdown timeout on it when the run stopped it (0.57 s instead of 0.3 s)."""
    import sys
    from types import SimpleNamespace

    from support.lifecycle import parallel
    from support.lifecycle.run_summary import RunNotReleaseReady

    monkeypatch.setattr(parallel, "_behavex_defines", lambda: {
        "PERMISO_BASE_URL": tls_target.base_url, "PERMISO_AUTH_RATE_PER_SECOND": "0",
        "PERMISO_API_RATE_PER_SECOND": "0"})
    monkeypatch.setitem(sys.modules, "behavex", sys.modules.get("behavex") or SimpleNamespace())
    close_process_connections()
    opened: list[int] = []
    pools = process_connections(tls_target.verify).poolmanager.pools
    original = parallel._set_up_once

    def set_up_and_count(*args: object) -> object:
        result = original(*args)  # type: ignore[arg-type]
        opened.append(sum(pool.pool.qsize() for pool in pools._container.values()))
        return result

    monkeypatch.setattr(parallel, "_set_up_once", set_up_and_count)
    main = SimpleNamespace()
    try:
        parallel.before_all_workers(main)
        assert opened and opened[0] >= 1  # the administrator's sign-in and the probes used the pool
        assert len(pools) == 0, "a keep-alive connection is still open when behavex forks its Manager"
    finally:
        with pytest.raises(RunNotReleaseReady):  # no worker ran: nothing selected
            parallel.after_all_workers(main)
