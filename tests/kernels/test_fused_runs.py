"""The loss kernel's per-chunk loops for the common case (``bcelab.kernels.loss``'s ``*_run``).

Each loop promises the kernel's own block sums, in the kernel's order, up to the first
block it cannot sum alone.  These tests rebuild that promise from the block functions of
``kernels.logsum`` in plain Python, and check that a chunk whose loop stops early (a
block of soft targets, a block of tiny losses, a NaN) gives the same totals and gradient
as the general per-block path, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from bcelab.kernels import fused_bce
from bcelab.kernels.constants import CHUNK, LOSS_BLOCK
from bcelab.kernels.logsum import PLAIN_MIN, plain_logits_pass, prob_sums
from bcelab.kernels.loss import logits_grad_run, logits_run, probs_grad_run, probs_run


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    p = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    return x, p, y


def _expected(pred: np.ndarray, y: np.ndarray, *, logits: bool, pw: float) -> tuple[float, int]:
    """The sums and the stop of a run, block by block from the block functions."""
    total, b0, series_run = 0.0, 0, False
    while b0 < pred.size:
        m = min(LOSS_BLOCK, pred.size - b0)
        pb, tb = pred[b0 : b0 + m], y[b0 : b0 + m]
        if logits:
            ob = np.empty(1, np.float32)
            s1, s0, _, soft = plain_logits_pass(pb, tb, ob, m, 1.0, 1.0, False, False)
            if soft != 0.0 or s0 < PLAIN_MIN:
                break
        else:
            s1, s0, _, soft, series = prob_sums(pb, tb, m, pw, series_run)
            if soft != 0.0:
                break
            series_run = series
        total += (0.0 if pw == 0.0 else pw * s1) + s0
        b0 += m
    return total, b0


def _run(fn, pred, y, pw=1.0):  # type: ignore[no-untyped-def]
    out = np.empty_like(pred)
    ta = np.empty(LOSS_BLOCK)
    n = pred.size
    return fn(pred, y, out, ta, 0, n, pw, float(n), 1.0 / n, 1.0), out


@pytest.mark.parametrize("pw", [1.0, 2.5, 0.0])
def test_probs_run_gives_the_block_sums_in_order(pw: float) -> None:
    _, p, y = _data(5 * LOSS_BLOCK + 77)
    y[3 * LOSS_BLOCK + 5] = 0.25  # a soft target: the run stops at its block
    (total, bad, stop, _), _ = _run(probs_run, p, y, pw)
    want, want_stop = _expected(p, y, logits=False, pw=pw)
    assert (total, bad, stop) == (want, 0.0, want_stop) and stop == 3 * LOSS_BLOCK


def test_logits_run_stops_at_a_block_of_tiny_losses() -> None:
    x, _, y = _data(4 * LOSS_BLOCK + 10, seed=1)
    blk = slice(2 * LOSS_BLOCK, 3 * LOSS_BLOCK)
    x[blk] = np.where(y[blk] == 1.0, 40.0, -40.0)  # confident and right: sum below PLAIN_MIN
    (total, bad, stop, _), _ = _run(logits_run, x, y)
    want, want_stop = _expected(x, y, logits=True, pw=1.0)
    assert stop == want_stop == 2 * LOSS_BLOCK and bad == 0.0
    # the sums of exp(-|x|) may differ from NumPy's exp in the last bit: compare closely
    assert total == pytest.approx(want, rel=1e-14)
    whole, _ = _run(logits_run, x[: 2 * LOSS_BLOCK], y[: 2 * LOSS_BLOCK])
    assert whole[0] == total and whole[2] == 2 * LOSS_BLOCK


def test_a_nan_logit_is_kept_and_counted() -> None:
    x, _, y = _data(3 * LOSS_BLOCK, seed=2)
    x[LOSS_BLOCK + 3] = np.nan
    (total, bad, stop, _), _ = _run(logits_run, x, y)
    assert np.isnan(total) and bad == 1.0 and stop == x.size


@pytest.mark.parametrize("logits", [True, False])
def test_grad_runs_write_the_kernels_gradient(logits: bool) -> None:
    x, p, y = _data(3 * LOSS_BLOCK, seed=3)  # full blocks: a short last block of
    # logits sums below PLAIN_MIN, and the run leaves it to the general path
    pred = x if logits else p
    fn = logits_grad_run if logits else probs_grad_run
    (total, _, stop, _), g = _run(fn, pred, y)
    assert stop == pred.size
    ref = fused_bce(pred, y, logits=logits, grad=True)  # the mean: den = N, as in _run
    assert ref.fused and total / pred.size == pytest.approx(ref.value, rel=1e-15)
    np.testing.assert_array_equal(g, ref.grad)


@pytest.mark.parametrize("logits", [True, False])
def test_chunks_that_stop_early_match_the_general_path(logits: bool) -> None:
    # soft targets, tiny losses and a NaN placed inside chunks: the kernel's totals and
    # gradient do not depend on where the run hands over, nor on the threads
    x, p, y = _data(3 * CHUNK + 1234, seed=4)
    pred = x if logits else p
    y[CHUNK + 7 * LOSS_BLOCK + 1] = 0.5
    pred[2 * CHUNK + 3 * LOSS_BLOCK : 2 * CHUNK + 4 * LOSS_BLOCK] = np.where(
        y[2 * CHUNK + 3 * LOSS_BLOCK : 2 * CHUNK + 4 * LOSS_BLOCK] == 1.0,
        40.0 if logits else 1.0 - 2.0**-24,
        -40.0 if logits else 2.0**-24,
    )
    results = []
    for threads in (1, 2):
        g = np.empty_like(pred)
        r = fused_bce(pred, y, logits=logits, grad_out=g, threads=threads)
        assert r.fused
        results.append((r.value, g))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    # per chunk: each chunk's total equals its own evaluation as a separate input
    per_chunk = [
        fused_bce(pred[c : c + CHUNK], y[c : c + CHUNK], logits=logits, reduction="sum").value
        for c in range(0, pred.size, CHUNK)
    ]
    whole = fused_bce(pred, y, logits=logits, reduction="sum").value
    assert whole == pytest.approx(sum(per_chunk), rel=1e-15)


@pytest.mark.parametrize("pw", [1.0, 2.5, 0.0])
def test_hard_target_probability_gradient_is_one_rounded_fraction(pw: float) -> None:
    # blocks of 0/1 targets take -pw / p (y = 1) or 1 / (1 - p) (y = 0), divided by N:
    # one float64 division rounded to float32, p = 0 and 1 give the two-term infinities,
    # and pos_weight 0 gives 0 (not 0 / 0) for y = 1, also at p = 0
    from fractions import Fraction

    _, p, y = _data(2 * LOSS_BLOCK, seed=5)
    p[:4], y[:4] = [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]
    g = np.empty_like(p)
    r = fused_bce(p, y, logits=False, pos_weight=pw, grad_out=g, reduction="sum")
    assert r.fused
    with np.errstate(divide="ignore", invalid="ignore"):
        head = np.where(y[:4] == 1.0, -pw / p[:4].astype(np.float64), 1.0 / (1.0 - p[:4]))
    head = np.where((y[:4] == 1.0) & (pw == 0.0), 0.0, head)
    np.testing.assert_array_equal(g[:4], head.astype(np.float32))
    for pi, yi, gi in zip(p[4:200], y[4:200], g[4:200], strict=True):
        exact = -Fraction(pw) / Fraction(float(pi)) if yi == 1.0 else 1 / (1 - Fraction(float(pi)))
        assert gi == np.float32(float(exact)) + np.float32(0.0)
