"""ECE / MCE and the plot curves against in-memory computations on the same rows.

Reference: the definitions in docs/metrics.md evaluated directly on the rows (uniform
bins [j/n, (j+1)/n) as in sklearn.calibration.calibration_curve; equal-mass bins cut
where the cumulative weight of the rows sorted by p crosses j W / n).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve as sk_roc_curve

import bcelab
from bcelab.errors import OptionError
from bcelab.metrics import BinaryStats
from bcelab.metrics.curves import pr_curve, reliability, roc_curve, score_histogram


def _rows(seed: int, n: int = 30_000):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 2.0, n)
    p[: n // 10] = np.round(p[: n // 10], 2)  # some rows exactly on the uniform-bin edges
    y = (rng.random(n) < p**0.8).astype(np.float64)
    w = rng.random(n) + 0.5
    return y, p, w


def _ece(y, p, w, coarse, n):
    gap = np.abs(np.bincount(coarse, w * (p - y), minlength=n))
    ww = np.bincount(coarse, w, minlength=n)
    return gap.sum() / w.sum(), (gap[ww > 0] / ww[ww > 0]).max()


@pytest.mark.parametrize("n_bins", [15, 10, 7])
def test_uniform_ece_matches_in_memory(n_bins: int) -> None:
    y, p, w = _rows(0)
    m = BinaryStats().update(p, y, weights=w).compute(n_calibration_bins=n_bins)
    coarse = np.searchsorted(np.arange(1, n_bins) / n_bins, p, side="right")
    ece, mce = _ece(y, p, w, coarse, n_bins)
    if n_bins in (15, 10):  # every j / n is a bin edge: exact
        assert m.ece_uniform_bound == 0.0
        assert m.ece_uniform == pytest.approx(ece, rel=1e-12)
        assert m.mce_uniform == pytest.approx(mce, rel=1e-12)
    else:
        assert 0 < m.ece_uniform_bound < 0.01
        assert abs(m.ece_uniform - ece) <= m.ece_uniform_bound


def test_equal_mass_ece_within_bound() -> None:
    y, p, w = _rows(1)
    y, p, w = y[3000:], p[3000:], w[3000:]  # distinct values: the bound is informative
    m = BinaryStats().update(p, y, weights=w).compute()
    order = np.argsort(p, kind="stable")
    before = np.cumsum(w[order]) - w[order]
    coarse = np.empty(p.shape[0], dtype=np.int64)
    coarse[order] = np.minimum((before * 15 / w.sum()).astype(np.int64), 14)
    ece, _ = _ece(y, p, w, coarse, 15)
    assert abs(m.ece_equal_mass - ece) <= m.ece_equal_mass_bound + 1e-12
    assert m.ece_equal_mass_bound < 0.05  # ~2 (n - 1) x the mass of one fine bin


def test_equal_mass_ece_of_ties_stays_within_a_bound_of_at_most_one() -> None:
    # hard 0/1 predictions: every equal-mass cut falls inside one of two ties, so the
    # bins' weight is all "split" (2 x 1 = 2 before the cap); any order of the tied rows
    # gives an ECE within the reported bound, which is at most max(ECE, 1 - ECE)
    rng = np.random.default_rng(7)
    p = rng.integers(0, 2, 3000).astype(np.float64)
    y = np.where(rng.random(3000) < 0.8, p, 1 - p)
    m = BinaryStats().update(p, y).compute()
    assert m.ece_equal_mass_bound <= max(m.ece_equal_mass, 1 - m.ece_equal_mass)
    for _ in range(20):
        order = np.lexsort((rng.random(p.size), p))  # sorted by p, ties in a random order
        coarse = np.empty(p.size, dtype=np.int64)
        coarse[order] = np.minimum(np.arange(p.size) * 15 // p.size, 14)
        ece, _ = _ece(y, p, np.ones_like(p), coarse, 15)
        assert abs(m.ece_equal_mass - ece) <= m.ece_equal_mass_bound + 1e-12


def test_equal_mass_ece_is_exact_when_each_fine_bin_holds_one_row() -> None:
    # rows in distinct fine bins, any weights: every cut that falls inside a row is
    # placed by the rule (a row belongs to the bin in which the weight before it falls),
    # so the histogram's ECE is the row-level one and the bound is 0; 200 data sets
    from bcelab.metrics.histogram import layout

    edges = layout().edges
    rng = np.random.default_rng(11)
    for _ in range(200):
        n, k = int(rng.integers(2, 200)), int(rng.choice([15, 10, 7, 3]))
        fine = rng.choice(edges.size - 1, n, replace=False)
        p = edges[fine] + (edges[fine + 1] - edges[fine]) * rng.uniform(0.1, 0.9, n)
        y, w = (rng.random(n) < p).astype(np.float64), rng.uniform(0.1, 3.0, n)
        m = BinaryStats().update(p, y, weights=w).compute(n_calibration_bins=k)
        order = np.argsort(p)
        before = np.cumsum(w[order]) - w[order]
        coarse = np.empty(n, dtype=np.int64)
        coarse[order] = np.minimum((before * k / w.sum()).astype(np.int64), k - 1)
        ece, _ = _ece(y, p, w, coarse, k)
        assert m.ece_equal_mass == pytest.approx(ece, abs=1e-12)
        assert m.ece_equal_mass_bound == 0.0


def test_reliability_matches_sklearn_calibration_curve() -> None:
    y, p, _ = _rows(2)
    y, p = y[3000:], p[3000:]  # no values on edges: sklearn's linspace edges differ by an ulp
    s = BinaryStats().update(p, y)
    r = reliability(s, n_bins=10)
    # sklearn.calibration.calibration_curve, strategy="uniform", same 10 bins
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    nz = r["count"] > 0
    np.testing.assert_allclose(r["frac_pos"][nz], prob_true, rtol=1e-12)
    np.testing.assert_allclose(r["mean_pred"][nz], prob_pred, rtol=1e-12)
    assert r["count"].sum() == p.shape[0]
    eq = reliability(s, n_bins=5, strategy="equal_mass")
    assert np.all(np.abs(eq["weight"] / eq["weight"].sum() - 0.2) < 0.01)


def test_curves_are_consistent() -> None:
    y, p, _ = _rows(3)
    s = BinaryStats().update(p, y)
    r = roc_curve(s)
    assert r["fpr"][0] == r["tpr"][0] == 0 and r["fpr"][-1] == r["tpr"][-1] == 1
    assert np.all(np.diff(r["fpr"]) >= 0) and np.all(np.diff(r["tpr"]) >= 0)
    # the trapezoid area of the binned ROC curve is the reported AUC
    area = np.sum(np.diff(r["fpr"]) * (r["tpr"][1:] + r["tpr"][:-1]) / 2)
    assert area == pytest.approx(s.compute().roc_auc, abs=1e-12)
    # every point of sklearn's curve at a bin edge is on ours (same counts there)
    fpr, tpr, thr = sk_roc_curve(y, p)
    at = np.isin(thr, r["threshold"])
    ours = dict(zip(r["threshold"], zip(r["fpr"], r["tpr"], strict=True), strict=True))
    for t, f, tp in zip(thr[at], fpr[at], tpr[at], strict=True):
        assert ours[t] == pytest.approx((f, tp), abs=1e-12)
    pr = pr_curve(s)
    assert pr["recall"][-1] == 1 and np.all((pr["precision"] >= 0) & (pr["precision"] <= 1))
    h = score_histogram(s, n_bins=20)
    ref = np.bincount(np.searchsorted(np.arange(1, 20) / 20, p, side="right"), minlength=20)
    np.testing.assert_array_equal(h["count"], ref)
    # the edges returned are the cuts used: np.histogram with them gives the same counts
    # (np.linspace's 0.7000000000000001 put a prediction of exactly 0.7 a bin lower)
    on_cuts = np.r_[p, np.arange(21) / 20]
    t = BinaryStats().update(on_cuts, (on_cuts > 0.5).astype(float))
    for n in (15, 20, 50, 100):
        h = score_histogram(t, n_bins=n)
        np.testing.assert_array_equal(np.histogram(on_cuts, h["edges"])[0], h["count"])


def test_curves_of_a_state_without_weight_are_empty() -> None:
    # pr_curve raised IndexError on tp[-1]; EvalResult.plot of such a segment did too
    excluded = BinaryStats().update(np.array([np.nan, 0.4]), [1.0, 7.0])  # no row used
    zero = BinaryStats().update(np.array([0.3, 0.6]), [1.0, 0.0], weights=[0.0, 0.0])
    for s in (BinaryStats(), excluded, zero):
        for c in (pr_curve(s), roc_curve(s)):
            assert all(v.shape == (0,) for v in c.values())
        assert np.isnan(reliability(s)["frac_pos"]).all()
        assert score_histogram(s)["count"].sum() == s.rows_used
    pytest.importorskip("matplotlib")
    p, y = np.array([0.2, np.nan, 0.5]), np.array([1.0, 0.0, 0.0])
    res = bcelab.evaluate(
        {"p": p, "y": y, "s": np.array(["a", "b", "a"])}, preds="p", target="y", by="s"
    )
    assert res.plot(segment="b") is not None  # segment b has no usable row


@pytest.mark.parametrize("n_bins", [0, -1, 2.5, 3.0, True, "15", None, 1001])
def test_curve_bins_must_be_an_integer_in_1_to_1000(n_bins: object) -> None:
    s = BinaryStats().update(np.array([0.2, 0.7]), [0.0, 1.0])
    with pytest.raises(OptionError, match=r"reliability: n_bins must be an integer in \[1, 1000\]"):
        reliability(s, n_bins=n_bins)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match=r"score_histogram: n_bins must be an integer"):
        score_histogram(s, n_bins=n_bins)  # type: ignore[arg-type]
    assert reliability(s, n_bins=np.int64(1000))["count"].shape == (1000,)


def test_curves_take_a_state_only() -> None:
    for f in (roc_curve, pr_curve, reliability, score_histogram):
        with pytest.raises(OptionError, match=r"stats must be a bcelab\.metrics\.BinaryStats"):
            f(np.zeros(3))  # type: ignore[arg-type]
