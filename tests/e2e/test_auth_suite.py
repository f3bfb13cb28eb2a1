"""End-to-end runs of the authentication features (issue 4) against the embedded reference Permiso.

Green on the clean server; red, naming the scenario that should catch it, when one fault is injected
(`-D PERMISO_REFERENCE_FAULTS=<fault>`, see docs/decisions.md). Each faulty run selects one feature file
and one scenario by name, so a run costs little more than the server start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import BehaveRun, run_behave

AUTH_FEATURES = [
    "features/infrastructure/health.feature",
    "features/infrastructure/tls_front.feature",
    "features/authentication",
    "features/tokens/refresh.feature",
    "features/service_clients/client_credentials.feature",
]

def _run(args: list[str], tmp_path: Path) -> BehaveRun:
    """Run behave on the given selection with outputs in tmp_path."""
    return run_behave(args, tmp_path)


@dataclass(frozen=True)
class Catch:
    fault: str
    feature: str
    scenario: str


CATCHES = [
    Catch("lockout_never", "features/authentication/lockout.feature",
          "Reaching the threshold of wrong passwords locks the account"),
    Catch("refresh_reuse", "features/tokens/refresh.feature",
          "A refreshed session can no longer use its old refresh token"),
    Catch("logout_not_revoking", "features/authentication/logout.feature",
          "Signing out makes that access token useless"),
    Catch("wrong_password_granted", "features/authentication/login.feature",
          "A wrong password and an unknown user are refused identically"),
    Catch("refresh_as_access", "features/tokens/refresh.feature",
          "A refresh token is not accepted in place of an access token"),
    Catch("logout_keeps_refresh", "features/authentication/logout.feature",
          "After signing out, none of the person's refresh tokens work"),
    Catch("locked_password_500", "features/authentication/lockout.feature",
          "Reaching the threshold of wrong passwords locks the account"),
    Catch("lock_never_expires", "features/authentication/lockout.feature",
          "The account opens again when the lockout window has passed"),
    Catch("disabled_token_valid", "features/authentication/login.feature",
          "A disabled account cannot sign in, and its tokens stop working"),
    # missing_www_authenticate: the Bearer challenge is a rule of every 401 with its own scenarios
    # (headers_and_hygiene, caught in test_security_suite), not of the sign-out scenario
    Catch("expired_token_accepted", "features/tokens/refresh.feature",
          "An expired access token is refused, however correctly it is signed"),
    Catch("service_token_on_user_endpoint", "features/service_clients/client_credentials.feature",
          "A service token cannot be used where a signed-in person is required"),
    Catch("client_disabled_allowed", "features/service_clients/client_credentials.feature",
          "A disabled service client gets no more tokens"),
    Catch("http_not_redirected", "features/infrastructure/tls_front.feature",
          "The API does not answer over plain HTTP"),
]


def test_the_auth_features_pass_on_the_clean_reference_server(tmp_path: Path) -> None:
    run = _run(AUTH_FEATURES, tmp_path)
    assert run.returncode == 0, run.output[-4000:]
    assert " 0 failed" in run.output
    assert "0 scenarios passed" not in run.output


@pytest.mark.parametrize("catch", CATCHES, ids=[c.fault for c in CATCHES])
def test_an_injected_fault_turns_its_scenario_red(catch: Catch, tmp_path: Path) -> None:
    run = _run(["-D", f"PERMISO_REFERENCE_FAULTS={catch.fault}", "--name", catch.scenario, catch.feature],
               tmp_path)
    assert run.returncode == 1, f"expected a failing run (exit 1), got {run.returncode}:\n{run.output[-4000:]}"
    failing = run.output.split("Failing scenarios:", 1)
    assert len(failing) == 2, f"no failing scenario listed:\n{run.output[-4000:]}"
    assert catch.scenario in failing[1], f"{catch.scenario!r} is not among the failing:\n{failing[1][:2000]}"
