"""The run's gates: bad input gets one clear message and a non-zero exit; nothing is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import RunningReference, run_behave

TRACEBACK = "Traceback (most recent call last)"


def assert_not_run(workdir: Path, *words: str) -> None:
    """The run left a NOT RUN summary (Markdown and JSON) saying why, and no JUnit file of an older run."""
    md = workdir / "reports" / "signoff-summary.md"
    lines = md.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Permiso acceptance: release sign-off" and lines[2].startswith("Verdict: NOT RUN ("), lines
    assert all(word in lines[2] for word in words), lines[2]
    data = json.loads(md.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["verdict"].startswith("NOT RUN (") and data["release_ready"] is False
    assert not list((workdir / "junit").glob("TESTS-*.xml"))


def test_a_misspelled_tag_fails_the_run(tmp_path: Path) -> None:
    run = run_behave(["--tags=@no_such_tag"], tmp_path)
    assert run.returncode != 0, run.output
    assert "no scenario matched" in run.output
    assert TRACEBACK not in run.output
    assert_not_run(tmp_path, "no scenario matched")


def test_an_unreachable_target_fails_fast_with_one_line(tmp_path: Path) -> None:
    run = run_behave([], tmp_path, env={"PERMISO_BASE_URL": "https://127.0.0.1:9"}, timeout=60)
    assert run.returncode != 0
    assert run.seconds < 20, f"took {run.seconds:.1f} s"
    assert "https://127.0.0.1:9" in run.output and "not reachable" in run.output
    assert TRACEBACK not in run.output
    assert_not_run(tmp_path, "https://127.0.0.1:9", "not reachable")


def test_a_wrong_administrator_password_fails_fast_without_leaking_it(
    tmp_path: Path, reference_server: RunningReference
) -> None:
    wrong = "Wrong-Passw0rd!xyz"
    run = run_behave(
        ["--tags=@critical"], tmp_path, env=reference_server.env(TEST_ADMIN_PASSWORD=wrong), timeout=120
    )
    assert run.returncode != 0
    assert "administrator 'admin' cannot sign in" in run.output
    assert "TEST_ADMIN_PASSWORD" in run.output
    assert wrong not in run.output
    assert TRACEBACK not in run.output
    assert_not_run(tmp_path, "administrator 'admin' cannot sign in")
    assert wrong not in (tmp_path / "reports" / "signoff-summary.json").read_text()


def _inventory(ref: RunningReference) -> tuple[set[str], set[str], set[str]]:
    """Usernames, client ids and role names on the target, read through the admin API."""
    session = requests.Session()
    session.verify = False
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify=False
    token = session.post(
        f"{ref.base_url}/api/v1/auth/token", data={"username": "admin", "password": "AdminPass123!"}, timeout=10
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    users: set[str] = set()
    page = 1
    while True:
        body = session.get(f"{ref.base_url}/api/v1/users/", params={"page": page, "per_page": 100}, timeout=10).json()
        users |= {u["username"] for u in body["users"]}
        if page >= body["pages"]:
            break
        page += 1
    clients = session.get(f"{ref.base_url}/api/v1/service-clients/", params={"per_page": 100}, timeout=10).json()
    roles = session.get(f"{ref.base_url}/api/v1/roles/", timeout=10).json()
    role_list = roles if isinstance(roles, list) else roles.get("roles", [])
    return users, {c["client_id"] for c in clients["clients"]}, {r["name"] for r in role_list}


@pytest.mark.timeout(1000)  # the whole suite: its own bound is run_behave's 900 s, not the 300 s default
def test_a_full_run_leaves_the_target_as_it_found_it(tmp_path: Path, reference_server: RunningReference) -> None:
    before = _inventory(reference_server)
    run = run_behave([], tmp_path, env=reference_server.env(), timeout=900)
    assert run.returncode == 0, run.output[-4000:]
    after = _inventory(reference_server)
    assert after == before
    # the summary's numbers are behave's own (the run-wide rules are no scenarios; known defects count too)
    from tests.e2e.test_run_verdicts import behave_counts

    data = json.loads((tmp_path / "reports" / "signoff-summary.json").read_text(encoding="utf-8"))
    counted = behave_counts(run.output)
    assert {k: data["behave_counts"][k] for k in counted} == counted, (data["counts"], counted)
    # a plain run leaves out exactly the generated-input scenarios (@fuzz: only when asked for, docs/fuzzing.md)
    assert data["counts"]["not_selected"] == _fuzz_scenarios()
    assert data["counts"]["total"] + _fuzz_scenarios() == sum(counted.values())


def _fuzz_scenarios() -> int:
    from behave.parser import parse_file

    from tests.e2e.conftest import ROOT

    feature = parse_file(str(ROOT / "features" / "security" / "generated_input.feature"))
    return sum(1 for _ in feature.walk_scenarios())


# ------------------------------------------------------------------ settings are validated before anything starts
def _lines(run_output: str) -> list[str]:
    return run_output.strip().splitlines()


def test_a_bad_setting_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = run_behave(["--tags=@critical", "-D", "PERMISO_PERF_SAMPLES=abc"], tmp_path, timeout=60)
    assert run.returncode == 2, run.output
    assert len(_lines(run.output)) <= 3, run.output
    assert "PERMISO_PERF_SAMPLES=abc" in run.output and "not a whole number" in run.output
    assert TRACEBACK not in run.output and "ABORTED" not in run.output
    assert_not_run(tmp_path, "PERMISO_PERF_SAMPLES=abc", "not a whole number")


def test_a_misspelled_setting_name_is_refused_with_the_right_name(tmp_path: Path) -> None:
    run = run_behave(["--tags=@critical", "-D", "PERMISO_PERF_SAMPLE=5"], tmp_path, timeout=60)
    assert run.returncode == 2, run.output
    assert len(_lines(run.output)) <= 3, run.output
    assert "did you mean PERMISO_PERF_SAMPLES?" in run.output
    assert TRACEBACK not in run.output


def test_a_base_url_without_scheme_fails_at_once(tmp_path: Path) -> None:
    run = run_behave(["--tags=@critical"], tmp_path, env={"PERMISO_BASE_URL": "localhost:9"}, timeout=60)
    assert run.returncode == 2, run.output
    assert run.seconds < 8, f"took {run.seconds:.1f} s (it must not wait for the target)"
    assert len(_lines(run.output)) <= 3, run.output
    assert "PERMISO_BASE_URL=localhost:9" in run.output and "no http:// or https:// scheme" in run.output
    assert TRACEBACK not in run.output
