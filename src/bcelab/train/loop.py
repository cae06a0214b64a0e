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
  ``out=`` writes the run folder (:func:`~bcelab.train.artifacts.save_run`: built beside
  it and swapped in whole), checkpoint included, from which a later ``resume=``
  continues bit for bit;
* with a folder, a checkpoint (the whole run folder but the figure) is also written
  during training: every ``checkpoint_every`` epochs, or by default at the first epoch
  end :data:`CHECKPOINT_SECONDS` after the last one, so a killed run loses at most that
  much; ``checkpoint_every=0`` writes only at the end;
* a second Ctrl-C while the run is saved waits until it is on disk
  (:mod:`bcelab.train.interrupts`).

The trainers are :class:`~bcelab.train.logits.LogitsTrainer` (the built-in MLP for many
seeds, or any module that outputs logits) and
:class:`~bcelab.train.autoencoder.trainer.AutoencoderTrainer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import NaNError, OptionError
from . import interrupts
from .artifacts import CHECKPOINT_FORMAT, check_out, load_checkpoint, save_run
from .checks import check_resume
from .history import History
from .progress import ProgressBar

__all__ = [
    "CHECKPOINT_SECONDS",
    "Callback",
    "Diverged",
    "DivergedError",
    "ProgressFn",
    "Threads",
    "Trainer",
    "train",
]

Callback = Callable[[History], None]
ProgressFn = Callable[[int, int], None]
Row = dict[str, np.ndarray]

#: without ``checkpoint_every``: a checkpoint at the first epoch end this long after the last
CHECKPOINT_SECONDS = 30.0


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
    final_loss_key: str  # the same for the final metrics (the weights after the last epoch)

    def train_epoch(self, epoch: int) -> Any: ...

    def evaluate(self, result: Any) -> Row | Future[Row]: ...

    def final_metrics(self) -> Row: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...

    def model_state(self) -> dict[str, Any]: ...

    def rng_state(self, next_epoch: int) -> dict[str, Any]: ...

    def describe(self) -> str: ...  # e.g. "optimizer sgd, lr 0.01"

    def advice(self) -> str: ...  # how to avoid a divergence

    def artifacts(self) -> dict[str, Any]: ...  # JSON files beside model.pt (name -> content)


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


@dataclass
class _Checkpoints:
    """When and where to write checkpoints during training."""

    folder: Path | None
    every: int | None  # epochs; None: every CHECKPOINT_SECONDS; 0: never
    save: Callable[[], None] = field(default=lambda: None)
    last: float = field(default_factory=time.perf_counter)

    def due(self, epochs_done: int) -> bool:
        if self.folder is None or self.every == 0:
            return False
        if self.every is None:
            return time.perf_counter() - self.last >= CHECKPOINT_SECONDS
        return epochs_done % self.every == 0

    def write(self) -> None:
        self.save()
        self.last = time.perf_counter()


def _progress(progress: object, epochs: int) -> tuple[list[Callback], ProgressBar | None]:
    """The progress callback (and the bar to close) for ``progress=``."""
    if progress is True:
        bar = ProgressBar(epochs)
        return [bar], bar
    if progress is False or progress is None:
        return [], None
    if callable(progress):
        return [lambda h: progress(h.epochs, epochs)], None
    raise OptionError(
        "progress must be True, False or a callable(epochs_done, epochs_total)",
        f"received progress={progress!r}",
        "pass progress=True",
    )


def _checkpoint(trainer: Trainer, history: History, run_info: Mapping[str, Any] | None) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "config": trainer.config,
        "state": trainer.get_state(),
        "history": history.to_dict(),
        "rng": trainer.rng_state(history.epochs),
        "run_info": dict(run_info or {}),
    }


def _start(trainer: Trainer, resume: str | Path | Mapping[str, Any] | None) -> History:
    """A new History, or the one of the checkpoint to resume (the trainer set to its state)."""
    if resume is None:
        return History(seeds=list(trainer.seeds), config=trainer.config)
    ck = load_checkpoint(resume)
    check_resume(ck["config"], trainer.config)
    trainer.set_state(ck["state"])
    history = History.from_dict(ck["history"])
    history.config = trainer.config
    history.interrupted, history.stop_reason, history.final = False, None, {}
    return history


def _save(
    trainer: Trainer,
    history: History,
    target: str | Path | None,
    run_info: Mapping[str, Any] | None,
    started: float,
    *,
    final: bool,
    figure: bool = False,
    reason: str | None = None,
) -> dict[str, Any]:
    """The checkpoint, and the run folder at ``target`` (all but the figure unless ``final``)."""
    checkpoint = _checkpoint(trainer, history, run_info)
    if target is not None:
        save_run(
            target,
            history,
            model_state=trainer.model_state(),
            checkpoint=checkpoint,
            run_info={**dict(run_info or {}), "wall_time_s": time.perf_counter() - started},
            diverged=reason is not None,
            figure=figure and final,
            files=trainer.artifacts(),
            in_progress=not final,
        )
    return checkpoint


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
    checkpoint_every: int | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool | ProgressFn = False,
) -> tuple[History, dict[str, Any]]:
    """Train up to ``epochs`` epochs; returns the History and the checkpoint.

    ``started`` (a ``time.perf_counter()`` value) is when the caller began, for the
    ``wall_time_s`` of summary.json; ``figure`` draws curves.png into ``out``.
    ``checkpoint_dir`` (default ``out``) receives the checkpoints written during training.
    """
    started = time.perf_counter() if started is None else started
    folder = out if checkpoint_dir is None else checkpoint_dir
    for d in {Path(f) for f in (out, folder) if f is not None}:
        check_out(d)  # before any work: a folder that cannot take the run is refused now
    history = _start(trainer, resume)
    extra, bar = _progress(progress, epochs)
    base, t0 = history.train_time, time.perf_counter()

    def mid_run() -> None:
        history.train_time = base + time.perf_counter() - t0
        _save(trainer, history, folder, run_info, started, final=False)

    checkpoints = _Checkpoints(None if folder is None else Path(folder), checkpoint_every, mid_run)
    with interrupts.guarded():
        try:
            with Threads(threads):
                _epochs(trainer, history, epochs, [*callbacks, *extra], checkpoints)
                interrupts.hold()  # from here a Ctrl-C waits until the run is saved
                history.train_time = base + time.perf_counter() - t0
                if history.stop_reason is None or history.interrupted:
                    history.final.update(trainer.final_metrics())
                    if history.stop_reason is None:
                        history.stop_reason = _not_finite(
                            trainer.seeds,
                            history.final[trainer.final_loss_key],
                            f"with the weights after the last epoch ({history.epochs})",
                        )
        finally:
            if bar is not None:
                bar.close()
        reason = None if history.interrupted else history.stop_reason
        checkpoint = _save(
            trainer, history, out, run_info, started, final=True, figure=figure, reason=reason
        )
    history.model_state = trainer.model_state()
    if reason is not None:
        err = DivergedError(
            "training to keep a finite loss", f"{reason} ({trainer.describe()})", trainer.advice()
        )
        err.history = history
        raise err
    return history, checkpoint


def _not_finite(seeds: Sequence[int], loss: Any, when: str) -> str | None:
    """Why training stops (the seeds whose ``loss`` is not finite, and ``when``), or None."""
    loss = np.asarray(loss, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(loss))
    if not bad.size:
        return None
    shown = [seeds[i] for i in bad[:10]]
    return f"the training loss of seed(s) {shown} became {loss[bad[0]]} {when}"


def _epochs(
    trainer: Trainer,
    history: History,
    epochs: int,
    callbacks: Sequence[Callback],
    checkpoints: _Checkpoints,
) -> None:
    """Epochs ``history.epochs .. epochs - 1``; sets ``history.stop_reason``/``interrupted``.

    With a pipelined trainer, epoch e's row arrives while epoch e + 1 trains: it is
    appended, checked and passed to the callbacks then, one epoch later.  A checkpoint
    is written before an epoch starts (the pending row first), so it holds the weights
    and the history of the same epoch.
    """
    seeds = list(trainer.seeds)

    def record(row: Row, *, notify: bool = True) -> bool:
        """Append one epoch's row; False when its loss is no longer finite."""
        history.append(row)
        reason = _not_finite(seeds, row[trainer.loss_key], f"at epoch {history.epochs}")
        if reason is not None:
            history.stop_reason = reason
            return False
        for cb in callbacks if notify else ():
            cb(history)
        return True

    state: dict[str, Any] | None = None
    pending: Future[Row] | None = None
    first = history.epochs
    for epoch in range(first, epochs):
        try:
            state = None
            if epoch > first and checkpoints.due(epoch):
                if pending is not None:
                    row = pending.result()
                    pending = None
                    if not record(row):
                        break  # the weights are still those of the diverged epoch
                checkpoints.write()
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
            interrupts.hold()  # the run is saved next: a second Ctrl-C waits for it
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
