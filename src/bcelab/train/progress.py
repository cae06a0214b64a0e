"""The training progress bar (rich): epochs done, rate, time left, and the latest losses.

:class:`ProgressBar` is a loop callback (called with the History after each epoch).
``fit(..., progress=True)`` draws one on stderr; the ``bcelab train`` command draws one
only when stderr is a terminal and ``--quiet`` is not given.  On a stream that is not a
terminal rich draws only the final state, as one line.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from .history import History

if TYPE_CHECKING:
    from rich.progress import Task

__all__ = ["ProgressBar", "metrics_text"]

#: the width of the bar's other columns (without the epoch counts)
_FIXED = len("epoch / ") + 16 + len(" 999 epochs/s ") + len("0:00:00 ") + 1


def _rich() -> Any:
    try:
        # optional dependency (rich, in the train and eval extras) and start-up time
        from rich import console, progress, table, text
    except ImportError:
        raise MissingDependencyError(
            "rich for the progress bar",
            "it is not installed",
            "pip install 'bcelab[train]', or turn the progress bar off",
        ) from None
    return console, progress, table, text


def metrics_text(h: History) -> str:
    """``train loss 0.4123 acc 0.812 | test loss 0.4020 acc 0.838`` (mean over seeds)."""
    parts = []
    for split in ("train", "test"):
        bits = []
        for m in ("loss", "acc", "excess"):
            key = f"{split}_{m}"
            if key in h.metrics and h.metrics[key].shape[1]:
                bits.append(f"{m} {h.metrics[key][:, -1].mean():.4f}")
        if bits:
            parts.append(f"{split} " + " ".join(bits))
    return " | ".join(parts)


class ProgressBar:
    """``epoch 37/200 ━━━━╸━━━━━━━ 41.2 epochs/s 0:00:04 train loss 0.4123 acc 0.812 | test ...``."""

    def __init__(self, total: int, *, stream: IO[str] | None = None) -> None:
        console, progress, table, text = _rich()

        column: Any = progress.ProgressColumn

        class Rate(column):
            """``41.2 epochs/s`` (the mean rate since the start)."""

            def render(self, task: Task) -> Any:
                elapsed = task.elapsed or 0.0
                done = task.completed - task.fields.get("start", 0)
                speed = done / elapsed if elapsed > 0 and done > 0 else 0.0
                return text.Text(f"{speed:.3g} epochs/s" if speed else "")

        self.total = total
        self._progress = progress.Progress(
            progress.TextColumn(
                "epoch {task.completed}/{task.total}", table_column=table.Column(no_wrap=True)
            ),
            progress.BarColumn(bar_width=16),
            Rate(table_column=table.Column(no_wrap=True)),
            progress.TimeRemainingColumn(),
            progress.TextColumn("{task.fields[metrics]}", table_column=table.Column(no_wrap=True)),
            console=console.Console(file=stream if stream is not None else sys.stderr),
            transient=False,
        )
        self._task = self._progress.add_task("epochs", total=total, metrics="", start=0)
        self._started = self._closed = False

    def __call__(self, h: History) -> None:
        if self._closed:
            return
        if not self._started:
            # a resumed run starts at its last epoch: the rate counts this call's epochs
            self._progress.reset(self._task, total=self.total, completed=h.epochs - 1)
            self._progress.update(self._task, start=h.epochs - 1, metrics="")
            self._progress.start()
            self._started = True
        text = metrics_text(h)
        room = self._progress.console.width - _FIXED - 2 * len(str(self.total))
        if len(text) > room:  # the losses take the room the bar leaves, no more
            text = text[: max(room - 1, 0)] + "…" if room > 1 else ""
        self._progress.update(self._task, completed=h.epochs, metrics=text)

    def close(self) -> None:
        """Draw the final state and end the line (once)."""
        if self._started and not self._closed:
            self._progress.stop()
        self._closed = True
