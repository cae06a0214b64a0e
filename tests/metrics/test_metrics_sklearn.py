"""BinaryStats.compute() against scikit-learn computed in memory on the same rows.

Reference values: scikit-learn's ``log_loss``, ``roc_auc_score``,
``average_precision_score`` and ``brier_score_loss`` (sklearn.metrics), each with the
same sample weights.  Tolerances are the bounds the state reports (AUCs) or 1e-12
relative (sums).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from bcelab.metrics import BinaryStats


def _data(n: int, seed: int, *, dtype: type = np.float64, ties: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 2.0 - 1.0
    p = 1.0 / (1.0 + np.exp(-x))
    if ties:
        p = np.round(p, 2)
    y = (rng.random(n) < p).astype(np.float64)
    w = rng.random(n) * 3.0
    return y.astype(dtype), p.astype(dtype), w.astype(dtype)


@pytest.mark.parametrize("kernel", ["compiled", "numpy"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_matches_sklearn(kernel: str, weighted: bool, ties: bool) -> None:
    y, p, w = _data(20_000, 1, ties=ties)
    p = np.clip(p, 1e-12, 1 - 1e-12)  # sklearn clips at eps; keep away from 0 and 1
    sw = w if weighted else None
    m = BinaryStats(kernel=kernel).update(p, y, weights=sw).compute()
    assert m.log_loss == pytest.approx(log_loss(y, p, sample_weight=sw), rel=1e-12)
    assert m.brier == pytest.approx(brier_score_loss(y, p, sample_weight=sw), rel=1e-12)
    auc = roc_auc_score(y, p, sample_weight=sw)
    ap = average_precision_score(y, p, sample_weight=sw)
    assert abs(m.roc_auc - auc) <= m.roc_auc_bound + 1e-12
    assert abs(m.pr_auc - ap) <= m.pr_auc_bound + 1e-12
    if not ties:  # the bounds are informative, not vacuous, for 20k distinct values
        assert m.roc_auc_bound < 2e-3
        assert m.pr_auc_bound < 2e-2
    else:  # every distinct value is a multiple of 0.01, hence a bin edge: AUC exact
        assert m.roc_auc == pytest.approx(auc, abs=1e-12)
        assert m.roc_auc_bound == 0.0  # and the bound says so


def _tied(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Predictions with ties: hard, a few random values, rounded, or those mixed with
    distinct values (which keep their bins' bounds)."""
    if kind == "hard":
        return rng.integers(0, 2, n).astype(np.float64)
    if kind == "few":
        return rng.choice(rng.random(int(rng.integers(1, 6))), n)
    if kind == "rounded":
        return np.round(rng.random(n), int(rng.integers(1, 3)))
    p = rng.random(n)
    tied = rng.random(n) < 0.5
    p[tied] = rng.choice(rng.random(3), int(tied.sum()))
    return p


@pytest.mark.parametrize("kind", ["hard", "few", "rounded", "mixed"])
def test_tied_predictions_stay_within_the_bounds_and_hard_ones_are_exact(kind: str) -> None:
    # scikit-learn on the rows, with a soft label as a positive row of weight w y and a
    # negative row of weight w (1 - y); 300 random data sets of each kind
    rng = np.random.default_rng(["hard", "few", "rounded", "mixed"].index(kind) + 40)
    for _ in range(300):
        n = int(rng.integers(2, 60))
        p, w = _tied(rng, kind, n), rng.uniform(0.1, 3.0, n)
        y = rng.integers(0, 2, n).astype(np.float64)
        if rng.random() < 0.3:
            y[rng.random(n) < 0.3] = rng.random()  # some soft labels
        yy, pp, ww = np.r_[np.ones(n), np.zeros(n)], np.r_[p, p], np.r_[w * y, w * (1 - y)]
        keep = ww > 0
        yy, pp, ww = yy[keep], pp[keep], ww[keep]
        if yy.min() == yy.max():
            continue
        m = BinaryStats().update(p, y, weights=w).compute()
        auc = roc_auc_score(yy, pp, sample_weight=ww)
        ap = average_precision_score(yy, pp, sample_weight=ww)
        assert abs(m.roc_auc - auc) <= m.roc_auc_bound + 1e-12, (kind, p, y, w)
        assert abs(m.pr_auc - ap) <= m.pr_auc_bound + 1e-12, (kind, p, y, w)
        if kind in ("hard", "rounded"):  # one value per bin: no order left to guess
            assert m.roc_auc_bound == 0.0
            assert m.roc_auc == pytest.approx(auc, abs=1e-12)


def test_threshold_metrics_exact() -> None:
    y, p, w = _data(5_000, 2, ties=True)  # many predictions exactly equal to 0.5 and 0.37
    for t in (0.5, 0.37, 1 / 3):
        m = BinaryStats().update(p, y, weights=w).compute(threshold=t)
        pred = p >= t  # documented tie rule: p >= threshold is class 1
        tp = float(np.sum(w * (pred & (y == 1))))
        fp = float(np.sum(w * (pred & (y == 0))))
        fn = float(np.sum(w * (~pred & (y == 1))))
        tn = float(np.sum(w * (~pred & (y == 0))))
        assert (m.tp, m.fp, m.fn, m.tn) == pytest.approx((tp, fp, fn, tn), rel=1e-12)
        assert m.accuracy == pytest.approx((tp + tn) / w.sum(), rel=1e-12)
        assert m.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-12)


def test_normalized_entropy_vector_r20() -> None:
    # vectors.md R20 (He et al. 2014): constant prediction at the base rate gives NE = 1
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=np.float64)
    m = BinaryStats().update(np.full(10, 0.2), y).compute()
    assert m.ne == pytest.approx(1.0, rel=1e-14)
    assert m.rig == pytest.approx(0.0, abs=1e-14)
    assert m.calibration == pytest.approx(1.0, rel=1e-14)
