"""Locust's side of the /health benchmark: one request, no think time, as fast as Locust can go.

Kept apart from the top-level locustfile.py (whose journeys pace themselves like real users and need
an account pool): here the question is only how many requests per second Locust itself can drive.
"""

from __future__ import annotations

import gevent.ssl
from locust import FastHttpUser, constant, task

_CONTEXT = gevent.ssl._create_unverified_context()  # the reference server's certificate is self-signed


def _shared_context(cafile: str | None = None) -> gevent.ssl.SSLContext:
    return _CONTEXT


class HealthOnly(FastHttpUser):
    wait_time = constant(0)
    insecure = True
    ssl_context_factory = staticmethod(_shared_context)

    @task
    def health(self) -> None:
        self.client.get("/health", name="health")
