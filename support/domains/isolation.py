"""Each person sees only themselves: the "my own" reads checked while other people are signed in.

Why: a read that answers correctly while one person is signed in proves little. A server that keys
"the current user" on something shared (the last sign-in, a cached session, a process-wide variable)
answers the right person in a one-person test and the wrong one as soon as two are signed in. So every
"my own" read of the contract (A.6 who am I and profile, the own account by its id, A.9 the own
session list, A.3 introspection of the own token) is made by each of three people: two signed in at
the same time and a third signed in after them, and each answer must name its reader and nobody else.

Nothing here imports behave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from support.people.identities import items_of_body
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

READS = ("who they are", "their profile", "their own account by its id", "their sessions",
         "what their token allows")


@dataclass(frozen=True)
class Reader:
    """One signed-in person: who they are and the session their client holds."""

    name: str
    user_id: str
    username: str
    session_id: str | None
    client: PermisoClient


def read(reader: Reader, what: str) -> ApiResponse:
    """The person's own read called ``what`` (one of :data:`READS`), made with their own token."""
    if what not in READS:
        raise AssertionError(f"{what!r} is not one of {', '.join(READS)}")
    client = reader.client
    if what == "who they are":
        return client.me()
    if what == "their profile":
        return client.profile()
    if what == "their own account by its id":
        return client.get_user(reader.user_id)
    if what == "their sessions":
        return client.list_sessions()
    assert client.token, f"{reader.name} holds no token"
    return client.introspect(client.token)


def problems(reader: Reader, what: str, answer: ApiResponse, others: Sequence[Reader]) -> list[str]:
    """What is wrong with ``answer`` as ``reader``'s own ``what``: empty when it names them alone."""
    if answer.status != 200:
        return [f"{reader.name}'s read of {what} answered {answer.status}"]
    body = answer.body
    if not isinstance(body, Mapping):
        return [f"{reader.name}'s read of {what} is not a JSON object"]
    if what == "their sessions":
        return _session_problems(reader, body, others)
    subject = body.get("sub") if what == "what their token allows" else body.get("id")
    found = []
    if subject != reader.user_id:
        who = next((o.name for o in others if o.user_id == subject), "someone else")
        found.append(f"{reader.name}'s read of {what} names {who}")
    allowed = (None, reader.username) if what == "what their token allows" else (reader.username,)
    if body.get("username") not in allowed:
        found.append(f"{reader.name}'s read of {what} carries the username of another account")
    return found


def _session_problems(reader: Reader, body: Mapping[str, Any], others: Sequence[Reader]) -> list[str]:
    sessions = items_of_body(body, "sessions")
    found = []
    ids = {str(s.get("session_id")) for s in sessions}
    if reader.session_id and reader.session_id not in ids:
        found.append(f"{reader.name}'s current session is missing from their own list")
    for other in others:
        if other.session_id and other.session_id in ids:
            found.append(f"{reader.name}'s list shows a session of {other.name}")
    foreign = [s for s in sessions if s.get("username") not in (None, reader.username)]
    if foreign:
        found.append(f"{reader.name}'s list holds {len(foreign)} session(s) of other accounts")
    return found
