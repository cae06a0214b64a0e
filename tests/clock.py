"""A clock for the first-compile tests of the CLI (``bcelab eval``, ``bcelab compare``)."""

from __future__ import annotations

import time


class JumpingClock:
    """The command's clock, moved 100 s ahead by every simulated compile step.

    A timing that included the compile would read at least 100 s, whatever the machine's
    speed: the check needs no wall-clock bound.  Each test sets ``offset`` to 0 first.
    """

    offset = 0.0

    @classmethod
    def perf_counter(cls) -> float:
        return time.perf_counter() + cls.offset
