"""All of bcelab's compiled code (optional: needs numba): the fused loss kernel, the
metric state loops, the paired bootstrap kernels and the many-seed MLP of training.

``import bcelab.kernels`` is cheap: numba is imported on the first call that needs it.
:func:`bcelab.bce` and :func:`bcelab.bce_with_logits` (and their gradients) dispatch
to the loss kernel automatically (see :mod:`bcelab.kernels.dispatch` for when);
:func:`fused_bce` returns loss, floor, excess and gradient from one pass.
:class:`bcelab.metrics.BinaryStats` runs the metric loops.

Modules, named by what they hold:

* shared: :mod:`~bcelab.kernels.constants` (block sizes, named result slots, numba
  options; no numba import), :mod:`~bcelab.kernels.scalar` (the one per-element BCE
  formula: terms, entropy, KL, gradients), :mod:`~bcelab.kernels.fastmath`
  (vectorisable exp/log), :mod:`~bcelab.kernels.threads` (the one thread pool);
* the loss kernel: :mod:`~bcelab.kernels.loss` (the compiled kernels),
  :mod:`~bcelab.kernels.logsum` (block sums with one logarithm per block),
  :mod:`~bcelab.kernels.loss_driver` (chunks and threads),
  :mod:`~bcelab.kernels.dispatch` (eligibility), :mod:`~bcelab.kernels.fused_api`
  (``fused_bce``);
* the metric state: :mod:`~bcelab.kernels.stats_rows` (per-row values),
  :mod:`~bcelab.kernels.stats_scan` (the validation pass),
  :mod:`~bcelab.kernels.stats_update` (histogram and compensated sums),
  :mod:`~bcelab.kernels.stats_driver` (threads, partial states), and their
  ahead-of-time compiled twins :mod:`~bcelab.kernels.aot` /
  :mod:`~bcelab.kernels.aot_build`;
* the paired bootstrap of ``compare``: :mod:`~bcelab.kernels.bootstrap_rng` (the
  weights), :mod:`~bcelab.kernels.bootstrap` and :mod:`~bcelab.kernels.bootstrap_point`
  (the compiled kernels), :mod:`~bcelab.kernels.bootstrap_reference` (their NumPy
  twin), :mod:`~bcelab.kernels.bootstrap_aot` (their precompiled twins, built into the
  same module as the metric loops);
* the many-seed MLP of ``bcelab.train``: :mod:`~bcelab.kernels.mlp` (one SGD epoch of
  every seed, every seed's logits) and :mod:`~bcelab.kernels.mlp_aot` (their precompiled
  twins, built into the same module as the metric loops).

Imports flow one way: :mod:`bcelab.metrics` and :mod:`bcelab.train` use this package,
which uses only :mod:`bcelab._core` (and, at call time, the reference path of the
public losses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_getattr

if TYPE_CHECKING:
    from .dispatch import available, reference_path, set_enabled, try_fused, try_fused_grad
    from .fused_api import FusedResult, fused_bce

#: start-up time: the loss kernel's modules load on first use (an evaluation needs only
#: the metric loops)
_LAZY = {
    **dict.fromkeys(
        ("available", "reference_path", "set_enabled", "try_fused", "try_fused_grad"),
        ".dispatch",
    ),
    **dict.fromkeys(("FusedResult", "fused_bce"), ".fused_api"),
}

__all__ = [
    "FusedResult",
    "available",
    "fused_bce",
    "reference_path",
    "set_enabled",
    "try_fused",
    "try_fused_grad",
]

__getattr__ = lazy_getattr(__name__, _LAZY)
