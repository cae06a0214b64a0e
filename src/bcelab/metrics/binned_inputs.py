"""The checks of :func:`bcelab.metrics.decompose_binned`'s histogram and scores."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._core.display import count_of
from ..errors import DomainError, DTypeError, OptionError, ShapeError

__all__ = ["check_histogram"]


def check_histogram(
    wpos: object, wneg: object, single_score: object, *scores: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`~bcelab.metrics.decompose_binned`'s arrays as float64 (``single_score`` as
    bool), checked with its scores ``(score_log_loss, score_brier)``."""
    f = "decompose_binned"
    for name, score in (("score_log_loss", scores[0]), ("score_brier", scores[1])):
        if isinstance(score, bool) or not isinstance(score, numbers.Real) or math.isnan(score):
            raise OptionError(
                f"{f}: {name} must be a number (the weighted mean score of the rows)",
                f"received {name}={score!r}",
                "pass the scores' weighted means as floats",
            )
    for name, value in (("wpos", wpos), ("wneg", wneg)):
        if value is None:
            raise OptionError(
                f"{f}: {name} is required",
                f"received {name}=None",
                "pass one weight per bin, e.g. from BinaryStats.histogram()",
            )
    try:
        wpos = np.asarray(wpos, dtype=np.float64)
        wneg = np.asarray(wneg, dtype=np.float64)
    except (TypeError, ValueError):
        raise DTypeError(
            f"{f}: wpos and wneg must be arrays of numbers",
            f"received {type(wpos).__name__} and {type(wneg).__name__}",
            "pass one float per bin in each, e.g. from BinaryStats.histogram()",
        ) from None
    _check_masses(wpos, wneg)
    single = None if single_score is None else _single_score(single_score)
    shapes = [a.shape for a in (wpos, wneg, single) if a is not None]
    if wpos.ndim != 1 or len(set(shapes)) != 1:
        raise ShapeError(
            "decompose_binned: wpos, wneg (and single_score) must be 1-d and of one length",
            f"received shapes {shapes}",
            "pass one value per bin in each",
        )
    return wpos, wneg, single


def _check_masses(wpos: np.ndarray, wneg: np.ndarray) -> None:
    f = "decompose_binned"
    bad = int(np.count_nonzero(~(wpos >= 0) | np.isinf(wpos)))
    bad += int(np.count_nonzero(~(wneg >= 0) | np.isinf(wneg)))
    if bad:
        raise DomainError(
            f"{f}: wpos and wneg must be finite masses >= 0",
            f"received {count_of(bad, 'negative, NaN or infinite value')}",
            "pass the weights of the positive and negative rows per bin",
        )
    with np.errstate(over="ignore"):
        total = float(wpos.sum()) + float(wneg.sum())
    if not math.isfinite(total):
        raise DomainError(
            f"{f}: masses whose total lies within float64's range",
            f"every mass is finite, but their total overflows (the largest is "
            f"{max(wpos.max(initial=0.0), wneg.max(initial=0.0)):.3g})",
            "divide wpos and wneg by their largest value: no term of the decomposition changes",
        )


def _single_score(single_score: object) -> np.ndarray:
    """``single_score`` as bool: booleans, or numbers that are all 0 or 1."""
    arr = np.asarray(single_score)
    if arr.dtype == bool:
        return arr
    ok = arr.dtype.kind in "iuf" and bool(np.all((arr == 0) | (arr == 1)))
    if not ok:
        raise DTypeError(
            "decompose_binned: single_score must be booleans (True: the bin holds one score)",
            f"received dtype {arr.dtype}"
            + (" with values other than 0 and 1" if arr.dtype.kind in "iuf" else ""),
            "pass the histogram's own single_score, or None to bound every bin",
        )
    return arr.astype(bool)
