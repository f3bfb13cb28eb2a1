"""Timing statistics: percentiles for response-time budgets and a robust two-sample comparison.

Why: budgets are judged on percentiles, not single calls, and the user-enumeration timing check
("a wrong password for an existing user must not answer measurably slower than an unknown user")
must be decided without flakiness on a noisy machine. :func:`compare_samples` therefore requires
*both* statistical evidence (a hand-written Mann-Whitney U test, no scipy) *and* a practically
relevant effect (difference of medians above an absolute floor and a ratio) before it calls two
samples different; interleaving the two kinds of calls (:func:`sample_interleaved`) cancels drift.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def p50(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


def p95(samples: Sequence[float]) -> float:
    return percentile(samples, 95)


@dataclass(frozen=True)
class TimingSummary:
    count: int
    min: float
    p50: float
    p95: float
    max: float
    mean: float

    def render(self, unit: str = "ms") -> str:
        return (f"{self.count} samples: p50 {self.p50:.1f} {unit}, p95 {self.p95:.1f} {unit}, "
                f"max {self.max:.1f} {unit} (min {self.min:.1f}, mean {self.mean:.1f})")


def summarize(samples: Sequence[float]) -> TimingSummary:
    """p50/p95/max (and min/mean) of a non-empty sample."""
    return TimingSummary(len(samples), float(min(samples)), p50(samples), p95(samples),
                         float(max(samples)), statistics.fmean(samples))


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of ``values`` and the sizes of tie groups."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = average
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mann-Whitney U of ``a`` vs ``b`` and the two-sided p-value (normal approximation with tie
    and continuity correction; fine from about 8 samples per side)."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need values")
    ranks, ties = _ranks([*a, *b])
    r1 = sum(ranks[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2
    mean_u = n1 * n2 / 2
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return u1, 1.0
    z = (abs(u1 - mean_u) - 0.5) / math.sqrt(variance)
    p_value = math.erfc(max(z, 0.0) / math.sqrt(2))
    return u1, min(1.0, p_value)


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing sample ``a`` (e.g. wrong password) with ``b`` (unknown user)."""

    median_a: float
    median_b: float
    difference: float  # median_a - median_b
    ratio: float  # larger median / smaller median
    p_value: float
    distinguishable: bool
    explanation: str


def compare_samples(a: Sequence[float], b: Sequence[float], *, alpha: float = 0.001,
                    min_difference: float = 15.0, min_ratio: float = 1.05) -> Comparison:
    """Are ``a`` and ``b`` (ms) distinguishable? Only when Mann-Whitney p < ``alpha`` AND the medians
    differ by more than ``min_difference`` ms AND by more than ``min_ratio``. Requiring all three keeps
    a clean target from failing on noise, while a real side channel (tens of ms) is still caught."""
    med_a, med_b = statistics.median(a), statistics.median(b)
    diff = med_a - med_b
    low, high = sorted((med_a, med_b))
    ratio = high / low if low > 0 else math.inf
    _, p_value = mann_whitney_u(a, b)
    significant = p_value < alpha
    relevant = abs(diff) > min_difference and ratio > min_ratio
    distinguishable = significant and relevant
    explanation = (f"medians {med_a:.1f} vs {med_b:.1f} ms (difference {diff:+.1f} ms, ratio {ratio:.2f}), "
                   f"Mann-Whitney p={p_value:.2g} over {len(a)}+{len(b)} samples: "
                   + ("distinguishable" if distinguishable else "not distinguishable")
                   + f" (needs p<{alpha:g}, |difference|>{min_difference:g} ms, ratio>{min_ratio:g})")
    return Comparison(med_a, med_b, diff, ratio, p_value, distinguishable, explanation)


def sample_interleaved(fn_a: Callable[[], Any], fn_b: Callable[[], Any], n: int, *,
                       measure: Callable[[Any], float] | None = None) -> tuple[list[float], list[float]]:
    """Call ``fn_a`` and ``fn_b`` alternately ``n`` times each (ABBA order to cancel drift) and return
    their durations in ms: ``measure(result)`` when given (e.g. ``lambda r: r.elapsed_ms``), otherwise
    the wall time of the call."""
    a: list[float] = []
    b: list[float] = []

    def run(fn: Callable[[], Any], into: list[float]) -> None:
        t0 = time.perf_counter()
        result = fn()
        wall = (time.perf_counter() - t0) * 1000
        into.append(measure(result) if measure else wall)

    for i in range(n):
        pair = ((fn_a, a), (fn_b, b)) if i % 2 == 0 else ((fn_b, b), (fn_a, a))
        for fn, into in pair:
            run(fn, into)
    return a, b
