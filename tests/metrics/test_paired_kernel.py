"""The paired bootstrap's loops: NumPy twins bit for bit, per-row values, exact sums."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import bcelab
from bcelab.kernels import bootstrap_reference as reference
from bcelab.kernels import fastmath_numpy
from bcelab.kernels.bootstrap_rng import file_row_keys, seed_mix
from bcelab.metrics.histogram import NOCT, SIDE, K, fine_index, layout
from bcelab.metrics.paired_layout import coarse_layout, limbs_to_int, normalize_limbs

numba = pytest.importorskip("numba", reason="numba (bcelab[fast]) is missing")
kernel = pytest.importorskip("bcelab.kernels.bootstrap")
fastmath = pytest.importorskip("bcelab.kernels.fastmath")


@numba.njit(error_model="numpy")
def _apply(x: np.ndarray, which: int) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        v = x[i]
        if which == 0:
            out[i] = fastmath.exp_nonpos(v)
        elif which == 1:
            out[i] = fastmath.log_pos(v)
        elif which == 2:
            out[i] = fastmath.log1p_any(v)
        else:
            out[i] = fastmath.log1p_unit(v)
    return out


def test_fastmath_numpy_twins_are_bit_identical() -> None:
    rng = np.random.default_rng(0)
    n = 50_000
    inputs = [
        -np.abs(np.r_[rng.normal(size=n) * 60, 0.0, -0.0, -np.inf, np.nan, -708.2, -708.4]),
        np.r_[
            np.abs(rng.normal(size=n)) * 10 ** rng.uniform(-310, 300, n),
            0,
            np.inf,
            np.nan,
            5e-324,
            1,
        ],
        np.r_[rng.uniform(-1, 1, n), -(10 ** rng.uniform(-300, 0, 1000)), -1.0, 0.0, np.nan, 1e-17],
        np.r_[rng.uniform(0, 1, n), 0.0, 1.0, np.nan, 1e-300, 0.41421356237309503],
    ]
    twins = (
        fastmath_numpy.exp_nonpos,
        fastmath_numpy.log_pos,
        fastmath_numpy.log1p_any,
        fastmath_numpy.log1p_unit,
    )
    for which, (x, twin) in enumerate(zip(inputs, twins, strict=True)):
        np.testing.assert_array_equal(_apply(x, which).view(np.int64), twin(x).view(np.int64))


def _kernel_rows(
    y: np.ndarray, pa: np.ndarray, pb: np.ndarray, *, logits: bool
) -> tuple[np.ndarray, ...]:
    n = y.shape[0]
    vals = np.empty((9, n))
    bins = np.empty((n, 4), dtype=np.int64)
    kk = np.empty(n, dtype=np.uint64)
    valid = np.empty(n, dtype=np.uint8)
    lay, co = layout(), coarse_layout()
    consts = np.array([44, (1022 - NOCT) << 8, SIDE, NOCT * K], dtype=np.int64)
    keys = file_row_keys(0, np.arange(n))
    kernel.row_values(y, pa, pb, y, False, keys, np.uint64(seed_mix(0)), logits, 0.0, 1.0, consts,
                      lay.cut_val, lay.cut_off, co.of_fine, vals, bins, kk, valid)  # fmt: skip
    return vals, bins, valid


@pytest.mark.parametrize("logits", [False, True])
def test_row_values_match_the_core_and_the_twin(logits: bool) -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    z = rng.normal(0, 4, n)
    z[:4] = [0.0, 40.0, -40.0, 1e-300]
    p = z if logits else 1 / (1 + np.exp(-z))
    y = np.where(rng.random(n) < 0.3, rng.random(n), (rng.random(n) < 0.5) * 1.0)
    vals, bins, valid = _kernel_rows(y, p, p[::-1].copy(), logits=logits)
    assert valid.all()
    ref = (
        bcelab.bce_with_logits(p, y, reduction="none")
        if logits
        else bcelab.bce(p, y, reduction="none")
    )
    np.testing.assert_allclose(vals[5], ref, rtol=1e-15, atol=1e-300)  # libm vs fastmath: ~1 ulp
    prob = 1 / (1 + np.exp(-p)) if logits else p
    np.testing.assert_array_equal(
        bins[:, 0], fine_index(vals[3])
    )  # bins of the computed probabilities
    np.testing.assert_allclose(vals[3], prob, rtol=1e-15)
    np.testing.assert_array_equal(bins[:, 2], coarse_layout().of_fine[bins[:, 0]])
    rv, rb, rvalid = reference.row_values(
        y, p, p[::-1].copy(), None, logits=logits, lo_c=0.0, hi_c=1.0, fine_index=fine_index,
        of_fine=coarse_layout().of_fine,
    )  # fmt: skip
    np.testing.assert_array_equal(rv.T, vals)
    np.testing.assert_array_equal(rb, bins)
    np.testing.assert_array_equal(rvalid, valid)


def test_point_sums_are_exact() -> None:
    """The limb sums equal the exact rational sums of the values rounded to 2**-64 (half up)."""
    rng = np.random.default_rng(2)
    vals = np.ascontiguousarray(
        rng.exponential(1.0, (9, 5_000)) * 10.0 ** rng.integers(-8, 4, (9, 5_000))
    )
    bins = np.zeros((5_000, 4), dtype=np.int64)
    valid = np.ones(5_000, dtype=np.uint8)
    hist = np.zeros((2, layout().n_fine, 3, 3), dtype=np.int64)
    rows = np.zeros((2, layout().n_fine), dtype=np.int64)
    sums = np.zeros((9, 3), dtype=np.int64)
    mom = np.zeros((21, 4), dtype=np.int64)
    pairs = np.asarray(reference.MOMENT_PAIRS)
    kernel.point_add(
        vals, bins, valid, hist, rows, sums, mom, pairs[:, 0].copy(), pairs[:, 1].copy()
    )
    normalize_limbs(sums)
    normalize_limbs(mom)
    got = limbs_to_int(sums)
    for q in range(9):
        exact = sum(math.floor(Fraction(float(v)) * 2**64 + Fraction(1, 2)) for v in vals[q])
        assert got[q] == exact
    prod = [
        sum(
            math.floor(Fraction(float(x * z)) * 2**64 + Fraction(1, 2))
            for x, z in zip(vals[a], vals[b], strict=True)
        )
        for a, b in pairs[:3]
    ]
    assert limbs_to_int(mom)[:3] == prod
    assert rows[0, 0] == 5_000
