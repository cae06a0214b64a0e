"""The metric kernel's histogram loop (bcelab.kernels.stats_scatter): blocks of 0/1 labels
without weights counted in a scratch of packed counts give the NumPy reference's histogram,
the scratch is left at zero for the next call, and the counts stay exact past a fold."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
stats_scatter = pytest.importorskip("bcelab.kernels.stats_scatter")
stats_update = pytest.importorskip("bcelab.kernels.stats_update")

from bcelab.kernels import constants  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402
from bcelab.metrics.histogram import fine_index  # noqa: E402

COUNTS_FROM = constants.COUNTS_FROM


def _rows(n: int, dtype: type, logits: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 2.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(dtype)
    preds = (z if logits else 1 / (1 + np.exp(-z))).astype(dtype)
    preds[rng.integers(0, n, 1 + n // 5000)] = np.nan  # excluded rows, in counted blocks
    return preds, y


@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [COUNTS_FROM - 1, COUNTS_FROM, 50_000, 200_003])
def test_counted_blocks_give_the_reference_histogram(n: int, dtype: type, logits: bool) -> None:
    """Two updates of one state (the second folds onto a filled histogram), with a block of
    soft labels in the second (counted directly, between counted blocks): the counts and
    the label sums of every bin are the reference's, bit for bit; the sums of p within
    1e-13 (each call sums a bin's p over its rows and then adds, the reference per slice
    of 65536 rows); a single call of probabilities below 65536 rows gives the reference's
    bits throughout."""
    p1, y1 = _rows(n, dtype, logits, seed=n)
    p2, y2 = _rows(n, dtype, logits, seed=n + 1)
    y2[n // 2 : n // 2 + 1000] = 0.25
    got = BinaryStats(threads=1).update(p1, y1, logits=logits).update(p2, y2, logits=logits)
    ref = BinaryStats(kernel="numpy")
    ref.update(p1, y1, logits=logits).update(p2, y2, logits=logits)
    g, r = got.to_arrays(), ref.to_arrays()
    np.testing.assert_array_equal(g["hist_n"], r["hist_n"])
    np.testing.assert_array_equal(g["hist"][:, 0], r["hist"][:, 0])
    np.testing.assert_array_equal(g["hist"][:, 1], r["hist"][:, 1])
    np.testing.assert_allclose(g["hist"][:, 2], r["hist"][:, 2], rtol=1e-13, atol=0)
    one = BinaryStats(threads=1).update(p1, y1, logits=logits).to_arrays()
    if n <= 1 << 16 and not logits:  # (the kernel's sigmoid is not NumPy's to the bit)
        one_ref = BinaryStats(kernel="numpy").update(p1, y1, logits=logits).to_arrays()
        np.testing.assert_array_equal(one["hist"], one_ref["hist"])
    assert int(one["hist_n"].sum()) == int(np.sum(~np.isnan(p1)))


@pytest.mark.parametrize("threads", [1, 2])
def test_the_scratch_is_left_at_zero_for_the_next_call(threads: int) -> None:
    """Each thread keeps its scratch between calls: a state is the same whether other
    updates ran before it or not."""
    p1, y1 = _rows(300_000, np.float32, False, seed=1)
    p2, y2 = _rows(300_000, np.float32, False, seed=2)
    first = BinaryStats(threads=threads).update(p2, y2)
    BinaryStats(threads=threads).update(p1, y1)
    BinaryStats(threads=threads).update(p1[:COUNTS_FROM], y1[:COUNTS_FROM])
    again = BinaryStats(threads=threads).update(p2, y2)
    assert again == first


def test_a_call_past_the_fold_interval_counts_every_row_exactly() -> None:
    """All rows of one call in one bin, past the rows after which the scratch is folded
    into the state: the bin's count, positives and negatives are exact."""
    n = constants.FOLD_EVERY + 5000
    p = np.full(n, 0.3, dtype=np.float32)
    y = np.zeros(n, dtype=np.float32)
    y[::3] = 1.0
    state = BinaryStats(threads=1).update(p, y).to_arrays()
    (fb,) = fine_index(np.array([np.float64(np.float32(0.3))]))
    positives = (n + 2) // 3
    assert state["hist_n"][fb] == n == int(state["hist_n"].sum())
    assert state["hist"][fb, 0] == positives
    assert state["hist"][fb, 1] == n - positives
    assert state["hist"][fb, 2] == pytest.approx(n * float(np.float32(0.3)), rel=1e-12)
