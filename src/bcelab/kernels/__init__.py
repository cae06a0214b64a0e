"""The fused single-pass CPU kernel for NumPy inputs (optional: needs numba).

``import bcelab.kernels`` is cheap: numba is imported on the first eligible call.
:func:`bcelab.bce` and :func:`bcelab.bce_with_logits` (and their gradients) dispatch
to the kernel automatically (see :mod:`bcelab.kernels.dispatch` for when);
:func:`fused_bce` returns loss, floor, excess and gradient from one pass.

Modules: :mod:`~bcelab.kernels.fastmath` (vectorisable exp/log),
:mod:`~bcelab.kernels.fused` (the numba kernels), :mod:`~bcelab.kernels.driver`
(chunks and threads), :mod:`~bcelab.kernels.dispatch` (eligibility),
:mod:`~bcelab.kernels.api` (``fused_bce``).
"""

from __future__ import annotations

from .api import FusedResult, fused_bce
from .dispatch import MIN_SIZE, available, set_enabled, try_fused, try_fused_grad

__all__ = [
    "MIN_SIZE",
    "FusedResult",
    "available",
    "fused_bce",
    "set_enabled",
    "try_fused",
    "try_fused_grad",
]
