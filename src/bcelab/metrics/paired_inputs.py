"""The inputs of :meth:`PairedBootstrapStats.update`: arrays, row keys and the validation scan.

Everything here runs before the state changes, so an error leaves the state as it was.
Rows with a target outside [0, 1] (or NaN) or a NaN prediction of either model are
excluded and counted, as :class:`~bcelab.metrics.BinaryStats` does (``strict=True``
raises instead).  Errors: probabilities outside [0, 1], negative or non-finite
weights, an infinite loss (p = 0 with a positive target, p = 1 with a negative one:
the paired difference would be undefined; ``clip`` fixes it), and a weighted value at
or above 2**32, with or without weights (the exact sums' range: divide the weights by
a constant, which changes no metric; without weights only a logit beyond about 4e9
reaches it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._core.display import count_of, counted
from .._core.validate import LOGITS_ADVICE
from ..errors import DomainError, DTypeError, NaNError, OptionError, ShapeError
from ..kernels.bootstrap_reference import prob_loss
from ..kernels.bootstrap_rng import file_row_keys, id_keys
from .inputs import to_numpy
from .paired_layout import MAX_VALUE

__all__ = ["Batch", "prepare_batch"]

FNAME = "PairedBootstrapStats.update"
#: the largest loss from a probability in float64 (p = 5e-324): -log(5e-324) < 745.2
_MAX_PROB_LOSS = 745.2


class Batch(NamedTuple):
    """One validated batch: flat arrays of a common float dtype, keys and counts."""

    y: np.ndarray
    pa: np.ndarray
    pb: np.ndarray
    w: np.ndarray | None
    keys: np.ndarray  # uint64
    counts: np.ndarray  # rows, used, nan_a, nan_b, invalid_target, clipped_a, clipped_b


def _arrays(
    preds_a: object, preds_b: object, targets: object, weights: object, *, logits: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    kind = "logits" if logits else "preds"
    pa = to_numpy(preds_a, name=f"{kind}_a", fname=FNAME, kind="preds")
    pb = to_numpy(preds_b, name=f"{kind}_b", fname=FNAME, kind="preds")
    y = to_numpy(targets, name="targets", fname=FNAME, kind="targets")
    w = None if weights is None else to_numpy(weights, name="weights", fname=FNAME, kind="weights")
    for arr, nm in ((pb, f"{kind}_b"), (y, "targets"), (w, "weights")):
        if arr is not None and arr.shape != pa.shape:
            raise ShapeError(
                f"{FNAME}: {nm} and {kind}_a must have the same shape (bcelab never broadcasts)",
                f"received {arr.shape} and {pa.shape}",
                "pass one value per row for every argument",
            )
    arrs = [a for a in (y, pa, pb, w) if a is not None]
    dt = np.float32 if all(a.dtype == np.float32 for a in arrs) else np.float64

    def flat(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.ravel(), dtype=dt)

    return flat(y), flat(pa), flat(pb), None if w is None else flat(w)


def _keys(
    n: int,
    ids: object,
    source_key: object,
    row_offset: object,
    row_index: object,
    default_offset: int,
) -> np.ndarray:
    if ids is not None:
        if source_key is not None or row_offset is not None or row_index is not None:
            raise OptionError(
                f"{FNAME}: rows are keyed either by ids or by (source_key, row position)",
                "received ids together with source_key, row_offset or row_index",
                "pass ids alone",
            )
        try:
            keys = id_keys(ids)
        except DTypeError as e:  # the kernels' words, under this method's name
            raise DTypeError(f"{FNAME}: {e.expected}", e.received, e.fix) from None
        if keys.shape[0] != n:
            raise ShapeError(
                f"{FNAME}: one id per row",
                f"received {count_of(keys.shape[0], 'id')} for {count_of(n, 'row')}",
                "pass the id column of the same rows",
            )
        return keys
    if row_index is not None:
        if row_offset is not None:
            raise OptionError(
                f"{FNAME}: row_offset or row_index, not both",
                "received both",
                "pass row_index (one position per row) alone",
            )
        idx = np.asarray(row_index)
        if idx.dtype.kind not in "iu" or idx.shape != (n,):
            raise ShapeError(
                f"{FNAME}: row_index must be one integer position per row",
                f"received dtype {idx.dtype} and shape {idx.shape} for {n} rows",
                "pass e.g. numpy.flatnonzero(mask) + first_row",
            )
        return file_row_keys(0 if source_key is None else source_key, idx)
    if row_offset is None:
        start = default_offset
    elif isinstance(row_offset, (int, np.integer)) and not isinstance(row_offset, bool):
        start = int(row_offset)
    else:
        raise OptionError(
            f"{FNAME}: row_offset must be an integer (the position of the first row)",
            f"received row_offset={row_offset!r}",
            "pass e.g. row_offset=0",
        )
    return file_row_keys(0 if source_key is None else source_key, np.arange(start, start + n))


def _scan(b: Batch, *, logits: bool, eps: float, strict: bool) -> None:
    """Raise for the errors listed in the module docstring; fill ``b.counts``."""
    y, pa, pb, w = b.y, b.pa, b.pb, b.w
    with np.errstate(invalid="ignore"):
        bad_y = ~((y >= 0) & (y <= 1))
        nan_a, nan_b = np.isnan(pa), np.isnan(pb)
        keep = ~(bad_y | nan_a | nan_b)
        if strict and bad_y.any():
            i = int(np.flatnonzero(bad_y)[0])
            raise DomainError(
                f"{FNAME}: targets must lie in [0, 1] when strict=True",
                f"{counted(int(bad_y.sum()), 'target')} outside or NaN "
                f"(first: {float(y[i])!r} at row {i})",
                "map labels like {-1, 1} to {0, 1} with (y + 1) / 2, or pass strict=False "
                "to exclude and count those rows",
                row=i,
            )
        if strict and not keep.all():
            i = int(np.flatnonzero(~keep)[0])
            raise NaNError(
                f"{FNAME}: predictions must not contain NaN when strict=True",
                f"found {count_of(int((~keep).sum()), 'row')} with a NaN prediction (first at row {i})",
                "clean the data, or pass strict=False to exclude and count those rows",
                row=i,
            )
        if w is not None:
            bad_w = ~((w >= 0) & (w < np.inf))
            if bad_w.any():
                i = int(np.flatnonzero(bad_w)[0])
                raise DomainError(
                    f"{FNAME}: weights must be finite and >= 0",
                    f"{counted(int(bad_w.sum()), 'weight')} not "
                    f"(first: {float(w[i])!r} at row {i})",
                    "fix or drop those rows' weights",
                    row=i,
                )
            if (w >= MAX_VALUE).any():
                raise DomainError(
                    f"{FNAME}: weights below 2**32 (the sums are exact fixed-point integers)",
                    f"received a weight of {float(w.max())!r}",
                    "divide every weight by the same constant: no metric changes",
                )
        for m, (p, nm) in enumerate(((pa, "a"), (pb, "b"))):
            _check_model(y, p, w, keep, nm, logits=logits, eps=eps)
            if not logits and eps > 0:
                b.counts[5 + m] = int((keep & ((p < eps) | (p > 1.0 - eps))).sum())
        _check_loss_cap(y, pa, pb, w, keep, logits=logits, eps=eps)
    b.counts[:5] = [
        y.shape[0],
        int(keep.sum()),
        int(nan_a.sum()),
        int(nan_b.sum()),
        int(bad_y.sum()),
    ]


def _check_model(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    keep: np.ndarray,
    nm: str,
    *,
    logits: bool,
    eps: float,
) -> None:
    live = keep if w is None else keep & (w > 0)
    if not logits:
        out = keep & ~((p >= 0) & (p <= 1))
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise DomainError(
                f"{FNAME}: probabilities must lie in [0, 1]",
                f"in preds_{nm}, {counted(int(out.sum()), 'value')} outside "
                f"(first: {float(p[i])!r} at row {i})",
                f"{LOGITS_ADVICE} pass logits=True",
                row=i,
            )
        if eps > 0:  # clipped probabilities have finite losses
            return
        inf = live & (((p == 0) & (y > 0)) | ((p == 1) & (y < 1)))
    else:
        inf = live & (((p == -np.inf) & (y > 0)) | ((p == np.inf) & (y < 1)))
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        fix = (
            "drop or correct those rows: an infinite logit is a certain prediction, and these "
            "are wrong"
            if logits
            else "clip the probabilities, e.g. clip=1e-15"
        )
        raise DomainError(
            f"{FNAME}: finite losses (a paired difference of infinite log losses is undefined)",
            f"model {nm.upper()} has {count_of(int(inf.sum()), 'row')} with an infinite loss "
            f"(first: prediction {float(p[i])!r}, target {float(y[i])!r} at row {i})",
            fix,
            row=i,
        )


def _check_loss_cap(
    y: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    w: np.ndarray | None,
    keep: np.ndarray,
    *,
    logits: bool,
    eps: float,
) -> None:
    # rows whose weighted loss (weight 1 without weights) may reach MAX_VALUE: a cheap
    # bound first (a probability's loss is at most _MAX_PROB_LOSS), the exact loss after
    if logits:
        big = np.maximum(np.abs(pa), np.abs(pb)) + 1.0
        with np.errstate(over="ignore"):  # a bound that overflows (float32) flags its row
            rows = np.flatnonzero(keep & ((big if w is None else w * big) >= MAX_VALUE))
    elif w is None:
        return
    else:
        rows = np.flatnonzero(keep & (w >= MAX_VALUE / _MAX_PROB_LOSS))
    if rows.size == 0:
        return
    lo_c, hi_c = (eps, 1.0 - eps) if eps > 0 else (0.0, 1.0)
    yy = y[rows].astype(np.float64)
    ww = np.ones(rows.size) if w is None else w[rows].astype(np.float64)
    for p in (pa, pb):
        _, loss = prob_loss(yy, p[rows].astype(np.float64), logits=logits, lo_c=lo_c, hi_c=hi_c)
        big = ww * loss >= MAX_VALUE
        if big.any():
            i = int(rows[np.flatnonzero(big)[0]])
            if w is None:
                raise DomainError(
                    f"{FNAME}: losses below 2**32 (the sums are exact fixed-point integers)",
                    f"row {i} has a loss of {float(loss[big][0])!r} (logit "
                    f"{float(p[i])!r}, target {float(y[i])!r})",
                    "check the scale of the logits: a loss this large needs a logit beyond "
                    "+-4e9, usually a unit or overflow bug upstream",
                )
            raise DomainError(
                f"{FNAME}: weight * loss below 2**32 (the sums are exact fixed-point integers)",
                f"row {i} has weight {float(w[i])!r} and a loss of {float(loss[big][0])!r}",
                "divide every weight by the same constant: no metric changes",
            )


def prepare_batch(
    preds_a: object,
    preds_b: object,
    targets: object,
    *,
    weights: object,
    ids: object,
    source_key: object,
    row_offset: object,
    row_index: object,
    default_offset: int,
    logits: bool,
    eps: float,
    strict: bool,
) -> Batch:
    """Convert, key and validate one batch (raises before anything is added)."""
    y, pa, pb, w = _arrays(preds_a, preds_b, targets, weights, logits=logits)
    keys = _keys(y.shape[0], ids, source_key, row_offset, row_index, default_offset)
    b = Batch(y, pa, pb, w, np.ascontiguousarray(keys, dtype=np.uint64), np.zeros(7, np.int64))
    _scan(b, logits=logits, eps=eps, strict=strict)
    return b
