"""The reference's two hashing schemes: ``fast`` (bcrypt cost 4, default) and ``production`` (argon2id as
the release, contract D.5).

Unit tests of ``permiso_reference.hashing`` (stored hashes of either scheme verify whatever the setting,
anything else is refused cleanly) and black-box tests of a server started with ``hashing="production"``:
it stores argon2id, signs in, and its unknown-user path does the same work as a wrong password (no
timing leak of which usernames exist, D29).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import ADMIN_PASSWORD, ADMIN_USERNAME, WRONG_PASSWORD, Api, ServerPool, median_ms, unique

from permiso_reference.hashing import HASHINGS, check_secret, hash_secret, validate_hashing

SECRET = "Str0ng!Passw0rd"


def test_fast_is_bcrypt_at_the_given_cost() -> None:
    hashed = hash_secret(SECRET, 4)
    assert hashed.startswith("$2b$04$")
    assert check_secret(SECRET, hashed) and not check_secret(WRONG_PASSWORD, hashed)


def test_production_is_argon2id_with_the_releases_cost() -> None:
    hashed = hash_secret(SECRET, 4, "production")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert check_secret(SECRET, hashed) and not check_secret(WRONG_PASSWORD, hashed)


@pytest.mark.parametrize("made_with", ["fast", "production"])
def test_a_hash_of_either_scheme_verifies_whatever_the_scheme_in_use(made_with: str) -> None:
    """A database kept across a change of ``--hashing`` still signs its users in (the scheme is read
    from the stored hash, not from the setting)."""
    assert check_secret(SECRET, hash_secret(SECRET, 4, made_with))


@pytest.mark.parametrize("stored", ["", "plain-text", "$2b$04$broken", "$argon2id$v=19$m=65536,t=3,p=4$xx$yy",
                                    "$argon2id$garbage"])
def test_malformed_hashes_are_refused_without_raising(stored: str) -> None:
    assert check_secret(SECRET, stored) is False


def test_unknown_scheme_is_refused_by_name() -> None:
    assert validate_hashing("production") == "production"
    with pytest.raises(ValueError, match=r"unknown hashing 'slow'.*fast, production"):
        hash_secret(SECRET, 4, "slow")
    assert set(HASHINGS) == {"fast", "production"}


def test_cli_refuses_an_unknown_scheme_with_exit_2() -> None:
    run = subprocess.run([sys.executable, "-m", "permiso_reference.cli", "serve", "--hashing", "slow"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "invalid choice: 'slow'" in run.stderr


@pytest.fixture(scope="module")
def production(pool: ServerPool) -> Iterator[Api]:
    """A server hashing like the release (its own: argon2 makes every sign-in cost ~0.1-0.4 s)."""
    yield pool.api(hashing="production", lockout_threshold=10_000)


def test_production_server_stores_argon2_and_signs_in(production: Api) -> None:
    user = production.create_user(password=SECRET)
    assert production.sign_in(user.username, SECRET).status_code == 200
    assert production.sign_in(user.username, WRONG_PASSWORD).status_code == 401
    assert production.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 200  # bootstrap hashed it too


def test_production_server_unknown_user_costs_what_a_wrong_password_costs(production: Api) -> None:
    """The dummy check of an unknown user uses the configured scheme: with argon2 for real users and a
    bcrypt-4 dummy, unknown names would answer ~100x faster (D29)."""
    user = production.create_user(password=SECRET)
    wrong = median_ms(lambda: production.sign_in(user.username, WRONG_PASSWORD), 5)
    unknown = median_ms(lambda: production.sign_in(unique("ghost"), WRONG_PASSWORD), 5)
    assert wrong > 30, f"argon2 check took only {wrong:.1f} ms: is the server hashing with bcrypt?"
    assert unknown > 0.5 * wrong, f"unknown user {unknown:.1f} ms vs wrong password {wrong:.1f} ms"
