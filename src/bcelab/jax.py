"""JAX helpers: an optax-style loss and eager value checks.

The core functions (:func:`bcelab.bce_with_logits`, :func:`bcelab.bce`,
:func:`bcelab.binary_kl`, ...) take JAX arrays directly and work under ``jax.jit``,
``jax.grad``, ``jax.vmap`` and ``jax.lax.scan``: they are written against the Array API
and contain no Python branches on values.  Two JAX specifics:

* Without ``jax_enable_x64`` JAX has no float64, so float32 inputs are computed in
  float32 (a few ulp instead of half an ulp); with x64 they are computed in float64.
* The core cannot look at values of a JAX array (``array_api_compat`` classes every
  JAX array as lazy), so its value checks (targets in [0, 1], NaN, probabilities in
  [0, 1]) are skipped.  :func:`sigmoid_binary_cross_entropy` and :func:`check_inputs`
  run them on concrete arrays; inside ``jit``/``grad``/``vmap`` values do not exist and
  nothing is checked: call :func:`check_inputs` on the data outside the compiled step.

>>> import jax.numpy as jnp
>>> sigmoid_binary_cross_entropy(jnp.array([0.0, jnp.inf]), jnp.array([1.0, 1.0]))
Array([0.6931472, 0.       ], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._adapters import renamed
from ._core.prepare import prepare
from .errors import BCELabError, DTypeError
from .losses import bce_with_logits

__all__ = ["check_inputs", "sigmoid_binary_cross_entropy"]

FRAMEWORK = "JAX"
Array = Any


def _renamed(err: BCELabError, where: str) -> BCELabError:
    return renamed(err, where, FRAMEWORK)


def check_inputs(preds: Array, targets: Array, /, *, from_logits: bool = True) -> None:
    """Run bcelab's shape, dtype and value checks on concrete arrays (no-op on tracers).

    >>> import jax.numpy as jnp
    >>> check_inputs(jnp.zeros(2), jnp.array([0.0, 255.0]))
    Traceback (most recent call last):
    ...
    bcelab.errors.DomainError: bcelab.jax.check_inputs (JAX): bce_with_logits: targets ...
    """
    _check(preds, targets, from_logits=from_logits, where="bcelab.jax.check_inputs")


def _check(preds: Array, targets: Array, *, from_logits: bool, where: str) -> None:
    if isinstance(preds, jax.core.Tracer) or isinstance(targets, jax.core.Tracer):
        return
    fname = "bce_with_logits" if from_logits else "bce"
    try:
        p, y = np.asarray(preds), np.asarray(targets)
    except TypeError:
        raise DTypeError(
            f"{where} ({FRAMEWORK}): inputs must be arrays",
            f"received {type(preds).__name__} and {type(targets).__name__}",
            "pass jax.numpy arrays",
        ) from None
    try:
        prepare(p, y, fname=fname, probs=not from_logits, nan_policy="raise")
    except BCELabError as e:
        raise _renamed(e, where) from None


def sigmoid_binary_cross_entropy(logits: Array, labels: Array, /) -> Array:
    r"""Drop-in for ``optax.losses.sigmoid_binary_cross_entropy``: element-wise BCE from logits.

    .. math::

        \ell(x, y) = y \operatorname{softplus}(-x) + (1 - y) \operatorname{softplus}(x)

    Same signature and shape as optax's (no reduction; take ``.mean()``), computed by
    :func:`bcelab.bce_with_logits`: exact limits for infinite logits, no cancellation for
    soft labels, and bcelab's checks on concrete arrays.
    """
    where = "bcelab.jax.sigmoid_binary_cross_entropy"
    _check(logits, labels, from_logits=True, where=where)
    try:
        return bce_with_logits(logits, labels)
    except BCELabError as e:
        raise _renamed(e, where) from None
