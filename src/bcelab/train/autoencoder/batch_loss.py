r"""The autoencoder's per-step BCE: :func:`bcelab.bce_with_logits`'s value and gradient, bit for bit.

For finite logits :math:`x` (float32 or float64, on the CPU) and targets :math:`y`,
``bce_with_logits(x, y, reduction="mean")`` on torch tensors evaluates, in float64,

.. math::

    t = \operatorname{log1p}(e^{\min(x, 0) - \max(x, 0)}), \quad
    a = t - \min(x, 0), \quad b = t + \max(x, 0), \quad
    L = \frac{1}{N} \sum \bigl(y\, a + (1 - y)\, b\bigr)

(:func:`bcelab._core.formulas.neglog_terms_logits` with ``guard=False`` and
:func:`~bcelab._core.formulas.cross_entropy`), and autograd differentiates these
operations one at a time, then rounds the float64 gradient to the logits' dtype.
:func:`mean_bce_with_logits` performs the same operations: ``exp``, ``log1p`` and the sum
with torch (whose float64 ``exp`` and ``log1p`` are not NumPy's bit for bit), every
other step with NumPy, whose separate element-wise IEEE operations round exactly as
torch's do; its backward repeats autograd's float64 steps in autograd's order.  The
value and the gradient are therefore the same bits (``tests/train`` compares them), at a
fifth of the cost: without the input checks, and with NumPy's cheaper calls for the
arithmetic, on the few thousand pixels of a batch.

It returns ``None`` (the caller then takes :func:`bcelab.bce_with_logits`, which checks
the inputs and raises its documented errors) for non-finite logits, other dtypes or
devices.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch  # optional dependency (bcelab[train])

__all__ = ["mean_bce_with_logits"]

_FUNCTION: list[Any] = []  # the autograd.Function, defined on first use (torch is optional)


def _backward_values(saved: tuple[Any, ...], grad: float) -> np.ndarray:
    """autograd's float64 gradient of the mean BCE in ``x``, scaled by ``grad``.

    The backward of ``L = sum(y a + (1 - y) b) / N`` step by step: ``g = grad / N``
    reaches ``a`` as ``g y`` and ``b`` as ``g (1 - y)``; ``t`` collects both, ``log1p``
    divides by ``e + 1`` and ``exp`` multiplies by ``e``; ``min(x, 0)`` collects
    ``-g y`` and that, ``max(x, 0)`` collects ``g (1 - y)`` and minus that.  At ``x = 0``
    torch's minimum and maximum each pass half; elsewhere the other one passes ``+0.0``,
    which is added (it turns a ``-0.0`` into ``+0.0``, as the accumulation does).
    """
    x, e, y, omy, n = saved
    g = grad / n
    ga = y * g
    gb = omy * g
    gd = (ga + gb) / (e + 1.0) * e
    g_min = gd - ga
    g_max = gb - gd
    out = np.where(x < 0.0, g_min, g_max) + 0.0
    ties = x == 0.0
    if ties.any():
        out[ties] = (g_min / 2.0 + g_max / 2.0)[ties]
    return out


def _function() -> Any:
    if _FUNCTION:
        return _FUNCTION[0]
    import torch  # optional dependency (bcelab[train])

    class MeanBCEWithLogits(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            x = logits.detach().numpy().astype(np.float64)
            y = targets.detach().numpy().astype(np.float64)
            omy = 1.0 - y
            e = torch.exp(torch.from_numpy(-np.abs(x)))  # -|x| is min(x, 0) - max(x, 0)
            t = torch.log1p(e).numpy()
            ce = y * (t - np.minimum(x, 0.0)) + omy * (t + np.maximum(x, 0.0))
            total = torch.sum(torch.from_numpy(ce))
            ctx.saved = (x, e.numpy(), y, omy, float(ce.size))
            ctx.dtype = logits.dtype
            return total / float(ce.size)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
            g = _backward_values(ctx.saved, float(grad))
            if ctx.dtype == torch.float32:  # autograd rounds to the logits' dtype last
                g = g.astype(np.float32)
            return torch.from_numpy(g), None

    _FUNCTION.append(MeanBCEWithLogits)
    return MeanBCEWithLogits


def mean_bce_with_logits(logits: torch.Tensor, targets: torch.Tensor, /) -> torch.Tensor | None:
    """``bce_with_logits(logits, targets, reduction="mean")``, the same bits in value and
    gradient, or ``None`` where the fast path does not apply (see the module docstring).

    ``targets`` must be checked already (values in [0, 1], the logits' shape).
    """
    import torch  # optional dependency (bcelab[train])

    floats = (torch.float32, torch.float64)
    if (
        logits.device.type != "cpu"
        or targets.device.type != "cpu"
        or logits.dtype not in floats
        or targets.dtype not in floats
        or targets.shape != logits.shape
        or not logits.is_contiguous()
        or logits.numel() == 0
    ):
        return None
    value = _function().apply(logits, targets)
    return value if math.isfinite(float(value.detach())) else None
