r"""Standardised features: :math:`x' = (x - \mu_{train}) / \sigma_{train}`, as float32.

The statistics are those of the training split only, so nothing about the test set leaks
in.  Each column is first divided by the largest power of two not above its largest
magnitude, and the results are multiplied back: powers of two scale exactly, so ordinary
features give the same bits as the direct formulas, while features beyond 1e154 (whose
squares overflow), up to float64's largest value, or below 1e-154 (whose squares vanish)
keep their spread instead of being flattened to 0.  A value that lands beyond float32's
range once standardised (a test or prediction row far outside the training data) is
refused, naming its column and row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..errors import DataError

__all__ = ["scaling", "standardise", "standardised"]

_F32_MAX = float(np.finfo(np.float32).max)


def _powers_of_two(magnitude: np.ndarray) -> np.ndarray:
    """Per column, the power of two 2**(e - 1) with ``magnitude`` in [2**(e - 1), 2**e)
    (never above the magnitude, so finite up to float64's largest value); 1 where the
    magnitude is 0 or not finite."""
    ok = (magnitude > 0) & np.isfinite(magnitude)
    exponent = np.frexp(np.where(ok, magnitude, 1.0))[1]
    return np.where(ok, np.ldexp(1.0, exponent - 1), 1.0)


def scaling(x_train: np.ndarray, /) -> tuple[np.ndarray, np.ndarray]:
    """The training split's mean and standard deviation per feature (float64; 1 where 0)."""
    x = np.asarray(x_train, dtype=np.float64)
    if x.shape[0] == 0:
        return np.zeros(x.shape[1:]), np.ones(x.shape[1:])
    s = _powers_of_two(np.abs(x).max(axis=0))
    z = x / s
    mu = z.mean(axis=0) * s
    sd = z.std(axis=0) * s
    return mu, np.where(sd > 0, sd, 1.0)


def standardised(
    x: ArrayLike,
    mean: ArrayLike,
    scale: ArrayLike,
    /,
    *,
    features: Sequence[str] | None = None,
    source: str = "the data",
) -> np.ndarray:
    """``(x - mean) / scale`` per column as float32; a DataError names the rows whose
    value lands beyond float32's range (``features`` names the columns)."""
    x = np.asarray(x, dtype=np.float64)
    mu, sd = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
    s = _powers_of_two(np.maximum(np.abs(mu), sd))
    with np.errstate(over="ignore"):
        z = (x / s - mu / s) / (sd / s)
    far = ~(np.abs(z) <= _F32_MAX) & np.isfinite(x)
    if far.any():
        col = int(np.flatnonzero(far.any(axis=0))[0])
        rows = np.flatnonzero(far[:, col])
        name = f"column {features[col]!r}" if features is not None else f"feature {col}"
        shown = ", ".join(str(int(i) + 1) for i in rows[:10])
        raise DataError(
            "feature values within float32's range once standardised with the training "
            "statistics (|value - mean| / scale below 3.4e38)",
            f"{name} of {source} holds {x[rows[0], col]:.6g} in data row {shown}"
            + (f" and {rows.size - 10} more" if rows.size > 10 else "")
            + f" (training mean {mu[col]:.6g}, scale {sd[col]:.6g})",
            "check the units of that column, or drop those rows",
        )
    return z.astype(np.float32)


def standardise(
    x_train: np.ndarray,
    x_test: np.ndarray,
    /,
    *,
    features: Sequence[str] | None = None,
    source: str = "the test data",
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    r"""Scale both splits with the training split's statistics only; returns both splits
    and those statistics (:func:`scaling`).

    .. math:: x' = (x - \mu_{train}) / \sigma_{train}, \quad \sigma = 1 \text{ where } \sigma = 0
    """
    mu, sd = scaling(x_train)
    train = standardised(x_train, mu, sd, features=features, source="the training data")
    return train, standardised(x_test, mu, sd, features=features, source=source), (mu, sd)
