"""Run behave in this process and add up the transport time of every HTTP call the suite makes.

Used by run_benchmark.py: ``python benchmarks/timed_behave.py OUT.json <behave arguments>``. Every
``PermisoClient`` exchange (in any client, hooks included) is seen through the process-wide
``ExchangeLog.subscribe_all``; its ``elapsed_ms`` is the transport time without pacing waits.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    from support.wire.evidence import Exchange, ExchangeLog

    totals: dict[str, Any] = {"http_ms": 0.0, "calls": 0, "retried": 0, "by_call": {}}

    def count(exchange: Exchange) -> None:
        totals["http_ms"] += float(exchange.elapsed_ms)
        totals["calls"] += 1
        totals["retried"] += int(exchange.retried)
        entry = totals["by_call"].setdefault(call_key(exchange.method, exchange.url), [0, 0.0])
        entry[0] += 1
        entry[1] += float(exchange.elapsed_ms)

    ExchangeLog.subscribe_all(count)
    from behave.__main__ import main as behave_main

    started = time.perf_counter()
    code = 1
    try:
        code = int(behave_main(argv[1:]) or 0)
    finally:
        totals.update(returncode=code, behave_s=time.perf_counter() - started)
        out.write_text(json.dumps(totals))
    return code


_ID = re.compile(r"/(?:[0-9a-f]{8}-[0-9a-f-]{27}|pa[-_][\w-]+|\d+)(?=/|$)")


def call_key(method: str, url: str) -> str:
    """``POST /api/v1/users/{id}/roles``: the call without query and with ids folded, for the profile."""
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    return f"{method} {_ID.sub('/{id}', path)}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
