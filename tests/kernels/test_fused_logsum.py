"""The one-logarithm-per-block loss sums (bcelab.kernels.logsum) against float64 references.

The fused kernel sends plain float32 sums over 0/1 targets through ``kernels.logsum``
(the log of a product per block, small terms from their series).  The module documents
a relative error of the sum within ~3e-14 of the exact per-element losses; these tests
check it with ``math.fsum`` over float64 per-element losses from the reference path
(the core with the kernels turned off), on inputs chosen to stress each branch: tiny
losses (confident, correct predictions), terms at the 2^-7 switch, huge losses,
infinities, and exact 0/1 probabilities.
"""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings

pytest.importorskip("numba")

import bcelab
from bcelab.kernels import set_enabled
from bcelab.kernels.logsum import (
    PLAIN_MIN,
    SMALL,
    hard_logits_block,
    hard_probs_block,
    logits_block,
    plain_logits_pass,
    plain_probs_block,
    prob_sums,
    probs_block,
    soft_logits_block,
)

RTOL = 1e-13  # documented: ~3e-14


def _reference_sum(pred: np.ndarray, y: np.ndarray, *, logits: bool, pos_weight: float) -> float:
    """fsum of the reference path's float64 per-element losses of the same float32 values."""
    set_enabled(False)
    try:
        fn = bcelab.bce_with_logits if logits else bcelab.bce
        per = fn(pred.astype(np.float64), y.astype(np.float64), pos_weight=pos_weight)
    finally:
        set_enabled(True)
    return math.fsum(np.asarray(per).tolist())


def _fused_sum(pred: np.ndarray, y: np.ndarray, *, logits: bool, pos_weight: float) -> float:
    fn = bcelab.bce_with_logits if logits else bcelab.bce
    return float(fn(pred, y, reduction="sum", pos_weight=pos_weight))


def _check(pred: np.ndarray, y: np.ndarray, *, logits: bool, pos_weight: float = 1.0) -> None:
    got = _fused_sum(pred, y, logits=logits, pos_weight=pos_weight)
    ref = _reference_sum(pred, y, logits=logits, pos_weight=pos_weight)
    if math.isinf(ref):
        assert got == ref
    else:
        assert got == pytest.approx(ref, rel=RTOL, abs=0.0), (got, ref, (got - ref) / ref)


@pytest.mark.parametrize("n", [1, 511, 512, 513, 5000, 70_001])
def test_confident_correct_logits_keep_their_tiny_losses(n: int) -> None:
    # every loss below 1e-6: all series, no product; a product path would lose ~1e-7 here
    rng = np.random.default_rng(n)
    y = (rng.random(n) < 0.5).astype(np.float32)
    mag = rng.uniform(14.0, 90.0, n)
    x = np.where(y == 1.0, mag, -mag).astype(np.float32)
    _check(x, y, logits=True)


@pytest.mark.parametrize("n", [7, 512, 4096, 100_000])
def test_confident_correct_probabilities_keep_their_tiny_losses(n: int) -> None:
    rng = np.random.default_rng(n + 1)
    y = (rng.random(n) < 0.5).astype(np.float32)
    eps = np.exp(rng.uniform(np.log(1e-7), np.log(1e-3), n)).astype(np.float32)
    p = np.where(y == 1.0, np.float32(1.0) - eps, eps).astype(np.float32)
    _check(p, y, logits=False)


def test_terms_at_the_switch_between_series_and_product() -> None:
    # exp(-|x|) and 1 - z on both sides of 2^-7, a few float32 steps apart
    t = np.float64(SMALL)
    a = -math.log(t)
    xs = np.array([np.nextafter(np.float32(a), np.float32(k)) for k in (0, 100)] * 300)
    xs = np.concatenate([xs, np.float32(a) + np.arange(-40, 40, dtype=np.float32) * 1e-6])
    xs = xs.astype(np.float32)
    y = np.ones(xs.size, dtype=np.float32)
    _check(xs, y, logits=True)
    _check(-xs, 1.0 - y, logits=True)
    u = np.float32(SMALL) + np.arange(-300, 300, dtype=np.float32) * np.float32(2.0**-31)
    _check(u, np.zeros(u.size, dtype=np.float32), logits=False)
    _check(np.float32(1.0) - u, np.ones(u.size, dtype=np.float32), logits=False)


def test_extremes_infinities_and_exact_zero_one() -> None:
    x = np.array([np.inf, -np.inf, 0.0, 3e38, -3e38, 1e-30, 88.0, -104.0], dtype=np.float32)
    for y in (np.ones_like(x), np.zeros_like(x)):
        _check(np.tile(x, 100), np.tile(y, 100), logits=True)
    tiny = np.float32(2.0**-149)
    p = np.array([tiny, 1e-30, 0.5, 1.0 - 2.0**-24, 1.0, 0.0], dtype=np.float32)
    y1 = np.array([1, 1, 1, 1, 1, 0], dtype=np.float32)
    _check(np.tile(p, 100), np.tile(y1, 100), logits=False)
    # a 0 probability for a positive (and a 1 for a negative) is an infinite loss
    assert (
        _fused_sum(
            np.array([0.0, 0.5], np.float32),
            np.array([1, 1], np.float32),
            logits=False,
            pos_weight=1.0,
        )
        == np.inf
    )
    assert (
        _fused_sum(
            np.array([1.0] * 600, np.float32),
            np.zeros(600, np.float32),
            logits=False,
            pos_weight=1.0,
        )
        == np.inf
    )


def test_logits_beyond_708_in_kept_plain_blocks() -> None:
    # the plain pass takes exp(-|x|) as e^-708 beyond |x| = 708 (fastmath.exp_factor):
    # the same factor 1 + t as 0, so the same sum and float32 gradient (0 for a right
    # answer, +-1/N for a wrong one, never -0.0) as exp(-|x|) = 0
    from bcelab.kernels import fused_bce

    rng = np.random.default_rng(31)
    n = 4096
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    far = np.array([709.0, -709.0, 1e3, -1e3, 3e38, -3e38, np.inf, -np.inf], np.float32)
    x[::5] = far[np.arange(x[::5].size) % far.size]
    y[::5] = (x[::5] > 0).astype(np.float32)  # right answers: a loss of 0
    y[1::50] = 1.0 - y[1::50]
    x[1::50] = np.float32(800.0) * np.where(y[1::50] == 1.0, -1.0, 1.0).astype(np.float32)
    res = fused_bce(x, y, logits=True, grad=True)
    assert res.fused
    assert res.value * n == pytest.approx(
        _reference_sum(x, y, logits=True, pos_weight=1.0), rel=RTOL
    )
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(over="ignore"):
        want = ((1.0 / (1.0 + np.exp(-x64)) - y64) / n).astype(np.float32)
    np.testing.assert_array_max_ulp(res.grad, want, maxulp=1)
    right = np.abs(x64) > 708.0
    right &= (x64 > 0) == (y64 == 1.0)
    assert right.sum() > 500 and not np.signbit(res.grad[right]).any()
    np.testing.assert_array_equal(res.grad[right], 0.0)
    wrong = np.abs(x64) == 800.0
    np.testing.assert_array_equal(np.abs(res.grad[wrong]), np.float32(1.0 / n))


def test_a_block_of_factors_near_two_does_not_overflow() -> None:
    # 512 factors of 1 + t with t -> 1 (x = 0) multiply to 2^512: still finite
    x = np.zeros(1 << 16, dtype=np.float32)
    y = np.ones_like(x)
    got = _fused_sum(x, y, logits=True, pos_weight=1.0)
    assert got == pytest.approx(x.size * math.log(2.0), rel=1e-14)
    p = np.full(1 << 12, 2.0**-126, dtype=np.float32)  # mantissa 1, exponent -126 each
    _check(p, np.ones_like(p), logits=False)


def test_block_functions_count_invalid_values() -> None:
    pb = np.array([np.nan, 0.5, -0.1, 1.5, 1.0], dtype=np.float32)
    tb = np.array([1, 0, 1, 0, 1], dtype=np.float32)
    assert hard_probs_block(pb, tb, pb.size)[2] == 3.0
    assert probs_block(pb, tb, pb.size)[2] == 3.0
    ta = np.exp(-np.abs(pb.astype(np.float64)))
    assert hard_logits_block(pb, tb, ta, pb.size)[2] == 1.0
    assert logits_block(pb, tb, ta, pb.size)[2] == 1.0


def test_one_class_variants_equal_the_split_sums() -> None:
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(512) * 4).astype(np.float32)
    p = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    y = (rng.random(512) < 0.5).astype(np.float32)
    ta = np.exp(-np.abs(x.astype(np.float64)))
    for split, one in (
        (hard_logits_block(x, y, ta, 512), logits_block(x, y, ta, 512)),
        (hard_probs_block(p, y, 512), probs_block(p, y, 512)),
    ):
        assert one[0] == 0.0
        assert one[1] == pytest.approx(split[0] + split[1], rel=1e-14)


@given(
    n=st.integers(1, 3000),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.1, 2.0, 8.0, 30.0]),
    pos_weight=st.sampled_from([1.0, 0.25, 3.0]),
    logits=st.booleans(),
)
@hyp_settings(max_examples=60, deadline=None)
def test_sums_equal_the_exact_sum(
    n: int, seed: int, scale: float, pos_weight: float, logits: bool
) -> None:
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(n) * scale).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    if logits:
        _check(z, y, logits=True, pos_weight=pos_weight)
    else:
        p = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
        _check(p, y, logits=False, pos_weight=pos_weight)


@pytest.mark.parametrize("logits", [True, False])
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_loss_and_gradient_in_one_pass_over_hard_targets(logits: bool, pos_weight: object) -> None:
    # the gradient loop runs beside the block sums: the same gradient as the core's
    from bcelab.kernels import fused_bce

    rng = np.random.default_rng(11)
    n = 70_001
    z = (rng.standard_normal(n) * 5).astype(np.float32)
    y = (rng.random(n) < 0.4).astype(np.float32)
    pred = z if logits else (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    res = fused_bce(pred, y, logits=logits, grad=True, pos_weight=pos_weight)
    pw = 1.0 if pos_weight is None else float(pos_weight)
    assert res.fused
    assert res.value == pytest.approx(
        _reference_sum(pred, y, logits=logits, pos_weight=pw) / n, rel=RTOL
    )
    set_enabled(False)
    try:
        gfn = bcelab.bce_with_logits_grad if logits else bcelab.bce_grad
        ref = np.asarray(gfn(pred, y, pos_weight=pos_weight, reduction="mean"))
    finally:
        set_enabled(True)
    np.testing.assert_allclose(res.grad, ref, rtol=2.5e-7, atol=0)


@pytest.mark.parametrize("logits", [True, False])
def test_blocks_with_a_few_soft_targets_fall_back_per_element(logits: bool) -> None:
    # the block functions count targets that are not 0/1; such blocks are redone per element
    rng = np.random.default_rng(12)
    n = 5000
    z = (rng.standard_normal(n) * 3).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    y[[3, 700, 4999]] = np.float32(0.25)  # blocks 0, 1 and the last one are soft
    pred = z if logits else (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    for pw in (1.0, 2.0):
        _check(pred, y, logits=logits, pos_weight=pw)
    ta = np.exp(-np.abs(pred[:512].astype(np.float64)))
    blk = (
        logits_block(pred[:512], y[:512], ta, 512)
        if logits
        else probs_block(pred[:512], y[:512], 512)
    )
    assert blk[3] == 1.0


def _smoothed_reference_sum(x: np.ndarray, y: np.ndarray, smoothing: float) -> float:
    set_enabled(False)
    try:
        per = bcelab.bce_with_logits(
            x.astype(np.float64), y.astype(np.float64), label_smoothing=smoothing
        )
    finally:
        set_enabled(True)
    return math.fsum(np.asarray(per).tolist())


@pytest.mark.parametrize("n", [5, 512, 1500, 70_001])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_soft_and_smoothed_targets_of_logits_sum_like_the_reference(
    n: int, smoothing: float
) -> None:
    # pos_weight 1: the logarithm does not depend on the target, so soft targets and label
    # smoothing keep the one-logarithm block sums (soft_logits_block)
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 6).astype(np.float32)
    x[: min(n, 4)] = np.array([np.inf, -np.inf, 30.0, -95.0], dtype=np.float32)[: min(n, 4)]
    y = rng.random(n).astype(np.float32)
    y[rng.random(n) < 0.3] = 1.0
    y[rng.random(n) < 0.3] = 0.0
    if smoothing == 0.0:  # infinite logits keep a finite loss only with a 0/1 target
        y[: min(n, 4)] = np.array([1.0, 0.0, 1.0, 0.0], dtype=np.float32)[: min(n, 4)]
    got = float(bcelab.bce_with_logits(x, y, reduction="sum", label_smoothing=smoothing))
    ref = _smoothed_reference_sum(x, y, smoothing)
    if math.isinf(ref):
        assert got == ref
    else:
        assert got == pytest.approx(ref, rel=RTOL, abs=0.0), (got, ref)


def test_soft_logits_block_counts_invalid_values() -> None:
    x = np.array([np.nan, 0.5, -1.0, 2.0, 3.0, 0.0], dtype=np.float32)
    y = np.array([0.5, 1.5, -0.1, np.nan, 0.25, 1.0], dtype=np.float32)
    ta = np.exp(-np.abs(x.astype(np.float64)))
    assert soft_logits_block(x, y, ta, x.size, 1.0, 0.0)[2] == 4.0
    assert soft_logits_block(x[4:], y[4:], ta[4:], 2, 1.0, 0.0)[2] == 0.0


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_gradient_beside_soft_block_sums(smoothing: float) -> None:
    from bcelab.kernels import fused_bce

    rng = np.random.default_rng(21)
    n = 70_001
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    y = rng.random(n).astype(np.float32)
    res = fused_bce(x, y, logits=True, grad=True, label_smoothing=smoothing)
    assert res.fused
    assert res.value == pytest.approx(_smoothed_reference_sum(x, y, smoothing) / n, rel=RTOL)
    set_enabled(False)
    try:
        ref = np.asarray(
            bcelab.bce_with_logits_grad(x, y, label_smoothing=smoothing, reduction="mean")
        )
    finally:
        set_enabled(True)
    np.testing.assert_allclose(res.grad, ref, rtol=2.5e-7, atol=0)


def _block_reference(x: np.ndarray, y: np.ndarray) -> float:
    return _reference_sum(x, y, logits=True, pos_weight=1.0)


def test_the_plain_product_is_kept_only_where_it_is_accurate() -> None:
    # ordinary losses: the plain product (no series) is within the documented ~3e-14
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(512) * 3).astype(np.float32)
    y = (rng.random(512) < 0.5).astype(np.float32)
    g = np.empty(512, np.float32)
    _, s, bad, soft = plain_logits_pass(x, y, g, 512, 1.0 / 512, 1.0, True, False)
    assert (bad, soft) == (0.0, 0.0) and s >= PLAIN_MIN
    assert s == pytest.approx(_block_reference(x, y), rel=3e-14, abs=0.0)
    # beside the sum: the gradient of the mean
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    want = ((1.0 / (1.0 + np.exp(-x64)) - y64) / 512).astype(np.float32)
    np.testing.assert_array_max_ulp(g, want, maxulp=1)
    # confident, correct predictions: tiny losses, whose sum the plain product gets wrong
    # in relative terms (each factor rounds), so it is below the bound and redone
    xc = np.full(512, 25.0, dtype=np.float32)
    yc = np.ones(512, dtype=np.float32)
    ref = _block_reference(xc, yc)
    plain = plain_logits_pass(xc, yc, np.empty(1, np.float32), 512, 1.0, 1.0, False, False)[1]
    assert plain < PLAIN_MIN and abs(plain - ref) > 1e-6 * ref
    assert _fused_sum(xc, yc, logits=True, pos_weight=1.0) == pytest.approx(ref, rel=1e-15)


def test_the_plain_product_of_probabilities_is_kept_only_where_it_is_accurate() -> None:
    # the same rule as for logits: every z in the product, kept when the sum is >= 16
    rng = np.random.default_rng(23)
    x = rng.standard_normal(512) * 3
    p = (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
    y = (rng.random(512) < 0.5).astype(np.float32)
    ref = _reference_sum(p, y, logits=False, pos_weight=1.0)
    _, s, bad, soft = plain_probs_block(p, y, 512)
    assert (bad, soft) == (0.0, 0.0) and s >= PLAIN_MIN
    assert s == pytest.approx(ref, rel=3e-14, abs=0.0)
    assert prob_sums(p, y, 512, 1.0, False)[1:] == (s, 0.0, 0.0, False)
    # confident, correct predictions: the plain sum is below the bound, the series is used,
    # and the next block starts with the series (series_run) until a sum reaches 2x
    pc = np.full(512, 1.0 - 2.0**-20, dtype=np.float32)
    yc = np.ones(512, dtype=np.float32)
    ref_c = _reference_sum(pc, yc, logits=False, pos_weight=1.0)
    assert plain_probs_block(pc, yc, 512)[1] < PLAIN_MIN
    _, s0, bad, soft, series_run = prob_sums(pc, yc, 512, 1.0, False)
    assert s0 == pytest.approx(ref_c, rel=1e-15) and (bad, soft, series_run) == (0.0, 0.0, True)
    assert prob_sums(p, y, 512, 1.0, True)[1] == probs_block(p, y, 512)[1]
    assert prob_sums(p, y, 512, 1.0, True)[4] is False  # a sum of ordinary losses ends the run
    # an exact wrong prediction: the sum is infinite and kept
    p0 = p.copy()
    p0[3] = 1.0 - y[3]
    assert prob_sums(p0, y, 512, 1.0, False)[1] == np.inf


@pytest.mark.parametrize("logits", [True, False])
def test_block_paths_do_not_depend_on_the_threads(logits: bool) -> None:
    # chunks mixing every path: confident blocks (series), ordinary ones (plain product),
    # soft targets (per element or the soft block sum), on chunk boundaries too
    from bcelab.kernels import fused_bce
    from bcelab.kernels.constants import CHUNK, LossSlot
    from bcelab.kernels.loss import get_kernel

    rng = np.random.default_rng(22)
    n = 6 * CHUNK + 999
    # confident, correct predictions (tiny losses: the series), except for each chunk's
    # first block (ordinary losses: the plain product, unless the series carried over),
    # whose sum then dominates its chunk's; a few soft targets
    z = np.abs(rng.standard_normal(n) * 3).astype(np.float32) + 9
    y = np.ones(n, dtype=np.float32)
    for c in range(0, n, CHUNK):
        z[c : c + 512] = (rng.standard_normal(512) * 3).astype(np.float32)
        y[c : c + 512] = (rng.random(512) < 0.5).astype(np.float32)
    y[rng.integers(0, n, 10)] = 0.5
    y[[2 * CHUNK - 1, 4 * CHUNK + 1]] = 0.25
    p = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).clip(1e-6, 1 - 1e-6).astype(np.float32)
    pred = z if logits else p
    one = fused_bce(pred, y, logits=logits, threads=1).value
    for threads in (2, 3, 2, 3):
        assert fused_bce(pred, y, logits=logits, threads=threads).value == one
    # each chunk's sums are the same whether a call runs it alone or after other chunks
    kernel = get_kernel(logits=logits, fast=True, weighted=False, decomp=False, write=0)
    n_chunks = -(-n // CHUNK)
    together = np.zeros((n_chunks, len(LossSlot)))
    alone = np.zeros_like(together)
    dummy = np.zeros(1)
    rest = (CHUNK, 1.0, 1.0, 0.0, False, 1.0, 1.0)
    kernel(pred, y, dummy, dummy, together, 0, n_chunks, *rest)
    for c in range(n_chunks):
        kernel(pred, y, dummy, dummy, alone, c, c + 1, *rest)
    np.testing.assert_array_equal(together, alone)
    assert one * n == pytest.approx(
        _reference_sum(pred, y, logits=logits, pos_weight=1.0), rel=RTOL
    )
