"""Where the suite points: a real deployment, or the embedded reference Permiso it starts itself.

Why a subprocess: the suite may only ever talk HTTP to its target (design.md §2), so the reference server
is started as its own process with its own console script; nothing of it is imported here. That also
keeps a crashing or hanging server from taking the test process with it, and lets Ctrl-C stop both.

The embedded target is started the way a release engineer would want to test a deployment: HTTPS on a
free port with a self-signed certificate, a plain-HTTP port that redirects, a random signing key handed
to the suite (so `@needs.signing_key` scenarios can mint expired or not-yet-valid tokens honestly), and a
lockout window of a couple of seconds so unlock can be tested without long waits. With
``PERMISO_REFERENCE_AUTH_RATE_LIMIT`` it also gets an auth rate limit like the front's, and the suite
paces its own sign-ins under it as it does behind the front.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import urllib3

from support.wire.redaction import register_secret
from support.wire.settings import Settings, child_environment
from support.wire.transport import close_process_connections, connection_reason

#: Lockout window of the embedded server, in seconds: short enough to wait for, long enough that the
#: "refused while locked" step surely runs inside it on a loaded 2-core machine.
EMBEDDED_LOCKOUT_SECONDS = 2.0
#: How long the embedded server may take to answer /health before the run gives up.
EMBEDDED_START_TIMEOUT_S = 20.0


class TargetError(Exception):
    """A target problem the run cannot go on with; its message is one readable line."""


@dataclass
class Target:
    """The service under test, as the rest of the suite sees it."""

    base_url: str
    http_url: str | None
    embedded: bool
    version: str | None = None
    environment: str | None = None
    #: The embedded server's profile (`PERMISO_REFERENCE_PROFILE`); None for a real deployment.
    profile: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def describe(self) -> str:
        kind = "embedded reference Permiso" if self.embedded else "configured deployment"
        version = f", Permiso {self.version}" if self.version else ""
        profile = f", profile {self.profile}" if self.embedded and self.profile else ""
        return f"{kind} at {self.base_url}{version}{profile}"

    def stop(self) -> None:
        """Stop the embedded server (no-op for a real deployment); safe to call twice."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            close_process_connections()  # else the server waits out its graceful timeout on them
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        workdir, self.workdir = self.workdir, None
        if workdir is not None:
            workdir.cleanup()


def _die_with_parent() -> None:
    """Runs in the child before exec (Linux): SIGTERM it when the process that started it dies.

    However the suite ends (a crash in behavex's main process, a test runner's timeout, SIGKILL), the
    embedded server does not outlive it. Where prctl is unavailable this is a no-op; stop() and the
    run's cleanups remain the normal path.
    """
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Share of the embedded server's auth rate limit the suite's own auth calls use (headroom for clock
#: jitter; after a flood the suite's bucket starts empty, support/wire/pacing.py), as behind the front.
EMBEDDED_PACING_SHARE = 0.9
#: The environment the embedded server announces in `/health`: it plays a production deployment.
EMBEDDED_ENVIRONMENT = "production"
#: Sign-in pace against an embedded server without a limiter: nothing to stay under, so effectively unpaced.
UNLIMITED_AUTH_RATE = 50.0


def embedded_auth_rate(settings: Settings) -> float:
    """Sign-ins per second the suite allows itself against the embedded server.

    Without a limiter there is nothing to pace against (at least 50/s). With one
    (``PERMISO_REFERENCE_AUTH_RATE_LIMIT``) the suite behaves exactly as behind the front: it stays under
    the limit, so only the flood scenarios meet it, never its own ordinary calls. The limit is known
    exactly here, so the suite uses ``0.9 x limit`` (with a bucket of one second's worth, well inside the
    limiter's burst of 2 x limit), or less when ``PERMISO_AUTH_RATE_PER_SECOND`` is set lower.
    """
    limit = settings.permiso_reference_auth_rate_limit
    if limit is None:
        return max(settings.permiso_auth_rate_per_second, UNLIMITED_AUTH_RATE)
    share = EMBEDDED_PACING_SHARE * limit
    if "permiso_auth_rate_per_second" in settings.model_fields_set:  # set by the operator: a ceiling
        return min(settings.permiso_auth_rate_per_second, share)
    return share


def embedded_settings(settings: Settings, base_url: str, http_url: str, jwt_secret: str) -> Settings:
    """The settings the suite runs with against the embedded server it started."""
    return settings.with_target(
        base_url,
        http_url,
        jwt_secret,
        permiso_lockout_minutes=EMBEDDED_LOCKOUT_SECONDS / 60.0,
        permiso_auth_rate_per_second=embedded_auth_rate(settings),
        permiso_api_rate_per_second=0.0,  # no API limiter there: at most /auth/* is limited
    )


def start_embedded(settings: Settings, meanwhile: Callable[[], object] | None = None) -> tuple[Target, Settings]:
    """Start the reference Permiso as a subprocess and return it with the settings pointed at it.

    ``meanwhile`` runs once the process is started and before its health is awaited: the server spends
    about half a second importing and seeding, which the caller may use (behavex's main process loads
    the step definitions in it). What it raises is ignored; it must not need the server."""
    port, http_port = free_port(), free_port()
    jwt_secret = secrets.token_urlsafe(32)
    register_secret(jwt_secret)
    workdir = tempfile.TemporaryDirectory(prefix="permiso-embedded-")
    log_path = Path(workdir.name) / "server.log"
    argv = [
        sys.executable,
        "-c",
        "import sys; from permiso_reference.cli import main; sys.exit(main())",
        "serve",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--tls",
        "--http-port", str(http_port),
        "--db", str(Path(workdir.name) / "permiso.db"),
        "--lockout-threshold", str(settings.permiso_lockout_threshold),
        "--lockout-seconds", str(EMBEDDED_LOCKOUT_SECONDS),
        # It stands in for a production deployment: what a production deployment must not show (the
        # API description, D17) is checked here too (capability `production`).
        "--environment", EMBEDDED_ENVIRONMENT,
        # "=" form: a configured name may start with "-", which argparse would take for an option.
        f"--admin-username={settings.test_admin_username}",
        f"--admin-email={settings.test_admin_email}",
        f"--user-username={settings.test_user_username}",
        f"--user-email={settings.test_user_email}",
        f"--client-id={settings.test_client_id}",
        "--quiet",
    ]
    if settings.permiso_reference_faults:
        argv += ["--faults", settings.permiso_reference_faults]
    # The profile (a named set of behaviours, e.g. release-1.0 = contract Part D) comes from settings too.
    argv += [f"--profile={settings.permiso_reference_profile}"]
    # argon2 as the release (contract D.5) or the fast default; explicit, so an inherited env var is dropped.
    argv += [f"--hashing={settings.permiso_reference_hashing}"]
    if settings.permiso_reference_auth_rate_limit is not None:
        # Like the front's limiter (Part B), so the @needs.auth_rate_limit flood scenarios can run here.
        argv += ["--auth-rate-limit", repr(float(settings.permiso_reference_auth_rate_limit))]
    # Secrets go through the child's environment, never its command line (visible to anyone in `ps`).
    # Faults come from settings, explicitly, so an inherited PERMISO_REFERENCE_FAULTS is dropped.
    child_env = child_environment(
        {
            "PERMISO_REFERENCE_JWT_SECRET": jwt_secret,
            "PERMISO_REFERENCE_ADMIN_PASSWORD": settings.test_admin_password.get_secret_value(),
            "PERMISO_REFERENCE_USER_PASSWORD": settings.test_user_password.get_secret_value(),
            "PERMISO_REFERENCE_CLIENT_SECRET": settings.test_client_secret.get_secret_value(),
        },
        drop=("PERMISO_REFERENCE_FAULTS", "PERMISO_REFERENCE_PROFILE", "PERMISO_REFERENCE_HASHING"),
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env,
            preexec_fn=_die_with_parent,
        )
    base_url = f"https://127.0.0.1:{port}"
    target = Target(base_url, f"http://127.0.0.1:{http_port}", True, process=process, workdir=workdir,
                    profile=settings.permiso_reference_profile)
    try:
        if meanwhile is not None:
            with contextlib.suppress(Exception):
                meanwhile()
        wait_until_healthy(target, timeout_s=EMBEDDED_START_TIMEOUT_S, log_path=log_path)
    except BaseException:
        target.stop()
        raise
    return target, embedded_settings(settings, base_url, target.http_url or "", jwt_secret)


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1].strip()
    return "no output"


def wait_until_healthy(
    target: Target, *, timeout_s: float, log_path: Path | None = None, verify: bool | str = False
) -> None:
    """Poll `/health` until it answers 200, recording version and environment; bounded by timeout_s.

    Raises TargetError with one line naming the URL and the last thing that went wrong.
    """
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    deadline = time.monotonic() + timeout_s
    last_problem = "no answer yet"
    delay = 0.05
    # A server we started is up within about a second: poll it closely (a back-off to 1 s cost up to 0.7 s
    # per start); a deployment is polled gently, under its front's API limit.
    max_delay = 0.1 if target.process is not None else 1.0
    while True:
        if target.process is not None and target.process.poll() is not None:
            where = f": {_last_line(log_path)}" if log_path else ""
            raise TargetError(
                f"the embedded reference Permiso exited with code {target.process.returncode}{where}"
            )
        try:
            answer = requests.get(f"{target.base_url}/health", timeout=3, verify=verify)
            if answer.status_code == 200:
                body = answer.json()
                target.version = str(body.get("version")) if body.get("version") else None
                target.environment = str(body.get("environment")) if body.get("environment") else None
                return
            last_problem = f"/health answered {answer.status_code}"
        except (requests.RequestException, ValueError) as exc:
            last_problem = connection_reason(exc)
        if time.monotonic() + delay > deadline:
            raise TargetError(
                f"Permiso at {target.base_url} is not reachable or not healthy after {timeout_s:.0f} s "
                f"({last_problem})"
            )
        time.sleep(delay)
        delay = min(delay * 2, max_delay)


def resolve_target(settings: Settings) -> tuple[Target, Settings]:
    """Start the embedded server when PERMISO_BASE_URL is unset; otherwise gate on the deployment."""
    if not settings.permiso_base_url:
        return start_embedded(settings)
    target = Target(settings.permiso_base_url.rstrip("/"), settings.permiso_http_url, embedded=False)
    verify: bool | str = settings.test_ssl_cert_path or bool(settings.test_verify_ssl)
    # Bounded so that an unreachable target ends the run well inside 20 s.
    timeout = min(float(settings.test_timeout_seconds), 10.0)
    wait_until_healthy(target, timeout_s=timeout, verify=verify)
    return target, settings
