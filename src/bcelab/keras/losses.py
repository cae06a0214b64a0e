"""The Keras loss classes of :mod:`bcelab.keras`: ``BinaryCrossentropy``, ``BinaryKLDivergence``.

They subclass ``keras.losses.Loss``, which exists only once Keras is imported (after
``KERAS_BACKEND`` is chosen), so each class is made by a factory that
:mod:`bcelab.keras` calls on first use; the work is done by the module-level functions,
which call the core with the prediction first.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._core.options import check_clip, check_unit_interval
from ..information import binary_kl
from ..losses import bce, bce_with_logits
from .common import (
    FRAMEWORK,
    KERAS_REDUCTIONS,
    broadcast_weights,
    call_core,
    check_backend,
    check_last_axis,
    check_outputs_axis,
    eager_check,
    keras_mask,
    keras_module,
    same_rank,
    set_keras_mask,
)

__all__ = ["build_losses"]


def crossentropy(loss: Any, y_pred: Any, y_true: Any) -> Any:
    """The element-wise BCE of a ``BinaryCrossentropy`` (Keras reduces it)."""
    check_backend(loss.where)
    y_pred, y_true = same_rank(y_pred, y_true)
    pw = pos_weight_tensor(loss.pos_weight, y_pred)
    if loss.from_logits:
        return call_core(
            loss.where,
            bce_with_logits,
            y_pred,
            y_true,
            pos_weight=pw,
            label_smoothing=loss.label_smoothing,
        )
    return call_core(
        loss.where,
        bce,
        y_pred,
        y_true,
        pos_weight=pw,
        clip=loss.clip,
        label_smoothing=loss.label_smoothing,
    )


def pos_weight_tensor(pos_weight: Any, y_pred: Any) -> Any:
    """``pos_weight`` for the core: a number as it is, an array as a tensor of ``y_pred``'s
    backend and dtype (a NumPy array, a list from a saved config, a tensor)."""
    if pos_weight is None or isinstance(pos_weight, (int, float)):
        return pos_weight
    return keras_module().ops.convert_to_tensor(pos_weight, dtype=y_pred.dtype)


def pos_weight_config(pos_weight: Any) -> float | list[Any] | None:
    """``pos_weight`` as a config value: a float for a number (or a 0-d array), nested
    lists of floats for an array, ``None`` for none (JSON, as ``model.save`` writes it)."""
    if pos_weight is None:
        return None
    if isinstance(pos_weight, numbers.Real):
        return float(pos_weight)
    arr = np.asarray(keras_module().ops.convert_to_numpy(pos_weight), dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr.tolist()


def fused_crossentropy(loss: Any, y_pred: Any, y_true: Any, sw: Any) -> Any:
    """The reduced loss from the fused kernel (eager torch on the CPU), or ``None``.

    Keras's ``"sum_over_batch_size"`` (and ``"mean"``) is sum / number of elements, with
    sample weights too: the core's ``"mean"``; ``"sum"`` is ``"sum"``.  Other reductions
    (``None``, ``"mean_with_sample_weight"``, whose total weight 0 gives 0 in Keras) take
    the element-wise path.
    """
    reduction = KERAS_REDUCTIONS.get(loss.reduction)
    if reduction is None:
        return None
    from ..torch.autograd import fused_loss  # optional dependency: the torch backend only

    return call_core(
        loss.where,
        fused_loss,
        y_pred,
        y_true,
        None if sw is None else sw.contiguous(),
        logits=loss.from_logits,
        pos_weight=pos_weight_tensor(loss.pos_weight, y_pred),
        label_smoothing=loss.label_smoothing,
        reduction=reduction,
        clip=loss.clip,
    )


def neutral_where_left_out(ops: Any, y_pred: Any, y_true: Any, sw: Any, keep: Any) -> Any:
    """``(y_pred, y_true)`` with 0.5 for both in every element of weight 0 or masked out;
    with a mask, the new ``y_pred`` carries it as its Keras mask.

    ``sw`` and ``keep`` (the Keras mask) have one value per element of ``y_pred``
    (:func:`broadcast_weights`).  Keras multiplies each element's loss by its weight and
    mask: an infinite loss (p = 1 with y = 0) of weight 0 would make the whole loss NaN,
    and its derivative NaN even where the loss is finite.  0.5 is a valid probability,
    logit and target: a finite loss and derivative, times 0.  The mask is given to a new
    tensor (never to the caller's), element-wise: Keras multiplies the loss that ``call``
    returns, one value per element, by it.
    """
    # other shapes are left to the checks that follow (with their error message)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        return y_pred, y_true
    left_out = None if sw is None else (sw == 0)
    if keep is not None:
        left_out = ~keep if left_out is None else (left_out | ~keep)
    if left_out is None:
        return y_pred, y_true
    safe = ops.where(left_out, 0.5, y_pred)
    if keep is not None:
        set_keras_mask(safe, keep)  # read by keras.losses.Loss.__call__
    return safe, ops.where(left_out, 0.5, y_true)


def loss_base(keras: Any) -> Any:
    """The base of bcelab's Keras losses: options, Keras's rank rule, checks, fused path."""

    class Loss(keras.losses.Loss):
        ops = keras.ops

        def __init__(
            self,
            *,
            from_logits: bool,
            label_smoothing: float,
            axis: int,
            reduction: Any,
            name: str,
            dtype: Any,
        ) -> None:
            super().__init__(name=name, reduction=reduction, dtype=dtype)
            self.from_logits = bool(from_logits)
            self.label_smoothing = check_unit_interval(
                label_smoothing, name="label_smoothing", fname=f"{self.where} ({FRAMEWORK})"
            )
            self.axis = check_outputs_axis(axis, fname=f"{self.where} ({FRAMEWORK})")

        @property
        def where(self) -> str:
            return f"bcelab.keras.{type(self).__name__}"

        def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            mask = keras_mask(y_pred)
            y_pred = self.ops.convert_to_tensor(y_pred, dtype=self.dtype)
            y_true = self.ops.convert_to_tensor(y_true, dtype=self.dtype)
            y_pred, y_true = same_rank(y_pred, y_true)
            check_last_axis(self.axis, len(y_pred.shape), fname=f"{self.where} ({FRAMEWORK})")
            eager_check(y_pred, y_true, from_logits=self.from_logits, where=self.where)
            sw = broadcast_weights(
                sample_weight, y_pred, self.dtype, where=self.where, name="sample_weight"
            )
            keep = broadcast_weights(mask, y_pred, "bool", where=self.where, name="Keras's mask")
            y_pred, y_true = neutral_where_left_out(self.ops, y_pred, y_true, sw, keep)
            out = None
            if keep is None and keras.backend.backend() == "torch":
                out = self.fused(y_pred, y_true, sw)
            if out is None:
                out = super().__call__(y_true, y_pred, sample_weight=sw)
            if self.reduction == "sum" and len(y_pred.shape) >= 2:
                # Keras sums the per-sample means over the last axis: the sum of the
                # elements over that axis's length (a no-op for one output)
                out = out / y_pred.shape[-1]
            return out

        def fused(self, y_pred: Any, y_true: Any, sw: Any) -> Any:
            """The reduced loss from the fused kernel, or ``None`` (the element-wise path)."""
            return None

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing,
                "axis": self.axis,
            }

    return Loss


def binary_crossentropy(base: Any) -> type:
    class BinaryCrossentropy(base):
        r"""Exact binary cross-entropy for Keras 3 (jax, torch and numpy backends).

        .. math::

            \ell(p, y) = -\bigl(w_+\, y \log p + (1 - y) \log(1 - p)\bigr)

        computed by :func:`bcelab.bce` (probabilities, the Keras default) or
        :func:`bcelab.bce_with_logits` (``from_logits=True``).  ``reduction=None`` keeps
        one loss per element; the default ``"sum_over_batch_size"`` is the mean over all
        elements, which equals Keras's value.  bcelab's extras: ``pos_weight`` (a number,
        one weight per label or one per element; saved in the config as a float or as
        nested lists) and ``clip`` (probabilities only).
        """

        def __init__(
            self,
            from_logits: bool = False,
            label_smoothing: float = 0.0,
            axis: int = -1,
            reduction: Any = "sum_over_batch_size",
            name: str = "binary_crossentropy",
            dtype: Any = None,
            *,
            pos_weight: float | None = None,
            clip: float | None = None,
        ) -> None:
            super().__init__(
                from_logits=from_logits,
                label_smoothing=label_smoothing,
                axis=axis,
                reduction=reduction,
                name=name,
                dtype=dtype,
            )
            self.pos_weight = pos_weight
            self.clip = check_clip(clip, fname=f"{self.where} ({FRAMEWORK})")

        def fused(self, y_pred: Any, y_true: Any, sw: Any) -> Any:
            return fused_crossentropy(self, y_pred, y_true, sw)

        def call(self, y_true: Any, y_pred: Any) -> Any:
            return crossentropy(self, y_pred, y_true)

        def get_config(self) -> dict[str, Any]:
            pw = pos_weight_config(self.pos_weight)
            return {**super().get_config(), "pos_weight": pw, "clip": self.clip}

    return BinaryCrossentropy


def binary_kl_divergence(base: Any) -> type:
    class BinaryKLDivergence(base):
        r"""BCE minus its floor, :math:`\mathrm{KL}(y \| p) = \mathrm{BCE}(p, y) - H(y)`.

        Same gradient as :class:`BinaryCrossentropy`; 0 at a perfect fit, also for soft
        targets (autoencoders).  Computed by :func:`bcelab.binary_kl`.
        """

        def __init__(
            self,
            *,
            from_logits: bool = False,
            label_smoothing: float = 0.0,
            axis: int = -1,
            reduction: Any = "sum_over_batch_size",
            name: str = "binary_kl_divergence",
            dtype: Any = None,
        ) -> None:
            super().__init__(
                from_logits=from_logits,
                label_smoothing=label_smoothing,
                axis=axis,
                reduction=reduction,
                name=name,
                dtype=dtype,
            )

        def call(self, y_true: Any, y_pred: Any) -> Any:
            check_backend(self.where)
            y_pred, y_true = same_rank(y_pred, y_true)
            return call_core(
                self.where,
                binary_kl,
                y_pred,
                y_true,
                logits=self.from_logits,
                label_smoothing=self.label_smoothing,
            )

    return BinaryKLDivergence


def build_losses(keras: Any) -> list[type]:
    """The loss classes (Keras must be importable, with its backend chosen)."""
    base = loss_base(keras)
    return [binary_crossentropy(base), binary_kl_divergence(base)]
