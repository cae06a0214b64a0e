"""PyTorch adapter: bcelab's losses as ``nn.Module`` objects and a distributed metric.

The two BCE losses are drop-ins for torch's, with torch's names, arguments and input
kinds; bcelab's options are keyword-only extras:

======================================  ==============================================
bcelab.torch class                      torch class it replaces
======================================  ==============================================
:class:`BCELoss` (probabilities)        ``torch.nn.BCELoss``
:class:`BCEWithLogitsLoss` (logits)     ``torch.nn.BCEWithLogitsLoss``
:class:`BinaryKLLoss`,                  none: BCE minus its floor H(y), 0 at a
:class:`BinaryKLWithLogitsLoss`         perfect fit
:class:`FocalLoss`,                     none in ``torch.nn``; cf.
:class:`FocalWithLogitsLoss`            ``torchvision.ops.sigmoid_focal_loss``
:class:`StreamingBinaryMetrics`         none: a stateful metric (``update``/``compute``)
======================================  ==============================================

Every loss calls one core function (:mod:`bcelab.torch.losses`); in eager mode on the CPU
the BCE losses run the core's fused kernel inside a ``torch.autograd.Function``
(:mod:`bcelab.torch.autograd`), and under ``torch.compile`` as a custom op
(:mod:`bcelab.torch.compiled`): loss and gradient in one pass, the same numbers.
CUDA, autocast half inputs, ``torch.func``, ``reduction="none"``, tensor ``pos_weight``
and the other cases :func:`bcelab.torch.autograd.ineligible` lists run the generic path.

Value checks need concrete values: under ``torch.compile``, ``torch.func.vmap`` and
``torch.func.grad`` the core skips them (:func:`bcelab._core.arrays.is_traced`); shape and
dtype checks still run.  Call the module once eagerly, or :func:`check_inputs`, to get
the value checks.

>>> import torch
>>> loss = BCEWithLogitsLoss()
>>> round(float(loss(torch.tensor([0.0, float("inf")]), torch.tensor([1.0, 1.0]))), 6)
0.346574
>>> round(float(BCELoss()(torch.tensor([0.5, 1.0]), torch.tensor([1.0, 1.0]))), 6)
0.346574
"""

from __future__ import annotations

from .._core.extras import missing_dependency

try:
    import torch  # noqa: F401  (optional dependency: the train extra)
except ImportError as _missing:
    raise missing_dependency(_missing, "bcelab.torch") or _missing from None

from .common import check_inputs
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryKLLoss,
    BinaryKLWithLogitsLoss,
    FocalLoss,
    FocalWithLogitsLoss,
)
from .metric import StreamingBinaryMetrics

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "BinaryKLLoss",
    "BinaryKLWithLogitsLoss",
    "FocalLoss",
    "FocalWithLogitsLoss",
    "StreamingBinaryMetrics",
    "check_inputs",
]
