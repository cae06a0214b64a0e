"""The hard-target probability gradient with one division per pair (kernels.grad_pairs)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit

from bcelab.kernels.grad_pairs import hard_prob_grad_block, plain_probs_grad_block
from bcelab.kernels.logsum import plain_probs_block


@njit(cache=False)
def _block(p: np.ndarray, y: np.ndarray, pw: float, inv_den: float, gs: float) -> np.ndarray:
    out = np.empty_like(p)
    if gs == 1.0:
        hard_prob_grad_block(p, y, out, p.size, pw, inv_den, 1.0, False)
    else:
        hard_prob_grad_block(p, y, out, p.size, pw, inv_den, gs, True)
    return out


def _exact(p: np.float32, y: np.float32, pw: float, den: int) -> np.float32:
    """The correctly rounded float32 of -pw / (p den) (y = 1) or 1 / ((1 - p) den)."""
    z = Fraction(float(p)) if y == 1 else 1 - Fraction(float(p))
    n = -Fraction(pw) if y == 1 else Fraction(1)
    if n == 0:
        return np.float32(0.0)
    if z == 0:
        return np.float32(np.inf if n > 0 else -np.inf)
    return np.float32(float(n / (z * den)))  # float(): rounded once; float32 of it: once


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    return np.abs(ia - ib)


@pytest.mark.parametrize("m", [1, 2, 7, 512, 513])
@pytest.mark.parametrize("pw", [1.0, 2.5, 0.0])
def test_within_one_ulp_of_the_correctly_rounded_gradient(m: int, pw: float) -> None:
    rng = np.random.default_rng(m)
    p = rng.random(m).astype(np.float32)
    p[rng.random(m) < 0.2] = np.float32(2.0**-120) * rng.random()  # tiny p and tiny 1 - p
    p[rng.random(m) < 0.1] = np.float32(1.0) - np.float32(2.0**-24)
    y = (rng.random(m) < 0.5).astype(np.float32)
    den = 1000
    got = _block(p, y, pw, 1.0 / den, 1.0)
    want = np.array([_exact(p[j], y[j], pw, den) for j in range(m)], dtype=np.float32)
    assert np.all(_ulps(got, want) <= 1)
    assert not np.any(np.signbit(got) & (got == 0))  # never -0.0


def test_a_zero_denominator_gives_an_infinity_and_its_partner_its_own_value() -> None:
    p = np.array([1.0, 0.25, 0.0, 0.5, 0.0, 1.0, 0.75], dtype=np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    got = _block(p, y, 1.0, 0.5, 1.0)
    # pairs (0, 3), (1, 4), (2, 5); element 6 alone
    want = [np.inf, -2.0, -np.inf, 1.0, 0.5, -0.5, -0.5 / 0.75]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float32))
    assert _block(p, y, 0.0, 0.5, 1.0)[2] == 0.0  # pos_weight 0: no term, no infinity


def test_the_scale_applies_after_the_rounding() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(600).astype(np.float32)
    y = (rng.random(600) < 0.5).astype(np.float32)
    plain = _block(p, y, 1.0, 1e-3, 1.0)
    assert np.array_equal(_block(p, y, 1.0, 1e-3, 0.1), plain * np.float32(0.1))


@njit(cache=False)
def _fused(p: np.ndarray, y: np.ndarray, inv_den: float, gs: float) -> tuple[Any, np.ndarray]:
    out = np.empty_like(p)
    if gs == 1.0:
        sums = plain_probs_grad_block(p, y, out, p.size, inv_den, 1.0, False)
    else:
        sums = plain_probs_grad_block(p, y, out, p.size, inv_den, gs, True)
    return sums, out


@njit(cache=False)
def _apart(p: np.ndarray, y: np.ndarray, inv_den: float, gs: float) -> tuple[Any, np.ndarray]:
    out = np.empty_like(p)
    sums = plain_probs_block(p, y, p.size)
    if gs == 1.0:
        hard_prob_grad_block(p, y, out, p.size, 1.0, inv_den, 1.0, False)
    else:
        hard_prob_grad_block(p, y, out, p.size, 1.0, inv_den, gs, True)
    return sums, out


@pytest.mark.parametrize("m", [1, 2, 7, 512, 513])
@pytest.mark.parametrize("case", ["plain", "zero z", "bad p", "soft y", "scaled"])
def test_one_pass_gives_the_block_sums_and_the_paired_gradient(m: int, case: str) -> None:
    """plain_probs_grad_block equals plain_probs_block beside hard_prob_grad_block: the
    same sums (up to the order of a reassociated product) and counts, the same gradient
    bits, including a zero z (infinite loss), probabilities outside [0, 1] and NaN, and
    targets other than 0 and 1."""
    rng = np.random.default_rng(m + len(case))
    p = rng.random(m).astype(np.float32)
    y = (rng.random(m) < 0.5).astype(np.float32)
    if case == "zero z":
        p[m // 2] = 1.0 - y[m // 2]  # 0 with y = 1, or 1 with y = 0
    elif case == "bad p":
        p[0] = 1.5
        p[m - 1] = np.nan
    elif case == "soft y":
        y[m - 1] = 0.25
    gs = 0.1 if case == "scaled" else 1.0
    (s1, s0, bad, soft), g = _fused(p, y, 1e-3, gs)
    (w1, w0, wbad, wsoft), want = _apart(p, y, 1e-3, gs)
    assert (s1, bad, soft) == (w1, wbad, wsoft)
    assert s0 == pytest.approx(w0, rel=1e-14, nan_ok=True)
    np.testing.assert_array_equal(g, want)
    if case == "zero z":
        assert s0 == np.inf
    if case == "bad p":
        assert bad == (2.0 if m > 1 else 1.0)  # m = 1: the NaN replaced the 1.5
    if case == "soft y":
        assert soft == 1.0
