"""The number types of the command line's flags (argparse ``type=``).

argparse's own ``type=float`` and ``type=int`` answer a typo with "invalid float value",
and ``float`` reads ``1e-400`` as 0 and ``1e400`` as inf without a word, so a range check
further on would report a value the user never typed.  These types refuse both with a
message that says what a flag takes; argparse puts the flag in front of it.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["number", "whole_number"]


def number(text: str) -> float:
    """A float flag's value: any decimal or scientific number float64 can hold."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number such as 0.5 or 1e-7; received {text!r}: write it in digits"
        ) from None
    literal = text.strip().lower().lstrip("+-")
    if value == 0.0 and any(c in "123456789" for c in literal.split("e")[0]):
        raise argparse.ArgumentTypeError(
            f"expected a number float64 can hold; received {text!r}, which is below its "
            "smallest positive value (about 5e-324) and would be read as 0: write a larger value"
        )
    if math.isinf(value) and "inf" not in literal:
        raise argparse.ArgumentTypeError(
            f"expected a number float64 can hold; received {text!r}, which is beyond its "
            "largest value (about 1.8e308): write a smaller value"
        )
    return value


def whole_number(text: str) -> int:
    """An integer flag's value, in decimal digits (``3``, ``-1``, ``1_000``)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number such as 2; received {text!r}: write it in digits, "
            "without a decimal point"
        ) from None
