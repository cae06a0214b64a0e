"""Reading the user's CSV/Parquet tables with pyarrow, with errors a person can act on.

Every problem names what it found: the distinct target values, the rows and columns
with missing values, the non-numeric column, or the columns that do exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, DomainError

__all__ = ["read_table", "to_xy"]


def read_table(path: str | Path, /) -> Any:
    """A ``pyarrow.Table`` from a ``.csv`` or ``.parquet`` file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            "an existing CSV or Parquet file",
            f"received {str(p)!r}, which does not exist",
            "check the path",
        )
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq  # optional dependency (bcelab[eval])

            return pq.read_table(p)
        if suffix in (".csv", ".txt"):
            import pyarrow.csv as pcsv  # optional dependency (bcelab[eval])

            return pcsv.read_csv(p)
    except Exception as e:  # pyarrow raises its own exception family
        raise DataError(
            f"a readable {suffix} file",
            f"reading {p} failed: {e}",
            "check that the file is a valid, non-empty table with a header row",
        ) from None
    raise DataError(
        "a file ending in .csv or .parquet",
        f"received {p.name!r}",
        "convert the table to CSV or Parquet",
    )


def _rows_list(idx: np.ndarray) -> str:
    shown = ", ".join(str(int(i) + 1) for i in idx[:10])
    return shown + (f" and {len(idx) - 10} more" if len(idx) > 10 else "")


def _numeric(tab: Any, name: str, source: str) -> np.ndarray:
    import pyarrow.types as pat  # optional dependency (bcelab[eval])

    col = tab.column(name)
    t = col.type
    if not (pat.is_integer(t) or pat.is_floating(t) or pat.is_boolean(t) or pat.is_null(t)):
        sample = next((v for v in col.to_pylist() if v is not None), None)
        raise DataError(
            f"column {name!r} of {source} must be numeric",
            f"received type {t} (e.g. {sample!r})",
            f"encode {name!r} as numbers, or leave it out of the feature columns",
        )
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def _target(tab: Any, name: str, source: str) -> np.ndarray:
    import pyarrow.types as pat  # optional dependency (bcelab[eval])

    t = tab.column(name).type
    if pat.is_integer(t) or pat.is_floating(t) or pat.is_boolean(t) or pat.is_null(t):
        return _numeric(tab, name, source)
    vals = sorted({str(v) for v in tab.column(name).to_pylist() if v is not None})
    shown = ", ".join(repr(v) for v in vals[:20]) + (" ..." if len(vals) > 20 else "")
    raise DomainError(
        f"target column {name!r} must be binary (0/1) or soft targets in [0, 1]",
        f"found {len(vals)} distinct non-numeric values: {shown}",
        "map the two classes to 0 and 1 (e.g. y = (label == 'yes'))",
    )


def to_xy(
    tab: Any, /, *, target: str, features: Sequence[str] | None, dropna: bool, source: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Features ``(N, D)`` float64, targets ``(N,)`` in [0, 1], the feature names and notes."""
    cols = list(tab.column_names)
    wanted = [target, *(features if features is not None else [c for c in cols if c != target])]
    missing = [c for c in wanted if c not in cols]
    if missing:
        raise DataError(
            f"columns {missing} must exist in {source}",
            f"the columns available are {cols}",
            "spell the target and feature columns as in the header (case matters)",
        )
    feats = tuple(wanted[1:])
    if not feats:
        raise DataError(
            "at least one feature column besides the target",
            f"{source} has only {cols}",
            "add feature columns, or name them as the features",
        )
    if target in feats:
        raise DataError(
            "the target must not also be a feature",
            f"received features {list(feats)}",
            f"remove {target!r} from the features",
        )
    y = _target(tab, target, source)
    x = np.stack([_numeric(tab, f, source) for f in feats], axis=1)
    notes: tuple[str, ...] = (f"{source}: target {target!r}, features {list(feats)}",)
    bad = np.isnan(y) | np.isnan(x).any(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        if not dropna:
            bad_cols = [
                c for c, v in zip((target, *feats), (y, *x.T), strict=True) if np.isnan(v).any()
            ]
            raise DataError(
                f"{source} must have no missing values in the columns used",
                f"missing values in columns {bad_cols}, data rows {_rows_list(rows)} "
                "(1 = first row after the header)",
                "fill them in, or drop those rows (dropna=True)",
            )
        x, y = x[~bad], y[~bad]
        notes = (*notes, f"dropped {len(rows)} rows with missing values")
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise DataError(
            "finite feature values",
            f"inf in data rows {_rows_list(rows)} of {source}",
            "replace the infinite values",
        )
    if y.size and not ((y >= 0) & (y <= 1)).all():
        vals = np.unique(y)
        shown = ", ".join(f"{v:g}" for v in vals[:20]) + (" ..." if len(vals) > 20 else "")
        raise DomainError(
            f"target column {target!r} must be binary (0/1) or soft targets in [0, 1]",
            f"found {len(vals)} distinct values: {shown}",
            "map the two classes to 0 and 1 (e.g. y = (label == 'yes'))",
        )
    if x.shape[0] == 0:
        raise DataError(
            f"{source} must contain at least one usable row",
            "received 0 rows",
            "check the file (every row had a missing value, and dropna drops those)",
        )
    return x, y, feats, notes
