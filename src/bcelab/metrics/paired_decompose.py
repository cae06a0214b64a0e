r"""Log loss = uncertainty - discrimination + miscalibration, from histogram bins (PAV).

For bins in increasing :math:`p` with positive and negative weights :math:`P_b, N_b`
(soft labels count :math:`w y` and :math:`w (1 - y)`), :math:`W = \sum_b P_b + N_b`
and :math:`\bar y = \sum_b P_b / W`:

.. math::

    \mathrm{UNC} = H(\bar y), \qquad
    \mathrm{LL}_{\mathrm{iso}} = \frac{1}{W} \sum_{B} (P_B + N_B)\, H\!\Bigl(\frac{P_B}{P_B + N_B}\Bigr),

    \mathrm{MCB} = \mathrm{LL} - \mathrm{LL}_{\mathrm{iso}}, \qquad
    \mathrm{DSC} = \mathrm{UNC} - \mathrm{LL}_{\mathrm{iso}},

where the blocks :math:`B` are those of the pool-adjacent-violators fit of the bins'
positive rates (Dimitriadis, Gneiting & Jordan 2021, "CORP"): the isotonic
recalibration, constant within a bin.  ``LL = UNC - DSC + MCB`` holds by construction.
Treating each bin as one score can only lose resolution, so ``MCB`` here is at most
the exact in-memory isotonic value.

:func:`decompose_bins` is this module's one entry point, so that another
implementation of the same decomposition can replace it in one place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels import bootstrap_reference

__all__ = ["decompose_bins", "entropy"]


def entropy(q: np.ndarray | float) -> np.ndarray:
    """Binary entropy in nats, with ``0 log 0 = 0``."""
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(q > 0, -q * np.log(np.where(q > 0, q, 1.0)), 0.0)
        b = np.where(q < 1, -(1 - q) * np.log1p(-np.where(q < 1, q, 0.0)), 0.0)
    return np.asarray(a + b)


def _pav(kernel: Any) -> Any:
    return bootstrap_reference.pav_blocks if kernel is None else kernel.pav_blocks


def decompose_bins(
    pos: np.ndarray, neg: np.ndarray, log_loss: float, *, kernel: Any = None
) -> tuple[float, float, float]:
    """``(uncertainty, discrimination, miscalibration)`` of one model's bins (see above).

    ``kernel`` is :mod:`bcelab.kernels.bootstrap` (numba PAV) or None (the Python PAV);
    both merge the same blocks in the same order.
    """
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    neg = np.ascontiguousarray(neg, dtype=np.float64)
    total = float(pos.sum() + neg.sum())
    if total <= 0 or not math.isfinite(log_loss):
        return math.nan, math.nan, math.nan
    bp = np.empty_like(pos)
    bn = np.empty_like(neg)
    nb = int(_pav(kernel)(pos, neg, bp, bn))
    bw = bp[:nb] + bn[:nb]
    iso = float(np.sum(bw * entropy(bp[:nb] / bw))) / total
    unc = float(entropy(float(pos.sum()) / total))
    return unc, unc - iso, log_loss - iso
