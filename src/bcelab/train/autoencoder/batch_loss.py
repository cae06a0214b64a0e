r"""The autoencoder's per-step BCE: :func:`bcelab.bce_with_logits`'s value and gradient, cheaply.

For finite logits :math:`x` (float32 or float64, on the CPU) and targets :math:`y`,
``bce_with_logits(x, y, reduction="mean")`` on torch tensors evaluates, in float64,

.. math::

    t = \operatorname{log1p}(e^{\min(x, 0) - \max(x, 0)}), \quad
    a = t - \min(x, 0), \quad b = t + \max(x, 0), \quad
    L = \frac{1}{N} \sum \bigl(y\, a + (1 - y)\, b\bigr)

(:func:`bcelab._core.formulas.neglog_terms_logits` with ``guard=False`` and
:func:`~bcelab._core.formulas.cross_entropy`), and autograd differentiates these
operations one at a time, then rounds the float64 gradient to the logits' dtype.
:func:`mean_bce_and_grad` gives the same numbers without the input checks and without an
autograd graph for the loss.  The caller passes the gradient on with
``logits.backward(grad)``.

* With numba installed (``bcelab[fast]``), one call of the fused kernel
  (:func:`bcelab.kernels.fused_bce`) computes the float64 mean and the float64 gradient,
  rounded once to the logits' dtype: the value agrees with the reference path to float64
  rounding (a few ulps), the gradient to one rounding of the logits' dtype (almost always
  the same bits), at about a third of the reference path's cost per step.
* Without it, NumPy and torch repeat the reference path's operations: ``exp``, ``log1p``
  and the sum with torch (whose float64 ``exp`` and ``log1p`` are not NumPy's bit for
  bit), every other step with NumPy, whose separate element-wise IEEE operations round
  exactly as torch's do; the gradient repeats autograd's float64 backward steps in
  autograd's order.  The value and the gradient are then the same bits as the reference
  path (``tests/train`` checks both ways).

It returns ``None`` (the caller then takes :func:`bcelab.bce_with_logits`, which checks
the inputs and raises its documented errors) for non-finite logits or losses, other
dtypes or devices.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ...kernels import available, fused_bce

if TYPE_CHECKING:
    import torch  # optional dependency (bcelab[train])

__all__ = ["mean_bce_and_grad"]


def _grad_values(
    x: np.ndarray, e: np.ndarray, y: np.ndarray, omy: np.ndarray, g: float
) -> np.ndarray:
    """autograd's float64 gradient in ``x`` of ``L = sum(y a + (1 - y) b) / N``, ``g = 1 / N``.

    Step by step: ``g`` reaches ``a`` as ``g y`` and ``b`` as ``g (1 - y)``; ``t`` collects
    both, ``log1p`` divides by ``e + 1`` and ``exp`` multiplies by ``e``; ``min(x, 0)``
    collects ``-g y`` and that, ``max(x, 0)`` collects ``g (1 - y)`` and minus that.  Both
    are selected with ``where`` on ``x >= 0``, so x receives one of the two (the max's
    at x = 0) and ``+0.0`` from the other, which autograd adds: that changes nothing
    here, as with ``g > 0`` and ``0 <= y <= 1`` no partial sum is ``-0.0``.
    """
    ga = y * g
    gb = omy * g
    gd = (ga + gb) / (e + 1.0) * e
    return np.where(x < 0.0, gd - ga, gb - gd)


def _kernel_pair(z: np.ndarray, y: np.ndarray, threads: int) -> tuple[float, torch.Tensor] | None:
    """The fused kernel's float64 mean and gradient (``z``, ``y``: contiguous, one dtype)."""
    import torch  # optional dependency (bcelab[train])

    g = np.empty_like(z)
    # NaN logits take the reference path, whose NaN mean sends the caller to the checks
    res = fused_bce(z, y, logits=True, grad_out=g, nan_policy="propagate", threads=threads)
    if not math.isfinite(res.value):
        return None
    return res.value, torch.from_numpy(g)


def mean_bce_and_grad(
    logits: torch.Tensor, targets: torch.Tensor, /
) -> tuple[float, torch.Tensor] | None:
    """``bce_with_logits(logits, targets, reduction="mean")`` and its gradient in ``logits``
    (the logits' dtype), as the reference path and autograd give them (the same bits
    without numba, to rounding with it: see the module docstring), or ``None`` where this
    path does not apply.

    ``targets`` must be checked already: values in [0, 1].
    """
    import torch  # optional dependency (bcelab[train])

    floats = (torch.float32, torch.float64)
    if (
        logits.device.type != "cpu"
        or targets.device.type != "cpu"
        or logits.dtype not in floats
        or targets.dtype not in floats
        or targets.shape != logits.shape
        or not (logits.is_contiguous() and targets.is_contiguous())
        or logits.numel() == 0
    ):
        return None
    z = logits.detach().numpy()
    if logits.dtype == targets.dtype and available():
        return _kernel_pair(z, targets.detach().numpy(), torch.get_num_threads())
    x = z.astype(np.float64)
    y = targets.detach().numpy().astype(np.float64)
    omy = 1.0 - y
    s = np.abs(x)
    if not s.max() < math.inf:  # NaN or infinite logits: the reference path handles them
        return None
    e = torch.exp(torch.from_numpy(np.negative(s, out=s)))  # -|x| = min(x, 0) - max(x, 0)
    t = torch.log1p(e).numpy()
    mx = np.maximum(x, 0.0)
    ce = y * (t - (x - mx)) + omy * (t + mx)  # x - max(x, 0) = min(x, 0), exactly
    n = float(ce.size)
    value = float(torch.sum(torch.from_numpy(ce))) / n
    if not math.isfinite(value):
        return None
    grad = _grad_values(x, e.numpy(), y, omy, 1.0 / n)
    return value, torch.from_numpy(grad.astype(z.dtype, copy=False))
