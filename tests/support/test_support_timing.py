"""timing: percentiles match known values; the comparison catches a real gap and ignores noise."""

from __future__ import annotations

import random

import pytest

from support.checks.timing import (
    compare_samples,
    mann_whitney_u,
    p50,
    p95,
    percentile,
    sample_interleaved,
    summarize,
)


def test_percentiles() -> None:
    data = list(range(1, 101))
    assert p50(data) == 50.5
    assert p95(data) == pytest.approx(95.05)
    assert percentile(data, 0) == 1 and percentile(data, 100) == 100
    assert percentile([7], 95) == 7
    s = summarize([10, 20, 30, 40])
    assert (s.count, s.min, s.p50, s.max, s.mean) == (4, 10, 25, 40, 25)
    assert "p95" in s.render()
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_mann_whitney_known_values() -> None:
    u, p = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert u == 0 and p < 0.02
    u, p = mann_whitney_u([1, 2, 3], [1, 2, 3])
    assert u == 4.5 and p == pytest.approx(1.0)
    _, p = mann_whitney_u([5] * 10, [5] * 10)  # all tied
    assert p == 1.0


def test_a_real_side_channel_is_caught_every_time() -> None:
    rng = random.Random(1)
    for _ in range(200):
        base = [rng.gauss(4, 1.5) + rng.expovariate(1) for _ in range(30)]
        slow = [rng.gauss(34, 1.5) + rng.expovariate(1) for _ in range(30)]
        assert compare_samples(slow, base).distinguishable


def test_noise_is_never_called_a_difference() -> None:
    rng = random.Random(2)
    for _ in range(500):
        a = [rng.gauss(250, 20) + rng.expovariate(0.05) for _ in range(30)]
        b = [rng.gauss(250, 20) + rng.expovariate(0.05) for _ in range(30)]
        result = compare_samples(a, b)
        assert not result.distinguishable, result.explanation


def test_tiny_but_significant_gap_is_not_practically_relevant() -> None:
    a = [2.0 + i * 0.001 for i in range(40)]
    b = [3.0 + i * 0.001 for i in range(40)]
    result = compare_samples(a, b)
    assert result.p_value < 0.001 and not result.distinguishable
    assert "not distinguishable" in result.explanation


def test_sample_interleaved_alternates_and_measures() -> None:
    calls: list[str] = []
    a, b = sample_interleaved(lambda: calls.append("a") or 1.0, lambda: calls.append("b") or 2.0, 4,
                              measure=lambda r: r)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert a == [1.0] * 4 and b == [2.0] * 4
    wall_a, _ = sample_interleaved(lambda: None, lambda: None, 3)
    assert len(wall_a) == 3 and all(x >= 0 for x in wall_a)
