"""The hard-target probability gradient with one division per pair (kernels.grad_pairs)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit

from bcelab.kernels.grad_pairs import hard_prob_grad_block


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
