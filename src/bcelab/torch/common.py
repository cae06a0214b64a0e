"""What the PyTorch adapter's modules share: bcelab's errors naming PyTorch, input checks."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch

from .._core.adapters import call_as
from .._core.arrays import is_traced, namespace_of
from .._core.prepare import prepare
from .._core.validate import describe_outside
from ..errors import DomainError, DTypeError, OptionError

__all__ = [
    "FRAMEWORK",
    "call_core",
    "check_inputs",
    "check_tensors",
    "check_weight",
    "check_weight_values",
    "out_dtype",
    "pos_weight_number",
]

FRAMEWORK = "PyTorch"


#: each probabilities class -> its logits twin (the advice for probabilities outside [0, 1])
_LOGITS_CLASSES = {
    "BCELoss": "BCEWithLogitsLoss",
    "FocalLoss": "FocalWithLogitsLoss",
    "BinaryKLLoss": "BinaryKLWithLogitsLoss",
}


#: the core's argument names -> a loss module's, as in ``torch.nn.BCELoss(weight)(input, target)``
_LOSS_NAMES = {"preds": "input", "logits": "input", "targets": "target", "weights": "weight"}
#: -> the metric's, as in ``StreamingBinaryMetrics.update(preds, target, weight)``
_METRIC_NAMES = {"StreamingBinaryMetrics": {"targets": "target", "weights": "weight"}}


def call_core(where: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; a bcelab error is re-raised naming ``where`` and PyTorch,
    a loss module's arguments as torch names them (``input``, ``target``, ``weight``; the
    metric's ``target`` and ``weight``), and
    a tensor's cast (``x.float()``) where the core shows NumPy's ``x.astype(float32)``."""
    cls = where.rsplit(".", 1)[-1]
    twin = _LOGITS_CLASSES.get(cls)
    hint = None if twin is None else f"use bcelab.torch.{twin} instead"
    names = _LOSS_NAMES if cls.endswith("Loss") else _METRIC_NAMES.get(cls)
    return call_as(
        where, FRAMEWORK, fn, *args, logits_hint=hint, names=names, cast="{}.float()", **kwargs
    )


def check_tensors(where: str, /, **tensors: object) -> None:
    """Every argument that is not ``None`` must be a ``torch.Tensor``; the error names it
    as the caller passed it (``weight=[1.0, 2.0]``: ``weight``)."""
    for name, t in tensors.items():
        if t is not None and not isinstance(t, torch.Tensor):
            shown = repr(t) if len(repr(t)) <= 60 else type(t).__name__
            raise DTypeError(
                f"{where} ({FRAMEWORK}): {name} must be a torch tensor",
                f"received {name}={shown} ({type(t).__name__})",
                f"wrap it with torch.as_tensor({name})",
            )


def check_weight(where: str, weight: object) -> None:
    """A loss's ``weight``: None or a tensor.  A string is a reduction passed by position:
    the first positional argument is ``weight``, as in ``torch.nn.BCELoss``."""
    if isinstance(weight, str):
        cls = where.rsplit(".", 1)[-1]
        raise DTypeError(
            f"{where} ({FRAMEWORK}): weight, the first positional argument of {cls} (as in "
            "torch.nn.BCELoss), must be None or a torch tensor",
            f"received the string {weight!r} in its place",
            f"pass the reduction by keyword, {cls}(reduction={weight!r}), as torch.nn.BCELoss "
            "needs too (its reduction is the fourth positional argument)",
        )
    check_tensors(where, weight=weight)


def check_weight_values(where: str, name: str, w: torch.Tensor, input: torch.Tensor) -> None:
    """``weight`` (or ``pos_weight``) finite and >= 0, described as the caller passed it,
    before it is broadcast to the input's shape (the core checks the broadcast one, which
    repeats each bad value)."""
    if w.device.type == "meta" or is_traced(w) or is_traced(input):
        return  # no values: the core refuses meta tensors, and checks nothing when traced
    bad = ~(w >= 0) | torch.isinf(w)
    if bool(bad.any()):
        raise DomainError(
            f"{where} ({FRAMEWORK}): {name} must be finite and >= 0",
            f"received {name} of shape {tuple(w.shape)}: "
            + describe_outside(namespace_of(w), w, bad, "negative, infinite or NaN"),
            f"fix those values of {name} (each multiplies the loss of the elements it "
            "broadcasts to)",
        )


def out_dtype(x: torch.Tensor) -> torch.dtype:
    """The losses' output dtype: float64 for float64 inputs, else float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def check_inputs(preds: torch.Tensor, targets: torch.Tensor, *, logits: bool) -> None:
    """Run bcelab's shape, dtype and value checks eagerly (e.g. before a compiled step).

    ``preds`` are logits (``logits=True``, for :class:`BCEWithLogitsLoss`) or
    probabilities (``logits=False``, for :class:`BCELoss`).

    >>> import torch
    >>> check_inputs(torch.zeros(3), torch.tensor([0.0, 1.0, 2.0]), logits=True)
    Traceback (most recent call last):
    ...
    bcelab.errors.DomainError: bcelab.torch.check_inputs (PyTorch): bce_with_logits: targets ...
    """
    where = "bcelab.torch.check_inputs"
    if preds is None or targets is None:
        raise DTypeError(
            f"{where} ({FRAMEWORK}): preds and targets must be torch tensors",
            "received None",
            "pass both tensors",
        )
    check_tensors(where, preds=preds, targets=targets)
    with torch.no_grad():
        call_core(
            where,
            prepare,
            preds.detach(),
            targets.detach(),
            fname="bce_with_logits" if logits else "bce",
            probs=not logits,
            nan_policy="raise",
        )


def pos_weight_number(pos_weight: object, fname: str) -> float | None:
    """A ``pos_weight`` that is not a tensor: None or a real number (a list, say, is an
    error saying to make it a tensor, as ``torch.nn.BCEWithLogitsLoss`` needs)."""
    if pos_weight is None:
        return None
    if isinstance(pos_weight, numbers.Real) and not isinstance(pos_weight, bool):
        return float(pos_weight)
    shown = repr(pos_weight) if len(repr(pos_weight)) <= 60 else type(pos_weight).__name__
    raise OptionError(
        f"{fname}: pos_weight must be None, a number or a tensor",
        f"received pos_weight={shown}",
        "pass a tensor, e.g. pos_weight=torch.tensor([1.0, 2.0, 3.0]) for one weight per "
        "output column",
    )
