"""Other libraries' BCE formulas, reproduced on purpose (``convention=``).

The public documentation of each convention is :mod:`bcelab.conventions`.  Every
function takes the array namespace and arrays already cast to :func:`compute_dtype`.
"""

from __future__ import annotations

from typing import Any

from ..errors import OptionError

__all__ = ["KERAS_EPSILON", "TORCH_LOG_CLAMP", "compute_dtype", "logits_values", "probs_values"]

Array = Any

KERAS_EPSILON = 1e-7  # keras.config.epsilon() default, also tf_keras.backend.epsilon()
TORCH_LOG_CLAMP = -100.0  # aten/src/ATen/native/Loss.cpp


def compute_dtype(xp: Any, convention: str, in_dtype: Any) -> Any:
    """The dtype a library computes in for an input of ``in_dtype``."""
    if convention in ("keras", "tf_keras"):
        return xp.float32  # keras.config.floatx()
    if convention == "sklearn":
        return xp.float64
    bits = int(xp.finfo(in_dtype).bits)
    return xp.float32 if bits < 32 else in_dtype


def probs_values(xp: Any, convention: str, p: Array, y: Array) -> Array:
    """Per-element BCE from probabilities under a framework convention.

    ``p`` and ``y`` are already in :func:`compute_dtype` except for ``sklearn``,
    where ``p`` is still in its input dtype (sklearn clips in that dtype).
    """
    if convention == "keras":
        eps = xp.asarray(KERAS_EPSILON, dtype=p.dtype)
        p = xp.clip(p, eps, 1.0 - eps)
        return 0.0 - (y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p))  # 0.0 - x: never -0.0
    if convention == "tf_keras":
        eps = xp.asarray(KERAS_EPSILON, dtype=p.dtype)
        p = xp.clip(p, eps, 1.0 - eps)
        return 0.0 - (y * xp.log(p + eps) + (1.0 - y) * xp.log(1.0 - p + eps))
    if convention == "torch":
        lp = xp.maximum(_rounded(xp, xp.log, p), TORCH_LOG_CLAMP)
        lq = xp.maximum(_rounded(xp, xp.log1p, -p), TORCH_LOG_CLAMP)
        return (y - 1.0) * lq - y * lp + 0.0  # + 0.0 turns -0.0 into 0.0
    if convention == "sklearn":
        eps = float(xp.finfo(p.dtype).eps)
        pc = xp.clip(p, eps, 1.0 - eps)
        q = xp.astype(1.0 - pc, xp.float64)  # sklearn forms 1 - p in the input dtype
        pc = xp.astype(pc, xp.float64)
        y = xp.astype(y, xp.float64)
        yz = xp.where(y == 0, 0.0, y * xp.log(pc))
        yo = xp.where(y == 1, 0.0, (1.0 - y) * xp.log(q))
        return -(yz + yo)
    raise OptionError(
        f"convention={convention!r} has no probabilities form",
        "received probabilities",
        "use convention='exact'",
    )


def _rounded(xp: Any, fn: Any, v: Array) -> Array:
    """``fn(v)`` computed in float64 and rounded once to ``v``'s dtype (float64 as is; a
    namespace without float64, JAX without x64, computes in ``v``'s dtype)."""
    if v.dtype == xp.float64:
        return fn(v)
    return xp.astype(fn(xp.astype(v, xp.float64)), v.dtype)


def logits_values(
    xp: Any, convention: str, x: Array, y: Array, pos_weight: Array | float | None
) -> Array:
    """Per-element BCE from logits under a framework convention (inputs in compute dtype)."""
    if convention in ("keras", "tf_keras"):
        # tf.nn.sigmoid_cross_entropy_with_logits / keras ops: relu(x) - x y + log1p(e^-|x|)
        return xp.maximum(x, 0.0) - x * y + xp.log1p(xp.exp(-xp.abs(x)))
    if convention == "torch":
        # torch's log_sigmoid: each function rounded once to float32, as torch's (nearly
        # always) are; NumPy's float32 exp and log1p are off by an ulp more often, and
        # where y = 0 and x << 0 the loss is min(x, 0) - (that term)'s rounding residue
        log_sig = xp.minimum(x, 0.0) - _rounded(xp, xp.log1p, _rounded(xp, xp.exp, -xp.abs(x)))
        lw = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * y
        return (1.0 - y) * x - lw * log_sig
    raise OptionError(
        f"convention={convention!r} has no logits form",
        "received logits",
        "scikit-learn's log_loss takes probabilities: apply bcelab.sigmoid first, "
        "or use convention='exact'",
    )
