r"""Branch-free float64 ``exp``, ``log`` and ``log1p`` that LLVM can vectorise.

LLVM vectorises a loop only when it contains no calls into libm, and numba on this
platform has no vector math library (SVML), so a loop calling ``math.log`` runs one
element at a time.  These replacements are written with plain arithmetic, bit casts
and selects, so a loop that calls them becomes SIMD code.

They are used for **float32** inputs, which the fused kernel computes in float64:
each function is accurate to about 1 ulp of float64 (tested against mpmath in
``tests/test_fused_fastmath.py``), a million times finer than the float32 result's
ulp, so the float32 results stay within 1 ulp of the correctly rounded value.
float64 inputs use libm (``math.log1p``), whose 4-ulp budget leaves no room to spare.

The algorithms are the classic ones of fdlibm (Sun, 1993) as used by musl:

* :func:`exp_nonpos`: :math:`e^t = 2^k e^r` with :math:`k = \mathrm{round}(t / \ln 2)`,
  :math:`r = t - k \ln 2` computed in two parts (Cody-Waite), and :math:`e^r` from its
  Taylor series to degree 13 (:math:`|r| \le \ln 2 / 2`, truncation below 1e-17).
* :func:`log_pos`: :math:`\log z = k \ln 2 + \log m` with :math:`m \in [\sqrt{1/2}, \sqrt 2)`,
  :math:`\log m = 2\,\mathrm{atanh}(s)`, :math:`s = f / (2 + f)`, :math:`f = m - 1`,
  and fdlibm's minimax polynomial ``Lg1..Lg7`` (error below :math:`2^{-58.45}`).
* :func:`log1p_any`: :math:`\log(1 + v) = \log w + (v - (w - 1)) / w` with
  :math:`w = \mathrm{fl}(1 + v)`: the rounding error of ``1 + v`` is added back.

The ``*_f32in`` variants serve the fused loss kernel, whose inputs are float32 values
converted to float64.  They keep float64 arithmetic but use shorter polynomials
(coefficients fitted at Chebyshev nodes with 50-digit mpmath, ``bench/fit_fastmath.py``):
relative error below 2e-15 (under 10 float64 ulps, 1e-8 of a float32 ulp), so the float32
results are unchanged in practice and the mean of 1e8 elements keeps ~1e-15; they are
12-20% cheaper per element.  :func:`log_f32in` also skips subnormal handling, which a
float32 input (or ``1 - p`` of one) never needs in float64.

Every function is compiled without fast-math flags: the Cody-Waite split and the
``v - (w - 1)`` correction rely on exact IEEE evaluation order.

:func:`add_reassoc` and :func:`mul_reassoc` are the other half of that contract: one
addition or multiplication that LLVM may reassociate (the ``reassoc`` flag on that
instruction alone).  A loop that accumulates through them becomes a SIMD reduction with
several partial sums or products, while every other operation of the same loop keeps its
IEEE order, so a kernel can keep these functions and its reductions in one loop.  The
order of the partial sums is fixed by the compiled code, so results are deterministic.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

from .cache_guard import clear_stale

clear_stale()  # before any kernel of this package loads from numba's cache

__all__ = [
    "add_reassoc",
    "bits_to_f64",
    "borrowed",
    "exp_factor",
    "exp_nonpos",
    "exp_nonpos_f32in",
    "exp_nonpos_sum",
    "f64_to_bits",
    "fma",
    "log1p_any",
    "log1p_unit",
    "log1p_unit_f32in",
    "log_f32in",
    "log_pos",
    "mul_reassoc",
]

# Inlined at numba IR level (numba does not inline separately compiled functions at the
# LLVM level), so they must only be called from kernels compiled without fast-math flags.
_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "inline": "always"}


def _f64_to_bits(typingctx: Any, x: Any) -> Any:
    """Reinterpret a float64 as an int64 (an LLVM ``bitcast``, vectorisable)."""
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


def _bits_to_f64(typingctx: Any, i: Any) -> Any:
    """Reinterpret an int64 as a float64 (an LLVM ``bitcast``, vectorisable)."""
    if not isinstance(i, types.Integer) or getattr(i, "bitwidth", 0) != 64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


f64_to_bits: Any = intrinsic(_f64_to_bits)
bits_to_f64: Any = intrinsic(_bits_to_f64)


def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` rounded once (LLVM ``fma``), whatever the caller's fast-math flags."""
    if not (isinstance(a, types.Float) and a.bitwidth == 64 and a == b == c):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.fma(args[0], args[1], args[2])

    return types.float64(types.float64, types.float64, types.float64), codegen


fma: Any = intrinsic(_fma)


def _reassoc(op: str) -> Any:
    def typer(typingctx: Any, a: Any, b: Any) -> Any:
        if not isinstance(a, types.Float) or a != b:
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            emit = builder.fadd if op == "add" else builder.fmul
            return emit(args[0], args[1], flags=("reassoc",))

        return a(a, b), codegen

    return typer


#: ``a + b`` (floats of one type) that LLVM may reassociate: an accumulator updated with it
#: becomes a SIMD reduction, the rest of the loop keeps its IEEE order.
add_reassoc: Any = intrinsic(_reassoc("add"))
#: ``a * b`` likewise (a running product).
mul_reassoc: Any = intrinsic(_reassoc("mul"))


def _borrowed(typingctx: Any, arr: Any) -> Any:
    if not isinstance(arr, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        src = context.make_array(arr)(context, builder, value=args[0])
        out = context.make_array(arr)(context, builder)
        populate_array(
            out,
            data=src.data,
            shape=src.shape,
            strides=src.strides,
            itemsize=src.itemsize,
            meminfo=None,
        )
        return out._getvalue()

    return arr(arr), codegen


#: The same array without its memory owner (``meminfo``), for use inside one compiled call
#: while the caller keeps the original alive: views taken from it cost no reference
#: counting (numba counts references to every view, one atomic operation each, which a
#: per-block view pays once per block).
borrowed: Any = intrinsic(_borrowed)


# 1.5 * 2**52: adding it rounds a float64 below 2**51 to an integer held in the low mantissa bits.
_MAGIC = 6755399441055744.0
_MAGIC_BITS = 0x4338000000000000
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm: ln 2 with 32 trailing zero bits
_LN2_LO = 1.90821492927058770002e-10
_LN2 = 0.6931471805599453  # ln 2 rounded to float64
_EXP_MIN = -708.3  # below this e^t is under 2^-1022; it is returned as 0 (see exp_nonpos)


@njit(**_JIT)
def exp_nonpos(t: float) -> float:
    """:math:`e^t` for :math:`t \\le 0` (including ``-inf``); about 1 ulp in float64.

    Results below the smallest normal float64 (:math:`t < -708.3`) are returned as 0:
    they are 1e-250 times smaller than the smallest float32, and the kernel only uses
    this function for float32 inputs.  NaN propagates.
    """
    kd = t * _INV_LN2 + _MAGIC
    ki = f64_to_bits(kd)  # = _MAGIC_BITS + k
    kf = kd - _MAGIC
    r = (t - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * (r * r) + r  # e^r - 1, with the leading terms added last
    scale = bits_to_f64((ki + 1023) << 52)  # 2^k: the magic bits shift out
    e = scale + scale * p
    return 0.0 if t < _EXP_MIN else e


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


@njit(**_JIT)
def log_pos(z: float) -> float:
    """Natural log for :math:`z \\ge 0` (``log(0) = -inf``, ``log(inf) = inf``); about 1 ulp.

    Subnormal inputs are scaled by :math:`2^{54}` first.  Negative inputs are never
    passed by the kernel (their result is unspecified).
    """
    sub = z < _TINY
    zz = z * _TWO54 if sub else z
    hx = f64_to_bits(zz) + (_ONE_BITS - _SQRT_HALF_BITS)
    # k as a float without an int->float conversion (not vectorisable without AVX-512)
    dk = bits_to_f64((hx >> 52) + (_MAGIC_BITS - 1023)) - _MAGIC
    dk = dk - 54.0 if sub else dk
    m = bits_to_f64((hx & _MANT) + _SQRT_HALF_BITS)
    f = m - 1.0
    s = f / (2.0 + f)
    zs = s * s
    w = zs * zs
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = zs * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    out = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    out = -float("inf") if z == 0.0 else out
    return z if not z < float("inf") else out  # +inf and NaN pass through


@njit(**_JIT)
def log1p_any(v: float) -> float:
    """:math:`\\log(1 + v)` for :math:`v \\ge -1`, with relative accuracy also for tiny ``v``."""
    w = 1.0 + v
    c = (v - (w - 1.0)) / w
    c = c if 0.0 < w < float("inf") else 0.0  # log(0) = -inf and log(inf) = inf need none
    return log_pos(w) + c


_SQRT2_M1 = 0.41421356237309503  # sqrt(2) - 1, rounded down


@njit(**_JIT)
def log1p_unit(v: float) -> float:
    """:math:`\\log(1 + v)` for :math:`0 \\le v \\le 1` (what ``softplus`` needs), one division.

    With :math:`1 + v = 2^k m`, :math:`k \\in \\{0, 1\\}`: :math:`f = m - 1` is ``v`` itself
    (k = 0) or :math:`(v - 1) / 2` (k = 1), both exact, so no ``1 + v`` rounding needs
    correcting; then fdlibm's :math:`\\log m` as in :func:`log_pos`.
    """
    big = v > _SQRT2_M1
    f = 0.5 * (v - 1.0) if big else v
    dk = 1.0 if big else 0.0
    s = f / (2.0 + f)
    zs = s * s
    w = zs * zs
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = zs * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    out = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    return v if v != v else out


# exp: (e^r - 1 - r) / r^2 on |r| <= ln2/2, degree 8 (e^r of degree 10): 1.2e-15 relative.
_E0, _E1, _E2 = 0.5, 0.16666666666648303, 0.041666666666651364
_E3, _E4, _E5 = 0.008333333353717156, 0.0013888888905871347, 0.0001984120875699232
_E6, _E7, _E8 = 2.4801536409064087e-05, 2.7625102005388108e-06, 2.761379555451986e-07


@njit(**_JIT)
def exp_nonpos_f32in(t: float) -> float:
    """:math:`e^t` for :math:`t \\le 0` as :func:`exp_nonpos`, degree 10: relative error < 2e-15."""
    kd = t * _INV_LN2 + _MAGIC
    ki = f64_to_bits(kd)
    kf = kd - _MAGIC
    r = (t - kf * _LN2_HI) - kf * _LN2_LO
    p = _E8 * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = p * r + _E1
    p = p * r + _E0
    p = p * (r * r) + r
    scale = bits_to_f64((ki + 1023) << 52)
    e = scale + scale * p
    return 0.0 if t < _EXP_MIN else e


@njit(**_JIT)
def _exp_sum_core(t: float) -> float:
    """:func:`exp_nonpos_sum` for ``t >= -708.3`` (below, the scale's exponent wraps)."""
    kd = t * _INV_LN2 + _MAGIC
    ki = f64_to_bits(kd)
    kf = kd - _MAGIC
    r = fma(-kf, _LN2, t)
    r2 = r * r
    r4 = r2 * r2
    lo = (_E0 + _E1 * r) + (_E2 + _E3 * r) * r2
    hi = (_E4 + _E5 * r) + ((_E6 + _E7 * r) + _E8 * r2) * r2
    p = (lo + hi * r4) * r2 + r
    scale = bits_to_f64((ki + 1023) << 52)
    return scale + scale * p


@njit(**_JIT)
def exp_nonpos_sum(t: float) -> float:
    """:math:`e^t` as :func:`exp_nonpos_f32in`, for terms that are only summed: cheaper.

    The reduction ``r = t - k ln 2`` is one FMA with ln 2 rounded to float64 (its error,
    2.3e-17 per unit of ``k``, reaches 2.4e-14 relative at ``t = -708`` and 4e-15 for
    ``t >= -104``, the float32 range), and the polynomial is evaluated in Estrin's scheme
    (a shorter dependency chain than Horner's).  Relative error below 2.5e-14, inside the
    ~3e-14 of the block sums of :mod:`bcelab.kernels.logsum`.
    """
    e = _exp_sum_core(t)
    return 0.0 if t < _EXP_MIN else e


_FACTOR_MIN = -708.0  # e^-708 = 3.3e-308, still a normal float64


@njit(**_JIT)
def exp_factor(t: float) -> float:
    """:func:`exp_nonpos_sum` of ``max(t, -708)``, for a factor ``1 + e^t`` of a product.

    Below -708 (``-inf`` included) it returns 3.3e-308 where :func:`exp_nonpos_sum`
    returns 0: the same factor 1, and, times a number of at most 1, the same float32
    (zero).  The bound is one ``max`` instruction instead of a compare and a select, 4%
    of the plain logits pass of :mod:`bcelab.kernels.logsum`.  NaN propagates.
    """
    u = _FACTOR_MIN if t < _FACTOR_MIN else t  # NaN < -708 is false: NaN stays
    return _exp_sum_core(u)


# log: fdlibm's R(z) = z (L1 + L2 z + ... + L6 z^5), z = s^2 <= 0.0295: 6.9e-16 relative.
_L1, _L2, _L3 = 0.6666666666666208, 0.40000000011206505, 0.2857142413832416
_L4, _L5, _L6 = 0.22222862280108716, 0.18140193802865992, 0.16621817152858928


@njit(**_JIT)
def _log_core6(f: float, dk: float) -> float:
    """:math:`k \\ln 2 + \\log(1 + f)` for :math:`f \\in [\\sqrt{1/2} - 1, \\sqrt 2 - 1]`."""
    s = f / (2.0 + f)
    zs = s * s
    w = zs * zs
    t1 = w * (_L2 + w * (_L4 + w * _L6))
    t2 = zs * (_L1 + w * (_L3 + w * _L5))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


@njit(**_JIT)
def log_f32in(z: float) -> float:
    """Natural log of a float64 :math:`z \\ge 0` that is a float32 value or ``1 - p`` of one.

    Such a value is 0 or at least 2^-149, never subnormal in float64, so no rescaling is
    needed.  ``log(0) = -inf``; ``+inf`` and NaN pass through.  Relative error < 2e-15.
    """
    hx = f64_to_bits(z) + (_ONE_BITS - _SQRT_HALF_BITS)
    dk = bits_to_f64((hx >> 52) + (_MAGIC_BITS - 1023)) - _MAGIC
    m = bits_to_f64((hx & _MANT) + _SQRT_HALF_BITS)
    out = _log_core6(m - 1.0, dk)
    out = -float("inf") if z == 0.0 else out
    return z if not z < float("inf") else out


@njit(**_JIT)
def log1p_unit_f32in(v: float) -> float:
    """:func:`log1p_unit` with the shorter polynomial: relative error < 2e-15 on [0, 1]."""
    big = v > _SQRT2_M1
    f = 0.5 * (v - 1.0) if big else v
    out = _log_core6(f, 1.0 if big else 0.0)
    return v if v != v else out
