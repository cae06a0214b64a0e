"""``fit``: train the built-in MLP (many seeds at once) or any logits module with BCE.

The loop: per epoch, a fresh per-seed shuffle, minibatches of ``batch_size`` (the last
partial batch kept), the training loss as the batch-size-weighted mean of the batch
losses, then the test split evaluated.  After training both splits are evaluated
again (the tutorial's ``Train: 0.836, Test: 0.852``).  Ctrl-C returns the history of
the completed epochs (``History.interrupted``) with the weights of the last completed
epoch; ``out=`` then holds a checkpoint from which ``resume=`` continues exactly.
A loss that becomes NaN or infinite stops the run with :class:`DivergedError`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._core import formulas as M
from ..errors import BCELabError, OptionError
from .autoencoder import AutoencoderSpec, build_autoencoder
from .data import Dataset, as_dataset
from .history import History
from .images import ImageSet
from .metrics import MetricFn, splits_metrics
from .models import MLPSpec
from .objectives import Objective
from .optim import Optimizer

__all__ = ["DivergedError", "fit"]

Callback = Callable[[History], None]

#: from this many seeds on, each epoch's evaluation overlaps the next epoch's training
_PIPELINE_SEEDS = 8


class DivergedError(BCELabError):
    """Training produced a NaN or infinite loss; ``.history`` holds the epochs until then."""

    history: History


def _positive_int(value: object, name: str, example: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) >= 1:
        return int(value)
    raise OptionError(
        f"{name} must be an integer >= 1", f"received {value!r}", f"use e.g. {example}"
    )


def _fingerprint(ds: Dataset) -> str:
    h = hashlib.sha256()
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


class _Threads:
    """Use ``n`` torch threads inside the block (tiny matrices run fastest on one)."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, 0

    def __enter__(self) -> None:
        import torch

        self.old = torch.get_num_threads()
        if self.n is not None and self.n != self.old:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        if torch.get_num_threads() != self.old:
            torch.set_num_threads(self.old)


def _build_autoencoder(spec: AutoencoderSpec, ds: Dataset, seed: int) -> Any:
    """Initialise an autoencoder spec for images ``(N, C, H, W)`` from ``seed`` alone."""
    import torch

    x = ds.x_train
    if x.ndim != 4 or ds.y_train.shape != x.shape:
        raise OptionError(
            "an AutoencoderSpec trains on images (N, C, H, W) with targets equal to the inputs",
            f"received x {x.shape}, y {ds.y_train.shape}",
            "pass an ImageSet (bcelab.train.load_images) as the data",
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_autoencoder(spec, (int(x.shape[1]), int(x.shape[2]), int(x.shape[3])))


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
            ``seed`` for the images in ``data`` (use ``optimizer="adam", lr=1e-3`` for the
            recipe of ``bcelab train autoencoder``).  With targets in [0, 1] that are not
            all 0/1 (images), the History also carries ``<split>_floor`` and
            ``<split>_excess`` per epoch, and ``floor + excess = bce``.
        data: a :class:`~bcelab.train.Dataset`, ``(x_train, y_train, x_test, y_test)``,
            or an :class:`~bcelab.train.ImageSet` (the targets are the images).
        epochs, batch_size: passes over the training data; examples per step.
        lr, momentum, optimizer: ``"sgd"`` (Keras's momentum rule) or ``"adam"``.
        loss: ``"bce"``, ``"focal"`` (with ``gamma``) or ``"kl"`` (BCE minus its floor).
        label_smoothing: s in [0, 1): targets become :math:`y(1-s) + s/2`.
        seeds, seed: train seeds ``seed, seed+1, ..., seed+seeds-1``; seed k's run is the
            same as ``fit(..., seeds=1, seed=k)``.
        metrics: extra ``name -> fn(logits, targets) -> (S,)`` reported per epoch and split.
        callbacks: called with the History after every epoch (e.g. a progress bar).
        resume: a run folder (or its loaded ``checkpoint.pt``) to continue up to ``epochs``.
        out: a folder for the artifacts (:func:`bcelab.train.artifacts.write_run`).
        threads: torch threads while training (default: 1 for the built-in MLP).
        run_info: extra entries for ``summary.json`` (e.g. the command line); ``wall_time_s``
            (this call, until the artifacts are written) is added.

    Returns:
        The :class:`History`; the final weights are ``history.model_state`` (the
        state_dict written to ``out/model.pt``).
    """
    import torch

    t_call = time.perf_counter()
    epochs = _positive_int(epochs, "epochs", "epochs=200")
    batch_size = _positive_int(batch_size, "batch_size", "batch_size=32")
    n_seeds = _positive_int(seeds, "seeds", "seeds=30")
    if not (isinstance(seed, (int, np.integer)) and 0 <= int(seed) < 2**63):
        raise OptionError("seed must be an integer >= 0", f"received {seed!r}", "use e.g. seed=0")
    if not 0.0 <= float(label_smoothing) < 1.0:
        raise OptionError(
            "label_smoothing must lie in [0, 1)",
            f"received {label_smoothing!r}",
            "use e.g. 0.1, or 0 for none",
        )
    opt = Optimizer(optimizer, float(lr), float(momentum))
    obj = Objective(loss, float(gamma))
    ds = as_dataset(data.to_dataset() if isinstance(data, ImageSet) else data)
    seed_list = list(range(int(seed), int(seed) + n_seeds))
    spec = MLPSpec() if model is None else model
    if isinstance(spec, AutoencoderSpec):
        spec = _build_autoencoder(spec, ds, int(seed))
    is_mlp = isinstance(spec, MLPSpec)
    if not is_mlp and not isinstance(spec, torch.nn.Module):
        raise OptionError(
            "model must be a bcelab.train.MLPSpec or a torch.nn.Module",
            f"received {type(model).__name__}",
            "use MLPSpec(hidden=(50,))",
        )
    if not is_mlp and n_seeds != 1:
        raise OptionError(
            "seeds > 1 needs the built-in MLPSpec (batched weights)",
            f"received seeds={n_seeds} with a {type(spec).__name__}",
            "train a custom module once per seed, or use MLPSpec",
        )
    if is_mlp and (ds.x_train.ndim != 2 or ds.y_train.ndim != 2):
        raise OptionError(
            "the MLP takes x of shape (N, features) and y of shape (N, outputs)",
            f"received x {ds.x_train.shape}, y {ds.y_train.shape}",
            "flatten the inputs first, e.g. x.reshape(len(x), -1)",
        )

    import bcelab

    ls = float(label_smoothing)
    hard = ds.hard_targets
    ytr = M.smooth(torch.from_numpy(ds.y_train), ls)
    yte = M.smooth(torch.from_numpy(ds.y_test), ls)
    soft = ls > 0 or not hard or obj.name != "bce"
    # the floors (reported only for soft targets or losses other than bce) go through
    # the public API; for 0/1 targets they are 0 and the NumPy namespace is not imported
    floors = {
        split: float(bcelab.binary_entropy(y.numpy(), reduction="mean", axis=tuple(range(y.ndim))))
        if soft
        else 0.0
        for split, y in (("train", ytr), ("test", yte))
    }
    xtr, xte = torch.from_numpy(ds.x_train), torch.from_numpy(ds.x_test)

    config: dict[str, Any] = {
        "model": spec.to_dict() if is_mlp else {"kind": "module", "class": type(spec).__name__},
        "data": ds.name,
        "data_fingerprint": _fingerprint(ds),
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": opt.name,
        "lr": opt.lr,
        "momentum": opt.momentum if opt.name == "sgd" else None,
        "loss": obj.name,
        "gamma": obj.gamma if obj.name == "focal" else None,
        "label_smoothing": ls,
        "seeds": seed_list,
        "notes": list(ds.notes),
    }
    from .alloc import tune

    tune()
    if is_mlp:
        from .batched import BatchedMLP

        engine: Any = BatchedMLP(
            spec, seed_list, xtr, ytr, batch_size=batch_size, objective=obj, optimizer=opt
        )
        threads = 1 if threads is None else threads
    else:
        from .generic import ModuleTrainer

        engine = ModuleTrainer(
            spec, seed_list[0], xtr, ytr, batch_size=batch_size, objective=obj, optimizer=opt
        )
    history = History(seeds=seed_list, config=config)
    if resume is not None:
        from .artifacts import load_checkpoint

        ck = load_checkpoint(resume) if not isinstance(resume, Mapping) else dict(resume)
        _check_resume(ck["config"], config)
        engine.set_state(ck["state"])
        history = History.from_dict(ck["history"])
        history.config = config
        history.interrupted, history.stop_reason, history.final = False, None, {}

    def epoch_metrics(*parts: tuple[str, Any, Any]) -> dict[str, np.ndarray]:
        return splits_metrics(
            [(split, z, y, floors[split] if soft else None) for split, z, y in parts],
            objective=obj,
            hard=hard,
            extra=metrics,
            binary=not soft,
        )

    t0 = time.perf_counter()
    state: dict[str, Any] | None = None
    # Many seeds: epoch e's test-set evaluation and metrics run on a helper thread (on the
    # weights at the end of epoch e) while epoch e + 1 trains; rows are still appended,
    # checked and passed to the callbacks in epoch order, one epoch later.
    pipelined = is_mlp and n_seeds >= _PIPELINE_SEEDS
    pending: Any = None

    def evaluate(z: Any, ys: Any, weights: Any) -> dict[str, np.ndarray]:
        zte = engine.predict(xte, flat=weights) if is_mlp else engine.predict(xte)
        return epoch_metrics(("train", z, ys), ("test", zte, yte))

    def record(row: dict[str, np.ndarray], *, notify: bool = True) -> bool:
        """Append one epoch's row; False when a loss is no longer finite."""
        history.append(row)
        bad = [seed_list[i] for i in np.flatnonzero(~np.isfinite(row["train_loss"]))]
        if bad:
            history.stop_reason = (
                f"the training loss of seed(s) {bad[:10]} became "
                f"{row['train_loss'][seed_list.index(bad[0])]} at epoch {history.epochs}"
            )
            return False
        for cb in callbacks if notify else ():
            cb(history)
        return True

    with _Threads(threads):
        for epoch in range(history.epochs, epochs):
            try:
                state = None
                state = engine.get_state()
                z, ys = engine.train_epoch(epoch)
                if pending is not None:
                    row = pending.result()
                    pending = None
                    if not record(row):
                        engine.set_state(state)  # the weights of the diverged epoch
                        break
                if pipelined:
                    from .alloc import on_helper

                    pending = on_helper(evaluate, z, ys, engine.flat.clone())
                elif not record(evaluate(z, ys, None)):
                    break
            except KeyboardInterrupt:
                if pending is not None:  # the last completed epoch's row
                    row = pending.result()
                    pending = None
                    record(row, notify=False)
                if history.epochs == epoch and state is not None:
                    engine.set_state(state)  # back to the end of the last completed epoch
                history.interrupted = history.stop_reason is None
                history.stop_reason = (
                    history.stop_reason or f"interrupted after epoch {history.epochs}"
                )
                break
        if pending is not None:
            row = pending.result()
            pending = None
            record(row)
        history.train_time += time.perf_counter() - t0
        if history.stop_reason is None or history.interrupted:
            history.final.update(
                epoch_metrics(
                    ("train", engine.predict(xtr), ytr), ("test", engine.predict(xte), yte)
                )
            )
    checkpoint = {
        "format": "bcelab.train.checkpoint/1",
        "config": config,
        "state": engine.get_state(),
        "history": history.to_dict(),
        "rng": {"kind": "splitmix64-counter", "seeds": seed_list, "next_epoch": history.epochs},
        "run_info": dict(run_info or {}),
    }
    if out is not None:
        from .artifacts import write_run

        write_run(
            out,
            history,
            model_state=engine.model_state(),
            checkpoint=checkpoint,
            run_info={**dict(run_info or {}), "wall_time_s": time.perf_counter() - t_call},
            diverged=history.stop_reason is not None and not history.interrupted,
        )
    history.model_state = engine.model_state()
    if history.stop_reason is not None and not history.interrupted:
        err = DivergedError(
            "training to keep a finite loss",
            history.stop_reason + f" (optimizer {opt.name}, lr {opt.lr:g})",
            f"try a smaller learning rate (e.g. lr={opt.lr / 10:g}), --optimizer adam, "
            "standardised features, or fewer epochs",
        )
        err.history = history
        raise err
    return history


def _check_resume(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    diff = [k for k in new if k not in ("epochs", "notes") and old.get(k) != new.get(k)]
    if diff:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:6])
        raise OptionError(
            "--resume continues the same run: same data, model and options "
            "(only --epochs may change)",
            f"received changes {shown}",
            "repeat the original options, or start a new run without --resume",
        )
    if int(new["epochs"]) < 1:  # pragma: no cover - checked before
        raise AssertionError
