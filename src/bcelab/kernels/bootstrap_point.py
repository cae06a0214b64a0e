"""The point-estimate loop of the paired bootstrap (numba): exact limb sums.

:func:`point_add` adds rows to the point estimate (every weight 1) as exact integers in
32-bit limbs (units of :math:`2^{-64}`): the sums and the 21 products of two weighted
values are vectorised reductions over the rows, the fine histograms a scatter.
It is re-exported by :mod:`bcelab.kernels.bootstrap`; the NumPy twin is in
:mod:`bcelab.kernels.bootstrap_reference`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

__all__ = ["point_add"]

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(inline="always", **_JIT)
def _limbs3(x: float) -> tuple[np.int64, np.int64, np.int64]:
    """``round(x * 2**64)`` as three 32-bit limbs (least significant first); every step
    is exact in float64, and the last limb is rounded to nearest."""
    l2 = math.floor(x)
    t = (x - l2) * 4294967296.0
    l1 = math.floor(t)
    t = (t - l1) * 4294967296.0
    return np.int64(math.floor(t + 0.5)), np.int64(l1), np.int64(l2)


@njit(**_JIT)
def _sum_limbs3(x: np.ndarray, dst: np.ndarray) -> None:
    """``dst += sum_j round(x[j] * 2**64)`` in three limbs (a vectorised reduction)."""
    a0 = a1 = a2 = np.int64(0)
    for j in range(x.shape[0]):
        t = x[j]
        l2 = math.floor(t)
        t = (t - l2) * 4294967296.0
        l1 = math.floor(t)
        t = (t - l1) * 4294967296.0
        a2 += np.int64(l2)
        a1 += np.int64(l1)
        a0 += np.int64(math.floor(t + 0.5))
    dst[0] += a0
    dst[1] += a1
    dst[2] += a2


@njit(**_JIT)
def _sum_products4(x: np.ndarray, z: np.ndarray, dst: np.ndarray) -> None:
    """``dst += sum_j round(x[j] * z[j] * 2**64)`` in four limbs (a vectorised reduction)."""
    a0 = a1 = a2 = a3 = np.int64(0)
    for j in range(x.shape[0]):
        t = (x[j] * z[j]) * 2.3283064365386963e-10  # / 2**32: the top limb's unit
        l3 = math.floor(t)
        t = (t - l3) * 4294967296.0
        l2 = math.floor(t)
        t = (t - l2) * 4294967296.0
        l1 = math.floor(t)
        t = (t - l1) * 4294967296.0
        a3 += np.int64(l3)
        a2 += np.int64(l2)
        a1 += np.int64(l1)
        a0 += np.int64(math.floor(t + 0.5))
    dst[0] += a0
    dst[1] += a1
    dst[2] += a2
    dst[3] += a3


@njit(**_JIT)
def point_add(
    vals: np.ndarray,
    bins: np.ndarray,
    valid: np.ndarray,
    hist: np.ndarray,
    bin_rows: np.ndarray,
    sums: np.ndarray,
    moments: np.ndarray,
    ma: np.ndarray,
    mb: np.ndarray,
) -> None:
    """Add every row to the point-estimate arrays (every weight 1; invalid rows add 0).

    ``hist[m, fine bin, (wy, wn, wp), limb]`` (3 limbs), ``bin_rows[m, fine bin]`` (valid rows),
    ``sums[value, limb]`` (3 limbs) and ``moments[k, limb]`` (4 limbs) for the products
    ``vals[ma[k]] * vals[mb[k]]``.
    """
    for q in range(sums.shape[0]):
        _sum_limbs3(vals[q], sums[q])
    for k in range(moments.shape[0]):
        _sum_products4(vals[ma[k]], vals[mb[k]], moments[k])
    for j in range(vals.shape[1]):
        if not valid[j]:
            continue
        y0, y1, y2 = _limbs3(vals[1, j])  # w y and w (1 - y): the same for both models
        n0, n1, n2 = _limbs3(vals[2, j])
        for m in range(2):
            p0, p1, p2 = _limbs3(vals[3 + m, j])
            bin_rows[m, bins[j, m]] += 1
            h = hist[m, bins[j, m]]
            h[0, 0] += y0
            h[0, 1] += y1
            h[0, 2] += y2
            h[1, 0] += n0
            h[1, 1] += n1
            h[1, 2] += n2
            h[2, 0] += p0
            h[2, 1] += p1
            h[2, 2] += p2
