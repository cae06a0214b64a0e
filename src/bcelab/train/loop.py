"""The one training loop: epochs, per-epoch metrics, callbacks, Ctrl-C, divergence, resume, artifacts.

A *trainer*, one per kind of model, does the work of each epoch; this loop drives it
and keeps the bookkeeping the same for every kind (:class:`Trainer` says what a
trainer provides):

* per epoch, ``trainer.train_epoch(epoch)`` and then ``trainer.evaluate(result)``: a
  row of metrics (one value per seed), or a future of that row computed on the helper
  thread while the next epoch trains.  Rows are appended to the :class:`History`,
  checked and passed to the callbacks in epoch order;
* a row whose ``trainer.loss_key`` is not finite, or :class:`Diverged` raised by the
  trainer during an epoch, stops the run: the weights go back to the start of that
  epoch, the artifacts are written, and :class:`DivergedError` is raised;
* Ctrl-C (``KeyboardInterrupt``) keeps the completed epochs, with the weights at the end
  of the last of them (``History.interrupted``);
* ``resume=`` continues a checkpoint of the same run (same config but ``epochs``) and
  ``out=`` writes the run folder (:func:`~bcelab.train.artifacts.write_run`), checkpoint
  included, from which a later ``resume=`` continues bit for bit.

The trainers are :class:`~bcelab.train.logits.LogitsTrainer` (the built-in MLP for many
seeds, or any module that outputs logits) and
:class:`~bcelab.train.autoencoder.trainer.AutoencoderTrainer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import NaNError, OptionError
from .artifacts import load_checkpoint, write_run
from .history import History

__all__ = ["Callback", "Diverged", "DivergedError", "Threads", "Trainer", "check_resume", "train"]

Callback = Callable[[History], None]
Row = dict[str, np.ndarray]

CHECKPOINT_FORMAT = "bcelab.train.checkpoint/1"


class DivergedError(NaNError):
    """Training produced a NaN or infinite loss; ``.history`` holds the epochs until then."""

    history: History


class Diverged(Exception):
    """Raised by a trainer's ``train_epoch`` when the epoch cannot be completed because a
    batch's loss is not finite; ``reason`` says what was seen."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Trainer(Protocol):
    """What the loop needs from the trainer of one kind of model."""

    seeds: list[int]
    config: dict[str, Any]  # for the History, summary.json and the resume check
    loss_key: str  # the per-epoch metric that must stay finite

    def train_epoch(self, epoch: int) -> Any: ...

    def evaluate(self, result: Any) -> Row | Future[Row]: ...

    def final_metrics(self) -> Row: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...

    def model_state(self) -> dict[str, Any]: ...

    def rng_state(self, next_epoch: int) -> dict[str, Any]: ...

    def describe(self) -> str: ...  # e.g. "optimizer sgd, lr 0.01"

    def advice(self) -> str: ...  # how to avoid a divergence


class Threads:
    """Use ``n`` torch threads inside the block (tiny matrices run fastest on one);
    ``None`` leaves torch's setting alone."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, 0

    def __enter__(self) -> None:
        import torch  # optional dependency (bcelab[train])

        self.old = torch.get_num_threads()
        if self.n is not None and self.n != self.old:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch  # optional dependency (bcelab[train])

        if torch.get_num_threads() != self.old:
            torch.set_num_threads(self.old)


def check_resume(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Refuse to continue a checkpoint whose config differs from this call's (but ``epochs``)."""
    diff = [k for k in new if k not in ("epochs", "notes") and old.get(k) != new.get(k)]
    if diff:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:6])
        raise OptionError(
            "resume= continues the same run: same data, model and options (only epochs may change)",
            f"received changes {shown}",
            "repeat the original options, or start a new run without resume=",
        )


def train(
    trainer: Trainer,
    /,
    *,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    resume: str | Path | Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    threads: int | None = None,
    run_info: Mapping[str, Any] | None = None,
    figure: bool = True,
    started: float | None = None,
) -> tuple[History, dict[str, Any]]:
    """Train up to ``epochs`` epochs; returns the History and the checkpoint.

    ``started`` (a ``time.perf_counter()`` value) is when the caller began, for the
    ``wall_time_s`` of summary.json; ``figure`` draws curves.png into ``out``.
    """
    started = time.perf_counter() if started is None else started
    history = History(seeds=list(trainer.seeds), config=trainer.config)
    if resume is not None:
        ck = load_checkpoint(resume)
        check_resume(ck["config"], trainer.config)
        trainer.set_state(ck["state"])
        history = History.from_dict(ck["history"])
        history.config = trainer.config
        history.interrupted, history.stop_reason, history.final = False, None, {}
    with Threads(threads):
        t0 = time.perf_counter()
        _epochs(trainer, history, epochs, callbacks)
        history.train_time += time.perf_counter() - t0
        if history.stop_reason is None or history.interrupted:
            history.final.update(trainer.final_metrics())
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "config": trainer.config,
        "state": trainer.get_state(),
        "history": history.to_dict(),
        "rng": trainer.rng_state(history.epochs),
        "run_info": dict(run_info or {}),
    }
    reason = None if history.interrupted else history.stop_reason
    if out is not None:
        write_run(
            out,
            history,
            model_state=trainer.model_state(),
            checkpoint=checkpoint,
            run_info={**dict(run_info or {}), "wall_time_s": time.perf_counter() - started},
            diverged=reason is not None,
            figure=figure,
        )
    history.model_state = trainer.model_state()
    if reason is not None:
        err = DivergedError(
            "training to keep a finite loss",
            f"{reason} ({trainer.describe()})",
            trainer.advice(),
        )
        err.history = history
        raise err
    return history, checkpoint


def _epochs(trainer: Trainer, history: History, epochs: int, callbacks: Sequence[Callback]) -> None:
    """Epochs ``history.epochs .. epochs - 1``; sets ``history.stop_reason``/``interrupted``.

    With a pipelined trainer, epoch e's row arrives while epoch e + 1 trains: it is
    appended, checked and passed to the callbacks then, one epoch later.
    """
    seeds = list(trainer.seeds)

    def record(row: Row, *, notify: bool = True) -> bool:
        """Append one epoch's row; False when its loss is no longer finite."""
        history.append(row)
        loss = row[trainer.loss_key]
        bad = [seeds[i] for i in np.flatnonzero(~np.isfinite(loss))]
        if bad:
            history.stop_reason = (
                f"the training loss of seed(s) {bad[:10]} became "
                f"{loss[seeds.index(bad[0])]} at epoch {history.epochs}"
            )
            return False
        for cb in callbacks if notify else ():
            cb(history)
        return True

    state: dict[str, Any] | None = None
    pending: Future[Row] | None = None
    for epoch in range(history.epochs, epochs):
        try:
            state = None
            state = trainer.get_state()
            result = trainer.train_epoch(epoch)
            if pending is not None:
                row = pending.result()
                pending = None
                if not record(row):
                    trainer.set_state(state)  # the weights of the diverged epoch
                    break
            evaluated = trainer.evaluate(result)
            if isinstance(evaluated, Future):
                pending = evaluated
            elif not record(evaluated):
                break
        except Diverged as d:
            ok = pending is None or record(pending.result())  # the epoch before, first
            pending = None
            if ok:
                history.stop_reason = f"{d.reason} at epoch {epoch + 1}"
            if state is not None:  # back to the start of the epoch that diverged
                trainer.set_state(state)
            break
        except KeyboardInterrupt:
            if pending is not None:  # the last completed epoch's row
                row = pending.result()
                pending = None
                record(row, notify=False)
            if history.epochs == epoch and state is not None:
                trainer.set_state(state)  # back to the end of the last completed epoch
            history.interrupted = history.stop_reason is None
            history.stop_reason = history.stop_reason or f"interrupted after epoch {history.epochs}"
            break
    if pending is not None:
        record(pending.result())
