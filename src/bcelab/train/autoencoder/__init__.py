"""Autoencoders on images with a sigmoid output, reported as BCE = floor + excess.

:mod:`.spec` (the built-in models and training losses), :mod:`.batch_loss` (the
per-step BCE and its gradient without an autograd graph), :mod:`.images` (loading images),
:mod:`.image_metrics` (BCE, floor, excess, MSE, PSNR of a data set), :mod:`.trainer`
(the shared loop's trainer: PyTorch's shuffles and Adam), :mod:`.training`
(:func:`fit_autoencoder`) and :mod:`.figures`.

Names load lazily: importing this package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AutoencoderResult",
    "AutoencoderSpec",
    "ImageMetrics",
    "ImageSet",
    "build_autoencoder",
    "evaluate_images",
    "fit_autoencoder",
    "history_rows",
    "load_images",
    "mse_metric",
]

_WHERE = {
    "AutoencoderResult": "training",
    "AutoencoderSpec": "spec",
    "ImageMetrics": "image_metrics",
    "ImageSet": "images",
    "build_autoencoder": "spec",
    "evaluate_images": "image_metrics",
    "fit_autoencoder": "training",
    "history_rows": "training",
    "load_images": "images",
    "mse_metric": "image_metrics",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{mod}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
