"""The one exception family that bcelab raises for bad input.

Every error message has three parts: what was expected, what was received,
and how to fix it.  All of them derive from :class:`BCELabError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do
not know about bcelab.
"""

from __future__ import annotations

__all__ = [
    "BCELabError",
    "BackendMismatchError",
    "DTypeError",
    "DataError",
    "DomainError",
    "EmptyReductionError",
    "MissingDependencyError",
    "NaNError",
    "OptionError",
    "ShapeError",
]


class BCELabError(ValueError):
    """Base class of every error bcelab raises on bad input or bad options.

    ``row``: when ``received`` names one row of the caller's arrays as ``at row {row}``,
    that index (so that a caller who passed part of a larger source can name the source's
    row instead); else None.
    """

    def __init__(self, expected: str, received: str, fix: str, *, row: int | None = None) -> None:
        self.expected = expected
        self.received = received
        self.fix = fix
        self.row = row
        # a received text that ends its own sentence (a peer's message, say) gets no second stop
        stop = " " if received.endswith((".", "!", "?")) else ". "
        super().__init__(f"{expected}; {received}{stop}{fix}")

    def received_at(self, name: str) -> str:
        """``received`` with the row it names (``at row {row}``) called ``name`` instead
        (the source's row, say ``row 500000 of FILE``); unchanged when it names none."""
        if self.row is None:
            return self.received
        return self.received.replace(f"at row {self.row}", f"at {name}", 1)


class OptionError(BCELabError):
    """A keyword option has a value outside what the function accepts."""


class ShapeError(BCELabError):
    """Arrays whose shapes do not match (bcelab never broadcasts silently)."""


class DTypeError(BCELabError, TypeError):
    """An array has a dtype that the operation does not accept."""


class DomainError(BCELabError):
    """Values outside their mathematical domain (targets or probabilities outside [0, 1])."""


class NaNError(BCELabError):
    """NaN found in an input while ``nan_policy="raise"``."""


class BackendMismatchError(BCELabError, TypeError):
    """Arrays from two different array libraries were mixed in one call."""


class EmptyReductionError(BCELabError):
    """A mean over zero elements (or over a total weight of zero) was requested."""


class DataError(BCELabError):
    """A data file or data set that cannot be used (missing column, corrupt file, ...)."""


class MissingDependencyError(BCELabError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    Also an :class:`ImportError`, so ``except ImportError`` keeps working.
    """
