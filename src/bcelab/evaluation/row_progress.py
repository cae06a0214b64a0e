"""The progress bar of rows read, with rows per second and the time left (rich).

:func:`bcelab.evaluate` draws one on stderr with ``progress=True``; the ``bcelab eval``
command creates its own when stderr is a terminal (or with ``--progress``) and passes it
as the ``progress`` callable.  On a stream that is not a terminal rich draws only the
final state, as one line.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import MissingDependencyError
from .text import format_rate

if TYPE_CHECKING:
    from rich.progress import Task

__all__ = ["RowProgressBar"]


def _rich() -> Any:
    try:
        # optional dependency (rich, in the eval extra) and start-up time
        from rich import console, progress, text
    except ImportError:
        raise MissingDependencyError(
            "rich for the progress bar",
            "it is not installed",
            "pip install 'bcelab[eval]', or turn the progress bar off",
        ) from None
    return console, progress, text


class RowProgressBar:
    """Callable ``(rows_done, rows_total or None)`` drawing a rich progress bar."""

    def __init__(self, stream: TextIO | None = None) -> None:
        console, progress, text = _rich()

        column: Any = progress.ProgressColumn

        class Rows(column):
            """``1.2M/4M rows  3.4M rows/s`` (rich's own columns count bytes or items)."""

            def render(self, task: Task) -> Any:
                done = format_rate(task.completed)
                total = "" if task.total is None else f"/{format_rate(task.total)}"
                elapsed = task.elapsed or 0.0
                speed = task.completed / elapsed if elapsed > 0 else 0.0  # the mean rate
                rate = f"  {format_rate(speed)} rows/s" if speed else ""
                return text.Text(f"{done}{total} rows{rate}")

        self._progress = progress.Progress(
            progress.BarColumn(),
            progress.TaskProgressColumn(),
            Rows(),
            progress.TimeRemainingColumn(),
            console=console.Console(file=stream if stream is not None else sys.stderr),
            transient=False,
        )
        self._task = self._progress.add_task("rows", total=None)
        self._started = False
        self._closed = False

    def __call__(self, done: int, total: int | None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Draw the final state and end the line (once)."""
        if self._started and not self._closed:
            self._progress.stop()
        self._closed = True
