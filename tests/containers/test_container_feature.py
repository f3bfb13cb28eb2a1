"""End to end: `behave features/infrastructure/containers.feature` against the private podman engine.

This is the path a release engineer takes: DOCKER_HOST points at the engine, the hooks compute the
"docker" capability, the steps ask support/domains/containers.py. Behave runs in a temporary working directory
so its formatters, JUnit files and a developer's `.env` stay out of the way; the suite's packages come from
the checkout (PYTHONPATH) and the steps from the feature file's own folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from podman_sandbox import PRODUCTION_CONTAINERS, PodmanSandbox

REPO = Path(__file__).resolve().parents[2]
FEATURE = REPO / "features" / "infrastructure" / "containers.feature"


def run_behave(docker_host: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the containers feature with the given DOCKER_HOST; plain output, no colours."""
    env = dict(os.environ)
    env.update(DOCKER_HOST=docker_host, PERMISO_CONTAINERS=",".join(PRODUCTION_CONTAINERS))
    env.pop("CONTAINERS_CONF", None)
    # the suite's own packages, whether or not the editable install predates them
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "behave", str(FEATURE), "--format", "plain", "--no-color", "--no-capture"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False,
    )


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_healthy_deployment_passes(production: PodmanSandbox, tmp_path: Path) -> None:
    result = run_behave(production.url, tmp_path)

    assert result.returncode == 0, output_of(result)
    assert "2 scenarios passed, 0 failed, 0 skipped" in result.stdout, output_of(result)


def test_stopped_container_fails_naming_it(production: PodmanSandbox, tmp_path: Path) -> None:
    production.stop("permiso-redis-prod")

    result = run_behave(production.url, tmp_path)

    assert result.returncode != 0, output_of(result)
    assert "container permiso-redis-prod is not running" in result.stdout, output_of(result)
    # positive control: the health scenario (running containers only) still passes
    assert "1 scenario passed, 1 failed, 0 skipped" in result.stdout, output_of(result)


def test_no_engine_skips_the_scenarios_with_the_reason(tmp_path: Path) -> None:
    result = run_behave(f"unix://{tmp_path}/no-such-engine.sock", tmp_path)

    # skipped with the reason, not failed; and a run that checked nothing is no release sign-off (exit 1)
    assert result.returncode == 1, output_of(result)
    assert "Verdict: NOT RELEASE-READY (no scenario ran)" in result.stdout, output_of(result)
    assert "0 scenarios passed, 0 failed, 2 skipped" in result.stdout, output_of(result)
    assert "the socket does not exist" in output_of(result), output_of(result)
