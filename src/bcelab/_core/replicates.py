"""How many bootstrap replicates an interval at a confidence level needs, and the check
of a confidence level (the paired comparison, :mod:`bcelab.metrics.paired`)."""

from __future__ import annotations

import math

from ..errors import OptionError
from .options import real_number

__all__ = [
    "MAX_REPLICATES",
    "check_confidence",
    "check_enough_replicates",
    "fewest_replicates",
    "highest_confidence",
    "smallest_p_value",
]

MAX_REPLICATES = 2000  # bootstrap replicates; each adds about 250 kB to a paired state


def check_confidence(confidence: object, *, fname: str) -> float:
    """A confidence level strictly between 0 and 1 (an interval's coverage)."""
    c = real_number(confidence)
    if not 0.0 < c < 1.0:
        raise OptionError(
            f"{fname}: confidence must be a number strictly between 0 and 1",
            f"received confidence={confidence!r}",
            "pass e.g. confidence=0.95",
        )
    return c


def fewest_replicates(confidence: float) -> int:
    """The fewest bootstrap replicates R for intervals at ``confidence``: R + 1 >= 2 / alpha
    (39 at 95%, 199 at 99%), so that the alpha/2 tail holds at least one replicate and the
    smallest bootstrap p-value, 2 / (R + 1), reaches alpha (Davison & Hinkley, 1997, ch. 5)."""
    return max(1, math.ceil((2.0 / (1.0 - confidence) - 1.0) * (1.0 - 1e-9)))  # 1 - c rounds


def smallest_p_value(replicates: int) -> float:
    """2 / (R + 1): no two-sided bootstrap p-value of R replicates is smaller."""
    return 2.0 / (replicates + 1)


def highest_confidence(replicates: int) -> float:
    """The highest confidence that ``replicates`` replicates support (the inverse of
    :func:`fewest_replicates`), rounded down to 4 digits."""
    return math.floor((1.0 - smallest_p_value(replicates)) * 1e4) / 1e4


def check_enough_replicates(
    replicates: int, confidence: float, *, fname: str, state: bool = False
) -> None:
    """Refuse fewer bootstrap replicates than :func:`fewest_replicates` at ``confidence``
    (``state``: the replicates of an existing state, which only a new state can change)."""
    need = fewest_replicates(confidence)
    if replicates >= need:
        return
    top = highest_confidence(replicates)
    lower = [f"confidence={top} or lower"] if top > 0 else []
    if state:
        fix = ", or ".join(
            [f"pass {c}" for c in lower] + [f"build the state with replicates={max(need, 200)}"]
        )
    else:
        more = [f"replicates={max(need, 200)}"] if need <= MAX_REPLICATES else []
        fix = "pass " + (
            ", or ".join(more + lower)
            or f"replicates={MAX_REPLICATES} with confidence={highest_confidence(MAX_REPLICATES)} or lower"
        )
    raise OptionError(
        f"{fname}: at least {need:,} replicates for {confidence:.4g} intervals (with fewer, "
        "an interval's tail holds no whole replicate, and no p-value can fall below "
        "1 - confidence)",
        f"received replicates={replicates} with confidence={confidence!r}",
        fix,
    )
