"""End-to-end runs of the administration and access-control features (issue 5).

Green against the clean embedded reference Permiso; red, with the expected scenario named as
failed, when the reference server carries the matching fault (contract Part C: D1 admin routes open
to users, BOLA on profiles, D15 mass assignment; A.8 old secret still valid; A.6 statistics not
counting new users). Each faulty run selects only the feature that should catch the fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run_behave

ADMIN = "features/administration"
SECURITY = "features/security"


def test_the_admin_features_are_green_on_the_clean_reference(tmp_path: Path) -> None:
    run = run_behave(["--tags=@admin"], tmp_path, timeout=900)
    assert run.returncode == 0, run.output[-4000:]
    assert "0 failed" in run.output


@pytest.mark.parametrize(
    ("fault", "path", "scenario"),
    [
        ("admin_open_to_users", f"{SECURITY}/access_control_matrix.feature",
         "Only an administrator may list the users"),
        ("bola_user_profile", f"{SECURITY}/access_control_bola.feature", "Dana cannot read Erin's profile"),
        ("mass_assignment", f"{SECURITY}/access_control_mass_assignment.feature",
         "Dana cannot give herself the admin role through her profile"),
        ("old_secret_valid", f"{ADMIN}/service_client_lifecycle.feature", "After rotation only the new secret works"),
        ("stats_not_counting", f"{ADMIN}/users.feature", "The user statistics count an account created just now"),
    ],
)
def test_the_admin_features_go_red_with_the_matching_fault(tmp_path: Path, fault: str, path: str,
                                                           scenario: str) -> None:
    run = run_behave([path], tmp_path, env={"PERMISO_REFERENCE_FAULTS": fault}, timeout=600)
    assert run.returncode != 0, f"{fault} was not caught:\n{run.output[-3000:]}"
    failing = run.output.split("Failing scenarios:", 1)
    assert len(failing) == 2, run.output[-3000:]
    assert scenario in failing[1], f"{scenario!r} not reported as failed:\n{failing[1][:3000]}"
