"""One clean console stream, and each run's own results: behave run exactly as configured in pyproject.toml.

These runs use the project's real ``[tool.behave]`` section (copied into a temporary project whose
outputs stay in ``tmp_path``), because the doubled console came from the configuration itself: behave
1.3.3 appends its ``default_format`` to the formatters of the config file and gives it stdout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, clean_env

SELECTION = ["--tags=@critical", str(ROOT / "features/infrastructure/health.feature"),
             str(ROOT / "features/tokens/refresh.feature")]
SCENARIO_LINE = re.compile(r"^\s*Scenario( Outline)?:")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TRACEBACK = "Traceback (most recent call last)"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def project(tmp_path: Path) -> Path:
    """A project dir whose pyproject.toml holds the repo's [tool.behave] (outputs relative to it)."""
    behave = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["behave"]
    lines = ["[tool.behave]"]
    tables: dict[str, dict[str, Any]] = {}
    for key, value in behave.items():
        if isinstance(value, dict):
            tables[key] = value
        elif key == "paths":
            lines.append(f"paths = {_toml_value([str(ROOT / p) for p in value])}")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines += ["", f"[tool.behave.{name}]", *(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items())]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return tmp_path


def run_configured(workdir: Path, args: list[str], *, tty: bool = False, timeout: float = 300
                   ) -> tuple[int, str]:
    """behave with the project's configuration, piped (like `| cat`) or on a pseudo-terminal."""
    env = clean_env({"PYTHONPATH": str(ROOT)})
    argv = [sys.executable, "-m", "behave", *args]
    if tty:
        command = " ".join(_quote(a) for a in argv)
        argv = ["script", "-qec", command, "/dev/null"]
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def scenario_lines(output: str) -> list[str]:
    """The scenario title lines as the issue's check sees them (location comment stripped)."""
    plain = ANSI.sub("", output).replace("\r", "")
    return [re.sub(r"#.*", "", line).rstrip() for line in plain.splitlines() if SCENARIO_LINE.match(line)]


def test_a_piped_run_prints_each_scenario_once_without_colour(tmp_path: Path) -> None:
    code, output = run_configured(project(tmp_path), SELECTION)
    assert code == 0, output[-3000:]
    titles = scenario_lines(output)
    assert titles, output[-3000:]
    duplicated = sorted({t for t in titles if titles.count(t) > 1})
    assert not duplicated, f"printed more than once: {duplicated}"
    assert "\x1b[" not in output, "colour codes in a pipe"
    assert TRACEBACK not in output
    # progress: [n/N] before each feature, N = the features that run
    progress = re.findall(r"^\[(\d+)/(\d+)\] Feature: ", output, re.M)
    assert [int(n) for n, _ in progress] == [1, 2] and {total for _, total in progress} == {"2"}, output[:2000]
    # each step once, after it ran, with its status
    steps = [line for line in output.splitlines() if re.match(r"^ {4}(Given|When|Then|And|But) .* \.\.\. ", line)]
    assert len(steps) >= len(titles), output[:3000]
    assert all(re.search(r"\.\.\. (passed|skipped)", s) for s in steps), steps
    # the Allure formatter still writes its results, JUnit its XML
    assert list((tmp_path / "allure-results").glob("*-result.json"))
    assert list((tmp_path / "reports" / "junit").glob("TESTS-*.xml"))


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux `script` (a pseudo-terminal) is not installed")
def test_a_terminal_run_is_coloured_without_redraws(tmp_path: Path) -> None:
    code, output = run_configured(project(tmp_path), SELECTION, tty=True)
    assert code == 0, output[-3000:]
    assert "\x1b[32m" in output, "no colour on a terminal"
    assert "\x1b[1A" not in output, "cursor-up redraws land on the wrong lines"
    titles = scenario_lines(output)
    assert titles and len(titles) == len(set(titles)), titles


def _result_starts(results: Path) -> list[int]:
    return [json.loads(p.read_text())["start"] for p in results.glob("*-result.json")]


def test_each_run_starts_with_empty_allure_results(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "old-run-result.json").write_text(json.dumps({"start": 0}))
    (results / "notes.txt").write_text("not Allure's: stays")
    code, output = run_configured(workdir, ["--tags=@critical", str(ROOT / "features/infrastructure/health.feature")])
    assert code == 0, output[-3000:]
    first = sorted(results.glob("*-result.json"))
    assert first and not (results / "old-run-result.json").exists()
    assert (results / "notes.txt").exists()
    assert (results / "environment.properties").exists()  # written after the emptying
    second_started_ms = time.time() * 1000
    code, output = run_configured(workdir, ["--tags=@critical", str(ROOT / "features/infrastructure/health.feature")])
    assert code == 0, output[-3000:]
    starts = _result_starts(results)
    assert len(starts) == len(first), "the second run's results only"
    assert min(starts) >= second_started_ms - 1000
    assert (results / "environment.properties").exists()


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="the Allure 3 report needs Node.js and npm")
def test_two_runs_and_two_reports_give_a_two_run_trend(tmp_path: Path) -> None:
    from permiso_acceptance.report import build_report

    workdir = project(tmp_path)
    history = tmp_path / "history"
    for run in (1, 2):
        code, output = run_configured(workdir, ["--tags=@critical",
                                                str(ROOT / "features/infrastructure/health.feature")])
        assert code == 0, f"run {run}: {output[-3000:]}"
        build_report(tmp_path / "allure-results", tmp_path / f"report-{run}", history_dir=history,
                     single_file=False)
    entries = (history / "history.jsonl").read_text().splitlines()
    assert len(entries) == 2, "one history entry per report: the trend spans both runs"
    # the trend lives outside the results folder, which each run empties
    assert not history.is_relative_to(tmp_path / "allure-results")


def test_a_failing_step_shows_its_evidence_once_as_one_block(tmp_path: Path) -> None:
    """A product defect reads as: the step, `failed`, then the matcher's message indented under it."""
    code, output = run_configured(project(tmp_path), [
        "--tags=@critical", "-D", "PERMISO_REFERENCE_FAULTS=deleted_user_token_valid",
        str(ROOT / "features/administration/users.feature"),
    ])
    assert code != 0, output[-3000:]
    lines = output.splitlines()
    failed = [i for i, line in enumerate(lines) if re.match(r"^ {4}\S.* \.\.\. failed", line)]
    assert len(failed) == 1, output[-4000:]
    block = []
    for line in lines[failed[0] + 1:]:
        if not line.startswith(" " * 6):
            break
        block.append(line)
    assert block and "Expected:" in block[0] and any("but:" in line for line in block), block
    assert sum(line == lines[failed[0]] for line in lines) == 1, "the failing step is printed once"
    assert sum(block[0] == line for line in lines) == 1, "the evidence is printed once"
    assert TRACEBACK not in output, "an assertion about the target is no Python traceback"
    titles = scenario_lines(output)
    assert len(titles) == len(set(titles))
