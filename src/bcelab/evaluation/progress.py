"""A one-line progress bar with rows per second, drawn on stderr (opt-in only)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "format_rate"]


def format_rate(x: float) -> str:
    """``12_345_678`` -> ``'12.3M'``.

    >>> format_rate(12_345_678), format_rate(950), format_rate(2.5e9)
    ('12.3M', '950', '2.5G')
    """
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            v = x / div
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{x:.0f}"


class ProgressBar:
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
