"""Password and client-secret hashing of the reference Permiso: ``fast`` (bcrypt) or ``production`` (argon2id).

Why two schemes: the suite's own tests want a target that answers a sign-in in milliseconds, so the
default (``fast``) is bcrypt at cost 4. The current release hashes with argon2 (64 MiB, 3 passes,
contract D.5), which makes each sign-in and each user created cost hundreds of milliseconds of CPU: a
suite that is fast only against bcrypt cost 4 can be eleven times slower against the release. The
``production`` scheme (``permiso-reference serve --hashing production``, or the suite setting
``PERMISO_REFERENCE_HASHING=production``) brings that cost onto one machine.

Verification reads the scheme from the stored hash, not from the setting, so a hash made under the other
scheme still verifies (``$argon2id$...`` or ``$2b$...``) and anything else is refused with ``False``,
never an exception. The unknown-user path of the sign-in checks against a dummy hash made with the
*configured* scheme (``app.state.dummy_hash``), so its timing matches a wrong password's (no D29 leak).
"""

from __future__ import annotations

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error

#: scheme name -> what it is (``permiso-reference serve --hashing``; ``--help`` shows them)
HASHINGS: dict[str, str] = {
    "fast": "bcrypt at --bcrypt-rounds (default 4): milliseconds per sign-in, for tests",
    "production": "argon2id, 64 MiB, 3 passes, 4 lanes, as the current release (contract D.5)",
}

#: argon2-cffi's RFC 9106 low-memory profile: the release's 64 MiB and 3 passes
_ARGON2 = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)


def validate_hashing(name: str) -> str:
    """``name`` when it is a known scheme; ValueError naming the choices otherwise."""
    if name not in HASHINGS:
        raise ValueError(f"unknown hashing {name!r} (choose from {', '.join(HASHINGS)})")
    return name


def hash_secret(secret: str, rounds: int = 4, hashing: str = "fast") -> str:
    """Hash a password or client secret with the given scheme.

    ``fast``: bcrypt at cost ``rounds`` (input truncated to bcrypt's 72 bytes); ``production``: argon2id
    (the whole input; ``rounds`` does not apply).
    """
    if validate_hashing(hashing) == "production":
        return _ARGON2.hash(secret)
    return bcrypt.hashpw(secret.encode("utf-8")[:72], bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_secret(secret: str, hashed: str) -> bool:
    """Constant-time comparison against a hash of either scheme; False for malformed hashes, never raises."""
    if not isinstance(hashed, str):
        return False
    if hashed.startswith("$argon2"):
        try:
            return _ARGON2.verify(hashed, secret)
        except (Argon2Error, ValueError, TypeError):
            return False
    try:
        return bcrypt.checkpw(secret.encode("utf-8")[:72], hashed.encode("ascii"))
    except (ValueError, TypeError):
        return False
