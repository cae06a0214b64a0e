"""``fit_autoencoder``: train an autoencoder on images and report BCE = floor + excess.

Whatever the training loss (:data:`~.spec.LOSSES`), every epoch reports BCE, floor,
excess, excess fraction, MSE and PSNR on the training and the test images
(:mod:`.image_metrics`).  The epochs, callbacks, Ctrl-C, divergence, checkpoint,
``resume=`` and ``out=`` are the shared loop's (:mod:`bcelab.train.loop`); the
shuffles and the optimiser are PyTorch's (:mod:`.trainer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._core.extras import TRAINING, needs_extras
from ..._core.options import check_instance, check_positive_int, check_seed, check_threads
from ...errors import OptionError
from ...losses import sigmoid
from ..checks import (
    check_callbacks,
    check_checkpoint_every,
    check_function,
    check_lr,
    check_run_info,
)
from ..data import fingerprint
from ..history import History
from ..loop import Callback, ProgressFn, Threads, train
from .image_metrics import ImageMetrics
from .images import ImageSet
from .spec import AutoencoderSpec, build_seeded, check_loss
from .trainer import AutoencoderTrainer

if TYPE_CHECKING:
    import torch  # optional dependency (bcelab[train])

__all__ = ["AutoencoderResult", "fit_autoencoder", "history_rows"]


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
    #: the run's checkpoint (weights, Adam and shuffle state, history): ``resume=`` takes it
    checkpoint: dict[str, Any] = field(default_factory=dict, repr=False)


def _as_module(model: Any, data: ImageSet, seed: int) -> Any:
    import torch  # optional dependency (bcelab[train])

    check_instance(
        data,
        ImageSet,
        name="data",
        fname="fit_autoencoder",
        what="a bcelab.train.ImageSet",
        hint="load images with bcelab.train.load_images(...)",
    )
    if isinstance(model, AutoencoderSpec):
        return build_seeded(model, data.image_shape, seed)
    if isinstance(model, torch.nn.Module):
        return model
    raise OptionError(
        "model must be an AutoencoderSpec or a torch.nn.Module mapping images "
        "(B, C, H, W) to logits of the same shape",
        f"received {type(model).__name__}",
        "pass AutoencoderSpec('dense')",
    )


def _config(
    data: ImageSet, model: Any, seed: int, epochs: int, batch_size: int, lr: float, loss: str
) -> dict[str, Any]:
    """The run's identity (summary.json, and what ``resume=`` must match but ``epochs``)."""
    return {
        "model": model.to_dict()
        if isinstance(model, AutoencoderSpec)
        else {"kind": "module", "class": type(model).__name__},
        "data": data.source,
        "data_fingerprint": fingerprint(data.train, data.test),
        "scaling": data.scaling,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "image_shape_chw": list(data.image_shape),
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": "adam",
        "lr": lr,
        "loss": loss,
        "seeds": [seed],
    }


def _epoch_callback(on_epoch: Callable[[int, dict[str, float]], None]) -> Callback:
    """``on_epoch(epoch, row)`` as a loop callback (``row``: the epoch's metrics, floats)."""

    def call(h: History) -> None:
        row = {k: float(v[0, -1]) for k, v in h.metrics.items()}
        on_epoch(h.epochs, {"epoch": float(h.epochs), **row})

    return call


# longer than 80 lines only by its keyword options and their documentation
@needs_extras("bcelab.train.fit_autoencoder", TRAINING)
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
    callbacks: Sequence[Callback] = (),
    resume: str | Path | Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    run_info: Mapping[str, Any] | None = None,
    progress: bool | ProgressFn = False,
    checkpoint_every: int | None = None,
    checkpoint_dir: str | Path | None = None,
) -> AutoencoderResult:
    """Train an autoencoder with Adam and report BCE = floor + excess every epoch.

    ``model`` is an :class:`AutoencoderSpec` (default: dense; initialised from
    ``seed``) or any ``torch.nn.Module`` mapping ``(B, C, H, W)`` images to logits
    of the same shape.  Each epoch draws a fresh shuffle from ``seed``, keeps the
    last partial batch, and then evaluates train and test images.  ``on_epoch(epoch,
    row)`` is called after each epoch, as are the ``callbacks`` (with the History).
    Ctrl-C returns the completed epochs, with the weights at the end of the last one
    and ``interrupted=True``; a loss that becomes NaN or infinite raises
    :class:`~bcelab.train.DivergedError`.  ``out=`` writes the run files (history,
    ``model.pt``, ``checkpoint.pt``, ``summary.json``); ``resume=`` takes such a folder
    (or ``result.checkpoint``) and continues the same run bit for bit up to ``epochs``.
    ``threads`` sets torch's intra-op threads for the duration of the call (small
    models train several times faster on 1 thread than on 2 busy cores); ``None``
    leaves torch's setting alone.  ``progress`` and ``checkpoint_every`` are
    :func:`~bcelab.train.fit`'s; the checkpoints written during training go to
    ``checkpoint_dir`` (default ``out``), e.g. the folder that a caller writes itself
    once training ends.
    """
    import torch  # optional dependency (bcelab[train])

    started = time.perf_counter()
    f = "fit_autoencoder"
    seed = check_seed(seed, fname=f)
    epochs = check_positive_int(epochs, name="epochs", fname=f, example=100)
    batch_size = check_positive_int(batch_size, name="batch_size", fname=f, example=32)
    lr = check_lr(lr, fname=f, example=1e-3)
    loss = check_loss(loss, fname=f)
    every = check_checkpoint_every(checkpoint_every, fname=f)
    n_show = check_positive_int(n_show, name="n_show", fname=f, example=10, minimum=0)
    on_epoch = check_function(on_epoch, name="on_epoch", fname=f, example="lambda e, row: None")
    cbs = check_callbacks(callbacks, fname=f) + ([_epoch_callback(on_epoch)] if on_epoch else [])
    info = check_run_info(run_info, fname=f)
    with Threads(check_threads(threads, fname=f)):
        spec = AutoencoderSpec() if model is None else model
        net = _as_module(spec, data, seed)
        config = _config(data, spec, seed, epochs, batch_size, lr, loss)
        trainer = AutoencoderTrainer(
            net, data, batch_size=batch_size, lr=lr, loss=loss, seed=seed, config=config
        )
        history, checkpoint = train(
            trainer,
            epochs=epochs,
            callbacks=cbs,
            resume=resume,
            out=out,
            run_info=info,
            figure=False,
            started=started,
            checkpoint_every=every,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
        )
        assert trainer.final is not None  # set by the loop unless training diverged
        tr, te, kl_map = trainer.final
        net.eval()
        with torch.no_grad():
            shown = trainer.test_images[:n_show]
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
        checkpoint,
    )
