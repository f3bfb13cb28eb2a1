"""Settings of the embedded reference Permiso.

One plain dataclass (not pydantic-settings) because the reference server must not read the
environment by itself: the CLI and ``support/lifecycle/target.py`` build it explicitly. Field names and
defaults are an interface fixed in ``docs/decisions.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReferenceSettings:
    """Everything the reference server needs to start; every field has a default."""

    host: str = "127.0.0.1"
    port: int = 8000
    tls: bool = False
    http_port: int | None = None
    db_path: str | None = None
    faults: frozenset[str] = field(default_factory=frozenset)
    #: A named set of behaviours (``permiso_reference.profiles``) added to ``faults`` at start.
    profile: str = "contract"
    jwt_secret: str | None = None
    environment: str = "reference"
    access_token_seconds: int = 900
    refresh_token_seconds: int = 604800
    service_token_seconds: int | None = None
    session_seconds: int = 86400
    lockout_threshold: int = 5
    lockout_seconds: float = 900.0
    registration_limit_per_hour: int = 3
    auth_rate_limit: float | None = None
    admin_username: str = "admin"
    admin_password: str = "AdminPass123!"
    admin_email: str = "admin@example.com"
    user_username: str = "testuser"
    user_password: str = "TestPass123!"
    user_email: str = "testuser@example.com"
    client_id: str = "test-client-001"
    client_secret: str = "test-secret-123456789"
    bcrypt_rounds: int = 4
    #: ``fast`` (bcrypt at ``bcrypt_rounds``) or ``production`` (argon2id as the release, contract D.5)
    hashing: str = "fast"
    api_base: str = "/api/v1"
