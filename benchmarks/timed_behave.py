"""Run behave in this process and add up the transport time of every HTTP call the suite makes.

Used by run_benchmark.py: ``python benchmarks/timed_behave.py OUT.json <behave arguments>``. Every
``PermisoClient`` exchange (in any client, hooks included) is seen through the process-wide
``ExchangeLog.subscribe_all``; its ``elapsed_ms`` is the transport time without pacing waits.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    from support.client import Exchange, ExchangeLog

    totals: dict[str, Any] = {"http_ms": 0.0, "calls": 0}

    def count(exchange: Exchange) -> None:
        totals["http_ms"] += float(exchange.elapsed_ms)
        totals["calls"] += 1

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
