"""A one-line progress bar over epochs, drawn only on a terminal.

It is a ``fit`` callback; on anything that is not a TTY (a pipe, a file, CI logs) it
draws nothing (and a quiet command line does not create it at all).
"""

from __future__ import annotations

import sys
from typing import IO, Any

from .history import History

__all__ = ["ProgressBar"]


class ProgressBar:
    """``epoch 37/200 [#####.....] loss 0.4123 acc 0.812 | test loss 0.4020 acc 0.838``."""

    def __init__(self, total: int, *, stream: IO[str] | None = None, width: int = 24) -> None:
        self.total, self.width = total, width
        self.stream: Any = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.drawn = False

    def __call__(self, h: History) -> None:
        if not self.enabled:
            return
        e = h.epochs
        filled = int(self.width * e / max(self.total, 1))
        parts = [f"epoch {e}/{self.total} [{'#' * filled}{'.' * (self.width - filled)}]"]
        for split in ("train", "test"):
            bits = []
            for m in ("loss", "acc", "excess"):
                key = f"{split}_{m}"
                if key in h.metrics:
                    bits.append(f"{m} {h.metrics[key][:, -1].mean():.4f}")
            parts.append(f"{split} " + " ".join(bits))
        self.stream.write("\r" + " | ".join(parts) + " ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
