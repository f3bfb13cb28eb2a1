"""Release sign-off reporting, end to end on the fixture behave project (no Permiso target needed).

Why: the dashboard and the summary are what a release manager signs off on. These tests run the fixture
project through behave with the Allure formatter and JUnit, then check the one-page summary and verdict,
the run metadata, that the redacted evidence is attached while no secret reaches any output file, that
the Allure 3 report builds (with history) and that headless Chromium really shows the scenario count and
a failed scenario's attachment, and that the ``allure run --rerun`` route shows a retried scenario.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_helpers import (
    FIXTURE_PROJECT,
    REPO_ROOT,
    BehaveRun,
    Click,
    build_report,
    chromium_binary,
    files_containing,
    node_available,
    render_page,
    run_behave,
    serve_directory,
    test_result_id,
)

from permiso_acceptance import report as report_cli
from support.lifecycle.allure_environment import write_run_metadata
from support.lifecycle.summary_page import render_markdown
from support.lifecycle.verdict import RunSummary

FAILED_CRITICAL = "A refused sign-in leaves redacted evidence"
KNOWN_DEFECT = "A revoked refresh token still refreshes"

needs_node = pytest.mark.skipif(not node_available(), reason="Node.js/npm not installed: Allure 3 needs Node")
needs_chromium = pytest.mark.skipif(
    chromium_binary() is None, reason="Debian chromium not installed (.ci/run installs it with apt-get)"
)


@pytest.fixture(scope="module")
def fake_secrets() -> dict[str, str]:
    """Fresh secrets per run, so a hit can only come from this run's outputs."""
    seed = secrets.token_hex(8)
    return {
        "fake_password": f"Pw-{secrets.token_hex(6)}!",
        "fake_client_secret": f"cs-{secrets.token_hex(10)}",
        "fake_token_seed": seed,
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, fake_secrets: dict[str, str]) -> BehaveRun:
    return run_behave(tmp_path_factory.mktemp("fixture-run"), userdata=fake_secrets)


@pytest.fixture(scope="module")
def report(run: BehaveRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not node_available():
        pytest.skip("Node.js/npm not installed: Allure 3 needs Node")
    out = tmp_path_factory.mktemp("report") / "allure-report"
    return build_report(run.allure_results, out, history_dir=out.parent / "history")


def _result_files(run: BehaveRun) -> list[dict]:
    return [json.loads(p.read_text()) for p in run.allure_results.glob("*-result.json")]


# -- (1) summary and verdict -----------------------------------------------------------------------------


def test_summary_names_the_failed_critical_scenario_and_refuses_release(run: BehaveRun) -> None:
    assert run.returncode != 0, run.console[-2000:]
    page = run.summary.read_text(encoding="utf-8")
    verdict = "Verdict: NOT RELEASE-READY (1 @critical scenario failed; 1 other scenario failed)"
    assert verdict in page.splitlines()
    assert verdict in run.console, "the summary is printed at the end of the run"
    failed_section = page.split("## Failed @critical scenarios")[1].split("##")[0]
    assert FAILED_CRITICAL in failed_section
    assert "| @auth | 1 | 1 | 0 | 0 |" in page
    assert "| @tokens | 2 | 0 | 1 | 1 |" in page
    known = page.split("## Known defects")[1].split("##")[0]
    assert f"{KNOWN_DEFECT} [D7]: still present" in known
    assert KNOWN_DEFECT not in failed_section
    assert "| GET /health | 7 | 9 | 100 | met |" in page
    assert "needs signing_key: PERMISO_JWT_SECRET is not set: 1" in page


def test_verdict_rules() -> None:
    summary = RunSummary()
    assert not summary.release_ready and "no scenario ran" in summary.verdict
    summary.record("F", ["@auth"], "ok", ["@critical"], "passed", 0.1)
    summary.record("F", ["@tokens"], "defect", ["@known_defect", "@allure.issue:D7"], "failed", 0.1)
    summary.record("F", ["@security"], "skip", [], "skipped", 0.0, skip_reason="needs docker")
    assert summary.release_ready and render_markdown(summary).splitlines()[2] == "Verdict: RELEASE-READY"
    summary.record_budget("POST /auth/token", 40, 120, 500)
    assert summary.release_ready
    summary.record_budget("GET /health", 50, 150, 100)
    assert summary.verdict == "Verdict: NOT RELEASE-READY (1 performance budget missed)"
    assert "**MISSED**" in render_markdown(summary)


def test_behave_statuses_are_folded() -> None:
    from behave.model_core import Status

    summary = RunSummary()
    rec = summary.record("F", [], "hook broke", ["critical"], Status.hook_error, 0.0)
    assert rec.status == "error" and rec.domain == "other"
    summary.record("F", [], "never ran", ["critical"], Status.untested, 0.0)
    assert "1 @critical scenario failed" in summary.verdict
    assert "1 @critical scenario not run" in summary.verdict


# -- (2) run metadata ------------------------------------------------------------------------------------


def test_environment_properties_and_executor_written(run: BehaveRun) -> None:
    props = (run.allure_results / "environment.properties").read_text(encoding="utf-8").splitlines()
    assert r"target.url=https\://fixture.invalid\:8443" in props
    assert "permiso.version=0.0-fixture" in props
    assert "suite.version=0.1.0" in props
    assert "run.id=f1x7ur" in props
    assert any(line.startswith("python.version=CPython 3.") for line in props)
    assert "capability.docker=present" in props
    assert r"capability.signing_key=skipped\: PERMISO_JWT_SECRET is not set" in props
    executor = json.loads((run.allure_results / "executor.json").read_text(encoding="utf-8"))
    assert executor["name"] == "permiso-acceptance" and "f1x7ur" in executor["buildName"]


def test_metadata_tolerates_missing_directory_and_redacts_url(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "there"
    props = write_run_metadata(
        target,
        target_url="https://ops:Hunter2-Secret@permiso.example:8443",
        permiso_version=None,
        suite_version="9.9",
        run_id="abc123",
        capabilities={},
    )
    text = (target / "environment.properties").read_text(encoding="utf-8")
    assert "Hunter2-Secret" not in text and "Hunter2-Secret" not in props["target.url"]
    assert "permiso.version=unknown (not reported by /health)" in text
    assert (target / "executor.json").exists()


# -- (3) redacted evidence, no secret anywhere -----------------------------------------------------------


def test_failed_scenario_has_readable_redacted_evidence(run: BehaveRun) -> None:
    result = next(r for r in _result_files(run) if r["name"] == FAILED_CRITICAL)
    assert result["status"] == "failed"
    assert {"name": "epic", "value": "Authentication"} in result["labels"]
    assert any(p["name"] == "HTTP total ms" and p.get("excluded") for p in result["parameters"])
    attachment = next(a for a in result["attachments"] if a["name"] == "HTTP exchanges (redacted)")
    assert attachment["type"] == "text/plain"
    evidence = (run.allure_results / attachment["source"]).read_text(encoding="utf-8")
    assert "POST https://fixture.invalid:8443/api/v1/auth/token" in evidence
    assert "<- 401 in 48.2 ms" in evidence and "invalid_grant" in evidence
    assert "password=***" in evidence and "Authorization: Bearer ***" in evidence
    timings = next(a for a in result["attachments"] if a["name"] == "HTTP timings")
    table = (run.allure_results / timings["source"]).read_text(encoding="utf-8")
    assert "/api/v1/auth/token" in table and "401" in table and "total" in table
    passed = next(r for r in _result_files(run) if r["name"] == "The configured user signs in")
    assert [a["name"] for a in passed["attachments"]] == ["HTTP timings"], "evidence only on failure"


def test_no_secret_in_any_output(run: BehaveRun, report: Path, fake_secrets: dict[str, str]) -> None:
    needles = list(fake_secrets.values())
    roots = [run.out_dir / "console.log", run.junit_dir, run.allure_results, run.summary, report]
    assert list(run.junit_dir.glob("*.xml")), "JUnit XML written"
    assert files_containing(roots, needles) == {}


# -- (4) the Allure 3 report, looked at in a real browser ------------------------------------------------


@needs_node
def test_report_builds_with_history(run: BehaveRun, tmp_path: Path) -> None:
    history = tmp_path / "history"
    started = time.monotonic()
    rc = report_cli.main(
        ["--results", str(run.allure_results), "--output", str(tmp_path / "r"), "--history-dir", str(history)]
    )
    took = time.monotonic() - started
    assert rc == 0
    assert (tmp_path / "r" / "index.html").exists()
    assert (tmp_path / "r" / report_cli.SINGLE_FILE_NAME).stat().st_size > 100_000
    assert took < 60, f"report took {took:.1f} s"
    assert report_cli.main(["--results", str(run.allure_results), "--output", str(tmp_path / "r"),
                            "--history-dir", str(history), "--single-file"]) == 0
    assert len((history / report_cli.HISTORY_FILE_NAME).read_text().splitlines()) == 2, "one line per run"
    assert not (tmp_path / "r" / "index.html").exists(), "--single-file builds only the single file"


def test_report_without_results_or_node_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_cli.main(["--results", str(tmp_path / "none"), "--output", str(tmp_path / "o")]) == 1
    assert "no Allure results" in capsys.readouterr().err
    monkeypatch.setattr(report_cli.shutil, "which", lambda _name: None)
    with pytest.raises(report_cli.ReportError) as info:
        report_cli.allure_binary(tmp_path)
    assert info.value.exit_code == 2 and "needs Node.js" in str(info.value)
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "x-result.json").write_text("{}")
    monkeypatch.setattr(report_cli, "PROJECT_ROOT", tmp_path)  # no node_modules there
    assert report_cli.main(["--results", str(tmp_path / "res"), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs Node.js" in err and "Traceback" not in err


@needs_chromium
def test_report_in_chromium_shows_count_and_failed_attachment(
    run: BehaveRun, report: Path, fake_secrets: dict[str, str], tmp_path: Path
) -> None:
    scenario_count = len(list(run.allure_results.glob("*-result.json")))
    assert scenario_count == 8
    with serve_directory(report) as url:
        # polled, not a fixed virtual-time budget: a loaded CI machine renders late
        overview = " ".join(render_page(url, wait_for=[f"Total {scenario_count}", FAILED_CRITICAL]).split())
        assert f"Total {scenario_count}" in overview, overview[:1500]
        assert "Failed 2" in overview and "Broken 1" in overview
        assert FAILED_CRITICAL in overview
        assert "capability.signing_key skipped: PERMISO_JWT_SECRET is not set" in overview

        categories = render_page(f"{url}#/categories", wait_for=["Known defects (documented, @known_defect)"])
        assert "Scenario rules broken (by defect, else by the scenario's rule)" in categories
        assert "Broken tests or infrastructure (error, not an assertion)" in categories

        tid = test_result_id(report, FAILED_CRITICAL)
        text = render_page(
            f"{url}#/{tid}",
            wait_for=[FAILED_CRITICAL, "HTTP exchanges (redacted)"],
            clicks=[Click("HTTP exchanges (redacted)", wait_for=("invalid_grant",))],
            screenshot=tmp_path / "failed-test.png",
        )
    assert "<- 401 in 48.2 ms" in text
    assert "password=***&client_secret=***" in text
    assert "Category: Scenario rules broken" in text
    for secret in fake_secrets.values():
        assert secret not in text

    single = " ".join(render_page(report / report_cli.SINGLE_FILE_NAME, wait_for=[f"Total {scenario_count}"]).split())
    assert f"Total {scenario_count}" in single, "the single file opens from disk"


# -- visible retries: allure run --rerun -----------------------------------------------------------------


@needs_node
def test_allure_run_rerun_shows_the_retry(tmp_path: Path) -> None:
    allure = report_cli.allure_binary()
    config = tmp_path / "allurerc.generated.mjs"
    config.write_text(
        report_cli.config_module_text(REPO_ROOT / "allurerc.mjs", tmp_path / "report", None,
                                      multi=True, single=False),
        encoding="utf-8",
    )
    results = tmp_path / "allure-results"
    proc = subprocess.run(
        [str(allure), "run", "--config", str(config), "--rerun", "2", "--results-dir", str(results),
         "--output", str(tmp_path / "report"), "--",
         sys.executable, "-m", "behave", "--tags=@flaky_once",
         "-f", "allure_behave.formatter:AllureFormatter", "-o", str(results),
         "-D", "AllureFormatter.hide_excluded=True",
         "-D", f"flaky_flag={tmp_path / 'failed-once.flag'}", "-D", f"allure_results={results}"],
        cwd=FIXTURE_PROJECT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    data = tmp_path / "report" / "data" / "test-results"
    results_json = [json.loads(p.read_text()) for p in data.glob("*.json")]
    latest = [r for r in results_json if not r["isRetry"]]
    assert len(latest) == 1, [r["name"] for r in results_json]
    assert latest[0]["status"] == "passed" and latest[0]["retriesCount"] == 1
    assert [r["status"] for r in results_json if r["isRetry"]] == ["failed"]


def test_two_builds_on_a_fresh_checkout_install_the_allure_cli_once(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel test workers on a fresh clone once ran `npm ci` in the same folder together, and one
    generated with a half-installed CLI; the install now holds a lock on the project folder."""
    import threading

    root, bin_dir = tmp_path / "project", tmp_path / "bin"
    root.mkdir()
    bin_dir.mkdir()
    (root / "package.json").write_text("{}")
    (root / "package-lock.json").write_text("{}")
    calls = tmp_path / "npm-calls"
    (bin_dir / "node").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "npm").write_text(
        f"#!/bin/sh\necho x >> {calls}\nsleep 0.5\nmkdir -p node_modules/.bin\n"
        "printf '#!/bin/sh\\n' > node_modules/.bin/allure\nchmod +x node_modules/.bin/allure\n")
    for tool in ("node", "npm"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    found: list[Path] = []
    threads = [threading.Thread(target=lambda: found.append(report_cli.allure_binary(root))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert found == [root / "node_modules" / ".bin" / "allure"] * 3
    assert calls.read_text().count("x") == 1
    assert sorted(p.name for p in root.iterdir()) == ["node_modules", "package-lock.json", "package.json"]
