"""benchmarks/run_benchmark.py: the behavex speed-up is read from back-to-back pairs, every pair counted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_benchmark", ROOT / "benchmarks" / "run_benchmark.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("run_benchmark", module)
    spec.loader.exec_module(module)
    return module


def _timing(bench: ModuleType, run: str, wall_s: float) -> object:
    return bench.SuiteTiming(run, wall_s, 0.0, 0, 0, "exit 0", load="0.1/0.1 -> 0.1/0.1")


def test_every_pair_is_counted_and_the_median_is_printed() -> None:
    bench = _benchmark()
    suites = [_timing(bench, "clean: @critical", 4.0)]
    for n, (serial_s, parallel_s) in enumerate([(27.0, 15.0), (26.0, 16.0), (28.0, 15.5)], start=1):
        suites.append(_timing(bench, bench.pair_label(bench.SERIAL_RUN, n), serial_s))
        suites.append(_timing(bench, bench.pair_label(bench.PARALLEL_RUN, n), parallel_s))
    assert bench.speed_ups(suites) == [(27.0, 15.0), (26.0, 16.0), (28.0, 15.5)]
    text = bench.render([], suites, 10)
    assert "speed-up on the clean target (pair 2): 1.62x" in text
    assert "median of 3 pairs: 1.80x (lowest 1.62x, highest 1.81x)" in text


def test_one_pair_prints_one_speed_up_and_no_median() -> None:
    bench = _benchmark()
    suites = [_timing(bench, bench.SERIAL_RUN, 27.0), _timing(bench, bench.PARALLEL_RUN, 15.0)]
    text = bench.render([], suites, 10)
    assert "behavex speed-up on the clean target: 1.80x (27.0 s serial, 15.0 s with 2 processes" in text
    assert "median" not in text
    assert bench.speed_ups([_timing(bench, bench.SERIAL_RUN, 27.0)]) == []  # no behavex run: no ratio
