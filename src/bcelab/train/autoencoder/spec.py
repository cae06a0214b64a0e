"""The built-in autoencoders and their training losses, for images with pixels in [0, 1].

The model maps images ``(B, C, H, W)`` to logits of the same shape; the
reconstruction is ``sigmoid(logits)``.  Three training losses are offered:

* ``"bce"``: :func:`bcelab.bce_with_logits`, mean over every pixel;
* ``"kl"``: the same BCE minus the floor of the batch, ``BCE - mean H(x)``.  The
  floor does not depend on the weights, so the gradient is the BCE gradient
  exactly; only the reported value changes, and it goes to 0 at a perfect
  reconstruction;
* ``"mse"``: mean squared error of ``sigmoid(logits)``, for comparison.

.. math::

    \\mathcal{L}_{\\mathrm{kl}} = \\overline{\\mathrm{BCE}(x, \\sigma(z))} - \\overline{H(x)}
    = \\overline{\\mathrm{KL}(x \\,\\|\\, \\sigma(z))}
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._core.options import check_choice
from ...errors import OptionError
from ...information import binary_entropy
from ...losses import bce_with_logits, sigmoid
from .batch_loss import mean_bce_and_grad

if TYPE_CHECKING:
    import torch  # optional dependency (bcelab[train])

__all__ = [
    "ARCHS",
    "LOSSES",
    "MIN_CONV_SIZE",
    "AutoencoderSpec",
    "build_autoencoder",
    "build_seeded",
    "check_loss",
    "training_loss",
    "training_loss_and_grad",
]

ARCHS = ("dense", "conv")
LOSSES = ("bce", "kl", "mse")
MIN_CONV_SIZE = 16


@dataclass(frozen=True)
class AutoencoderSpec:
    """A built-in autoencoder: ``"dense"`` (D -> 32 -> 16 -> 32 -> D) or ``"conv"``.

    ``hidden`` are the dense encoder widths (the decoder mirrors them); ``channels``
    the two stride-2 convolution widths of the conv encoder.  Both end in a logit layer.
    """

    arch: str = "dense"
    hidden: tuple[int, ...] = (32, 16)
    channels: tuple[int, int] = (16, 32)

    def build(self, image_shape: tuple[int, int, int], /) -> torch.nn.Module:
        return build_autoencoder(self, image_shape)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (for summary.json and the resume check)."""
        return {
            "kind": "autoencoder",
            "arch": self.arch,
            "hidden": list(self.hidden),
            "channels": list(self.channels),
        }


def _dense(spec: AutoencoderSpec, shape: tuple[int, int, int]) -> torch.nn.Module:
    from torch import nn  # optional dependency (bcelab[train])

    d = math.prod(shape)
    widths = [d, *spec.hidden, *reversed(spec.hidden[:-1])]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers += [nn.Linear(widths[-1], d), nn.Unflatten(1, shape)]  # logits
    return nn.Sequential(*layers)


def _conv_module() -> type:
    from torch import nn  # optional dependency (bcelab[train])

    class ConvAutoencoder(nn.Module):
        """Two stride-2 convolutions down, two transposed convolutions back up to logits."""

        def __init__(self, c: int, ch: tuple[int, int]) -> None:
            super().__init__()
            self.enc1 = nn.Conv2d(c, ch[0], 3, stride=2, padding=1)
            self.enc2 = nn.Conv2d(ch[0], ch[1], 3, stride=2, padding=1)
            self.dec1 = nn.ConvTranspose2d(ch[1], ch[0], 3, stride=2, padding=1)
            self.dec2 = nn.ConvTranspose2d(ch[0], c, 3, stride=2, padding=1)
            self.act = nn.ReLU()

        def forward(self, x: Any) -> Any:
            h1 = self.act(self.enc1(x))
            h2 = self.act(self.enc2(h1))
            u1 = self.act(self.dec1(h2, output_size=h1.shape[-2:]))
            return self.dec2(u1, output_size=x.shape[-2:])  # logits, same shape as x

    return ConvAutoencoder


def _check_widths(widths: object, *, name: str, size: int | None, example: str) -> None:
    """Layer widths: a tuple of integers >= 1 (``size`` of them, if given; else >= 1)."""
    if (
        isinstance(widths, tuple | list)
        and (len(widths) == size if size else len(widths) > 0)
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in widths)
        and min(widths) >= 1
    ):
        return
    count = f"{size} " if size else ""
    raise OptionError(
        f"AutoencoderSpec: {name} must be a tuple of {count}layer widths, integers >= 1",
        f"received {name}={widths!r}",
        f"use e.g. {name}={example}",
    )


def build_autoencoder(spec: AutoencoderSpec, image_shape: tuple[int, int, int], /) -> Any:
    """The ``torch.nn.Module`` for ``spec`` and images of shape ``(C, H, W)``."""
    check_choice(
        spec.arch,
        ARCHS,
        name="arch",
        fname="AutoencoderSpec",
        hint="pass arch='dense' (any size) or arch='conv' (16x16 and larger)",
    )
    c, h, w = image_shape
    if spec.arch == "dense":
        _check_widths(spec.hidden, name="hidden", size=None, example="(32, 16)")
        return _dense(spec, image_shape)
    _check_widths(spec.channels, name="channels", size=2, example="(16, 32)")
    if min(h, w) < MIN_CONV_SIZE:
        raise OptionError(
            f"arch='conv' needs images of at least {MIN_CONV_SIZE}x{MIN_CONV_SIZE}",
            f"received {h}x{w} images",
            "use arch='dense' for small images such as the 8x8 digits",
        )
    return _conv_module()(c, spec.channels)


def build_seeded(spec: AutoencoderSpec, image_shape: tuple[int, int, int], seed: int, /) -> Any:
    """:func:`build_autoencoder` initialised from ``seed`` alone (torch's global generator
    is used under ``fork_rng`` and left as it was)."""
    import torch  # optional dependency (bcelab[train])

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_autoencoder(spec, image_shape)


def check_loss(loss: object, *, fname: str) -> str:
    """One of :data:`LOSSES`."""
    return check_choice(
        loss, LOSSES, name="loss", fname=fname, hint="pass loss='bce' (the default), 'kl' or 'mse'"
    )


def training_loss(loss: str, logits: torch.Tensor, images: torch.Tensor, /) -> torch.Tensor:
    """The batch objective for ``loss`` in ``LOSSES`` (a 0-d tensor with a gradient)."""
    if check_loss(loss, fname="training_loss") == "mse":
        return ((sigmoid(logits) - images) ** 2).mean()
    value = bce_with_logits(logits, images, reduction="mean")
    if loss == "kl":
        # BCE minus a constant: the autograd graph below the subtraction is the bce graph.
        return value - binary_entropy(images, reduction="mean")
    return value


def training_loss_and_grad(
    loss: str, logits: torch.Tensor, images: torch.Tensor, /
) -> tuple[float, torch.Tensor] | None:
    """:func:`training_loss` as a number and its gradient in ``logits`` (to rounding, see
    :mod:`.batch_loss`), for images known to be finite and in [0, 1]; ``None`` where
    :func:`~.batch_loss.mean_bce_and_grad` does not apply (``"mse"``, non-finite logits,
    other devices).  The caller passes the gradient on with ``logits.backward(grad)``.
    """
    if check_loss(loss, fname="training_loss_and_grad") == "mse":
        return None
    pair = mean_bce_and_grad(logits, images)
    if pair is None or loss == "bce":
        return pair
    value, grad = pair  # "kl": minus a constant, the same gradient
    return value - float(binary_entropy(images, reduction="mean")), grad
