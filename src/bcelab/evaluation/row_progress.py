"""A one-line progress bar of rows read, with rows per second, drawn on a text stream.

:func:`bcelab.evaluate` draws one on stderr with ``progress=True``; the ``bcelab eval``
command creates its own and passes it as the ``progress`` callable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .text import format_rate

__all__ = ["RowProgressBar"]


class RowProgressBar:
    """Callable ``(rows_done, rows_total or None)`` that redraws at most 5 times a second."""

    def __init__(
        self, stream: TextIO | None = None, *, width: int = 30, min_interval: float = 0.2
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.t0 = time.perf_counter()
        self._last = -1.0
        self._drawn = False
        self._state: tuple[int, int | None] = (0, None)

    def __call__(self, done: int, total: int | None) -> None:
        self._state = (done, total)
        now = time.perf_counter()
        if now - self._last >= self.min_interval or (total is not None and done >= total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        done, total = self._state
        rate = done / max(now - self.t0, 1e-9)
        if total:
            frac = min(1.0, done / total)
            fill = round(frac * self.width)
            bar = "#" * fill + "-" * (self.width - fill)
            text = f"[{bar}] {frac:6.1%} {format_rate(done)}/{format_rate(total)} rows"
        else:
            text = f"{format_rate(done)} rows"
        self.stream.write(f"\r{text}  {format_rate(rate)} rows/s ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._drawn or self._state[0]:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
