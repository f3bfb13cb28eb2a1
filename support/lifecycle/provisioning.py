"""Capabilities of the target and the configured accounts a run needs.

A deployment seeds nothing itself (contract Part B): the test user and the service client exist only if
the operator created them. The suite creates whichever is missing through the administrator's API and
removes it again at the end of the run, so the target holds the same accounts before and after. It
never changes an account that already exists: when one exists but cannot sign in with the configured
secret, the scenarios that need it are skipped with that reason instead.
"""

from __future__ import annotations

from collections.abc import Callable

from support.lifecycle.target import Target
from support.wire.client import PermisoClient
from support.wire.settings import Settings

Undo = Callable[[], None]


def probe_capabilities(settings: Settings, target: Target, admin: PermisoClient) -> dict[str, str | None]:
    """Name -> None when the target offers it, else the one-line reason it does not."""
    caps: dict[str, str | None] = {"admin": None}
    caps["signing_key"] = (
        None if settings.permiso_jwt_secret else "PERMISO_JWT_SECRET (the deployment's signing key) is not set"
    )
    if target.base_url.startswith("https://") and settings.permiso_http_url:
        caps["tls_front"] = None
    else:
        caps["tls_front"] = "the target has no HTTPS front with a plain-HTTP port (PERMISO_HTTP_URL)"
    window_s = settings.permiso_lockout_minutes * 60.0
    caps["short_lockout"] = (
        None
        if window_s <= settings.permiso_max_expiry_wait_seconds
        else f"the lockout window ({window_s:.0f} s) is longer than PERMISO_MAX_EXPIRY_WAIT_SECONDS "
        f"({settings.permiso_max_expiry_wait_seconds:.0f} s)"
    )
    caps["embedded"] = None if target.embedded else "only the embedded reference server offers this"
    caps["production"] = production_reason(target.environment)
    caps["registration"] = registration_reason(settings, target)
    caps["docker"] = docker_reason(settings)
    return caps


def production_reason(environment: str | None) -> str | None:
    """None when the deployment's health report says it runs as production, else why not.

    Rules only a production deployment must keep (no public API description) are judged on it alone.
    """
    if not environment:
        return "the deployment's health report names no environment, so it is not known to run as production"
    if environment.strip().lower() == "production":
        return None
    return f"the deployment says it runs as '{environment}', not production"


def registration_reason(settings: Settings, target: Target) -> str | None:
    """None when scenarios may register accounts themselves, else why not.

    Self-registration is limited to 3 per hour per client address, and behind the front every client
    shares one address (D19): a run that registers blocks real sign-ups for up to an hour. So against a
    deployment it needs the operator's consent; the embedded server is the suite's own.
    """
    if target.embedded or settings.permiso_allow_registration:
        return None
    return ("registering spends the hourly sign-up budget real newcomers share on this deployment; "
            "PERMISO_ALLOW_REGISTRATION=true allows it")


def docker_reason(settings: Settings) -> str | None:
    """None when a Docker-compatible engine answers, else why not (never raises)."""
    try:
        from support.domains.containers import docker_engine
    except ImportError as exc:  # pragma: no cover - the docker SDK is a dependency
        return f"the docker SDK is not importable ({exc})"
    probe = docker_engine(settings.docker_host)
    probe.close()  # the container steps open their own connection; keep no pool for the whole run
    return probe.reason


def provision_configured_accounts(
    settings: Settings, admin: PermisoClient, caps: dict[str, str | None]
) -> list[Undo]:
    """Make sure the configured test user and service client exist; return how to undo what we created."""
    undo: list[Undo] = []
    caps["configured_user"] = _ensure_user(settings, admin, undo)
    caps["configured_client"] = _ensure_client(settings, admin, undo)
    return undo


def _ensure_user(settings: Settings, admin: PermisoClient, undo: list[Undo]) -> str | None:
    probe = PermisoClient(settings, name="configured user")
    password = settings.test_user_password.get_secret_value()
    answer = probe.sign_in(settings.test_user_username, password)
    if answer.status == 200:
        # never a logout of a configured account: on the release it ends every session of the account
        # (contract D.3); give the probe's own tokens back instead
        probe.revoke_own_tokens()
        probe.close()
        return None
    probe.close()
    listing = admin.list_users(search=settings.test_user_username, per_page=100)
    if listing.status != 200:
        return (
            f"the configured user {settings.test_user_username!r} cannot sign in (HTTP {answer.status}) and "
            f"the user list, to tell whether it exists, was refused (HTTP {listing.status})"
        )
    users = listing.body.get("users", []) if isinstance(listing.body, dict) else []
    if any(isinstance(u, dict) and u.get("username") == settings.test_user_username.lower() for u in users):
        return (
            f"the configured user {settings.test_user_username!r} exists but cannot sign in "
            f"(HTTP {answer.status}); check TEST_USER_PASSWORD"
        )
    created = admin.create_user(
        username=settings.test_user_username,
        email=settings.test_user_email,
        password=password,
        is_active=True,
        is_verified=True,
    )
    if created.status != 201 or not isinstance(created.body, dict) or not created.body.get("id"):
        return f"the configured user {settings.test_user_username!r} is missing and could not be created " \
               f"(HTTP {created.status})"
    user_id = created.body["id"]
    print(f"Provisioned the configured user {settings.test_user_username!r} for this run")
    undo.append(lambda: admin_call(settings, lambda c: c.delete_user(user_id)))
    return None


def _ensure_client(settings: Settings, admin: PermisoClient, undo: list[Undo]) -> str | None:
    probe = PermisoClient(settings, name="configured service client")
    secret = settings.test_client_secret.get_secret_value()
    answer = probe.service_sign_in(settings.test_client_id, secret)
    if answer.status == 200:
        probe.revoke_own_tokens()
        probe.close()
        return None
    probe.close()
    existing = admin.get_client(settings.test_client_id)
    if existing.status == 200:
        return (
            f"the configured service client {settings.test_client_id!r} exists but cannot get a token "
            f"(HTTP {answer.status}); check TEST_CLIENT_SECRET"
        )
    created = admin.create_client(
        name=f"permiso-acceptance {settings.test_client_id}",
        client_id=settings.test_client_id,
        client_secret=secret,
        client_type="confidential",
        is_active=True,
    )
    if created.status != 201:
        looked = "" if existing.status == 404 else f"; looking it up answered HTTP {existing.status}"
        return f"the configured service client {settings.test_client_id!r} cannot get a token " \
               f"(HTTP {answer.status}) and could not be created (HTTP {created.status}{looked})"
    print(f"Provisioned the configured service client {settings.test_client_id!r} for this run")
    undo.append(lambda: admin_call(settings, lambda c: c.delete_client(settings.test_client_id)))
    return None


def admin_call(settings: Settings, action: Callable[[PermisoClient], object]) -> None:
    """Run one administrative action with a freshly signed-in administrator (for end-of-run undo)."""
    admin = PermisoClient(settings, name="administrator")
    if admin.sign_in_administrator().status == 200:
        try:
            action(admin)
        finally:
            admin.revoke_own_tokens()  # never a logout of the configured administrator (D.3)
            admin.close()
