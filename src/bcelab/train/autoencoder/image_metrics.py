"""Reconstruction metrics of an autoencoder: BCE = floor + excess, MSE and PSNR, per epoch.

All BCE quantities come from the core (:func:`bcelab.decompose`,
:func:`bcelab.binary_kl`); this module only streams a data set through a model
in batches and combines the per-batch float64 means into data-set means, so no
prediction is kept beyond its batch.  For pixels :math:`y` and logits :math:`z`:

.. math::

    \\underbrace{\\overline{\\mathrm{BCE}(y, \\sigma(z))}}_{\\text{bce}}
    = \\underbrace{\\overline{H(y)}}_{\\text{floor}}
    + \\underbrace{\\overline{\\mathrm{KL}(y \\,\\|\\, \\sigma(z))}}_{\\text{excess}},
    \\qquad \\mathrm{PSNR} = 10 \\log_{10} \\frac{1}{\\mathrm{MSE}}

(pixels lie in [0, 1], so the peak signal is 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...information import binary_kl, decompose
from ...losses import sigmoid

if TYPE_CHECKING:
    import torch  # optional dependency (bcelab[train])

__all__ = ["METRIC_NAMES", "ImageMetrics", "evaluate_images", "mse_metric", "psnr"]

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


def evaluate_images(
    model: torch.nn.Module,
    images: torch.Tensor,
    /,
    *,
    batch_size: int = 1024,
    per_pixel: bool = False,
) -> tuple[ImageMetrics, np.ndarray | None]:
    """Stream ``images`` (N, C, H, W) through ``model`` and return the data-set means.

    With ``per_pixel=True`` also returns the mean KL of each pixel position over the
    data set, shape ``(C, H, W)``: the map of where the reconstruction loses information.
    The model is put in eval mode and restored afterwards; no gradient is recorded.
    """
    import torch  # optional dependency (bcelab[train])

    was_training = model.training
    model.eval()
    sums = np.zeros(4, dtype=np.float64)  # bce, floor, excess, squared error
    count = 0
    kl_map = np.zeros(images.shape[1:], dtype=np.float64) if per_pixel else None
    try:
        with torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                xb = images[start : start + batch_size]
                logits = model(xb)
                d = decompose(logits, xb, logits=True)
                sq = torch.sum((sigmoid(logits).to(torch.float64) - xb.to(torch.float64)) ** 2)
                sums += (d.bce * d.count, d.floor * d.count, d.excess * d.count, float(sq))
                count += d.count
                if kl_map is not None:
                    kl = binary_kl(logits, xb, logits=True)
                    kl_map += torch.sum(kl.to(torch.float64), dim=0).cpu().numpy()
    finally:
        model.train(was_training)
    bce, floor, excess, sq_err = (float(s) / count for s in sums)
    if kl_map is not None:
        kl_map /= images.shape[0]
    return ImageMetrics(bce, floor, excess, sq_err, count), kl_map
