"""Container health of a Permiso deployment, asked of the Docker (or podman) engine that runs it.

Why this module exists: the deployment guide's first infrastructure check is "are the four production
containers up and healthy?". When one is not, every later scenario fails for a reason that has nothing
to do with the rule it checks; a single line naming the broken container saves the reader that hunt.

It speaks the Docker Engine API through the docker SDK, so it works against Docker and against podman's
Docker-compatible service alike. Two podman differences are handled here, in one place:

- a container without a health check has ``State.Health = {"Status": ""}`` under podman, while Docker
  omits the key: both mean "no health check" (``health=None``);
- podman without systemd never runs health checks by itself (the status stays "starting" forever), so for
  podman the check is run on demand through the libpod endpoint ``GET /libpod/containers/NAME/healthcheck``,
  which answers with the fresh status.

Nothing here reads ``os.environ`` (house rule: only ``support/wire/settings.py`` does): the engine address
comes in as ``docker_host`` (settings field ``docker_host``, env ``DOCKER_HOST``), and any other
``DOCKER_*`` variables only through an explicit ``environment`` mapping.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import docker
import requests
from docker.errors import APIError, DockerException, NotFound
from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description

#: Seconds to wait for an engine to answer before calling it absent (a run must not hang on a dead socket).
ENGINE_TIMEOUT_SECONDS = 3.0

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
STARTING = "starting"


@dataclass(frozen=True)
class EngineProbe:
    """The answer to "is there a container engine to ask?": a connected client, or why not.

    ``reason`` is one line fit for a skip message (``@needs.docker``); ``client`` is None exactly when
    ``reason`` is set. ``is_podman`` matters because podman needs its health checks triggered.
    """

    address: str
    client: docker.DockerClient | None = None
    reason: str | None = None
    is_podman: bool = False
    version: str = ""

    @property
    def available(self) -> bool:
        """True when an engine answered."""
        return self.client is not None

    def close(self) -> None:
        """Release the client's connection pool (safe to call when no engine answered)."""
        if self.client is not None:
            self.client.close()


@dataclass(frozen=True)
class ContainerStatus:
    """What the engine says about one named container.

    ``health`` is "healthy", "unhealthy" or "starting" for a container with a health check and None
    for one without. ``detail`` is a short human phrase of the state ("exited, exit code 137"; the
    last health-check output) used in problem lines. ``error`` is set when the engine could not be
    asked about this container at all.
    """

    name: str
    exists: bool
    running: bool
    health: str | None
    detail: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Running, and healthy where a health check exists."""
        return self.error is None and self.exists and self.running and self.health in (None, HEALTHY)


# --------------------------------------------------------------------------------------------- engine


def docker_engine(
    docker_host: str | None,
    *,
    environment: Mapping[str, str] | None = None,
    timeout: float = ENGINE_TIMEOUT_SECONDS,
) -> EngineProbe:
    """Connect to the engine at ``docker_host`` and ping it, within ``timeout`` seconds.

    ``docker_host`` None means the docker SDK's default discovery (``docker.from_env`` semantics) over
    the given ``environment`` mapping only — the default local socket when that is empty. Never raises
    for an absent engine: the reason comes back as one line (no socket, permission denied, refused,
    no answer in time), because callers turn it into a skip reason, not a traceback.
    """
    env = dict(environment or {})
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    address = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    client: docker.DockerClient | None = None
    try:
        # from_env negotiates the API version at construction, so this already talks to the engine.
        client = docker.from_env(environment=env, timeout=max(0.1, timeout))
        client.ping()
        info = client.version()
    except Exception as exc:  # the SDK raises many types; all mean "no usable engine" here
        if client is not None:
            client.close()
        reason = f"no container engine at {address}: {_reason(exc, timeout)}"
        return EngineProbe(address=address, reason=reason)
    return EngineProbe(
        address=address,
        client=client,
        is_podman=_is_podman(info),
        version=str(info.get("Version", "")),
    )


def _is_podman(version_info: Mapping[str, Any]) -> bool:
    """Podman names itself in ``Components`` ("Podman Engine") and sometimes in ``Platform``."""
    names = [str((version_info.get("Platform") or {}).get("Name", ""))]
    names += [str(c.get("Name", "")) for c in version_info.get("Components") or [] if isinstance(c, Mapping)]
    return any("podman" in name.lower() for name in names)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception wrapped in ``exc`` (causes, contexts and exceptions passed as arguments).

    requests wraps urllib3 which wraps the OSError that says what really happened; the useful words
    are at the bottom of that stack.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)


def _reason(exc: BaseException, timeout: float) -> str:
    """One line saying why no engine answered, in the words an operator would search for."""
    chain = list(_exception_chain(exc))
    for item in chain:
        if isinstance(item, FileNotFoundError) or (isinstance(item, OSError) and item.errno == errno.ENOENT):
            return "the socket does not exist (is the engine running?)"
        if isinstance(item, PermissionError) or (isinstance(item, OSError) and item.errno == errno.EACCES):
            return "permission denied on the socket (is this user in the docker group?)"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
    for item in chain:
        if isinstance(item, (socket.timeout, TimeoutError, requests.Timeout)):
            return f"no answer within {timeout:g} s"
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer within {timeout:g} s"
    if "no such file" in lowered:
        return "the socket does not exist (is the engine running?)"
    if "permission denied" in lowered:
        return "permission denied on the socket (is this user in the docker group?)"
    if "refused" in lowered:
        return "connection refused (nothing listens there)"
    return text[:200] or type(exc).__name__


# ------------------------------------------------------------------------------------------ containers


def _health_status(state: Mapping[str, Any]) -> str | None:
    """The health status, or None when the container has no health check.

    Docker omits ``State.Health`` without a health check; podman sends ``{"Status": ""}``. Test the
    value, not the key.
    """
    health = state.get("Health")
    if not isinstance(health, Mapping):
        return None
    status = str(health.get("Status") or "").strip().lower()
    return status or None


def _last_health_output(state: Mapping[str, Any]) -> str:
    """The newest health-check log entry as a short phrase ("exit 1: connection refused")."""
    health = state.get("Health")
    log = health.get("Log") if isinstance(health, Mapping) else None
    if not log:
        return ""
    last = log[-1] if isinstance(log, list) else None
    if not isinstance(last, Mapping):
        return ""
    output = " ".join(str(last.get("Output") or "").split())[:160]
    code = last.get("ExitCode")
    return f"last check exit {code}" + (f": {output}" if output else "")


def _run_podman_healthcheck(client: docker.DockerClient, name: str) -> str | None:
    """Run the container's health check now (podman only) and return the fresh status.

    Podman schedules health checks with systemd timers; without systemd they never run. The libpod
    endpoint runs one check synchronously, the same as ``podman healthcheck run NAME``. Returns None
    when podman refuses (no health check, not running) so the caller keeps what inspect said.
    """
    api = client.api
    url = f"{api.base_url}/v{api.api_version}/libpod/containers/{quote(name, safe='')}/healthcheck"
    try:
        response = api.get(url)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    try:
        status = str(response.json().get("Status") or "").strip().lower()
    except ValueError:
        return None
    return status or None


def container_status(
    client: docker.DockerClient, name: str, *, is_podman: bool | None = None
) -> ContainerStatus:
    """Inspect one container by name.

    For podman (detected from ``client.version()`` when ``is_podman`` is None) a running container with a
    health check gets its check run on demand, because without systemd podman's stored status is either
    "starting" forever or as old as the last manual run.
    """
    try:
        container = client.containers.get(name)
    except NotFound:
        return ContainerStatus(
            name=name, exists=False, running=False, health=None, detail="no such container"
        )
    except (APIError, DockerException, requests.RequestException) as exc:
        return ContainerStatus(name=name, exists=False, running=False, health=None,
                               error=" ".join(str(exc).split())[:200])
    state: Mapping[str, Any] = container.attrs.get("State") or {}
    running = bool(state.get("Running")) and not state.get("Paused")
    health = _health_status(state)
    if health is not None and running:
        if is_podman is None:
            try:
                is_podman = _is_podman(client.version())
            except (APIError, DockerException, requests.RequestException):
                is_podman = False
        if is_podman:
            fresh = _run_podman_healthcheck(client, name)
            if fresh is not None:
                health = fresh
                try:
                    container.reload()
                    state = container.attrs.get("State") or {}
                except (APIError, DockerException, requests.RequestException):
                    pass
    return ContainerStatus(
        name=name,
        exists=True,
        running=running,
        health=health,
        detail=_state_detail(state, running, health),
    )


def _state_detail(state: Mapping[str, Any], running: bool, health: str | None) -> str:
    """A short phrase of the state for problem lines: why it stopped, or what the health check said."""
    if not running:
        status = str(state.get("Status") or "not running")
        if state.get("Paused"):
            status = "paused"
        parts = [status]
        code = state.get("ExitCode")
        if status != "paused" and code is not None and (status == "exited" or code != 0):
            parts.append(f"exit code {code}")
        if state.get("OOMKilled"):
            parts.append("killed for lack of memory")
        if state.get("Error"):
            parts.append(" ".join(str(state["Error"]).split())[:160])
        return ", ".join(parts)
    if health in (UNHEALTHY, STARTING):
        return _last_health_output(state)
    return ""


def check_containers(
    client: docker.DockerClient, names: Iterable[str], *, is_podman: bool | None = None
) -> list[ContainerStatus]:
    """The status of each named container, in the order given (podman detected once for all)."""
    names = list(names)
    if is_podman is None:
        try:
            is_podman = _is_podman(client.version())
        except (APIError, DockerException, requests.RequestException):
            is_podman = False
    return [container_status(client, name, is_podman=is_podman) for name in names]


def running_problems(statuses: Iterable[ContainerStatus]) -> list[str]:
    """One line per container that is missing, not running or could not be inspected."""
    problems: list[str] = []
    for status in statuses:
        if status.error is not None:
            problems.append(f"container {status.name} could not be inspected: {status.error}")
        elif not status.exists:
            problems.append(f"container {status.name} does not exist")
        elif not status.running:
            problems.append(f"container {status.name} is not running ({status.detail or 'stopped'})")
    return problems


def health_problems(statuses: Iterable[ContainerStatus]) -> list[str]:
    """One line per running container whose health check does not say healthy."""
    problems: list[str] = []
    for status in statuses:
        if status.error is not None or not status.exists or not status.running or status.health is None:
            continue
        suffix = f" ({status.detail})" if status.detail else ""
        if status.health == UNHEALTHY:
            problems.append(f"container {status.name} is unhealthy{suffix}")
        elif status.health == STARTING:
            problems.append(f"container {status.name} has not passed its health check yet (starting){suffix}")
        elif status.health != HEALTHY:
            problems.append(f"container {status.name} reports health {status.health!r}{suffix}")
    return problems


def describe_problems(statuses: Sequence[ContainerStatus]) -> list[str]:
    """Every problem, one line each, naming the container: the text a failed check shows."""
    return running_problems(statuses) + health_problems(statuses)


# -------------------------------------------------------------------------------------------- matchers


class _NoContainerProblems(BaseMatcher[Sequence[ContainerStatus]]):
    """Matches container statuses with no problem of one kind; the mismatch lists one line per problem."""

    def __init__(self, what: str, problems: Any) -> None:
        self._what = what
        self._problems = problems

    def _matches(self, item: Sequence[ContainerStatus]) -> bool:
        return not self._problems(item)

    def describe_to(self, description: Description) -> None:
        description.append_text(self._what)

    def describe_mismatch(self, item: Sequence[ContainerStatus], mismatch_description: Description) -> None:
        mismatch_description.append_text("\n  " + "\n  ".join(self._problems(item)))


def all_running() -> BaseMatcher[Sequence[ContainerStatus]]:
    """Every listed container exists and is running (deployment guide: the production containers are up)."""
    return _NoContainerProblems("every container exists and is running", running_problems)


def all_healthy() -> BaseMatcher[Sequence[ContainerStatus]]:
    """Every running container that has a health check reports "healthy"."""
    return _NoContainerProblems("every container with a health check reports healthy", health_problems)
