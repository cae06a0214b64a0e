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
def _add_limbs(dst: np.ndarray, x: float, top_unit: float) -> None:
    """Add ``round(x * 2**64)`` to the 32-bit limbs ``dst`` (least significant first).

    ``top_unit`` is the value of one unit of the top limb (``2**(32 * (len - 1) - 64)``);
    every step below is exact in float64, and the last limb is rounded to nearest.
    """
    n = dst.shape[0]
    t = x / top_unit
    for k in range(n - 1, 0, -1):
        lk = math.floor(t)
        dst[k] += np.int64(lk)
        t = (t - lk) * 4294967296.0
    dst[0] += np.int64(math.floor(t + 0.5))


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

    ``hist[m, fine bin, (wy, wn, wp), limb]``, ``bin_rows[m, fine bin]`` (valid rows),
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
        for m in range(2):
            bin_rows[m, bins[j, m]] += 1
            h = hist[m, bins[j, m]]
            _add_limbs(h[0], vals[1, j], 1.0)
            _add_limbs(h[1], vals[2, j], 1.0)
            _add_limbs(h[2], vals[3 + m, j], 1.0)
