"""A pool of throwaway people, made once per run for each role set and lent to non-destructive scenarios.

Why: against the release every user created costs ≈0.45 s of argon2 and every sign-in ≈0.3 s more, under
the front's 5 auth calls per second (contract D.5, Part B). Most scenarios only need "Dana, a regular user,
signed in" and never change her; making and signing in a new Dana for each of them was most of the
release gate's time. So a non-destructive scenario *borrows* a person of the role set it needs, with
the one session the pool keeps for them, and hands them back at its end.

Handed back clean, or not at all. While a person is lent, :class:`Lease` watches every exchange of the
process (``ExchangeLog.subscribe_all``: all clients, hooks included) that names them: their id,
username, email or one of their tokens, in the URL, the ``Authorization`` header or the request body.
Reads (``GET``/``HEAD``/``OPTIONS``, introspection), redirects and refused calls (4xx) leave the person
as they were - except a refused sign-in, which counts towards lockout. The rest decides the hand-back:

- nothing, or only successful sign-ins without a scope (a Given's "Dana has signed in", a Then's "Dana
  can still sign in"): the person goes back with **one** session, the newest; every other session of
  theirs the pool knows (the pooled one, earlier sign-ins) is ended (``DELETE /sessions/{id}``), so the
  next borrower's "has signed in" adopts that session's tokens without a sign-in (a token past half its
  lifetime is not adopted);
- other changes to their sessions or tokens (a refresh, a revocation, ending or renewing a session, a
  sign-in asking for scopes): the pool signs them out (``/auth/logout`` ends every session of the
  account and refuses its refresh tokens, A.3) and they go back **without** a session; after a logout of
  the scenario's own they go back as they are;
- anything else - a wrong password, a profile, password or role change, a deletion, a 5xx - or a
  scenario that did not pass, or a clean-up the target refused: the person is **retired**, deleted at
  once with every session and token they had. A failure never reaches another scenario through a
  borrowed person.

Destructive scenarios (``@destructive``) never borrow, and neither do steps that ask for a person with
particular fields (unverified, inactive ...) or that are about making the account: they make their own.

The pool only decides; creating and deleting people is given to it (``make``/``retire``), so that it
needs neither behave nor an administrator of its own, and everything it makes is registered for
cleanup at creation by whoever made it (support/lifecycle/run.py: the run's ledger).
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from support.people.identities import Identity
from support.wire.client import PermisoClient
from support.wire.evidence import Exchange, ExchangeLog

#: methods that only read
READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the token fields of an answer: tokens issued to a watched person become markers too
TOKEN_FIELDS = ("access_token", "refresh_token")
#: renew a kept session's tokens (by a sign-in of the next borrower) once this share of their life passed
ADOPT_WITHIN_SHARE = 0.5


@dataclass
class Session:
    """A session of a pooled person, as its sign-in answered."""

    token: str
    refresh_token: str | None
    session_id: str | None
    adopt_until: float


@dataclass
class Pooled:
    """A person the pool owns, with the one session it keeps for them (if any)."""

    identity: Identity
    roles: tuple[str, ...]
    session: Session | None = None


def request_text(exchange: Exchange) -> str:
    """URL, bearer and request body of an exchange as one NFKC-normalised text (what it names)."""
    body = exchange.request_body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str):
        try:
            body = json.dumps(body, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            body = str(body)
    auth = next((v for k, v in exchange.request_headers.items() if k.lower() == "authorization"), "")
    return unicodedata.normalize("NFKC", f"{exchange.url} {auth} {body}")


def harmless(exchange: Exchange) -> bool:
    """True for an exchange that cannot have changed the people it names: a read, an introspection, a
    redirect (the plain-HTTP port's 301 never reaches the service) or a call the target refused (4xx) -
    except a refused sign-in, which counts towards lockout (A.5)."""
    path = urlsplit(exchange.url).path
    if exchange.method.upper() in READS or path.endswith("/auth/introspect") or 300 <= exchange.status < 400:
        return True
    return 400 <= exchange.status < 500 and not path.endswith("/auth/token")


def _asked_for_scope(exchange: Exchange) -> bool:
    body = exchange.request_body
    return isinstance(body, dict) and bool(body.get("scope"))


class Lease:
    """One scenario's use of a pooled person; decides at hand-back how they go back."""

    def __init__(self, pooled: Pooled, label: str, clock: Callable[[], float]) -> None:
        self.pooled = pooled
        self.identity = dataclasses.replace(pooled.identity, label=label)
        self._clock = clock
        person, kept = pooled.identity, pooled.session
        self._markers = {m for m in (person.id, person.email, quote(person.email, safe=""),
                                     kept and kept.token, kept and kept.refresh_token) if m}
        self._name = re.compile(rf"(?<![\w-]){re.escape(person.username)}(?![\w-])", re.IGNORECASE)
        self._lock = threading.Lock()
        #: sessions the scenario's successful sign-ins opened, oldest first
        self.opened: list[Session] = []
        #: the pooled session is still open (no logout ended it)
        self.pooled_open = kept is not None
        #: other changes of sessions or tokens: the pool signs the person out
        self.tangled = False
        #: why the person cannot go back (an account change), or None
        self.dirty: str | None = None
        #: the newest access token issued to the person (for the sign-out)
        self.latest: str | None = kept.token if kept else None
        #: set by the run when the scenario ends (after_scenario); unknown counts as not passed
        self.passed = False

    # ------------------------------------------------------------------ a precondition's sign-in
    def adopt(self, client: PermisoClient) -> bool:
        """Give ``client`` the pooled session's tokens when they are fresh; False when there are none."""
        kept = self.pooled.session
        with self._lock:
            if kept is None or not self.pooled_open or self.opened or self.tangled or \
                    self._clock() >= kept.adopt_until:
                return False
        client.token, client.refresh_token, client.session_id = kept.token, kept.refresh_token, kept.session_id
        return True

    # ------------------------------------------------------------------ watching
    def see(self, exchange: Exchange) -> None:
        """Judge one exchange of the process (called for every exchange while the lease is open)."""
        if exchange.retried:
            return  # a front 503 page that was retried never reached the service: no evidence
        text = request_text(exchange)
        with self._lock:
            if not (any(m in text for m in self._markers) or self._name.search(text)):
                return
            body = exchange.json()
            body = body if isinstance(body, dict) else {}
            self._markers |= {str(body[f]) for f in TOKEN_FIELDS if isinstance(body.get(f), str)}
            if isinstance(body.get("access_token"), str):
                self.latest = str(body["access_token"])
            if harmless(exchange) or self.dirty:
                return
            self._judge(exchange, body)

    def _judge(self, exchange: Exchange, body: dict[str, Any]) -> None:
        path, status = urlsplit(exchange.url).path, exchange.status
        if not 200 <= status < 300:
            self.dirty = f"{exchange.method.upper()} {path} answered {status}"
        elif path.endswith("/auth/logout"):  # every session of the account ended (A.3)
            self.opened.clear()
            self.pooled_open = self.tangled = False
        elif path.endswith("/auth/token") and not _asked_for_scope(exchange) and body.get("access_token"):
            lifetime = body.get("expires_in")
            seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 900.0
            self.opened.append(Session(str(body["access_token"]), body.get("refresh_token"),
                                       body.get("session_id"), self._clock() + ADOPT_WITHIN_SHARE * seconds))
        elif path.endswith(("/auth/token", "/auth/refresh", "/auth/revoke")) or "/sessions/" in path:
            self.tangled = True
        else:
            self.dirty = f"{exchange.method.upper()} {path} answered {status}"

    # ------------------------------------------------------------------ hand-back
    def verdict(self) -> tuple[str, str | None]:
        """``("keep", None)``, ``("sign out", None)`` or ``("retire", why)``."""
        with self._lock:
            if self.dirty:
                return "retire", self.dirty
            if not self.passed:
                return "retire", "the scenario did not pass"
            return ("sign out", None) if self.tangled else ("keep", None)

    def sessions_to_end(self) -> list[str]:
        """Ids of the person's sessions other than the newest one, which the pool keeps."""
        older = [s for s in ([self.pooled.session] if self.pooled_open else []) + self.opened[:-1] if s]
        if self.opened and older and not all(s.session_id for s in older):
            return ["?"]  # a session without an id cannot be ended on its own: sign out instead
        return [str(s.session_id) for s in older if self.opened]

    def newest(self) -> Session | None:
        if self.opened:
            return self.opened[-1]
        return self.pooled.session if self.pooled_open else None


class PeoplePool:
    """Lends pooled people per role set; see the module docstring for the rules."""

    def __init__(self, make: Callable[[str, tuple[str, ...]], Identity], retire: Callable[[Identity], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._make = make
        self._retire = retire
        self._clock = clock
        self._idle: dict[tuple[str, ...], list[Pooled]] = {}
        self._open: list[Lease] = []
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        ExchangeLog.subscribe_all(self._see)

    def _see(self, exchange: Exchange) -> None:
        with self._lock:
            leases = list(self._open)
        for lease in leases:
            lease.see(exchange)

    def borrow(self, label: str, roles: tuple[str, ...] = ()) -> Lease:
        """A person with exactly these roles: an idle one from the pool (one with a session first), or a
        new one."""
        key = tuple(sorted(roles))
        with self._lock:
            idle = self._idle.get(key) or []
            idle.sort(key=lambda p: p.session is not None)
            pooled = idle.pop() if idle else None
        if pooled is None:
            pooled = Pooled(self._make(label, key), key)
            self.stats["made"] += 1
        else:
            self.stats["lent again"] += 1
        lease = Lease(pooled, label, self._clock)
        with self._lock:
            self._open.append(lease)
        return lease

    def hand_back(self, lease: Lease, client: PermisoClient | None) -> str | None:
        """End a lease: the person goes back clean or is retired (deleted). Returns why it was retired."""
        with self._lock:
            if lease not in self._open:
                return None
            self._open.remove(lease)
        outcome, reason = lease.verdict()
        if outcome == "keep" and not self._end_older_sessions(lease, client):
            outcome = "sign out"
        if outcome == "sign out":
            if client is not None and self._sign_out(lease, client):
                self.stats["signed out"] += 1
                lease.pooled.session = None
                outcome = "back"
            else:
                outcome, reason = "retire", "the target refused the clean-up after the scenario"
        if outcome == "keep":
            lease.pooled.session = lease.newest()
        if outcome in ("keep", "back"):
            with self._lock:
                self._idle.setdefault(lease.pooled.roles, []).append(lease.pooled)
            return None
        self.stats["retired"] += 1
        self._retire(lease.pooled.identity)
        return reason

    @staticmethod
    def _end_older_sessions(lease: Lease, client: PermisoClient | None) -> bool:
        """End the sessions the newest one replaces (with its token); False when that is not possible."""
        ids, newest = lease.sessions_to_end(), lease.newest()
        if not ids:
            return True
        if client is None or newest is None or "?" in ids:
            return False
        return all(client.request("DELETE", f"/sessions/{sid}", token=newest.token).status in (200, 204, 404)
                   for sid in ids)

    @staticmethod
    def _sign_out(lease: Lease, client: PermisoClient) -> bool:
        """``/auth/logout`` with the person's newest access token (then the client's): every session ended."""
        for token in list(dict.fromkeys(t for t in (lease.latest, client.token) if t))[:2]:
            if client.request("POST", "/auth/logout", token=token).status == 200:
                return True
        return False

    def close(self) -> None:
        """Stop watching (the people themselves are removed by whoever registered their cleanup)."""
        ExchangeLog.unsubscribe_all(self._see)
        with self._lock:
            self._idle.clear()
            self._open.clear()

    def describe(self) -> str:
        return (f"people pool: {self.stats['made']} made, {self.stats['lent again']} lent again, "
                f"{self.stats['signed out']} signed out, {self.stats['retired']} retired")
