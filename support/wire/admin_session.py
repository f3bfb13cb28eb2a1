"""The configured administrator's one sign-in for the whole run, shared by every feature (and worker).

Why: the administrator prepares every scenario's world (throwaway users, roles, clients). Signing it in
per feature and out again costs two calls on the front's auth limit per feature (5 r/s behind nginx,
contract Part B) and, against the release, an argon2 check of ≈0.3-0.4 s (D.5): 40 of the release gate's
250 auth calls. Worse, a logout of the configured administrator on the release ends *every* session of
the account, including sessions that are not the suite's (D.3).

So the run signs the administrator in once (``before_all``, or ``before_all_workers`` under behavex, which
hands the tokens to the workers), gives each feature's administrator client that token, signs in again
only when the token is half-way through its lifetime or refused (401), and at the end of the run revokes
its own tokens (never a logout).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from support.wire import redaction
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

#: Renew the shared token once this share of its lifetime has passed (a feature must never start with
#: a token that expires half-way through it).
RENEW_AFTER_SHARE = 0.5


class AdminSignInRefused(Exception):
    """The configured administrator could not sign in (the answer is kept for the one-line message)."""

    def __init__(self, answer: ApiResponse) -> None:
        super().__init__(f"HTTP {answer.status}")
        self.answer = answer


class AdminSession:
    """The run's tokens of the configured administrator, lent to any number of clients."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.session_id: str | None = None
        self.renew_at = 0.0
        #: True in behavex workers: the main process owns (and revokes) the tokens
        self.borrowed = False

    @property
    def fresh(self) -> bool:
        """True while the token is held and not yet due for renewal."""
        return self.token is not None and self._clock() < self.renew_at

    def sign_in(self, client: PermisoClient) -> ApiResponse:
        """Sign the administrator in with ``client`` and keep the tokens; raise AdminSignInRefused otherwise."""
        answer = client.sign_in_administrator()
        if answer.status != 200:
            raise AdminSignInRefused(answer)
        self._keep(client, answer)
        return answer

    def _keep(self, client: PermisoClient, answer: ApiResponse) -> None:
        self.token, self.refresh_token, self.session_id = client.token, client.refresh_token, client.session_id
        lifetime = answer.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 900.0
        self.renew_at = self._clock() + RENEW_AFTER_SHARE * seconds
        self.borrowed = False

    def lend(self, client: PermisoClient) -> PermisoClient:
        """Give ``client`` the shared token, signing in first when there is none or it is due for renewal."""
        if not self.fresh:
            self.sign_in(client)
        client.token, client.refresh_token, client.session_id = self.token, self.refresh_token, self.session_id
        return client

    def learn(self, client: PermisoClient) -> None:
        """Take over tokens a client obtained by signing the administrator in again (after a 401)."""
        if client.token and client.token != self.token and client.last is not None and client.last.status == 200:
            self._keep(client, client.last)

    def handoff(self) -> dict[str, Any]:
        """What a behavex worker needs to use the tokens (secrets: shared data stays in memory)."""
        remaining = max(0.0, self.renew_at - self._clock())
        return {"token": self.token, "refresh_token": self.refresh_token, "session_id": self.session_id,
                "renew_in": remaining}

    @classmethod
    def from_handoff(cls, data: Mapping[str, Any] | None, clock: Callable[[], float] = time.monotonic
                     ) -> AdminSession:
        """A worker's session from the main process's handoff (empty when there was none)."""
        session = cls(clock)
        if data and data.get("token"):
            session.token = str(data["token"])
            session.refresh_token = str(data["refresh_token"]) if data.get("refresh_token") else None
            session.session_id = str(data["session_id"]) if data.get("session_id") else None
            for secret in (session.token, session.refresh_token):
                if secret:
                    redaction.register_secret(secret)
            session.renew_at = clock() + float(data.get("renew_in") or 0.0)
            session.borrowed = True
        return session

    def end(self, make_client: Callable[[], PermisoClient]) -> None:
        """Revoke the run's tokens (never a logout: on the release it ends every session, D.3); a worker
        leaves them to the main process. Answers are ignored: the run is over."""
        if self.token is None or self.borrowed:
            return
        with contextlib.suppress(Exception):
            client = make_client()
            client.token, client.refresh_token = self.token, self.refresh_token
            client.revoke_own_tokens()
            client.close()
        self.token = self.refresh_token = self.session_id = None


def ensure_admin(context: Any) -> PermisoClient:
    """The configured administrator's client of a behave context, holding the run's shared token.

    Steps and domain helpers call it before any administrative call: the token is lent on first use,
    renewed half-way through its life, and taken again after a 401 (``Identities._call``).
    """
    admin: PermisoClient = context.admin
    session: AdminSession | None = getattr(getattr(context, "run_state", None), "admin_session", None)
    if session is None:  # outside a run (a unit test): a sign-in of its own when it holds no token
        if admin.token:
            return admin
        session = AdminSession()
    session.learn(admin)  # a token it got by signing in again after a 401 (Identities._call)
    if not admin.token or admin.token != session.token or not session.fresh:
        try:
            session.lend(admin)
        except AdminSignInRefused as exc:
            raise AssertionError(f"the configured administrator could not sign in ({exc})") from None
    return admin
