"""Routes under `/roles` (contract A.7).

Stub handed over to the engineer who owns this router. Already included by `app.create_app` under
the API base; use the guards of `permiso_reference.guards`, the errors of
`permiso_reference.errors` and the database of `request.app.state.db` (see their docstrings).
"""

from fastapi import APIRouter

router = APIRouter()
