"""NumPy twins of the float64 functions of :mod:`bcelab.kernels.fastmath`, bit for bit.

The same operations in the same order, element-wise in IEEE float64 (NumPy neither
reorders nor fuses them), so each result equals the compiled function's exactly; the
tests check this on random and edge-case inputs.  They let the NumPy paths of the
paired bootstrap (:mod:`bcelab.kernels.bootstrap_reference`) produce the same state as
the numba kernel where numba is not installed.  The constants are fdlibm's, copied from
:mod:`bcelab.kernels.fastmath` (which needs numba to import).
"""

from __future__ import annotations

import numpy as np

__all__ = ["exp_nonpos", "log1p_any", "log1p_unit", "log_pos"]

_MAGIC = 6755399441055744.0
_MAGIC_BITS = 0x4338000000000000
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -708.3
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_ONE_BITS = 0x3FF0000000000000
_MANT = 0x000FFFFFFFFFFFFF
_TWO54 = 18014398509481984.0
_TINY = 2.2250738585072014e-308
_SQRT2_M1 = 0.41421356237309503
_INF = float("inf")


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)


def _f64(i: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(i, dtype=np.int64).view(np.float64)


def exp_nonpos(t: np.ndarray) -> np.ndarray:
    """``e**t`` for ``t <= 0``: :func:`bcelab.kernels.fastmath.exp_nonpos`."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(all="ignore"):
        kd = t * _INV_LN2 + _MAGIC
        ki = _bits(kd)
        kf = kd - _MAGIC
        r = (t - kf * _LN2_HI) - kf * _LN2_LO
        p = np.full_like(r, 1.0 / 6227020800.0)
        for c in (479001600.0, 39916800.0, 3628800.0, 362880.0, 40320.0, 5040.0, 720.0, 120.0):
            p = p * r + 1.0 / c
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * (r * r) + r
        scale = _f64((ki + 1023) << 52)
        e = scale + scale * p
    return np.where(t < _EXP_MIN, 0.0, e)


def _log_poly(f: np.ndarray, dk: np.ndarray) -> np.ndarray:
    s = f / (2.0 + f)
    zs = s * s
    w = zs * zs
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = zs * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


def log_pos(z: np.ndarray) -> np.ndarray:
    """Natural log for ``z >= 0``: :func:`bcelab.kernels.fastmath.log_pos`."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(all="ignore"):
        sub = z < _TINY
        zz = np.where(sub, z * _TWO54, z)
        hx = _bits(zz) + (_ONE_BITS - _SQRT_HALF_BITS)
        dk = _f64((hx >> 52) + (_MAGIC_BITS - 1023)) - _MAGIC
        dk = np.where(sub, dk - 54.0, dk)
        m = _f64((hx & _MANT) + _SQRT_HALF_BITS)
        out = _log_poly(m - 1.0, dk)
    out = np.where(z == 0.0, -_INF, out)
    return np.where(~(z < _INF), z, out)


def log1p_any(v: np.ndarray) -> np.ndarray:
    """``log(1 + v)`` for ``v >= -1``: :func:`bcelab.kernels.fastmath.log1p_any`."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):
        w = 1.0 + v
        c = (v - (w - 1.0)) / w
        c = np.where((w > 0.0) & (w < _INF), c, 0.0)
        return log_pos(w) + c


def log1p_unit(v: np.ndarray) -> np.ndarray:
    """``log(1 + v)`` for ``0 <= v <= 1``: :func:`bcelab.kernels.fastmath.log1p_unit`."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):
        big = v > _SQRT2_M1
        f = np.where(big, 0.5 * (v - 1.0), v)
        out = _log_poly(f, np.where(big, 1.0, 0.0))
    return np.where(v != v, v, out)
