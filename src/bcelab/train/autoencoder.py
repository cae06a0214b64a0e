"""Autoencoders with a sigmoid output trained on pixels in [0, 1], reported as BCE = floor + excess.

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

Whatever the loss, every epoch reports BCE, floor, excess, excess fraction, MSE and
PSNR on the training and the test images (:mod:`bcelab.train.autoencoder_metrics`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NaNError, OptionError, ShapeError
from ..information import binary_entropy
from ..losses import bce_with_logits, sigmoid
from .autoencoder_metrics import ImageMetrics, evaluate_images
from .history import History
from .images import ImageSet

if TYPE_CHECKING:
    import torch

__all__ = [
    "ARCHS",
    "LOSSES",
    "AutoencoderResult",
    "AutoencoderSpec",
    "build_autoencoder",
    "fit_autoencoder",
    "history_rows",
    "training_loss",
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


def _dense(spec: AutoencoderSpec, shape: tuple[int, int, int]) -> torch.nn.Module:
    from torch import nn

    d = math.prod(shape)
    widths = [d, *spec.hidden, *reversed(spec.hidden[:-1])]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers += [nn.Linear(widths[-1], d), nn.Unflatten(1, shape)]  # logits
    return nn.Sequential(*layers)


def _conv_module() -> type:
    from torch import nn

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


def build_autoencoder(spec: AutoencoderSpec, image_shape: tuple[int, int, int], /) -> Any:
    """The ``torch.nn.Module`` for ``spec`` and images of shape ``(C, H, W)``."""
    if spec.arch not in ARCHS:
        raise OptionError(
            f"--arch must be one of {ARCHS}",
            f"received {spec.arch!r}",
            "use --arch dense (any size) or --arch conv (16x16 and larger)",
        )
    c, h, w = image_shape
    if spec.arch == "dense":
        if not spec.hidden or min(spec.hidden) < 1:
            raise OptionError(
                "dense hidden widths must be >= 1",
                f"received {spec.hidden}",
                "use e.g. hidden=(32, 16)",
            )
        return _dense(spec, image_shape)
    if min(h, w) < MIN_CONV_SIZE:
        raise OptionError(
            f"--arch conv needs images of at least {MIN_CONV_SIZE}x{MIN_CONV_SIZE}",
            f"received {h}x{w} images",
            "use --arch dense for small images such as the 8x8 digits",
        )
    return _conv_module()(c, spec.channels)


def training_loss(loss: str, logits: torch.Tensor, images: torch.Tensor, /) -> torch.Tensor:
    """The batch objective for ``loss`` in ``LOSSES`` (a 0-d tensor with a gradient)."""
    if loss == "bce":
        return bce_with_logits(logits, images, reduction="mean")
    if loss == "kl":
        # BCE minus a constant: the autograd graph below the subtraction is the bce graph.
        return bce_with_logits(logits, images, reduction="mean") - binary_entropy(
            images, reduction="mean"
        )
    if loss == "mse":
        return ((sigmoid(logits) - images) ** 2).mean()
    raise OptionError(
        f"--loss must be one of {LOSSES}",
        f"received {loss!r}",
        "use --loss bce (default), kl or mse",
    )


def history_rows(history: History, /) -> list[dict[str, float]]:
    """The per-epoch metrics of a one-seed :class:`~bcelab.train.History` as one dict per epoch."""
    return [
        {"epoch": float(e + 1), **{k: float(v[0, e]) for k, v in history.metrics.items()}}
        for e in range(history.epochs)
    ]


@dataclass
class AutoencoderResult:
    """What :func:`fit_autoencoder` returns: the trained model and everything to report."""

    model: Any
    history: History  # metrics "loss", "train_<m>", "test_<m>" for m in METRIC_NAMES
    train: ImageMetrics
    test: ImageMetrics
    per_pixel_excess: np.ndarray  # (C, H, W) mean KL per pixel on the test images
    originals: np.ndarray  # (k, C, H, W) the first test images
    reconstructions: np.ndarray  # (k, C, H, W) sigmoid(logits) of the same images
    seconds: float
    interrupted: bool = False


def _check_options(epochs: int, batch_size: int, lr: float, loss: str, seed: int) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise OptionError(
            "--seed must be an integer >= 0", f"received {seed!r}", "pass e.g. --seed 0"
        )
    for name, v in (("epochs", epochs), ("batch-size", batch_size)):
        if not isinstance(v, int) or v < 1:
            raise OptionError(
                f"--{name} must be an integer >= 1",
                f"received {v!r}",
                f"pass e.g. --{name} {100 if name == 'epochs' else 32}",
            )
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise OptionError(
            "--lr must be a finite number > 0", f"received {lr!r}", "pass e.g. --lr 1e-3"
        )
    if loss not in LOSSES:
        training_loss(loss, None, None)  # type: ignore[arg-type]  # raises OptionError


def _as_module(model: Any, data: ImageSet, seed: int) -> Any:
    import torch

    if isinstance(model, AutoencoderSpec):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_autoencoder(model, data.image_shape)
    if isinstance(model, torch.nn.Module):
        return model
    raise OptionError(
        "model must be an AutoencoderSpec or a torch.nn.Module mapping images "
        "(B, C, H, W) to logits of the same shape",
        f"received {type(model).__name__}",
        "pass AutoencoderSpec('dense')",
    )


def fit_autoencoder(
    data: ImageSet,
    model: AutoencoderSpec | torch.nn.Module | None = None,
    /,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    loss: str = "bce",
    seed: int = 0,
    n_show: int = 10,
    threads: int | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> AutoencoderResult:
    """Train an autoencoder with Adam and report BCE = floor + excess every epoch.

    ``model`` is an :class:`AutoencoderSpec` (default: dense; initialised from
    ``seed``) or any ``torch.nn.Module`` mapping ``(B, C, H, W)`` images to logits
    of the same shape.  Each epoch draws a fresh shuffle from ``seed``, keeps the
    last partial batch, and then evaluates train and test images.  ``on_epoch(epoch,
    row)`` is called after each epoch (the CLI prints from it).  Ctrl-C stops after
    the current batch and returns what was trained, with ``interrupted=True``.
    ``threads`` sets torch's intra-op threads for the duration of the call (small
    models train several times faster on 1 thread than on 2 busy cores); ``None``
    leaves torch's setting alone.
    """
    import torch

    _check_options(epochs, batch_size, lr, loss, seed)
    if threads is None:
        return _fit(data, model, epochs, batch_size, lr, loss, seed, n_show, on_epoch)
    if not isinstance(threads, int) or threads < 1:
        raise OptionError(
            "--threads must be an integer >= 1", f"received {threads!r}", "pass e.g. --threads 1"
        )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _fit(data, model, epochs, batch_size, lr, loss, seed, n_show, on_epoch)
    finally:
        torch.set_num_threads(before)


def _fit(
    data: ImageSet,
    model: Any,
    epochs: int,
    batch_size: int,
    lr: float,
    loss: str,
    seed: int,
    n_show: int,
    on_epoch: Any,
) -> AutoencoderResult:
    import torch

    net = _as_module(AutoencoderSpec() if model is None else model, data, seed)
    params = list(net.parameters())
    if not params:
        raise OptionError(
            "a model with trainable parameters",
            "received a module with none",
            "add layers with weights, or use AutoencoderSpec('dense')",
        )
    device = params[0].device
    train = torch.as_tensor(data.train, device=device)
    test = torch.as_tensor(data.test, device=device)
    with torch.no_grad():
        probe = net(test[:1])
    if tuple(probe.shape) != tuple(test[:1].shape):
        raise ShapeError(
            "the model must map images (B, C, H, W) to logits of the same shape",
            f"received logits of shape {tuple(probe.shape)} for images of shape "
            f"{tuple(test[:1].shape)}",
            "end the model with a layer of that shape",
        )
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history = History(seeds=[seed], config=_config(data, model, epochs, batch_size, lr, loss))
    t0 = time.perf_counter()
    net.train()
    for epoch in range(1, epochs + 1):
        try:
            mean_loss = _train_epoch(net, opt, train, gen, batch_size, loss, epoch)
        except KeyboardInterrupt:
            history.interrupted = True
            history.stop_reason = f"interrupted after epoch {history.epochs}"
            break
        row: dict[str, float] = {"loss": mean_loss}
        for split, images in (("train", train), ("test", test)):
            metrics, _ = evaluate_images(net, images)
            row.update({f"{split}_{k}": v for k, v in metrics.as_dict().items()})
        history.append({k: np.array([v]) for k, v in row.items()})
        if on_epoch is not None:
            on_epoch(epoch, {"epoch": float(epoch), **row})
    history.train_time = time.perf_counter() - t0
    tr, _ = evaluate_images(net, train)
    te, kl_map = evaluate_images(net, test, per_pixel=True)
    assert kl_map is not None
    for split, m in (("train", tr), ("test", te)):
        history.final.update({f"{split}_{k}": np.array([v]) for k, v in m.as_dict().items()})
    history.model_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.eval()
    with torch.no_grad():
        shown = test[:n_show]
        recon = sigmoid(net(shown)).cpu().numpy()
    return AutoencoderResult(
        net,
        history,
        tr,
        te,
        kl_map,
        shown.cpu().numpy(),
        recon,
        history.train_time,
        history.interrupted,
    )


def _train_epoch(
    net: Any, opt: Any, train: Any, gen: Any, batch_size: int, loss: str, epoch: int
) -> float:
    """One pass over a fresh shuffle; returns the batch-size-weighted mean objective."""
    import torch

    total, n = 0.0, train.shape[0]
    for idx in torch.randperm(n, generator=gen).to(train.device).split(batch_size):
        xb = train[idx]
        try:
            value = training_loss(loss, net(xb), xb)
        except NaNError as e:  # NaN logits, caught by the loss's input validation
            raise _diverged(epoch, e.received) from None
        step = float(value.detach())
        if not math.isfinite(step):
            raise _diverged(epoch, f"a training loss of {step}")
        opt.zero_grad()
        value.backward()
        opt.step()
        total += step * xb.shape[0]
    return total / n


def _diverged(epoch: int, what: str) -> NaNError:
    return NaNError(
        "a finite training loss",
        f"received {what} (training diverged at epoch {epoch})",
        "lower --lr (e.g. --lr 1e-4) or check the images",
    )


def _config(
    data: ImageSet, model: Any, epochs: int, batch_size: int, lr: float, loss: str
) -> dict[str, Any]:
    spec = AutoencoderSpec() if model is None else model
    described = (
        {
            "kind": "autoencoder",
            "arch": spec.arch,
            "hidden": list(spec.hidden),
            "channels": list(spec.channels),
        }
        if isinstance(spec, AutoencoderSpec)
        else {"kind": "module", "class": type(spec).__name__}
    )
    return {
        "model": described,
        "data": data.source,
        "scaling": data.scaling,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "image_shape_chw": list(data.image_shape),
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": "adam",
        "lr": lr,
        "loss": loss,
    }
