"""Fixtures for black-box tests of the reference Permiso server.

One clean server per test session (per xdist worker), started lazily; fault servers come from the
same :class:`~tests.reference.helpers.ServerPool`. Tests inside one worker run sequentially, so a
test may rely on counters (statistics) not moving under it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import Api, ServerPool, User


@pytest.fixture(scope="session")
def pool() -> Iterator[ServerPool]:
    """The session's server pool (stops every server at the end)."""
    servers = ServerPool()
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def api(pool: ServerPool) -> Api:
    """An HTTP client of the shared clean server (plain HTTP, short lockout, bcrypt cost 4)."""
    return pool.api()


@pytest.fixture(scope="session")
def admin_token(api: Api) -> str:
    """An access token of the configured administrator on the clean server."""
    return api.admin


@pytest.fixture
def user(api: Api) -> User:
    """A fresh throwaway user with role ``user`` on the clean server."""
    return api.create_user()


@pytest.fixture
def user_token(api: Api, user: User) -> str:
    """An access token of :func:`user`."""
    return api.user_token(user)["access_token"]


@pytest.fixture
def other_user(api: Api) -> User:
    """A second fresh throwaway user with role ``user`` on the clean server."""
    return api.create_user()
