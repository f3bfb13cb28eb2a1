"""The API's own description is not published by a production deployment (Part C D17).

Why: FastAPI publishes a machine-readable description of every route (``/openapi.json``) and two
browsable renderings of it (``/docs``, ``/redoc``). On a production deployment that is a map of the
attack surface handed to anyone; the contract only says ``/openapi.json`` exists (true of a development
build), and a security reviewer expects production to keep it private. The rule is judged only where
the deployment's health report says it runs as production (capability ``production``).

"Finds nothing" means: the address is refused (401, 403, 404 or 410) and the answer carries no trace of
an API description (no OpenAPI document, no Swagger UI or ReDoc page). A redirect to a sign-in page or a
generic error page counts as nothing only when it is one of those refusals.

Nothing here imports behave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from support.checks.matchers import RuleMatcher
from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

#: Statuses that keep the description away from a visitor.
REFUSALS = (401, 403, 404, 410)
#: Text that betrays a served description or its browser renderings.
MARKERS = ("swagger-ui", "swaggerui", "redoc", '"openapi"')


def check_address(address: str) -> str:
    """The address as a root-relative path; AssertionError for anything else (a typo in the table)."""
    text = address.strip()
    if not text.startswith("/") or "://" in text or " " in text:
        raise AssertionError(f"{address!r} is not an address on the service (it must start with '/')")
    return text


def open_description(client: PermisoClient, address: str) -> ApiResponse:
    """A visitor (no token) opens ``address`` at the root of the service, as a browser would."""
    return client.request("GET", check_address(address), api=False, token=None, headers={"Accept": "*/*"})


def description_traces(answer: Any) -> list[str]:
    """What in ``answer`` shows an API description (empty when nothing does)."""
    found = []
    body = getattr(answer, "body", None)
    if isinstance(body, Mapping) and ("openapi" in body or "swagger" in body or "paths" in body):
        return ["the answer is an API description document"]
    text = str(getattr(answer, "text", "") or "").lower()
    for marker in MARKERS:
        if marker in text:
            found.append(f"the answer mentions {marker!r}")
            break
    return found


class _FindsNothing(RuleMatcher):
    rule = f"no API description for a visitor: refused ({', '.join(map(str, REFUSALS))}) and nothing of it shown"

    def problems(self, item: Any) -> list[str]:
        status = getattr(item, "status", None)
        found = [] if status in REFUSALS else [f"status was {status}: the address is served to a visitor"]
        return found + description_traces(item)


def finds_nothing() -> RuleMatcher:
    """The visitor is refused at the address and is shown nothing of the API description."""
    return _FindsNothing()
