"""The metrics and the decomposition read only the fine bins that hold weight.

Reference: the same functions applied to every fine bin of the state, empty ones
included (what :func:`compute_metrics` and :func:`decompose_stats` did before they left
the empty bins out).  An empty bin adds zero to every sum, so the two agree up to the
order of NumPy's pairwise sums: within 1e-12 relative here.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcelab.errors import DomainError
from bcelab.metrics import BinaryStats
from bcelab.metrics.calibration import ece_equal_mass, ece_uniform
from bcelab.metrics.compute import compute_metrics, confusion
from bcelab.metrics.decomposition import decompose_binned, decompose_stats, soft_label_variance
from bcelab.metrics.histogram import layout
from bcelab.metrics.isotonic import single_score_bins
from bcelab.metrics.ranking import pr_auc, roc_auc

REL = 1e-12


def _close(a: float, b: float, scale: float = 1.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL * max(abs(a), abs(b), scale) + 1e-300


def _full_grid_metrics(s: BinaryStats, threshold: float, nb: int) -> dict[str, float]:
    """The histogram metrics computed on every fine bin (the reference)."""
    h = s.to_arrays()["hist"]
    pos, neg, wp = h[:, 0], h[:, 1], h[:, 2]
    ti = int(np.searchsorted(layout().edges, threshold))
    eu, mu, eub = ece_uniform(pos, neg, wp, nb)
    em, mm, emb = ece_equal_mass(pos, neg, wp, nb, rows=s.to_arrays()["hist_n"])
    single = single_score_bins(layout().edges, wp, pos + neg, s.to_arrays()["hist_n"])
    auc, auc_b = roc_auc(pos, neg, single=single)
    ap, ap_b = pr_auc(pos, neg, single=single)
    tp, fp, tn, fn = confusion(pos, neg, ti)
    return {
        "ece_uniform": eu,
        "mce_uniform": mu,
        "ece_uniform_bound": eub,
        "ece_equal_mass": em,
        "mce_equal_mass": mm,
        "ece_equal_mass_bound": emb,
        "roc_auc": auc,
        "roc_auc_bound": auc_b,
        "pr_auc": ap,
        "pr_auc_bound": ap_b,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


rows = st.integers(1, 400).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.one_of(
                st.floats(0, 1),
                st.sampled_from([0.0, 1.0, 0.5, 0.01, 0.99, 1 / 15, 0.3, 2.0**-30]),
            ),
            min_size=n,
            max_size=n,
        ),
        st.lists(st.floats(0, 1), min_size=n, max_size=n),
        st.lists(st.floats(1e-3, 1e3), min_size=n, max_size=n),
    )
)


@settings(max_examples=200, deadline=None)
@given(
    data=rows,
    hard=st.booleans(),
    weighted=st.booleans(),
    nb=st.sampled_from([15, 10, 7, 1, 3]),
    threshold=st.sampled_from([0.5, 0.01, 0.99, 0.25]),
)
def test_metrics_equal_the_full_grid(
    data: tuple[list[float], list[float], list[float]],
    hard: bool,
    weighted: bool,
    nb: int,
    threshold: float,
) -> None:
    p, y, w = (np.asarray(v, dtype=np.float64) for v in data)
    y = np.round(y) if hard else y
    s = BinaryStats().update(p, y, weights=w if weighted else None)
    m = compute_metrics(s, threshold=threshold, n_calibration_bins=nb)
    for name, ref in _full_grid_metrics(s, threshold, nb).items():
        assert _close(getattr(m, name), ref), (name, getattr(m, name), ref)


@settings(max_examples=200, deadline=None)
@given(data=rows, hard=st.booleans(), weighted=st.booleans())
def test_decomposition_equals_the_full_grid(
    data: tuple[list[float], list[float], list[float]], hard: bool, weighted: bool
) -> None:
    p, y, w = (np.asarray(v, dtype=np.float64) for v in data)
    y = np.round(y) if hard else y
    s = BinaryStats().update(p, y, weights=w if weighted else None)
    d = decompose_stats(s)
    h = s.histogram()
    mass = h["wpos"] + h["wneg"]
    w_total = s.total("w")
    c, c_err = soft_label_variance(
        h["wpos"],
        h["wneg"],
        h["wp"],
        h["edges"],
        sum_w=w_total,
        sum_wsq=s.total("wsq"),
        sum_wh=s.total("wh"),
    )
    ref = decompose_binned(
        h["wpos"],
        h["wneg"],
        score_log_loss=s.total("wbce") / w_total,
        score_brier=s.total("wsq") / w_total,
        single_score=single_score_bins(h["edges"], h["wp"], mass, h["count"]),
        label_variance=c,
        label_variance_error=c_err,
    )
    for part, want in ((d.log_loss, ref.log_loss), (d.brier, ref.brier)):
        scale = abs(part.score) + abs(part.uncertainty)
        for name in ("score", "uncertainty", "discrimination", "miscalibration", "bound"):
            assert _close(getattr(part, name), getattr(want, name), scale), (name, part, want)


def test_ece_uniform_split_bins_are_found_among_the_held_bins() -> None:
    # 7 bins: the cuts j/7 are no fine-bin edges, so the bins holding them are split
    rng = np.random.default_rng(3)
    p = rng.random(5000)
    y = (rng.random(5000) < p).astype(np.float64)
    h = BinaryStats().update(p, y).to_arrays()["hist"]
    pos, neg, wp = h[:, 0], h[:, 1], h[:, 2]
    held = np.flatnonzero((pos != 0) | (neg != 0))
    full = ece_uniform(pos, neg, wp, 7)
    part = ece_uniform(pos[held], neg[held], wp[held], 7, bins=held)
    assert full[2] > 0
    assert all(_close(a, b) for a, b in zip(full, part, strict=True))
    # bins that leave every split bin out: no bound
    cuts = np.searchsorted(layout().edges, np.arange(1, 7) / 7) - 1
    keep = np.setdiff1d(held, cuts)
    assert ece_uniform(pos[keep], neg[keep], wp[keep], 7, bins=keep)[2] == 0.0
    # no bin at all
    none = np.zeros(0, dtype=np.int64)
    ece, mce, bound = ece_uniform(pos[none], neg[none], wp[none], 7, bins=none)
    assert math.isnan(ece) and math.isnan(mce) and math.isnan(bound)


@pytest.mark.parametrize("seed", [0, 1])
def test_single_score_bins_of_held_bins_are_those_of_the_full_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([np.round(rng.random(3000), 2), rng.random(3000)])
    y = (rng.random(p.size) < p).astype(np.float64)
    h = BinaryStats().update(p, y).histogram()
    mass = h["wpos"] + h["wneg"]
    full = single_score_bins(h["edges"], h["wp"], mass, h["count"])
    held = np.flatnonzero(mass != 0)
    part = single_score_bins(h["edges"], h["wp"][held], mass[held], h["count"][held], bins=held)
    np.testing.assert_array_equal(part, full[held])
    assert part.any() and not part.all()


def test_distinct_predictions_near_one_are_not_taken_for_one_score() -> None:
    # 20,000 distinct p in [1 - 1.003e-9, 1 - 1e-9] (one fine bin 1.5e-11 wide, while the
    # sums of 20,000 rows near 1 round by 9e-12): the bin counted as one score, so
    # ROC-AUC read 0.3710 +- 0 where scikit-learn gives 0.1610.  The mirror image near 0
    # got a bound that covers it; now both sides do
    rng = np.random.default_rng(1)
    n = 20_000
    q = 1e-9 + rng.random(n) * 3e-12
    y = (rng.random(n) < (q - q.min()) / np.ptp(q)).astype(np.float64)
    for p, labels in ((1.0 - q, y), (q, 1.0 - y)):
        m = BinaryStats().update(p, labels).compute()
        want = _rank_auc(p, labels)
        assert abs(m.roc_auc - want) <= m.roc_auc_bound, (m.roc_auc, m.roc_auc_bound, want)


def _rank_auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC by ranks, ties counting one half (average ranks)."""
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based rank of each value's first row
    ranks = (first + (counts + 1) / 2.0)[inverse]
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _independent(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The weighted log loss in NumPy float64, each weight scaled by 1 / the largest."""
    s = w / w.max()
    loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float((s * loss).sum() / s.sum())


@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
def test_an_overflowing_weighted_loss_sum_is_refused_not_infinite(kernel: str) -> None:
    """Weights whose total is finite (1e308) but whose products with the losses add up
    beyond float64 once gave log_loss = inf, read as 'a prediction of exactly 0 or 1
    was wrong'; now the DomainError of too large weights, whose fix gives the value."""
    p, y = np.array([0.2, 0.7, 0.4, 0.9]), np.array([0.0, 1.0, 1.0, 0.0])
    w = np.array([1.0, 2.0, 0.5, 1e308])
    s = BinaryStats(kernel=kernel).update(p, y, weights=w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DomainError, match=r"(?s)Σw·BCE.*1 / their largest value"):
            s.compute()
        with pytest.raises(DomainError, match="decompose_stats"):
            decompose_stats(s)
        m = BinaryStats(kernel=kernel).update(p, y, weights=w / w.max()).compute()
    assert m.log_loss == pytest.approx(_independent(p, y, w), rel=1e-14)
    assert m.log_loss == pytest.approx(2.302585092994046, rel=1e-14)
    assert not m.log_loss_is_infinite


@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
def test_an_infinite_row_loss_with_huge_weights_stays_infinite(kernel: str) -> None:
    """A wrong prediction of exactly 0 makes the log loss infinite, whatever the weights."""
    p, y = np.array([0.0, 0.9]), np.array([1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = BinaryStats(kernel=kernel).update(p, y, weights=[1.0, 1e308]).compute()
    assert m.log_loss == math.inf and m.log_loss_is_infinite


def test_pr_auc_when_the_weight_before_a_bin_is_subnormal() -> None:
    """d / c overflowed (a RuntimeWarning) and gave NaN where the weight above a bin was
    subnormal or tiny next to the bin's; now the limit of the interpolation, as with a
    tiny normal weight, and scikit-learn's average precision."""
    sk = pytest.importorskip("sklearn.metrics")
    pos, neg = np.array([0.0, 0.5, 2.0, 0.0]), np.array([1.0, 0.0, 0.0, 1e-320])  # by score
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ap, bound = pr_auc(pos, neg)
        ref, _ = pr_auc(pos, np.array([1.0, 0.0, 0.0, 1e-300]))
        big, _ = pr_auc(pos * 1e10, np.array([1.0, 0.0, 0.0, 1e-300]))
    score, label = np.array([0.2, 0.4, 0.7, 0.9]), np.array([0, 1, 1, 0])
    expected = sk.average_precision_score(label, score, sample_weight=[1.0, 0.5, 2.0, 1e-320])
    assert ap == ref == big == pytest.approx(expected, rel=1e-15)
    assert ap == 1.0 and math.isfinite(bound)
