"""Contract tests of ``/service-clients`` (A.8)."""

from __future__ import annotations

import pytest
from helpers import (
    Api,
    assert_error,
    assert_oauth_error,
    assert_status,
    assert_unauthorized,
    assert_validation_error,
    unique,
    unique_client_id,
)


def _no_secret(body: object) -> None:
    """Client JSON never contains the secret."""
    assert "client_secret" not in str(body), body


def test_create_client_shows_secret_once(api: Api, admin_token: str) -> None:
    """Create → 201 {client, client_secret}; the secret works; GET never shows it."""
    client = api.create_client(scopes=("read:profile",), description="d", rate_limit_per_minute=30)
    assert client.secret
    body = client.body
    assert body["client_id"] == client.client_id
    assert body["rate_limit_per_minute"] == 30
    assert body["access_token_lifetime"] == 3600
    _no_secret(body)
    got = api.get(f"/service-clients/{client.client_id}", token=admin_token)
    assert_status(got, 200)
    _no_secret(got.json())
    assert client.secret not in got.text
    assert_status(api.service_sign_in(client.client_id, client.secret), 200)


def test_create_client_generates_id_and_secret(api: Api, admin_token: str) -> None:
    """Without client_id/secret the server generates them."""
    resp = api.post(
        "/service-clients/",
        json={"name": f"Gen {unique()}", "client_type": "confidential", "scope_ids": []},
        token=admin_token,
    )
    assert_status(resp, 201)
    body = resp.json()
    assert body["client"]["client_id"] and body["client_secret"]


def test_create_client_duplicate_409(api: Api, admin_token: str) -> None:
    """A taken client_id is 409 conflict."""
    client = api.create_client()
    resp = api.post(
        "/service-clients/",
        json={"name": "Dup client", "client_id": client.client_id, "client_type": "public", "scope_ids": []},
        token=admin_token,
    )
    assert_error(resp, 409, "conflict")


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "x"},
        {"name": "n" * 101},
        {"client_type": "weird"},
        {"access_token_lifetime": 299},
        {"access_token_lifetime": 86401},
        {"rate_limit_per_minute": 0},
        {"rate_limit_per_minute": 1001},
        {"rate_limit_per_hour": 59},
        {"rate_limit_per_hour": 100001},
    ],
    ids=[
        "name-short",
        "name-long",
        "type",
        "life-low",
        "life-high",
        "rpm-0",
        "rpm-high",
        "rph-low",
        "rph-high",
    ],
)
def test_create_client_validation(api: Api, admin_token: str, fields: dict[str, object]) -> None:
    """Out-of-range fields are 422."""
    body = {"name": f"C {unique()}", "client_id": unique_client_id(), "client_type": "confidential"}
    body.update(fields)
    assert_validation_error(api.post("/service-clients/", json=body, token=admin_token))


def test_list_clients(api: Api, admin_token: str) -> None:
    """The list is paginated and secret-free."""
    api.create_client()
    resp = api.get("/service-clients/", params={"per_page": 5}, token=admin_token)
    assert_status(resp, 200)
    body = resp.json()
    assert set(body) >= {"clients", "total", "page", "per_page", "pages"}
    assert body["per_page"] == 5 and len(body["clients"]) <= 5 and body["total"] >= 2
    _no_secret(body)


def test_update_and_delete_client(api: Api, admin_token: str) -> None:
    """PUT updates; DELETE 204; afterwards 404 not_found and the client cannot get tokens."""
    client = api.create_client()
    upd = api.put(f"/service-clients/{client.client_id}", json={"description": "new"}, token=admin_token)
    assert_status(upd, 200)
    assert upd.json()["description"] == "new"
    _no_secret(upd.json())
    assert_status(api.delete(f"/service-clients/{client.client_id}", token=admin_token), 204)
    assert_error(api.get(f"/service-clients/{client.client_id}", token=admin_token), 404, "not_found")
    assert_oauth_error(api.service_sign_in(client.client_id, client.secret), 401, "invalid_client")


def test_unknown_client_404(api: Api, admin_token: str) -> None:
    """Unknown client ids are 404 not_found."""
    cid = unique_client_id()
    assert_error(api.get(f"/service-clients/{cid}", token=admin_token), 404, "not_found")
    assert_error(api.delete(f"/service-clients/{cid}", token=admin_token), 404, "not_found")


def test_set_client_scopes(api: Api, admin_token: str) -> None:
    """PUT .../scopes replaces the client's scopes; its next token follows."""
    client = api.create_client(scopes=("read:profile",))
    resp = api.put(
        f"/service-clients/{client.client_id}/scopes",
        json={"scope_ids": [api.scope_id("service:api")]},
        token=admin_token,
    )
    assert_status(resp, 200)
    token = api.service_sign_in(client.client_id, client.secret).json()
    assert token["scope"] == "service:api"


def test_rotate_secret(api: Api, admin_token: str) -> None:
    """Rotation needs the current secret (else 400 invalid_secret); the old secret is refused after."""
    client = api.create_client()
    path = f"/service-clients/{client.client_id}/rotate-secret"
    wrong = api.post(path, json={"current_secret": "definitely-not-it"}, token=admin_token)
    assert_error(wrong, 400, "invalid_secret")
    resp = api.post(path, json={"current_secret": client.secret}, token=admin_token)
    assert_status(resp, 200)
    body = resp.json()
    assert {"message", "client_secret"} <= set(body)
    assert body["client_secret"] != client.secret
    assert_oauth_error(api.service_sign_in(client.client_id, client.secret), 401, "invalid_client")
    assert_status(api.service_sign_in(client.client_id, body["client_secret"]), 200)


def test_client_monitoring_routes(api: Api, admin_token: str) -> None:
    """permissions, rate-limit, stats and health answer 200; webhook test without URL → 400 no_webhook."""
    client = api.create_client()
    base = f"/service-clients/{client.client_id}"
    assert_status(api.get(f"{base}/permissions", token=admin_token), 200)
    assert_status(api.get(f"{base}/rate-limit", token=admin_token), 200)
    assert_error(api.post(f"{base}/webhook/test", token=admin_token), 400, "no_webhook")
    assert_status(api.get("/service-clients/stats/overview", token=admin_token), 200)
    assert_status(api.get("/service-clients/health/check", token=admin_token), 200)


def test_clients_require_admin(api: Api, user_token: str) -> None:
    """401 without a token, 403 for a regular user."""
    assert_unauthorized(api.get("/service-clients/"))
    assert_error(api.get("/service-clients/", token=user_token), 403, "http_error")
    assert_error(
        api.post("/service-clients/", json={"name": "zzz", "client_type": "public"}, token=user_token), 403
    )
