"""Random test points and 60-digit mpmath references for the accuracy tests.

Points are drawn log-uniformly over each function's domain, plus points placed near
the places where a naive evaluation cancels (p close to y, logit(y) close to x).
Each reference is the exact value of the mathematical definition, evaluated with
mpmath at 60 significant digits, then compared with bcelab's result in units in the
last place (ulp) of the correctly rounded result.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np

mpmath.mp.dps = 60
MP = mpmath.mpf


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return 10.0 ** rng.uniform(lo, hi, n)


def probabilities(rng: np.random.Generator, n: int, dtype: str) -> np.ndarray:
    """Probabilities log-uniform towards 0 and towards 1 (half each), in ``dtype``."""
    lo = -300.0 if dtype == "float64" else -44.0
    top = -16.5 if dtype == "float64" else -7.5
    small = _log_uniform(rng, lo, math.log10(0.5), n - n // 2)
    near_one = 1.0 - _log_uniform(rng, top, math.log10(0.5), n // 2)
    out = np.concatenate([small, near_one]).astype(dtype)
    return out[(out > 0) & (out < 1)]


def soft_targets(rng: np.random.Generator, n: int, dtype: str) -> np.ndarray:
    lo = -300.0 if dtype == "float64" else -40.0
    top = -16.5 if dtype == "float64" else -7.5
    small = _log_uniform(rng, lo, math.log10(0.5), n - n // 2)
    near_one = 1.0 - _log_uniform(rng, top, math.log10(0.5), n // 2)
    out = np.concatenate([small, near_one]).astype(dtype)
    return np.clip(out, np.finfo(dtype).tiny, np.nextafter(np.array(1.0, dtype), 0))


def logits(rng: np.random.Generator, n: int, dtype: str) -> np.ndarray:
    mag = _log_uniform(rng, -8.0, 4.0, n)
    return (mag * rng.choice([-1.0, 1.0], n)).astype(dtype)


def pairs(kind: str, rng: np.random.Generator, n: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, target) pairs: a third hard targets, a third soft, a third near p = y."""
    k = n // 3
    y_hard = rng.choice([0.0, 1.0], k).astype(dtype)
    y_soft = soft_targets(rng, k, dtype)
    y_near = soft_targets(rng, n - 2 * k, dtype)
    if kind == "logits":
        x = logits(rng, 2 * k, dtype)
        t = np.array([float(mpmath.log(MP(float(v)) / (1 - MP(float(v))))) for v in y_near])
        rel = _log_uniform(rng, -16.0, -1.0, y_near.size) * rng.choice([-1.0, 1.0], y_near.size)
        x_near = (t + rel * np.maximum(np.abs(t), 1.0)).astype(dtype)
        pred = np.concatenate([x[:k], x[k:], x_near])
    else:
        p = probabilities(rng, 2 * k, dtype)
        rel = _log_uniform(rng, -16.0, -1.0, y_near.size) * rng.choice([-1.0, 1.0], y_near.size)
        p_near = np.clip(y_near.astype(np.float64) * (1.0 + rel), 0.0, 1.0).astype(dtype)
        pred = np.concatenate([p[: p.size // 2], p[p.size // 2 :], p_near])
    y = np.concatenate([y_hard, y_soft, y_near])
    m = min(pred.size, y.size)
    return pred[:m], y[:m]


# --- the definitions, in mpmath ---------------------------------------------------------


def _xlog(a: mpmath.mpf, log_b: mpmath.mpf) -> mpmath.mpf:
    """a * log_b with 0 * log 0 = 0 (``log_b`` is already a logarithm)."""
    return MP(0) if a == 0 else a * log_b


def _log(v: mpmath.mpf) -> mpmath.mpf:
    return -mpmath.inf if v == 0 else mpmath.log(v)


def _log1m(v: mpmath.mpf) -> mpmath.mpf:
    """log(1 - v), exact also for tiny v."""
    return -mpmath.inf if v == 1 else mpmath.log1p(-v)


def sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-x))


def _softplus(t: mpmath.mpf) -> mpmath.mpf:
    return mpmath.log1p(mpmath.exp(t))


def bce_probs(p: float, y: float) -> mpmath.mpf:
    P, Y = MP(p), MP(y)
    return -(_xlog(Y, _log(P)) + _xlog(1 - Y, _log1m(P)))


def bce_logits(x: float, y: float) -> mpmath.mpf:
    X, Y = MP(x), MP(y)
    return Y * _softplus(-X) + (1 - Y) * _softplus(X)


def entropy(y: float) -> mpmath.mpf:
    Y = MP(y)
    return -(_xlog(Y, _log(Y)) + _xlog(1 - Y, _log1m(Y)))


def kl_probs(p: float, y: float) -> mpmath.mpf:
    # y and p may agree to ~300 digits (both tiny): evaluate with that many
    with mpmath.workdps(700):
        P, Y = MP(p), MP(y)
        if (P == 0 and Y > 0) or (P == 1 and Y < 1):
            return mpmath.inf
        return _xlog(Y, _log(Y) - _log(P)) + _xlog(1 - Y, _log1m(Y) - _log1m(P))


def kl_logits(x: float, y: float) -> mpmath.mpf:
    with mpmath.workdps(700):
        X, Y = MP(x), MP(y)
        # log p = -softplus(-x), log(1 - p) = -softplus(x)
        return _xlog(Y, _log(Y) + _softplus(-X)) + _xlog(1 - Y, _log1m(Y) + _softplus(X))


def grad_probs(p: float, y: float) -> mpmath.mpf:
    P, Y = MP(p), MP(y)
    if (P == 0 and Y > 0) or (P == 1 and Y < 1):
        return mpmath.inf if P == 1 else -mpmath.inf
    return (0 if Y == 0 else -Y / P) + (0 if Y == 1 else (1 - Y) / (1 - P))


def grad_logits(x: float, y: float) -> mpmath.mpf:
    with mpmath.workdps(700):
        return sigmoid(MP(x)) - MP(y)


def _one_minus_pt(P: mpmath.mpf, Q: mpmath.mpf, Y: mpmath.mpf) -> mpmath.mpf:
    return Y * Q + (1 - Y) * P


def focal_probs(p: float, y: float, gamma: float) -> mpmath.mpf:
    P, Y = MP(p), MP(y)
    return _one_minus_pt(P, 1 - P, Y) ** MP(gamma) * bce_probs(p, y)


def focal_logits(x: float, y: float, gamma: float) -> mpmath.mpf:
    X, Y = MP(x), MP(y)
    P, Q = sigmoid(X), sigmoid(-X)
    return _one_minus_pt(P, Q, Y) ** MP(gamma) * bce_logits(x, y)


def focal_grad_logits(x: float, y: float, gamma: float) -> mpmath.mpf:
    """d/dx of the focal loss: w' CE + w CE' with w = (1 - p_t)^gamma, exactly."""
    X, Y, G = MP(x), MP(y), MP(gamma)
    P, Q = sigmoid(X), sigmoid(-X)
    omp = _one_minus_pt(P, Q, Y)
    ce = Y * _softplus(-X) + (1 - Y) * _softplus(X)
    dce = (1 - Y) * P - Y * Q  # not P - Y: P rounds to 1 at 60 digits for x > 140
    dw = MP(0) if omp == 0 else G * omp ** (G - 1) * (1 - 2 * Y) * P * Q
    return dw * ce + omp**G * dce


def reference(fn: Callable[..., mpmath.mpf], *columns: np.ndarray) -> np.ndarray:
    """``fn`` at every point, as float64 values of the 60-digit results (inf kept)."""
    return np.array([float(fn(*(float(c[i]) for c in columns))) for i in range(columns[0].size)])


def ulp_error(got: np.ndarray, exact: np.ndarray, dtype: str, floor: np.ndarray | None = None):
    """|got - exact| in ulp of the exact value rounded to ``dtype`` (``floor``: a minimum ulp
    scale, for results that are documented to an absolute error)."""
    got64 = got.astype(np.float64)
    ref_r = np.abs(exact).astype(dtype)
    ulp = np.spacing(ref_r).astype(np.float64)
    if floor is not None:
        ulp = np.maximum(ulp, np.spacing(np.abs(floor).astype(dtype)).astype(np.float64))
    both_inf = np.isinf(exact) & (got64 == exact)
    err = np.where(both_inf, 0.0, np.abs(got64 - exact))
    return err / ulp
