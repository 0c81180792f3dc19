"""The plain histogram services observe into (exported as Prometheus histograms)."""

from __future__ import annotations

from postroom.metrics.histogram import Histogram


def test_buckets_are_inclusive_upper_bounds_and_cumulative():
    h = Histogram([0.1, 1.0, 10.0])
    for value in (0.05, 0.1, 0.5, 1.0, 3.0, 50.0):
        h.observe(value)
    assert h.cumulative() == [("0.1", 2), ("1.0", 4), ("10.0", 5), ("+Inf", 6)]
    assert h.count == 6
    assert abs(h.sum - 54.65) < 1e-9


def test_an_empty_histogram_exports_zeros():
    assert Histogram([1, 2]).cumulative() == [("1.0", 0), ("2.0", 0), ("+Inf", 0)]
