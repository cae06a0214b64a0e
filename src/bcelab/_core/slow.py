"""A one-line notice for work that turns out slow (a first compile), from a timer thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["notify_if_slow"]


@contextmanager
def notify_if_slow(after: float, notice: Callable[[], None] | None) -> Iterator[None]:
    """Call ``notice`` once, from a timer thread, if the block still runs after ``after`` s.

    Quick blocks (a kernel loaded from a cache) say nothing; slow ones (a first compile)
    say so while they run, not after.  ``notice=None`` runs the block without a timer.
    """
    if notice is None:
        yield
        return
    timer = threading.Timer(after, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
