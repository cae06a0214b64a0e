"""The compiled metric kernel against the core formulas and the NumPy reference path; the
bin layout."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bcelab
from bcelab.metrics import BinaryStats, histogram

stats_rows = pytest.importorskip("bcelab.kernels.stats_rows")


def row_values(y: np.ndarray, p: np.ndarray, *, logits: bool) -> np.ndarray:
    lay = histogram.layout()
    return stats_rows.row_values(y, p, logits=logits, cut_val=lay.cut_val, cut_off=lay.cut_off)


EDGE_P = np.array(
    [
        0.0,
        1.0,
        0.5,
        np.nextafter(0.5, 0),
        np.nextafter(0.5, 1),
        1e-300,
        5e-324,
        2.0**-41,
        2.0**-40,
        1 - 2.0**-41,
        1 - 2.0**-53,
        0.01,
        0.99,
        1 / 3,
        0.37,
        1e-17,
        0.25,
        0.75,
    ]
)


def _ulp_close(a: np.ndarray, b: np.ndarray, ulps: float, atol: float = 0.0) -> None:
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    tol = ulps * np.finfo(np.float64).eps * np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    tol = np.maximum(tol, atol)
    with np.errstate(invalid="ignore"):
        ok = both_inf | (np.abs(a - b) <= tol)
    assert ok.all(), (a[~ok][:5], b[~ok][:5])


def test_kernel_rows_equal_core_probs() -> None:
    rng = np.random.default_rng(0)
    p = np.concatenate(
        [rng.random(5000), rng.random(2000) ** 12, 1 - rng.random(2000) ** 12, EDGE_P]
    )
    for y in (np.zeros_like(p), np.ones_like(p), rng.random(p.shape[0])):
        out = row_values(y, p, logits=False)
        # reference: the core, which evaluates the same formula in float64 (bcelab._core.formulas)
        _ulp_close(out[:, 0], bcelab.bce(p, y), ulps=8)
        _ulp_close(out[:, 2], bcelab.binary_entropy(y), ulps=8)
        np.testing.assert_array_equal(out[:, 1], p)


def test_kernel_rows_equal_core_logits() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            rng.normal(size=5000) * 5,
            rng.normal(size=1000) * 300,
            [0.0, -0.0, np.inf, -np.inf, 1e-300, -1e-300, 36.0, -36.0, 800.0],
        ]
    )
    for y in (np.zeros_like(x), np.ones_like(x), rng.random(x.shape[0])):
        out = row_values(y, x, logits=True)
        # the kernel's exp flushes results below 2**-1022 (|x| > 708) to 0: the loss or
        # probability is then off by less than 1e-307 in absolute terms
        _ulp_close(out[:, 0], bcelab.bce_with_logits(x, y), ulps=8, atol=1e-300)
        _ulp_close(out[:, 1], bcelab.sigmoid(x), ulps=4, atol=1e-300)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50))
def test_kernel_bins_equal_numpy_bins(ps: list[float]) -> None:
    p = np.concatenate([np.asarray(ps), EDGE_P, histogram.layout().edges[::97]])
    p = np.concatenate([p, np.nextafter(p, 0), np.nextafter(p, 1)]).clip(0, 1)
    out = row_values(np.zeros_like(p), p, logits=False)
    np.testing.assert_array_equal(out[:, 3].astype(np.int64), histogram.base_index(p))
    assert [histogram.base_index_scalar(float(v)) for v in p] == histogram.base_index(p).tolist()


def test_layout_edges_and_fine_index() -> None:
    lay = histogram.layout()
    e = lay.edges
    assert e[0] == 0.0 and e[-1] == 1.0 and np.all(np.diff(e) > 0)
    assert lay.n_fine == e.shape[0] - 1
    # every edge is its own bin's lower edge; the float just below belongs to the bin below
    np.testing.assert_array_equal(histogram.fine_index(e[:-1]), np.arange(lay.n_fine))
    np.testing.assert_array_equal(
        histogram.fine_index(np.nextafter(e[1:-1], 0)), np.arange(lay.n_fine - 1)
    )
    assert histogram.fine_index(np.array([1.0]))[0] == lay.n_fine - 1
    edge_set = set(e.tolist())
    for k in range(1, 100):
        assert k / 100 in edge_set
    for k in range(1, 15):
        assert k / 15 in edge_set
    mid = (e[1:-2] + e[2:-1]) / 2
    width = np.diff(e)[1:-1]
    assert np.max(width / np.minimum(mid, 1 - mid)) < 0.0045  # relative resolution


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("logits", [False, True])
def test_numba_state_equals_numpy_state(dtype: type, logits: bool) -> None:
    rng = np.random.default_rng(5)
    n = 200_000  # above the serial cut-off: the multi-threaded path runs
    z = rng.normal(size=n) * 3
    preds = z if logits else 1 / (1 + np.exp(-z))
    y = np.where(rng.random(n) < 0.2, rng.random(n), (rng.random(n) < 0.4) * 1.0)
    y[::1000] = np.nan
    preds[::777] = np.nan
    w = rng.random(n)
    args = (preds.astype(dtype), y.astype(dtype))
    a = BinaryStats(kernel="compiled").update(*args, weights=w.astype(dtype), logits=logits)
    b = BinaryStats(kernel="numpy").update(*args, weights=w.astype(dtype), logits=logits)
    da, db = a.to_arrays(), b.to_arrays()
    for key in ("counts", "hist_n", "pmin", "pmax"):
        np.testing.assert_array_equal(da[key], db[key], err_msg=key)
    np.testing.assert_allclose(da["sums"] + da["sums_lo"], db["sums"] + db["sums_lo"], rtol=1e-13)
    np.testing.assert_allclose(da["hist"], db["hist"], rtol=1e-11, atol=1e-300)


def test_sums_are_exact_at_scale() -> None:
    """Issue 5, section 5, scaled down to 1e7 rows (bench/bench_metrics_update.py runs 1e9).

    float32 values in [0.5, 1) are the integers k = p * 2**24 in [2**23, 2**24) times
    2**-24, so the exact reference is a sum over k of count_k * loss(k) (math.fsum), and
    sum(p) is an exact integer sum.
    """
    n, chunk = 10_000_000, 2_500_000
    rng = np.random.default_rng(12345)
    s = BinaryStats()
    c1 = np.zeros(1 << 23, dtype=np.int64)
    c0 = np.zeros(1 << 23, dtype=np.int64)
    for _ in range(n // chunk):
        k = rng.integers(1 << 23, 1 << 24, chunk, dtype=np.int64)
        p = k.astype(np.float32) * np.float32(2.0**-24)
        y = (rng.random(chunk) < 0.5).astype(np.float32)
        s.update(p, y)
        c1 += np.bincount(k[y == 1] - (1 << 23), minlength=1 << 23)
        c0 += np.bincount(k[y == 0] - (1 << 23), minlength=1 << 23)
    pk = (np.arange(1 << 23) + (1 << 23)) * 2.0**-24
    loss1, loss0 = -np.log(pk), -np.log1p(-pk)  # float64, within 1 ulp each
    ref_loss = math.fsum((c1 * loss1)[c1 > 0]) + math.fsum((c0 * loss0)[c0 > 0])
    ref_p = int(np.sum((c0 + c1) * (np.arange(1 << 23) + (1 << 23)))) * 2.0**-24
    assert s.rows == n
    assert abs(s.total("wbce") - ref_loss) <= 1e-12 * ref_loss
    assert abs(s.total("wp") - ref_p) <= 1e-13 * ref_p
    assert s.total("wy") == float(c1.sum())  # integers below 2**53: exact


def _exact_losses(p: np.ndarray, y: np.ndarray) -> float:
    """math.fsum of the per-row losses in float64 (each within 1 ulp)."""
    p64 = p.astype(np.float64)
    with np.errstate(divide="ignore"):
        return math.fsum(np.where(y == 1, -np.log(p64), -np.log1p(-p64)).tolist())


def _exact_logit_losses(x: np.ndarray, y: np.ndarray) -> float:
    """math.fsum of max(-+x, 0) + log1p(exp(-|x|)) in float64 (each within 1 ulp or so)."""
    x64 = x.astype(np.float64)
    xs = np.where(y == 1, -x64, x64)
    return math.fsum((np.maximum(xs, 0.0) + np.log1p(np.exp(-np.abs(x64)))).tolist())


@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_block_loss_sums_hold_in_every_regime(threads: int, logits: bool) -> None:
    """0/1 labels without weights: a block's loss is summed through products (one
    logarithm per lane of 32 rows), with the series for blocks of small losses.  Runs of
    confident and of uncertain predictions alternate, so the kernel switches between the
    two, and the total stays within 1e-13 of the exact sum; the bins are the reference's."""
    rng = np.random.default_rng(21)
    n = 300_000
    y = (rng.random(n) < 0.3).astype(np.float32)
    margin = np.where((np.arange(n) // 3000) % 2 == 0, 30.0, 1.0)  # confident / not
    z = np.where(y == 1, 1.0, -1.0) * margin * rng.random(n) + rng.normal(size=n) * 0.1
    x = z.astype(np.float32)
    p = (1 / (1 + np.exp(-z))).astype(np.float32)
    preds = x if logits else p
    per_row = np.where(y == 1, np.log1p(np.exp(-z)), np.log1p(np.exp(z)))
    per_block = per_row.reshape(-1, 500).sum(axis=1)
    assert per_block.min() < 8 and per_block.max() > 64  # both regimes occur
    s = BinaryStats(threads=threads).update(preds, y, logits=logits)
    ref = _exact_logit_losses(x, y) if logits else _exact_losses(p, y)
    assert abs(s.total("wbce") - ref) <= 1e-13 * ref
    ref_state = BinaryStats(kernel="numpy").update(preds, y, logits=logits)
    np.testing.assert_array_equal(s.to_arrays()["hist_n"], ref_state.to_arrays()["hist_n"])


def test_logit_blocks_with_nan_and_infinite_logits() -> None:
    """A NaN logit sends its block row by row (the row is excluded); an infinite logit
    gives its loss (0 on the right side, infinite on the wrong one), as row by row."""
    rng = np.random.default_rng(23)
    n = 5000
    y = (rng.random(n) < 0.5).astype(np.float32)
    x = rng.normal(size=n).astype(np.float32) * 3
    x[10] = np.nan
    x[2000], y[2000] = np.inf, 1.0  # loss 0
    got = BinaryStats().update(x, y, logits=True)
    ref = BinaryStats(kernel="numpy").update(x, y, logits=True)
    assert got.rows_used == n - 1
    assert got.total("wbce") == pytest.approx(ref.total("wbce"), rel=1e-13)
    x[3000], y[3000] = -np.inf, 1.0  # infinite loss
    assert math.isinf(BinaryStats().update(x, y, logits=True).total("wbce"))


def test_float32_values_give_the_same_state_in_either_dtype() -> None:
    """The block sums depend on the values, not on the array's dtype: float64 arrays of
    float32 values give the state of the float32 arrays, bit for bit (NaN rows and an
    infinite loss included); a float64 block of other values is summed row by row, as
    close to the exact sum."""
    rng = np.random.default_rng(22)
    n = 100_000
    y = (rng.random(n) < 0.5).astype(np.float32)
    p = rng.random(n).astype(np.float32)
    p[[5000, 50_000]] = np.nan  # excluded rows: their blocks go row by row
    y[1], p[1] = 1.0, 0.0  # an infinite loss
    a = BinaryStats().update(p, y)
    assert math.isinf(a.total("wbce"))
    assert BinaryStats().update(p.astype(np.float64), y.astype(np.float64)) == a
    assert BinaryStats().update(p, y.astype(np.int8)) == a  # small integers: float32
    q = np.nextafter(p[2:].astype(np.float64), 1.0)  # not float32 values
    ok = ~np.isnan(q)
    d = BinaryStats().update(q, y[2:].astype(np.float64))
    ref = _exact_losses(q[ok], y[2:][ok])
    assert abs(d.total("wbce") - ref) <= 1e-13 * ref


@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
def test_a_subnormal_weight_counts_as_the_smallest_normal_one(kernel: str) -> None:
    """A weight of 1e-320 once gave PR-AUC NaN (with a RuntimeWarning from
    ``u = d / c``) and MCE 0.900198 (0.9 * 1e-320 keeps 4 digits) for a bin of one row
    at p = 0.9, y = 0; now the state of the weight 2**-1022, whose metrics equal those of
    a tiny normal weight and scikit-learn's average precision."""
    sk = pytest.importorskip("sklearn.metrics")
    p, y = np.array([0.2, 0.7, 0.4, 0.9]), np.array([0.0, 1.0, 1.0, 0.0])

    def state(last: float) -> BinaryStats:
        return BinaryStats(kernel=kernel).update(p, y, weights=[1.0, 2.0, 0.5, last])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sub = state(1e-320)
        m, tiny = sub.compute(), state(1e-300).compute()
    assert sub == state(2.0**-1022)
    expected_ap = sk.average_precision_score(y, p, sample_weight=[1.0, 2.0, 0.5, 1e-320])
    assert m.pr_auc == tiny.pr_auc == pytest.approx(expected_ap, rel=1e-15)
    for name in ("mce_uniform", "mce_equal_mass"):  # the bin of p = 0.9: |0.9 - 0|
        assert getattr(m, name) == pytest.approx(0.9, rel=2e-16, abs=0)
        assert getattr(m, name) == pytest.approx(getattr(tiny, name), rel=2e-16, abs=0)
    for name in ("log_loss", "brier", "roc_auc", "ece_uniform", "weight_total"):
        assert getattr(m, name) == getattr(tiny, name)
