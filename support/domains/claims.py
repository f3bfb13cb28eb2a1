"""Permissions written by the caller: a request body that claims scopes must grant nothing.

Why: today's Permiso reads the scopes of its scope-guarded routes from a JSON body field
``token_payload`` that the caller writes (D1, contract Part D.1), so a visitor who sends
``{"token_payload": {"scopes": ["admin:system"]}}`` is let in. The contract (A.2) says a scope guard
reads the scopes of the presented token and nothing else. The functions here are reads only, so a
broken guard shows data but changes nothing on the target.

Nothing here imports behave.
"""

from __future__ import annotations

from typing import Any

from support.wire.client import PermisoClient
from support.wire.evidence import ApiResponse

#: read-only functions behind a scope guard: phrase -> (path with {user_id}, the scope that guards it)
GUARDED_READS: dict[str, tuple[str, str]] = {
    "read the security events": ("/admin/security/events", "admin:security"),
    "read the audit activity": ("/admin/audit/activity", "admin:audit"),
    "read the error log": ("/admin/logs/errors", "admin:logs"),
    "read the session statistics": ("/sessions/stats", "admin:sessions"),
    "read a person's permissions": ("/roles/permissions/user/{user_id}", "admin:permissions"),
}


def forged_claims(scope: str) -> dict[str, Any]:
    """The body a caller writes to claim the administrator's permissions (the release's field name)."""
    return {"token_payload": {"scopes": ["admin:system", scope], "is_superuser": True, "type": "access"}}


def ask(client: PermisoClient, function: str, user_id: str, *, token: Any = None,
        with_claims: bool = True) -> ApiResponse:
    """Ask for ``function`` with the caller's own token (``None``: none) and, by default, the forged body."""
    if function not in GUARDED_READS:
        raise AssertionError(f"{function!r} is not one of {', '.join(GUARDED_READS)}")
    path, scope = GUARDED_READS[function]
    body = forged_claims(scope) if with_claims else None
    return client.request("GET", path.format(user_id=user_id), json=body, token=token)
