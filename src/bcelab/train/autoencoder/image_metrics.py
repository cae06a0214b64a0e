"""Reconstruction metrics of an autoencoder: BCE = floor + excess, MSE and PSNR, per epoch.

This module streams a data set through a model in batches and combines per-batch
float64 sums into data-set means, so no prediction is kept beyond its batch.  The floor
comes from :func:`bcelab.binary_entropy`, once per image set (:func:`prepare_images`);
each epoch adds up the BCE and the squared error of every pixel in float64 and takes the
excess as BCE minus floor (:func:`_fast_means`), unless that subtraction would lose
digits, the pixels were not checked or the model is not on the CPU: then the per-element
KL of :func:`bcelab.decompose` is summed.  The per-pixel map comes from
:func:`bcelab.binary_kl`.  For pixels :math:`y` and logits :math:`z`:

.. math::

    \\underbrace{\\overline{\\mathrm{BCE}(y, \\sigma(z))}}_{\\text{bce}}
    = \\underbrace{\\overline{H(y)}}_{\\text{floor}}
    + \\underbrace{\\overline{\\mathrm{KL}(y \\,\\|\\, \\sigma(z))}}_{\\text{excess}},
    \\qquad \\mathrm{PSNR} = 10 \\log_{10} \\frac{1}{\\mathrm{MSE}}

(pixels lie in [0, 1], so the peak signal is 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...information import binary_entropy, binary_kl, decompose
from ...losses import sigmoid

if TYPE_CHECKING:
    import torch  # optional dependency (bcelab[train])

__all__ = [
    "BATCH_PIXELS",
    "METRIC_NAMES",
    "ImageMetrics",
    "PreparedImages",
    "default_batch",
    "evaluate_images",
    "mse_metric",
    "prepare_images",
    "psnr",
]

#: The per-split metrics reported every epoch, in the order they are printed and stored.
METRIC_NAMES = ("bce", "floor", "excess", "excess_fraction", "mse", "psnr")


def psnr(mse: float, /) -> float:
    """Peak signal-to-noise ratio in dB for pixels in [0, 1]: ``10 log10(1 / mse)``.

    >>> psnr(0.01)
    20.0
    """
    return math.inf if mse <= 0.0 else -10.0 * math.log10(mse)


def mse_metric(logits: torch.Tensor, targets: torch.Tensor, /) -> np.ndarray:
    """Per-seed mean squared error of ``sigmoid(logits)``: a ``metrics=`` entry for
    :func:`bcelab.train.fit` (logits and targets of shape ``(S, n, ...)``, result ``(S,)``).
    """
    import torch  # optional dependency (bcelab[train])

    err = (sigmoid(logits).to(torch.float64) - targets.to(torch.float64)) ** 2
    return err.reshape(err.shape[0], -1).mean(dim=1).cpu().numpy()


@dataclass(frozen=True)
class ImageMetrics:
    """Means over every pixel of a data set; ``bce == floor + excess`` to rounding."""

    bce: float
    floor: float
    excess: float
    mse: float
    count: int

    @property
    def excess_fraction(self) -> float:
        """The share of the BCE that a better reconstruction could still remove."""
        return self.excess / self.bce if self.bce > 0 else 0.0

    @property
    def psnr(self) -> float:
        return psnr(self.mse)

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in METRIC_NAMES}

    def __str__(self) -> str:
        return (
            f"BCE {self.bce:.4f} = floor {self.floor:.4f} + excess {self.excess:.4f} "
            "(the part training can still reduce)"
        )


#: pixels per evaluation batch: 2 MB per float64 temporary, whole splits of small images
BATCH_PIXELS = 2**18


def default_batch(images: torch.Tensor, /) -> int:
    """Images per evaluation batch: :data:`BATCH_PIXELS` pixels' worth, at least one image."""
    return max(1, BATCH_PIXELS // max(1, math.prod(images.shape[1:])))


@dataclass(frozen=True)
class PreparedImages:
    """An image set to evaluate every epoch, with what does not change between epochs.

    ``floor`` is the mean binary entropy of the pixels (it belongs to the images, not
    to the model); ``checked`` says that the pixels are finite, in [0, 1] and on the
    CPU, so that :func:`evaluate_images` may take its fast sums.
    """

    images: torch.Tensor
    floor: float
    checked: bool
    #: float64 work arrays of the fast sums, kept from one epoch to the next: fresh
    #: arrays of this size cost page faults every epoch that the arithmetic does not
    scratch: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)


def prepare_images(images: torch.Tensor, /, *, batch_size: int | None = None) -> PreparedImages:
    """``images`` (N, C, H, W) with their floor, computed once (in batches of ``batch_size``
    images, by default :func:`default_batch`).

    Pixels that are not checked (not finite and in [0, 1], or not on the CPU) get no
    floor here (NaN): :func:`evaluate_images` then takes :func:`bcelab.decompose`, which
    computes it, or raises its error.
    """
    import torch  # optional dependency (bcelab[train])

    checked = (
        images.device.type == "cpu"
        and images.dtype in (torch.float32, torch.float64)
        and bool(((images >= 0) & (images <= 1)).all())  # NaN fails both
    )
    if not checked:
        return PreparedImages(images, math.nan, False)
    total = 0.0
    step = batch_size or default_batch(images)
    for start in range(0, images.shape[0], step):
        total += float(binary_entropy(images[start : start + step], reduction="sum"))
    return PreparedImages(images, total / images.numel(), True)


def evaluate_images(
    model: torch.nn.Module,
    images: torch.Tensor | PreparedImages,
    /,
    *,
    batch_size: int | None = None,
    per_pixel: bool = False,
) -> tuple[ImageMetrics, np.ndarray | None]:
    """Stream ``images`` (N, C, H, W) through ``model`` and return the data-set means.

    ``images`` may be prepared once (:func:`prepare_images`), as the trainer does for
    the evaluation of every epoch.  ``batch_size`` images go through the model at a
    time (default :func:`default_batch`).  With ``per_pixel=True`` also returns the mean KL of
    each pixel position over the data set, shape ``(C, H, W)``: the map of where the
    reconstruction loses information.  The model is put in eval mode and restored
    afterwards; no gradient is recorded.
    """
    import torch  # optional dependency (bcelab[train])

    prepared = images if isinstance(images, PreparedImages) else prepare_images(images)
    batch_size = batch_size or default_batch(prepared.images)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            metrics = _fast_means(model, prepared, batch_size) if prepared.checked else None
            if metrics is None:
                metrics = _reference_means(model, prepared.images, batch_size)
            kl_map = _kl_map(model, prepared.images, batch_size) if per_pixel else None
    finally:
        model.train(was_training)
    return metrics, kl_map


#: the fast excess (BCE minus floor) is used while it keeps at least 33 of float64's
#: 53 bits; below that share of the BCE, the per-element KL of the core is summed
_MIN_EXCESS_SHARE = 2.0**-20


def _fast_means(model: Any, prepared: PreparedImages, batch_size: int) -> ImageMetrics | None:
    """BCE, excess and MSE from two float64 sums per batch, or None (non-finite logits, or
    an excess so small against the BCE that subtracting the floor would lose digits).

    With ``e = exp(-|x|)``, ``t = log1p(e)`` and ``m = max(x, 0)``, the BCE of a pixel is
    ``t + y (m - x) + (1 - y) m``: three non-negative terms, summed without cancellation.
    The excess is the mean BCE minus the floor, exact to about ``1e-16 * BCE``.  The
    reconstruction ``sigmoid(x) = max(e, [x >= 0]) / (1 + e)`` (float64, rounded to the
    logits' dtype as :func:`bcelab.sigmoid` returns it) gives the squared error.
    """
    import torch  # optional dependency (bcelab[train])

    images = prepared.images
    bce_sum = sq_sum = 0.0
    for start in range(0, images.shape[0], batch_size):
        xb = images[start : start + batch_size]
        logits = model(xb)
        if logits.dtype not in (torch.float32, torch.float64) or logits.shape != xb.shape:
            return None  # the reference path takes it (and raises for a wrong shape)
        z = logits.numpy().reshape(-1)
        x, y, m, e, t, p, pos = _work_arrays(prepared.scratch, z.size, z.dtype)
        np.copyto(x, z)
        np.copyto(y, xb.numpy().reshape(-1))
        np.exp(np.negative(np.abs(x, out=e), out=e), out=e)
        bce_sum += float(np.log1p(e, out=t).sum())
        # sigmoid(x) = max(e, [x >= 0]) / (1 + e), rounded to the logits' dtype as
        # bcelab.sigmoid returns it; then the squared error
        np.fmax(e, np.greater_equal(x, 0.0, out=pos), out=t)
        np.divide(t, np.add(e, 1.0, out=e), out=t)
        np.copyto(p, t)
        np.copyto(t, p)
        d = torch.from_numpy(np.subtract(t, y, out=t))
        sq_sum += float(torch.dot(d, d))
        # the rest of the BCE: (1 - y) max(x, 0) + y (max(x, 0) - x)
        mt = torch.from_numpy(np.maximum(x, 0.0, out=m))
        bce_sum += float(torch.dot(torch.from_numpy(np.subtract(1.0, y, out=e)), mt))
        bce_sum += float(torch.dot(torch.from_numpy(y), torch.from_numpy(np.subtract(m, x, out=x))))
    count = images.numel()
    bce, floor = bce_sum / count, prepared.floor
    if not (math.isfinite(bce) and bce - floor >= _MIN_EXCESS_SHARE * bce):
        return None
    return ImageMetrics(bce, floor, bce - floor, sq_sum / count, count)


def _work_arrays(scratch: dict[str, np.ndarray], n: int, dtype: Any) -> tuple[np.ndarray, ...]:
    """Five float64 arrays, one of ``dtype`` and one of bool, each of ``n`` elements, from
    ``scratch`` (made again when a batch is larger than any before)."""
    names = ("x", "y", "m", "e", "t")
    if scratch.get("x", np.empty(0)).size < n or scratch["p"].dtype != dtype:
        scratch.update({k: np.empty(n, dtype=np.float64) for k in names})
        scratch["p"] = np.empty(n, dtype=dtype)
        scratch["pos"] = np.empty(n, dtype=np.bool_)
    return tuple(scratch[k][:n] for k in (*names, "p", "pos"))


def _reference_means(model: Any, images: torch.Tensor, batch_size: int) -> ImageMetrics:
    """The means from :func:`bcelab.decompose` per batch (the core's per-element KL)."""
    import torch  # optional dependency (bcelab[train])

    sums = np.zeros(4, dtype=np.float64)  # bce, floor, excess, squared error
    count = 0
    for start in range(0, images.shape[0], batch_size):
        xb = images[start : start + batch_size]
        logits = model(xb)
        d = decompose(logits, xb, logits=True)
        sq = torch.sum((sigmoid(logits).to(torch.float64) - xb.to(torch.float64)) ** 2)
        sums += (d.bce * d.count, d.floor * d.count, d.excess * d.count, float(sq))
        count += d.count
    bce, floor, excess, sq_err = (float(s) / count for s in sums)
    return ImageMetrics(bce, floor, excess, sq_err, count)


def _kl_map(model: Any, images: torch.Tensor, batch_size: int) -> np.ndarray:
    """The mean KL of each pixel position over the images, shape ``(C, H, W)``."""
    import torch  # optional dependency (bcelab[train])

    kl_map = np.zeros(images.shape[1:], dtype=np.float64)
    for start in range(0, images.shape[0], batch_size):
        xb = images[start : start + batch_size]
        kl = binary_kl(model(xb), xb, logits=True)
        kl_map += torch.sum(kl.to(torch.float64), dim=0).cpu().numpy()
    return kl_map / images.shape[0]
