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
    SMALL,
    hard_logits_block,
    hard_probs_block,
    logits_block,
    probs_block,
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
