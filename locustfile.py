"""Locust journeys against Permiso: realistic, weighted traffic for `permiso-acceptance load`.

Why these journeys: they are what the deployment actually serves. Most traffic is people signing in,
looking at their profile, refreshing and signing out; machines (service clients) fetch a token and call
a protected endpoint with it; a few administrators read the user list and statistics; a load balancer
probes `/health`. Each request is named ``"<journey>: <step>"`` (see support/domains/perf.py JOURNEY_STEPS) so
Locust groups them per step and the summary can compute p50/p95/p99 per journey and judge each step
against its budget class.

Run it through ``permiso-acceptance load`` (support/domains/load.py), not by hand: that command creates the pool
of throwaway accounts through the admin API, hands target and pool to this file through a private temp
JSON file (``--permiso-config``; passwords never appear on a command line or in output), and deletes the
accounts afterwards. In distributed mode the master reads the file and sends it to each worker over
Locust's own message channel when the worker asks (``permiso_config_request`` / ``permiso_config``), so
workers on other machines need nothing but ``--master-host``.

This file runs in Locust's gevent-patched process; it imports nothing of the suite except
``support.domains.perf`` (standard library only), so the suite's ``requests`` stack never meets gevent.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
from typing import Any
from urllib.parse import urlencode

import gevent
import gevent.ssl
from gevent.event import Event
from locust import FastHttpUser, between, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.runners import MasterRunner, WorkerRunner

from support.domains.perf import STEPS_BY_NAME

#: How long a simulated user waits for the run's configuration before giving up (worker mode only:
#: the configuration arrives from the master over the message channel, normally within milliseconds).
CONFIG_WAIT_S = 30.0
CONFIG_REQUEST_INTERVAL_S = 1.0

_config: dict[str, Any] = {}
_config_ready = Event()
_account_counter = itertools.count()


def _set_config(data: dict[str, Any]) -> None:
    _config.clear()
    _config.update(data)
    _config_ready.set()


def _config_or_wait() -> dict[str, Any]:
    if not _config_ready.wait(timeout=CONFIG_WAIT_S):
        raise RuntimeError(
            f"no load configuration after {CONFIG_WAIT_S:.0f} s: start this locustfile through "
            "`permiso-acceptance load` (standalone or --master), which hands it the target and accounts"
        )
    return _config


# ------------------------------------------------------------------------------------------ set-up
@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--permiso-config",
        default=None,
        help="private JSON file written by `permiso-acceptance load` (target, TLS, account pool)",
        include_in_web_ui=False,
    )


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        def receive(environment: Any, msg: Any, **kw: Any) -> None:
            _set_config(msg.data)
            logging.info("Received the load configuration from the master: target %s, %d user accounts, "
                         "worker index %s", msg.data.get("base_url"), len(msg.data.get("users", [])),
                         getattr(runner, "worker_index", "?"))

        runner.register_message("permiso_config", receive)

        def ask_master() -> None:
            # Bounded: ask once a second until the master answers (it may still be starting up).
            for _ in range(int(CONFIG_WAIT_S / CONFIG_REQUEST_INTERVAL_S)):
                if _config_ready.is_set():
                    return
                runner.send_message("permiso_config_request", None)
                _config_ready.wait(timeout=CONFIG_REQUEST_INTERVAL_S)

        gevent.spawn(ask_master)
        return
    options = environment.parsed_options
    path = getattr(options, "permiso_config", None) if options is not None else None
    if not path:
        print("locustfile.py: missing --permiso-config; run `permiso-acceptance load` instead of locust",
              file=sys.stderr)
        sys.exit(2)
    with open(path, encoding="utf-8") as handle:
        _set_config(json.load(handle))
    if isinstance(runner, MasterRunner):
        def answer(environment: Any, msg: Any, **kw: Any) -> None:
            runner.send_message("permiso_config", _config, client_id=msg.node_id)

        runner.register_message("permiso_config_request", answer)


_ssl_contexts: dict[tuple[bool, str | None], Any] = {}


def _shared_ssl_context_factory(verify: bool, ca_path: str | None) -> Any:
    """One TLS context per process, shared by every simulated user.

    geventhttpclient otherwise builds a context per user and loads the whole CA bundle into it (about
    30 ms of CPU each, in the one gevent thread): with users spawning together that showed up as
    400 ms "response times" of the first requests, i.e. the load generator measuring itself. The
    factory accepts ``cafile`` so geventhttpclient hands it over instead of loading it again.
    """

    def factory(cafile: str | None = None) -> Any:
        key = (verify, ca_path or cafile if verify else None)
        context = _ssl_contexts.get(key)
        if context is None:
            if verify:
                context = gevent.ssl.create_default_context(cafile=ca_path or cafile)
            else:
                context = gevent.ssl._create_unverified_context()
            _ssl_contexts[key] = context
        return context

    return factory


# ------------------------------------------------------------------------------------------ users
class PermisoUser(FastHttpUser):
    """Common plumbing: configuration, TLS verification, named requests, failure messages."""

    abstract = True
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.cfg = _config_or_wait()
        self.api = self.cfg["base_url"].rstrip("/") + self.cfg.get("api_base", "/api/v1")
        self.root = self.cfg["base_url"].rstrip("/")
        timeout = float(self.cfg.get("timeout_s", 30))
        verify = bool(self.cfg.get("verify", False))
        ca_path = self.cfg.get("ca_path")
        # The embedded reference server (and a default deployment) use a self-signed certificate:
        # verification follows TEST_VERIFY_SSL / TEST_SSL_CERT_PATH, handed over in the configuration.
        self.client = FastHttpSession(
            base_url=self.root,
            request_event=self.environment.events.request,
            user=self,
            insecure=not verify,
            ssl_context_factory=_shared_ssl_context_factory(verify, ca_path),
            network_timeout=timeout,
            connection_timeout=min(timeout, 10.0),
            max_redirects=0,
            concurrency=self.concurrency,
        )
        self._open_connection()

    def _open_connection(self) -> None:
        """Open this user's keep-alive connection with one unrecorded `/health` call.

        A real client keeps its connection; the TCP + TLS set-up of many users spawning in the same
        second is not any endpoint's response time (and on a busy machine it showed as 200-300 ms first
        samples). Nothing is recorded here: geventhttpclient's agent is called directly, below Locust's
        request events. A failure is ignored: the first recorded request will report it.
        """
        try:
            answer = self.client.client.urlopen(self.root + "/health", method="GET")
            _ = answer.content  # read it all, so the connection goes back to the pool
        except Exception:
            return

    def call(self, method: str, path: str, name: str, *, token: str | None = None, json_body: Any = None,
             form: dict[str, str] | None = None, api: bool = True,
             expect: int = 200) -> dict[str, Any] | None:
        """One named request; marks it failed (with a secret-free reason) unless it answers ``expect``.

        Returns the JSON object of a successful answer, or None after a failure.
        """
        assert name in STEPS_BY_NAME, f"request name {name!r} missing from support.domains.perf.JOURNEY_STEPS"
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data: str | None = None
        if form is not None:
            data = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = (self.api if api else self.root) + path
        with self.client.request(method, url, name=name, headers=headers, data=data, json=json_body,
                                 catch_response=True, allow_redirects=False) as answer:
            if answer.status_code != expect:
                answer.failure(_failure_reason(answer))
                return None
            try:
                body = answer.json()
            except ValueError:
                answer.failure(f"HTTP {answer.status_code} without a JSON body")
                return None
            if not isinstance(body, dict):
                answer.failure(f"HTTP {answer.status_code} with a JSON {type(body).__name__}, not an object")
                return None
            answer.success()
            return body


def _failure_reason(answer: Any) -> str:
    """Why a request failed, in words that never carry a token, password or body."""
    status = int(answer.status_code or 0)
    if status == 0:
        error = getattr(answer, "error", None)
        return f"no answer ({type(error).__name__ if error else 'connection error'})"
    content_type = (answer.headers or {}).get("content-type", "") if answer.headers else ""
    if status == 503 and "json" not in content_type.lower():
        return "HTTP 503 page from the front (rate limit)"
    code = ""
    try:
        body = answer.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str) and len(body["error"]) <= 40:
            code = f" {body['error']}"
    except Exception:
        code = ""
    return f"HTTP {status}{code}"


def _pool_account(environment: Any, kind: str) -> dict[str, str]:
    """A pool account for this simulated user.

    Regular users each get their own account (a sign-out revokes every refresh token of the account,
    so two simultaneous journeys must not share one); in distributed mode worker w takes accounts
    w, w+n, w+2n ... so workers never collide. Administrators and service clients may be shared.
    """
    cfg = _config
    accounts: list[dict[str, str]] = cfg[kind]
    if kind != "users":
        return accounts[next(_account_counter) % len(accounts)]
    workers = max(1, int(cfg.get("workers", 1)))
    index = max(0, int(getattr(environment.runner, "worker_index", 0) or 0))
    return accounts[(index + next(_account_counter) * workers) % len(accounts)]


class SignInJourney(PermisoUser):
    """A person: sign in → look at their profile → refresh the session → sign out."""

    weight = 6

    def on_start(self) -> None:
        super().on_start()
        self.account = _pool_account(self.environment, "users")

    @task
    def journey(self) -> None:
        login = self.call("POST", "/auth/token", "user: sign-in", form={
            "username": self.account["username"], "password": self.account["password"],
            "grant_type": "password"})
        if login is None:
            return
        self.call("GET", "/users/me", "user: me", token=login.get("access_token"))
        refreshed = self.call("POST", "/auth/refresh", "user: refresh",
                              json_body={"refresh_token": login.get("refresh_token")})
        token = (refreshed or {}).get("access_token") or login.get("access_token")
        self.call("POST", "/auth/logout", "user: sign-out", token=token)


class ServiceJourney(PermisoUser):
    """A machine: fetch a client-credentials token, then call a protected endpoint with it."""

    weight = 2

    def on_start(self) -> None:
        super().on_start()
        self.client_account = _pool_account(self.environment, "service_clients")
        self.token: str | None = None
        self.fetch_token()

    @task(1)
    def fetch_token(self) -> None:
        answer = self.call("POST", "/auth/service-token", "service: token", form={
            "client_id": self.client_account["client_id"],
            "client_secret": self.client_account["client_secret"]})
        if answer is not None:
            self.token = answer.get("access_token")

    @task(4)
    def protected_call(self) -> None:
        if not self.token:
            self.fetch_token()
            if not self.token:
                return
        self.call("POST", "/auth/introspect", "service: introspect", token=self.token,
                  json_body={"token": self.token})


class AdminJourney(PermisoUser):
    """An administrator: signed in once, reads the user list, user statistics and the dashboard."""

    weight = 1

    def on_start(self) -> None:
        super().on_start()
        self.account = _pool_account(self.environment, "admins")
        self.token: str | None = None
        self.sign_in()

    def sign_in(self) -> None:
        answer = self.call("POST", "/auth/token", "admin: sign-in", form={
            "username": self.account["username"], "password": self.account["password"],
            "grant_type": "password"})
        self.token = answer.get("access_token") if answer else None

    def on_stop(self) -> None:
        if self.token:
            self.call("POST", "/auth/logout", "admin: sign-out", token=self.token)
            self.token = None

    def _ready(self) -> bool:
        if not self.token:
            self.sign_in()
        return bool(self.token)

    @task(3)
    def user_list(self) -> None:
        if self._ready():
            self.call("GET", "/users/?page=1&per_page=20", "admin: user list", token=self.token)

    @task(1)
    def user_stats(self) -> None:
        if self._ready():
            self.call("GET", "/users/stats/overview", "admin: user stats", token=self.token)

    @task(1)
    def dashboard(self) -> None:
        if self._ready():
            self.call("GET", "/admin/dashboard/stats", "admin: dashboard", token=self.token)


class HealthMonitor(PermisoUser):
    """A load balancer's probe: `/health` once a second."""

    weight = 1
    wait_time = between(0.9, 1.1)

    @task
    def health(self) -> None:
        self.call("GET", "/health", "monitor: health", api=False)
