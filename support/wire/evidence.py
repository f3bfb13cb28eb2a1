"""The evidence of every call: :class:`Exchange` (one request and its answer), :class:`ExchangeLog` (a
scenario's exchanges, plus process-wide subscribers) and :class:`ApiResponse` (what every client call returns).

Why a module of its own: these are plain records that the whole suite reads - matchers, causes, the hygiene
watch, the pool, reporting and many tests build or inspect them - while in a run only the client's plumbing
(:mod:`support.wire.transport`) makes them. Keeping them apart from HTTP, TLS and pacing lets a reader of
evidence import just the records, and keeps the transport module about sending.
"""

from __future__ import annotations

import json as _json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from requests.structures import CaseInsensitiveDict

from support.wire import redaction


# ---------------------------------------------------------------------------------------- evidence
@dataclass
class Exchange:
    """One HTTP request and its answer, as evidence. Rendering is always redacted."""

    method: str
    url: str
    status: int
    request_headers: dict[str, str]
    request_body: Any
    response_headers: dict[str, str]
    response_text: str
    elapsed_ms: float
    started_at: datetime
    client_name: str = ""
    attempt: int = 1
    retried: bool = False  # True when this answer was superseded by a retry (front 503 page)

    def json(self) -> Any:
        """The response parsed as JSON, or None when it is not JSON."""
        try:
            return _json.loads(self.response_text) if self.response_text else None
        except ValueError:
            return None

    def render(self) -> str:
        """Readable request/response text with every secret masked."""
        req_ct = _header(self.request_headers, "content-type")
        resp_ct = _header(self.response_headers, "content-type")
        who = f" [{self.client_name}]" if self.client_name else ""
        lines = [f"{self.method} {redaction.redact_url(self.url)}{who}"]
        lines += [f"{k}: {v}" for k, v in redaction.redact_headers(self.request_headers).items()]
        body = redaction.redact_body(self.request_body, req_ct)
        if body:
            lines += ["", body]
        status = "no answer" if self.status == 0 else str(self.status)
        extra = f", attempt {self.attempt}" + (", retried" if self.retried else "") if self.attempt > 1 or \
            self.retried else ""
        lines += ["", f"--> {status} in {self.elapsed_ms:.1f} ms{extra}"]
        lines += [f"{k}: {v}" for k, v in redaction.redact_headers(self.response_headers).items()]
        text = redaction.redact_body(self.response_text, resp_ct)
        if text:
            lines += ["", text if len(text) <= 20000 else text[:20000] + "\n... (truncated)"]
        return "\n".join(lines)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


class ExchangeLog:
    """Exchanges of one scenario (evidence), with subscribers called on every new record.

    Process-wide subscribers (:meth:`subscribe_all`) see the exchanges of every client, logged or not.
    """

    _global_lock: ClassVar[threading.Lock] = threading.Lock()
    _global_subscribers: ClassVar[list[Callable[[Exchange], None]]] = []

    def __init__(self) -> None:
        self.records: list[Exchange] = []
        self._subscribers: list[Callable[[Exchange], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Callable[[Exchange], None]) -> None:
        with self._lock:
            self._subscribers.append(fn)

    def unsubscribe(self, fn: Callable[[Exchange], None]) -> None:
        with self._lock:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.records.append(exchange)
            subscribers = list(self._subscribers)
        for fn in subscribers:
            fn(exchange)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def render(self, last: int | None = None) -> str:
        """All (or the last ``last``) exchanges rendered, separated by rules."""
        records = self.records[-last:] if last else self.records
        return "\n\n" + ("=" * 60 + "\n").join(r.render() + "\n" for r in records) if records else ""

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def subscribe_all(cls, fn: Callable[[Exchange], None]) -> None:
        """Call ``fn`` for the exchange of every client in this process."""
        with cls._global_lock:
            cls._global_subscribers.append(fn)

    @classmethod
    def unsubscribe_all(cls, fn: Callable[[Exchange], None]) -> None:
        with cls._global_lock:
            if fn in cls._global_subscribers:
                cls._global_subscribers.remove(fn)

    @classmethod
    def _publish(cls, exchange: Exchange) -> None:
        with cls._global_lock:
            subscribers = list(cls._global_subscribers)
        for fn in subscribers:
            fn(exchange)


@dataclass
class ApiResponse:
    """The result of every client call."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: Any
    text: str
    elapsed_ms: float
    exchange: Exchange

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def get(self, key: str, default: Any = None) -> Any:
        """``body[key]`` when the body is a JSON object, else ``default``."""
        return self.body.get(key, default) if isinstance(self.body, dict) else default

    def __repr__(self) -> str:
        url = redaction.redact_url(self.exchange.url)
        return f"<ApiResponse {self.exchange.method} {url} -> {self.status}>"
