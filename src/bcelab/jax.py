"""JAX helpers: optax's losses with optax's names, and eager value checks.

The core functions (:func:`bcelab.bce_with_logits`, :func:`bcelab.bce`,
:func:`bcelab.binary_kl`, ...) take JAX arrays directly and work under ``jax.jit``,
``jax.grad``, ``jax.vmap`` and ``jax.lax.scan``: they are written against the Array API
and contain no Python branches on values.  This module adds drop-ins for optax's
element-wise losses, with optax's names and signatures (``logits``, ``labels``):

* :func:`sigmoid_binary_cross_entropy` ``(logits, labels)``, computed by
  :func:`bcelab.bce_with_logits`;
* :func:`sigmoid_focal_loss` ``(logits, labels, alpha=None, gamma=2.0)``, computed by
  :func:`bcelab.focal_with_logits`.

Two JAX specifics:

* Without ``jax_enable_x64`` JAX has no float64, so float32 inputs are computed in
  float32 (a few ulp instead of half an ulp); with x64 they are computed in float64.
* The core cannot look at values of a JAX array (``array_api_compat`` classes every
  JAX array as lazy), so its value checks (targets in [0, 1], NaN, probabilities in
  [0, 1]) are skipped.  The functions here and :func:`check_inputs` run them on concrete
  arrays; inside ``jit``/``grad``/``vmap`` values do not exist and nothing is checked:
  call :func:`check_inputs` on the data outside the compiled step.

>>> import jax.numpy as jnp
>>> sigmoid_binary_cross_entropy(jnp.array([0.0, jnp.inf]), jnp.array([1.0, 1.0]))
Array([0.6931472, 0.       ], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._core.adapters import call_as
from ._core.extras import missing_dependency

try:
    import jax
except ImportError as _missing:
    raise missing_dependency(_missing, "bcelab.jax") or _missing from None

from ._core.prepare import prepare
from .errors import DTypeError
from .losses import bce_with_logits, focal_with_logits

__all__ = ["check_inputs", "sigmoid_binary_cross_entropy", "sigmoid_focal_loss"]

FRAMEWORK = "JAX"
Array = Any


def check_inputs(preds: Array, labels: Array, *, logits: bool = True) -> None:
    """Run bcelab's shape, dtype and value checks on concrete arrays (no-op on tracers).

    ``preds`` are logits (``logits=True``, optax's kind) or probabilities.

    >>> import jax.numpy as jnp
    >>> check_inputs(jnp.zeros(2), jnp.array([0.0, 255.0]))
    Traceback (most recent call last):
    ...
    bcelab.errors.DomainError: bcelab.jax.check_inputs (JAX): bce_with_logits: targets ...
    """
    _check(preds, labels, logits=logits, where="bcelab.jax.check_inputs")


def _check(preds: Array, labels: Array, *, logits: bool, where: str) -> None:
    if isinstance(preds, jax.core.Tracer) or isinstance(labels, jax.core.Tracer):
        return
    try:
        p, y = np.asarray(preds), np.asarray(labels)
    except TypeError:
        raise DTypeError(
            f"{where} ({FRAMEWORK}): inputs must be arrays",
            f"received {type(preds).__name__} and {type(labels).__name__}",
            "pass jax.numpy arrays",
        ) from None
    fname = "bce_with_logits" if logits else "bce"
    call_as(where, FRAMEWORK, prepare, p, y, fname=fname, probs=not logits, nan_policy="raise")


def sigmoid_binary_cross_entropy(logits: Array, labels: Array) -> Array:
    r"""Drop-in for ``optax.losses.sigmoid_binary_cross_entropy``: element-wise BCE from logits.

    .. math::

        \ell(x, y) = y \operatorname{softplus}(-x) + (1 - y) \operatorname{softplus}(x)

    Same signature and shape as optax's (no reduction; take ``.mean()``), computed by
    :func:`bcelab.bce_with_logits`: exact limits for infinite logits, no cancellation for
    soft labels, and bcelab's checks on concrete arrays.
    """
    where = "bcelab.jax.sigmoid_binary_cross_entropy"
    _check(logits, labels, logits=True, where=where)
    return call_as(where, FRAMEWORK, bce_with_logits, logits, labels)


def sigmoid_focal_loss(
    logits: Array, labels: Array, alpha: float | None = None, gamma: float = 2.0
) -> Array:
    r"""Drop-in for ``optax.losses.sigmoid_focal_loss``: element-wise focal loss from logits.

    .. math::

        \ell = \alpha_t (1 - p_t)^\gamma\, \mathrm{BCE}(x, y), \quad
        p_t = \sigma(x) y + (1 - \sigma(x))(1 - y), \quad \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    Same signature and shape as optax's (``alpha=None``: no class weighting), computed by
    :func:`bcelab.focal_with_logits`, with the modulating factor in log space: finite
    gradients for every finite logit, also for ``gamma < 1``.  As in optax, ``alpha`` may
    be an argument of a ``jax.jit`` function (traced; its range is then not checked);
    ``gamma`` chooses formulas and must be a number: static under ``jax.jit``.
    """
    where = "bcelab.jax.sigmoid_focal_loss"
    _check(logits, labels, logits=True, where=where)
    return call_as(where, FRAMEWORK, focal_with_logits, logits, labels, gamma=gamma, alpha=alpha)
