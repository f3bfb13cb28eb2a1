"""``PermisoClient``: one method per endpoint of the contract, with timing, evidence and pacing built in.

Why a client of our own rather than bare ``requests`` in steps:

- **Evidence**: every call becomes an :class:`~support.wire.evidence.Exchange` (redacted on rendering) in
  an :class:`~support.wire.evidence.ExchangeLog`, so a failing scenario can attach exactly what was said,
  and process-wide subscribers can run hygiene checks (security headers, no leaks) on every answer.
- **Timing**: every call records ``elapsed_ms`` (transport time only; pacing waits excluded) for the
  response-time budgets.
- **Deployment facts (contract Part B)**: form bodies for ``/auth/token`` and ``/auth/service-token``,
  JSON elsewhere; trailing slashes exactly where the deployment needs them; redirects never followed;
  the front's per-IP rate limit respected by pacing sign-ins process-wide and by retrying its 503 HTML
  page with bounded back-off (a JSON 503 comes from the app and is a real answer, never retried).
- **Robustness**: connection errors (and only those) are retried ``TEST_RETRY_ATTEMPTS`` times with
  ``TEST_RETRY_DELAY``; a target that stays unreachable raises
  :class:`~support.wire.transport.TargetUnreachable` with one line.
- **Secrecy**: every token or secret sent or received is registered with :mod:`support.wire.redaction` at
  once, so it is masked in every later output.

This module holds what differs per endpoint: one method each (form or JSON body, trailing slash, which
token, whether the answer's tokens are kept). What every call shares - timing, pacing, the front-503 and
connection retries, secret registration, the process's HTTPS connections - is the plumbing of
:class:`~support.wire.transport.BaseClient` (:mod:`support.wire.transport`), which ``PermisoClient``
derives from; the evidence records are in :mod:`support.wire.evidence`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from support.wire import redaction
from support.wire.evidence import ApiResponse
from support.wire.transport import BaseClient


# ---------------------------------------------------------------------------------------- client
class PermisoClient(BaseClient):
    """One caller of the Permiso API (an actor, the administrator, an anonymous visitor ...)."""

    # ------------------------------------------------------------------ root
    def health(self) -> ApiResponse:
        return self.request("GET", "/health", api=False, token=None)

    def root(self) -> ApiResponse:
        return self.request("GET", "/", api=False, token=None)

    def openapi(self) -> ApiResponse:
        return self.request("GET", "/openapi.json", api=False, token=None)

    # ------------------------------------------------------------------ auth (A.3)
    def sign_in_administrator(self) -> ApiResponse:
        """Sign in as the configured administrator of this client's settings (TEST_ADMIN_*)."""
        settings = self.settings
        return self.sign_in(settings.test_admin_username, settings.test_admin_password.get_secret_value())

    def sign_in(self, username: str, password: str, scope: str | Iterable[str] | None = None, *,
                grant_type: str | None = "password") -> ApiResponse:
        """POST /auth/token (form). On 200 the client keeps the access/refresh token and session id."""
        redaction.register_secret(password)
        form: dict[str, str] = {"username": username, "password": password}
        if grant_type:
            form["grant_type"] = grant_type
        if scope is not None:
            form["scope"] = _scope_text(scope)
        response = self.request("POST", "/auth/token", data=form, token=None)
        if response.status == 200 and isinstance(response.body, dict):
            self._keep_tokens(response.body)
        return response

    def service_sign_in(self, client_id: str, secret: str, scope: str | Iterable[str] | None = None
                        ) -> ApiResponse:
        """POST /auth/service-token (form). On 200 the client keeps the service token."""
        redaction.register_secret(secret)
        form = {"client_id": client_id, "client_secret": secret}
        if scope is not None:
            form["scope"] = _scope_text(scope)
        response = self.request("POST", "/auth/service-token", data=form, token=None)
        if response.status == 200 and isinstance(response.body, dict):
            self._keep_tokens(response.body)
        return response

    def refresh(self, refresh_token: str | None = None) -> ApiResponse:
        """POST /auth/refresh (JSON) with the given or the kept refresh token; keeps the new pair."""
        value = refresh_token if refresh_token is not None else self.refresh_token
        response = self.request("POST", "/auth/refresh", json={"refresh_token": value}, token=None)
        if response.status == 200 and isinstance(response.body, dict):
            self._keep_tokens(response.body)
        return response

    def sign_out(self) -> ApiResponse:
        """POST /auth/logout with the kept token; clears tokens and session on 200."""
        response = self.request("POST", "/auth/logout")
        if response.status == 200:
            self.token = self.refresh_token = self.session_id = None
        return response

    def revoke_own_tokens(self) -> ApiResponse | None:
        """Give up this client's tokens without signing out: ``/auth/revoke`` of its refresh token and
        then of its access token (with that access token); forget them. For configured accounts on a
        shared deployment: a logout there ends every session of the account (contract D.3), also
        sessions that are not the suite's. Returns the last answer (None when nothing was held)."""
        answer: ApiResponse | None = None
        if self.token and self.refresh_token:
            answer = self.revoke(self.refresh_token, "refresh_token")
        if self.token:
            answer = self.revoke(self.token, "access_token")
        self.token = self.refresh_token = self.session_id = None
        return answer

    def introspect(self, token: str, token_type_hint: str | None = None) -> ApiResponse:
        return self.request("POST", "/auth/introspect", json=_drop_none(token=token,
                                                                     token_type_hint=token_type_hint))

    def revoke(self, token: str, token_type_hint: str | None = None) -> ApiResponse:
        return self.request("POST", "/auth/revoke", json=_drop_none(token=token,
                                                                 token_type_hint=token_type_hint))

    def _keep_tokens(self, body: Mapping[str, Any]) -> None:
        self.token = body.get("access_token") or self.token
        self.refresh_token = body.get("refresh_token")
        self.session_id = body.get("session_id")

    # ------------------------------------------------------------------ users (A.6)
    def me(self) -> ApiResponse:
        return self.request("GET", "/users/me")

    def profile(self) -> ApiResponse:
        return self.request("GET", "/users/profile")

    def update_me(self, **fields: Any) -> ApiResponse:
        return self.request("PUT", "/users/me", json=fields)

    def register(self, **user: Any) -> ApiResponse:
        return self.request("POST", "/users/register", json=user, token=None)

    def create_user(self, **user: Any) -> ApiResponse:
        return self.request("POST", "/users/", json=user)

    def list_users(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/users/", params=query)

    def get_user(self, user_id: str) -> ApiResponse:
        return self.request("GET", f"/users/{user_id}")

    def update_user(self, user_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/users/{user_id}", json=fields)

    def delete_user(self, user_id: str) -> ApiResponse:
        return self.request("DELETE", f"/users/{user_id}")

    def change_password(self, user_id: str, current: str, new: str) -> ApiResponse:
        redaction.register_secret(current)
        redaction.register_secret(new)
        return self.request("PUT", f"/users/{user_id}/password",
                            json={"current_password": current, "new_password": new})

    def set_user_roles(self, user_id: str, role_ids: Iterable[str]) -> ApiResponse:
        return self.request("PUT", f"/users/{user_id}/roles", json={"role_ids": list(role_ids)})

    def user_stats(self) -> ApiResponse:
        return self.request("GET", "/users/stats/overview")

    def request_password_reset(self, email: str) -> ApiResponse:
        return self.request("POST", "/users/password-reset/request", json={"email": email}, token=None)

    def confirm_password_reset(self, token: str, new_password: str) -> ApiResponse:
        return self.request("POST", "/users/password-reset/confirm",
                            json={"token": token, "new_password": new_password}, token=None)

    def request_email_verification(self, email: str) -> ApiResponse:
        return self.request("POST", "/users/email-verification/request", json={"email": email}, token=None)

    def confirm_email_verification(self, token: str) -> ApiResponse:
        return self.request("POST", "/users/email-verification/confirm", json={"token": token}, token=None)

    # ------------------------------------------------------------------ roles and scopes (A.7)
    def create_role(self, name: str, description: str | None = None, scope_ids: Iterable[str] = (),
                    **fields: Any) -> ApiResponse:
        body = {"name": name, "description": description, "scope_ids": list(scope_ids), **fields}
        return self.request("POST", "/roles/", json=body)

    def list_roles(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/roles/", params=query)

    def get_role(self, role_id: str) -> ApiResponse:
        return self.request("GET", f"/roles/{role_id}")

    def update_role(self, role_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/roles/{role_id}", json=fields)

    def delete_role(self, role_id: str) -> ApiResponse:
        return self.request("DELETE", f"/roles/{role_id}")

    def set_role_scopes(self, role_id: str, scope_ids: Iterable[str]) -> ApiResponse:
        return self.request("PUT", f"/roles/{role_id}/scopes", json={"scope_ids": list(scope_ids)})

    def create_scope(self, name: str, description: str | None = None, resource: str | None = None,
                     action: str | None = None, **fields: Any) -> ApiResponse:
        body = {"name": name, "description": description, "resource": resource, "action": action, **fields}
        return self.request("POST", "/roles/scopes/", json=body)

    def list_scopes(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/roles/scopes/", params=query)

    def get_scope(self, scope_id: str) -> ApiResponse:
        return self.request("GET", f"/roles/scopes/{scope_id}")

    def update_scope(self, scope_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/roles/scopes/{scope_id}", json=fields)

    def delete_scope(self, scope_id: str) -> ApiResponse:
        return self.request("DELETE", f"/roles/scopes/{scope_id}")

    def check_permission(self, user_id: str, resource: str, action: str) -> ApiResponse:
        return self.request("POST", "/roles/permissions/check",
                            json={"user_id": user_id, "resource": resource, "action": action})

    def check_permissions_bulk(self, user_id: str, permissions: Iterable[Mapping[str, str]]) -> ApiResponse:
        return self.request("POST", "/roles/permissions/check-bulk",
                            json={"user_id": user_id, "permissions": [dict(p) for p in permissions]})

    def user_permissions(self, user_id: str) -> ApiResponse:
        return self.request("GET", f"/roles/permissions/user/{user_id}")

    def role_stats(self) -> ApiResponse:
        return self.request("GET", "/roles/stats")

    def default_roles(self) -> ApiResponse:
        return self.request("GET", "/roles/defaults")

    # ------------------------------------------------------------------ service clients (A.8)
    def create_client(self, **fields: Any) -> ApiResponse:
        return self.request("POST", "/service-clients/", json=fields)

    def list_clients(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/service-clients/", params=query)

    def get_client(self, client_id: str) -> ApiResponse:
        return self.request("GET", f"/service-clients/{client_id}")

    def update_client(self, client_id: str, **fields: Any) -> ApiResponse:
        return self.request("PUT", f"/service-clients/{client_id}", json=fields)

    def delete_client(self, client_id: str) -> ApiResponse:
        return self.request("DELETE", f"/service-clients/{client_id}")

    def set_client_scopes(self, client_id: str, scope_ids: Iterable[str]) -> ApiResponse:
        return self.request("PUT", f"/service-clients/{client_id}/scopes",
                            json={"scope_ids": list(scope_ids)})

    def rotate_client_secret(self, client_id: str, current_secret: str) -> ApiResponse:
        redaction.register_secret(current_secret)
        return self.request("POST", f"/service-clients/{client_id}/rotate-secret",
                            json={"current_secret": current_secret})

    def client_permissions(self, client_id: str) -> ApiResponse:
        return self.request("GET", f"/service-clients/{client_id}/permissions")

    def client_rate_limit(self, client_id: str) -> ApiResponse:
        return self.request("GET", f"/service-clients/{client_id}/rate-limit")

    def test_client_webhook(self, client_id: str, **body: Any) -> ApiResponse:
        return self.request("POST", f"/service-clients/{client_id}/webhook/test", json=body or None)

    def client_stats(self) -> ApiResponse:
        return self.request("GET", "/service-clients/stats/overview")

    def clients_health(self) -> ApiResponse:
        return self.request("GET", "/service-clients/health/check")

    # ------------------------------------------------------------------ sessions (A.9)
    def list_sessions(self) -> ApiResponse:
        return self.request("GET", "/sessions/")

    def renew_session(self, session_id: str) -> ApiResponse:
        return self.request("POST", f"/sessions/{session_id}/renew")

    def end_session(self, session_id: str) -> ApiResponse:
        return self.request("DELETE", f"/sessions/{session_id}")

    def end_all_sessions(self) -> ApiResponse:
        return self.request("DELETE", "/sessions/")

    def session_stats(self) -> ApiResponse:
        return self.request("GET", "/sessions/stats")

    def cleanup_sessions(self) -> ApiResponse:
        return self.request("POST", "/sessions/cleanup")

    # ------------------------------------------------------------------ admin console (A.10)
    def dashboard_stats(self) -> ApiResponse:
        return self.request("GET", "/admin/dashboard/stats")

    def system_health(self) -> ApiResponse:
        return self.request("GET", "/admin/system/health")

    def security_events(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/admin/security/events", params=query)

    def maintenance_cleanup(self) -> ApiResponse:
        return self.request("POST", "/admin/maintenance/cleanup")

    def maintenance_backup(self) -> ApiResponse:
        return self.request("POST", "/admin/maintenance/backup")

    def audit_activity(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/admin/audit/activity", params=query)

    def usage_report(self, days: int | None = None) -> ApiResponse:
        return self.request("GET", "/admin/reports/usage", params={"days": days})

    def reload_config(self) -> ApiResponse:
        return self.request("POST", "/admin/config/reload")

    def error_logs(self, **query: Any) -> ApiResponse:
        return self.request("GET", "/admin/logs/errors", params=query)

    def __repr__(self) -> str:
        state = "signed in" if self.token else "anonymous"
        return f"<PermisoClient {self.name or '?'} {state}>"


# ---------------------------------------------------------------------------------------- helpers
def _scope_text(scope: str | Iterable[str]) -> str:
    return scope if isinstance(scope, str) else " ".join(scope)


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}

