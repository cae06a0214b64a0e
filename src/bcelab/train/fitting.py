"""``fit``: train the built-in MLP (many seeds at once) or any logits module with BCE.

Per epoch: a fresh per-seed shuffle, minibatches of ``batch_size`` (the last partial
batch kept), the training loss as the batch-size-weighted mean of the batch losses,
then the test split evaluated.  After training both splits are evaluated again (the
tutorial's ``Train: 0.836, Test: 0.852``).  The epochs, Ctrl-C, divergence, resume and
artifacts are the shared loop's (:mod:`bcelab.train.loop`); this module checks the
options, prepares the data and picks the trainer for the model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core import formulas
from .._core.display import count_of
from .._core.extras import TRAINING, needs_extras
from .._core.options import check_choice, check_focal, check_positive_int, check_seed, check_threads
from ..errors import OptionError
from ..information import binary_entropy
from .alloc import spare_core, tune
from .autoencoder.images import ImageSet
from .autoencoder.spec import AutoencoderSpec, build_seeded
from .checks import (
    check_callbacks,
    check_checkpoint_every,
    check_device,
    check_label_smoothing,
    check_lr,
    check_mlp_memory,
    check_momentum,
    check_run_info,
)
from .data import Dataset, as_dataset, fingerprint
from .history import History
from .logits import LogitsTrainer, Splits
from .loop import Callback, ProgressFn, train
from .metrics import MetricFn, check_extra_metrics
from .mlp.batched import BatchedMLP
from .mlp.models import MLPSpec
from .module_trainer import ModuleTrainer
from .objectives import LOSSES, Objective
from .optim import OPTIMIZERS, Optimizer
from .predicting import predictor_dict

__all__ = ["fit"]

#: from this many seeds on, each epoch's evaluation overlaps the next epoch's training
#: (when the process may use a second core)
PIPELINE_SEEDS = 8


@dataclass(frozen=True)
class _Options:
    """``fit``'s options, checked at the door."""

    epochs: int
    batch_size: int
    seeds: list[int]
    optimizer: Optimizer
    objective: Objective
    label_smoothing: float
    threads: int | None
    device: Any  # a torch.device


def _check_recipe(
    optimizer: object, lr: object, momentum: object, loss: object, gamma: object, ls: object
) -> tuple[Optimizer, Objective, float]:
    """The optimiser, the objective and the label smoothing, checked."""
    f = "fit"
    name = check_choice(
        optimizer, OPTIMIZERS, name="optimizer", fname=f, hint="pass optimizer='adam'"
    )
    rate = check_lr(lr, fname=f, example=0.01)
    mom = check_momentum(momentum, fname=f)
    objective = check_choice(
        loss, LOSSES, name="loss", fname=f, hint="pass loss='bce' (the default)"
    )
    g, _ = check_focal(gamma, None, fname=f)
    return Optimizer(name, rate, mom), Objective(objective, g), check_label_smoothing(ls, fname=f)


def _check_options(
    epochs: object,
    batch_size: object,
    seeds: object,
    seed: object,
    threads: object,
    device: object,
    recipe: tuple[Optimizer, Objective, float],
) -> _Options:
    f = "fit"
    epochs = check_positive_int(epochs, name="epochs", fname=f, example=200)
    batch_size = check_positive_int(batch_size, name="batch_size", fname=f, example=32)
    n_seeds = check_positive_int(seeds, name="seeds", fname=f, example=30)
    first = check_seed(seed, fname=f)
    return _Options(
        epochs,
        batch_size,
        list(range(first, first + n_seeds)),
        *recipe,
        check_threads(threads, fname=f),
        check_device(device, fname=f),
    )


def _model(model: Any, ds: Dataset, seeds: list[int], device: Any, batch_size: int) -> Any:
    """The MLPSpec or torch module to train (an AutoencoderSpec built from ``seeds[0]``)."""
    import torch  # optional dependency (bcelab[train])

    spec = MLPSpec() if model is None else model
    if isinstance(spec, AutoencoderSpec):
        x = ds.x_train
        if x.ndim != 4 or ds.y_train.shape != x.shape:
            raise OptionError(
                "an AutoencoderSpec trains on images (N, C, H, W) with targets equal to the inputs",
                f"received x {x.shape}, y {ds.y_train.shape}",
                "pass an ImageSet (bcelab.train.load_images) as the data",
            )
        spec = build_seeded(spec, (int(x.shape[1]), int(x.shape[2]), int(x.shape[3])), seeds[0])
    is_mlp = isinstance(spec, MLPSpec)
    if not is_mlp and not isinstance(spec, torch.nn.Module):
        raise OptionError(
            "model must be a bcelab.train.MLPSpec or a torch.nn.Module",
            f"received {type(model).__name__}",
            "use MLPSpec(hidden=(50,))",
        )
    if not is_mlp and device.type != "cpu":
        raise OptionError(
            "device= trains the built-in MLPSpec; other models train on the CPU",
            f"received device='{device}' with a {type(spec).__name__}",
            "drop device=, or use MLPSpec",
        )
    if not is_mlp and len(seeds) != 1:
        raise OptionError(
            "seeds > 1 needs the built-in MLPSpec (batched weights)",
            f"received seeds={len(seeds)} with a {type(spec).__name__}",
            "train a custom module once per seed, or use MLPSpec",
        )
    params = list(spec.parameters()) if isinstance(spec, torch.nn.Module) else []
    if not is_mlp and not any(p.requires_grad for p in params):
        n = len(params)
        raise OptionError(
            "model must be a module with trainable parameters (requires_grad=True)",
            f"received a {type(spec).__name__} with no trainable parameters "
            f"({count_of(n, 'parameter')}, none with requires_grad=True)",
            "give the module a layer to train (e.g. torch.nn.Linear), or use MLPSpec",
        )
    if is_mlp and (ds.x_train.ndim != 2 or ds.y_train.ndim != 2):
        raise OptionError(
            "the MLP takes x of shape (N, features) and y of shape (N, outputs)",
            f"received x {ds.x_train.shape}, y {ds.y_train.shape}",
            "flatten the inputs first, e.g. x.reshape(len(x), -1)",
        )
    if is_mlp:
        n_in, n_out = int(ds.x_train.shape[1]), int(ds.y_train.shape[1])
        check_mlp_memory(
            spec.n_params(n_in, n_out),
            [int(h) for h in spec.hidden],
            len(seeds),
            int(ds.x_train.shape[0]),
            n_out,
            batch_size=batch_size,
            device=device,
            fname="fit",
        )
    return spec


def _splits(ds: Dataset, opts: _Options) -> Splits:
    """Tensors of both splits, smoothed targets, and the floors when they are reported."""
    import torch  # optional dependency (bcelab[train])

    ls = opts.label_smoothing
    hard = ds.hard_targets
    ytr = formulas.smooth(torch.from_numpy(ds.y_train), ls)
    yte = formulas.smooth(torch.from_numpy(ds.y_test), ls)
    soft = ls > 0 or not hard or opts.objective.name != "bce"
    # the floors (reported only for soft targets or losses other than bce) go through
    # the public API; for 0/1 targets they are 0 and the NumPy namespace is not imported
    floors = {
        split: float(binary_entropy(y.numpy(), reduction="mean")) if soft else 0.0
        for split, y in (("train", ytr), ("test", yte))
    }
    xtr, xte = torch.from_numpy(ds.x_train), torch.from_numpy(ds.x_test)
    dev = opts.device
    return Splits(xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev), floors, soft, hard)


def _config(spec: Any, ds: Dataset, opts: _Options) -> dict[str, Any]:
    """The run's identity (summary.json, and what ``resume=`` must match but ``epochs``)."""
    opt, obj = opts.optimizer, opts.objective
    # the device is part of a GPU run's identity (a resumed run must round as the first
    # did); CPU runs, the default, do not name it
    where = {"device": str(opts.device)} if opts.device.type != "cpu" else {}
    return {
        "model": spec.to_dict()
        if isinstance(spec, MLPSpec)
        else {"kind": "module", "class": type(spec).__name__},
        "data": ds.name,
        "data_fingerprint": fingerprint(ds.x_train, ds.y_train, ds.x_test, ds.y_test),
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "optimizer": opt.name,
        "lr": opt.lr,
        "momentum": opt.momentum if opt.name == "sgd" else None,
        "loss": obj.name,
        "gamma": obj.gamma if obj.name == "focal" else None,
        "label_smoothing": opts.label_smoothing,
        "seeds": opts.seeds,
        "notes": list(ds.notes),
        **where,
    }


def _build(
    model: Any, data: Any, opts: _Options, metrics: Mapping[str, MetricFn] | None
) -> tuple[LogitsTrainer, int | None]:
    """The trainer and its torch threads: BatchedMLP for an MLPSpec (on 1 thread unless
    ``threads`` says otherwise; pipelined from PIPELINE_SEEDS seeds on, given a second
    core), else ModuleTrainer."""
    ds = as_dataset(data.to_dataset() if isinstance(data, ImageSet) else data)
    spec = _model(model, ds, opts.seeds, opts.device, opts.batch_size)
    splits = _splits(ds, opts)
    config = _config(spec, ds, opts)
    tune()
    kw: dict[str, Any] = {
        "batch_size": opts.batch_size,
        "objective": opts.objective,
        "optimizer": opts.optimizer,
    }
    if isinstance(spec, MLPSpec):
        engine: Any = BatchedMLP(spec, opts.seeds, splits.x_train, splits.y_train, **kw)
    else:
        engine = ModuleTrainer(spec, opts.seeds[0], splits.x_train, splits.y_train, **kw)
    files = {}
    if isinstance(spec, MLPSpec) and ds.table is not None and ds.y_train.shape[1] == 1:
        files["predictor.json"] = predictor_dict(spec, ds, opts.seeds)
    trainer = LogitsTrainer(
        engine,
        splits,
        objective=opts.objective,
        optimizer=opts.optimizer,
        config=config,
        metrics=metrics,
        pipelined=isinstance(spec, MLPSpec)
        and len(opts.seeds) >= PIPELINE_SEEDS
        and opts.device.type == "cpu"
        and spare_core(),
        files=files,
    )
    mlp_default = opts.threads is None and isinstance(spec, MLPSpec)
    return trainer, 1 if mlp_default else opts.threads


# longer than 80 lines only by its keyword options and their documentation
@needs_extras("bcelab.train.fit", TRAINING)
def fit(
    model: Any,
    data: Any,
    /,
    *,
    epochs: int = 200,
    batch_size: int = 32,
    lr: float = 0.01,
    momentum: float = 0.9,
    optimizer: str = "sgd",
    loss: str = "bce",
    gamma: float = 2.0,
    label_smoothing: float = 0.0,
    seeds: int = 1,
    seed: int = 0,
    metrics: Mapping[str, MetricFn] | None = None,
    callbacks: Sequence[Callback] = (),
    resume: str | Path | Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    threads: int | None = None,
    run_info: Mapping[str, Any] | None = None,
    progress: bool | ProgressFn = False,
    checkpoint_every: int | None = None,
    device: Any = None,
) -> History:
    r"""Train with minibatch SGD/Adam on :func:`bcelab.bce_with_logits` and return a :class:`History`.

    .. math::

        \mathcal{L}_{batch} = \frac{1}{B K} \sum_{i=1}^{B} \sum_{k=1}^{K}
        \mathrm{BCE}(z_{ik}, y_{ik})

    Args:
        model: an :class:`~bcelab.train.MLPSpec` (``None`` means ``MLPSpec()``: one hidden
            layer of 50, the tutorial's model), trained for ``seeds`` seeds at once; or a
            ``torch.nn.Module`` that maps ``x`` to logits of the targets' shape (one seed);
            or an :class:`~bcelab.train.AutoencoderSpec`, built and initialised from
            ``seed`` for the images in ``data`` (:func:`~bcelab.train.fit_autoencoder`
            trains one with torch's shuffles and Adam).  With targets in [0, 1] that are
            not all 0/1 (images), the History also carries ``<split>_floor`` and
            ``<split>_excess`` per epoch, and ``floor + excess = bce``.
        data: a :class:`~bcelab.train.Dataset`, ``(x_train, y_train, x_test, y_test)``,
            or an :class:`~bcelab.train.ImageSet` (the targets are the images).
        epochs, batch_size: passes over the training data; examples per step.
        lr, momentum, optimizer: ``"sgd"`` (Keras's momentum rule) or ``"adam"``.
        loss: ``"bce"``, ``"focal"`` (with ``gamma``) or ``"kl"`` (BCE minus its floor).
        label_smoothing: s in [0, 1): targets become :math:`y(1-s) + s/2`.
        seeds, seed: train seeds ``seed, seed+1, ..., seed+seeds-1``; seed k's run is the
            same as ``fit(..., seeds=1, seed=k)``.
        metrics: extra ``name -> fn(logits, targets) -> (S,)`` reported per epoch and
            split, for logits and targets of shape ``(S, n, ...)``; names are new words
            (not ``loss``, ``acc``, ``bce``, ``excess`` or ``floor``).
        callbacks: called with the History after every epoch (e.g. a progress bar).
        resume: a run folder (or its loaded ``checkpoint.pt``) to continue up to ``epochs``.
        out: a folder for the artifacts (:func:`bcelab.train.artifacts.save_run`): new, or
            a previous run folder, which is replaced whole once the new run is saved.
            The built-in MLP trained on a table or a built-in task also gets
            ``predictor.json``, for :func:`bcelab.train.predict`.
        threads: torch threads while training (default: 1 for the built-in MLP).
        run_info: extra entries for ``summary.json`` (e.g. the command line); ``wall_time_s``
            (this call, until the artifacts are written) is added.
        progress: ``True`` draws a progress bar (epochs, rate, time left, losses) on
            stderr; a callable is called as ``progress(epochs_done, epochs_total)``.
        checkpoint_every: with ``out``, also write the run folder (all but the figure)
            every that many epochs while training, so that a killed run can be resumed
            from there; ``None`` (default): at the first epoch end 30 s after the last
            checkpoint; ``0``: only at the end.
        device: where the built-in MLP trains: ``None`` or ``"cpu"`` (the default), or a
            CUDA GPU (``"cuda"``, ``"cuda:1"`` or a ``torch.device``).  On a GPU every
            seed's steps run there in float32 (the same formulas, other rounding); the
            shuffles, the initial weights and the artifacts are the same as on the CPU,
            and checkpoints hold CPU tensors.  Other models train on the CPU.

    Returns:
        The :class:`History`; the final weights are ``history.model_state`` (the
        state_dict written to ``out/model.pt``).  Ctrl-C returns the completed epochs
        (``History.interrupted``); a NaN or infinite loss raises ``DivergedError``.
    """
    started = time.perf_counter()
    recipe = _check_recipe(optimizer, lr, momentum, loss, gamma, label_smoothing)
    opts = _check_options(epochs, batch_size, seeds, seed, threads, device, recipe)
    every = check_checkpoint_every(checkpoint_every, fname="fit")
    extra = check_extra_metrics(metrics, fname="fit")
    cbs, info = check_callbacks(callbacks, fname="fit"), check_run_info(run_info, fname="fit")
    trainer, threads = _build(model, data, opts, extra)
    history, _ = train(
        trainer,
        epochs=opts.epochs,
        callbacks=cbs,
        resume=resume,
        out=out,
        threads=threads,
        run_info=info,
        started=started,
        checkpoint_every=every,
        progress=progress,
    )
    return history
