"""A private podman engine with the four production-named containers, for testing container health for real.

Why podman: the suite's container checks speak the Docker Engine API, and this machine has no Docker.
`podman system service` offers the same API on a unix socket without a daemon, and the docker SDK talks
to it unchanged (see shared/toolnotes.md, "Containers without Docker").

Why so private: the service gets its own containers.conf, storage.conf, storage, run and tmp directories
and file locks under one temporary folder, so nothing leaks into (or collides with) the machine's default
podman store, and removing that folder removes everything. The image is built without any registry: a
rootfs with busybox-static, imported as a tar.

Install podman with `bash .ci/podman-setup.sh` (root). Without it, every test that needs the engine is
skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

PRODUCTION_CONTAINERS = ("permiso-app-1", "permiso-postgres-prod", "permiso-redis-prod", "permiso-nginx-prod")
IMAGE = "localhost/permiso-acceptance-tiny:latest"
BUSYBOX = Path("/bin/busybox")
SECONDS = 1_000_000_000  # the Engine API takes health-check durations in nanoseconds


def podman_missing_reason() -> str | None:
    """Why the podman tests cannot run here, or None when they can."""
    if shutil.which("podman") is None:
        return "podman is not installed (run `bash .ci/podman-setup.sh` as root to test container health)"
    if shutil.which("runc") is None:
        return "runc is not installed (podman's crun fails on this kind of machine; run .ci/podman-setup.sh)"
    if not BUSYBOX.is_file():
        return "busybox-static is not installed (it is the test image's only binary; run .ci/podman-setup.sh)"
    if os.geteuid() != 0:
        return "the podman sandbox runs rootful podman and needs root"
    return None


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `predicate` until true, at most `timeout` seconds; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


def healthcheck(command: str) -> dict[str, object]:
    """An Engine API health check running `command`; podman needs it triggered (no systemd here)."""
    return {"test": ["CMD", command], "interval": 30 * SECONDS, "timeout": 2 * SECONDS, "retries": 1}


@dataclass
class PodmanSandbox:
    """A running private podman service and what the tests need to drive it."""

    root: Path
    url: str
    env: dict[str, str]
    client: docker.DockerClient
    process: subprocess.Popen[bytes]
    use_init: bool
    created: set[str] = field(default_factory=set)

    def podman(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run the podman CLI against this sandbox's storage (same config as the service)."""
        return subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def run(self, name: str, health_command: str | None = "/bin/true") -> None:
        """Start one container; `health_command` None means no health check (as nginx often has)."""
        kwargs: dict[str, object] = {}
        if health_command is not None:
            kwargs["healthcheck"] = healthcheck(health_command)
        self.created.add(name)
        self.client.containers.run(IMAGE, name=name, detach=True, network_mode="none", init=self.use_init,
                                   **kwargs)

    def remove(self, names: Iterable[str]) -> None:
        """Force-remove containers, tolerating ones that are already gone."""
        for name in names:
            with contextlib.suppress(NotFound):
                self.client.containers.get(name).remove(force=True)
            self.created.discard(name)

    def deploy(
        self,
        *,
        unhealthy: Iterable[str] = (),
        without_healthcheck: Iterable[str] = (),
        missing: Iterable[str] = (),
    ) -> None:
        """Replace the production containers with fresh ones: healthy unless named otherwise."""
        unhealthy, without_healthcheck, missing = set(unhealthy), set(without_healthcheck), set(missing)
        self.remove(PRODUCTION_CONTAINERS)
        for name in PRODUCTION_CONTAINERS:
            if name in missing:
                continue
            if name in without_healthcheck:
                self.run(name, None)
            else:
                self.run(name, "/bin/false" if name in unhealthy else "/bin/true")
        wanted = [n for n in PRODUCTION_CONTAINERS if n not in missing]
        wait_until(lambda: all(self.client.containers.get(n).status == "running" for n in wanted),
                   10, "the production containers to run")

    def stop(self, name: str) -> None:
        """Stop one container (busybox sleep ignores SIGTERM without an init: bounded 1 s grace)."""
        container = self.client.containers.get(name)
        container.stop(timeout=1)
        wait_until(lambda: self.client.containers.get(name).status != "running", 10, f"{name} to stop")

    def teardown(self) -> None:
        """Remove every container, stop the service, delete the sandbox: runs even after failures."""
        try:
            for container in self.client.containers.list(all=True):
                with contextlib.suppress(APIError, NotFound):
                    container.remove(force=True)
        except Exception:  # the service may already be gone: fall back to the CLI below
            pass
        finally:
            self.client.close()
        # The CLI shares the storage: it catches anything the API could not remove.
        leftover = self.podman("ps", "-aq")
        if leftover.stdout.strip():
            self.podman("rm", "-af", "-t", "0")
        stop_process(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate our service process (by its own pid), escalating to kill after a bounded wait."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _write_config(root: Path) -> dict[str, str]:
    """containers.conf + storage.conf that keep everything under `root`; returns the env to use them."""
    conf = root / "containers.conf"
    conf.write_text(
        "[containers]\n"
        "default_ulimits = []\n"  # otherwise setrlimit(RLIMIT_NOFILE/NPROC) fails in every container
        "[engine]\n"
        'runtime = "runc"\n'  # crun fails here: "cgroups in hybrid mode not supported"
        'cgroup_manager = "cgroupfs"\n'  # no systemd
        'events_logger = "file"\n'
        'lock_type = "file"\n'  # not the machine-wide /dev/shm/libpod_lock segment
        f'tmp_dir = "{root}/libpod-tmp"\n'
        f'static_dir = "{root}/storage/libpod"\n'
        f'volume_path = "{root}/storage/volumes"\n'
        "[network]\n"
        f'network_config_dir = "{root}/networks"\n'
    )
    storage = root / "storage.conf"
    storage.write_text(
        "[storage]\n"
        'driver = "vfs"\n'  # plain directories: no mounts left behind if a run dies
        f'graphroot = "{root}/storage"\n'
        f'runroot = "{root}/run"\n'
    )
    env = dict(os.environ)
    env.update(CONTAINERS_CONF=str(conf), CONTAINERS_STORAGE_CONF=str(storage))
    env.pop("DOCKER_HOST", None)
    return env


def _build_image(root: Path, env: dict[str, str]) -> None:
    """Import a busybox-only rootfs as the test image: no registry involved."""
    rootfs = root / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep", "true", "false", "wget"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    tar_path = root / "tiny.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(rootfs, arcname=".")
    result = subprocess.run(
        ["podman", "import", "-q", "--change", 'CMD ["/bin/sleep","3600"]', str(tar_path), IMAGE],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"podman import failed: {result.stderr.strip()}")




def start_sandbox() -> PodmanSandbox:
    """Private config and storage, the tiny image, and a podman service answering on a private socket.

    On any failure everything started so far is stopped and removed before the error propagates.
    """
    root = Path(tempfile.mkdtemp(prefix="permiso-podman-"))
    env = _write_config(root)
    process: subprocess.Popen[bytes] | None = None
    client: docker.DockerClient | None = None
    try:
        _build_image(root, env)
        socket_path = root / "podman.sock"
        url = f"unix://{socket_path}"
        log = (root / "service.log").open("wb")
        process = subprocess.Popen(["podman", "system", "service", "--time=0", url], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def answers() -> bool:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"podman service exited: {(root / 'service.log').read_text()[-500:]}")
            if not socket_path.exists():
                return False
            probe = docker.DockerClient(base_url=url, timeout=2, version="1.41")
            try:
                return bool(probe.ping())
            except Exception:
                return False
            finally:
                probe.close()

        wait_until(answers, 15, "the podman service to answer")
        client = docker.DockerClient(base_url=url, timeout=30)
    except BaseException:
        if client is not None:
            client.close()
        if process is not None:
            stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PodmanSandbox(root=root, url=url, env=env, client=client, process=process,
                         use_init=shutil.which("catatonit") is not None)
