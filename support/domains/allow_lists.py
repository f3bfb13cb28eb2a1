"""Service-client allow-lists: a client allowed only from named addresses gets no token elsewhere (D24).

Why: an operator who lists the addresses a machine may sign in from (A.8 ``allowed_ips``) relies on a
stolen client secret being useless anywhere else. Today's Permiso stores the list and never reads it
(Part C D24). The refusal must be exactly a wrong secret's (401 ``invalid_client``), so that a caller
outside the list learns neither the list nor that the secret was right.

Which address the suite calls from is only known for the embedded target (loopback: ``127.0.0.1``, or
``::1`` over IPv6). Behind a front the service sees the front's address, so the row that must be granted
on every target uses a client with no allow-list at all; the loopback row is for the embedded target
only (``@needs.embedded``). The "other address" is a documentation address (RFC 5737): it is only a
string in the client's record, no traffic ever goes there.

Nothing here imports behave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hamcrest.core.matcher import Matcher

from support.checks.error_matchers import is_oauth_error
from support.checks.token_matchers import is_token_response

#: A documentation address (TEST-NET-3, RFC 5737): never the suite's own.
ANOTHER_ADDRESS = "203.0.113.7"
#: The suite's own address as the embedded target sees it (IPv4 and IPv6 loopback).
OWN_MACHINE = ("127.0.0.1", "::1")

#: Where a client may sign in from -> its allow-list (None = no allow-list at all).
PLACES: dict[str, tuple[str, ...] | None] = {
    "only from another address": (ANOTHER_ADDRESS,),
    "only from the suite's own machine": OWN_MACHINE,
    "from anywhere": None,
}
OUTCOMES = ("refused as invalid_client", "given a service token")


def _known(value: str, options: Sequence[str]) -> None:
    if value not in options:
        raise AssertionError(f"{value!r} is not one of {', '.join(options)}")


def client_fields(place: str) -> dict[str, Any]:
    """The extra fields of the throwaway client for ``place``: an ``allowed_ips`` list, or none."""
    _known(place, tuple(PLACES))
    allowed = PLACES[place]
    return {} if allowed is None else {"allowed_ips": list(allowed)}


def outcome(name: str) -> Matcher[Any]:
    """The matcher of an expected outcome named in the Examples table."""
    _known(name, OUTCOMES)
    table: dict[str, Callable[[], Matcher[Any]]] = {
        "refused as invalid_client": lambda: is_oauth_error("invalid_client", 401),
        "given a service token": lambda: is_token_response(refresh=False),
    }
    return table[name]()
