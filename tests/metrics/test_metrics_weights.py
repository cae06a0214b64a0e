"""Weights near the limits of float64: a common factor changes no metric, and a total
beyond the range is an error that says so (``metrics.compute``, ``metrics.ranking``)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bcelab.errors import DomainError
from bcelab.metrics import BinaryMetrics, BinaryStats

# 0.2 and 0.2001 share a fine bin with a positive and a negative: ROC-AUC has a bound
P = np.array([0.2, 0.7, 0.4, 0.9, 0.55, 0.1, 0.2001])
Y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.3, 1.0])
W = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.5, 1.2])
SCALED = {"weight_total", "tp", "fp", "tn", "fn"}  # weighted sums: they scale


def _metrics(scale: float) -> BinaryMetrics:
    return BinaryStats().update(P, Y, weights=W * scale).compute()


def _compare(got: BinaryMetrics, want: BinaryMetrics, scale: float, skip: set[str]) -> None:
    """A power-of-two factor scales every weighted sum exactly, so every metric keeps its
    bits (the weighted sums scale by the factor, exactly)."""
    for f in dataclasses.fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if f.name in skip or not isinstance(b, float):
            continue
        b = b * scale if f.name in SCALED else b
        assert a == b or (math.isnan(a) and math.isnan(b)), (f.name, a, b)


@pytest.mark.parametrize("scale", [2.0**-490, 2.0**-300, 2.0**300, 2.0**490])
def test_a_common_factor_changes_no_metric(scale: float) -> None:
    _compare(_metrics(scale), _metrics(1.0), scale, skip=set())


@pytest.mark.parametrize("scale", [2.0**-700, 2.0**700])
def test_ranking_survives_weights_whose_products_leave_the_range(scale: float) -> None:
    # P * N is 2**-1400 or 2**1400 here: ROC-AUC and its bound come from shares of each total
    got, want = _metrics(scale), _metrics(1.0)
    _compare(got, want, scale, skip={"effective_rows"})
    assert 0 < got.roc_auc < 1 and got.roc_auc_bound > 0
    # the squares of such weights leave float64: the effective rows are undefined, not wrong
    assert math.isnan(got.effective_rows)


def test_a_total_weight_beyond_float64_is_a_domain_error() -> None:
    s = BinaryStats().update(P[:2], Y[:2], weights=np.array([1.5e308, 1.5e308]))
    with pytest.raises(DomainError, match=r"add up to more \(inf\).*divide the weights"):
        s.compute()
