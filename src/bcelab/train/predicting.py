"""Predictions of a trained model for new rows: :func:`predict` and :func:`write_predictions`.

A run of the built-in MLP on a table or a built-in task keeps, beside ``model.pt`` (a
state_dict, read with ``torch.load(weights_only=True)``), a ``predictor.json``: the model
spec, the feature columns in order, the training split's means and scales, the target
column and its positive label.  New rows go through the same standardisation and the
same network; the result is the input table plus a ``logit`` and a ``pred``
(:math:`\\sigma(\\text{logit})`) column, both float64.

>>> from bcelab.train import predict                                    # doctest: +SKIP
>>> predict("runs/mine", "new_rows.csv").column("pred")                 # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._core.atomic import atomic_open
from .._core.extras import TRAINING, needs_extras
from .._core.options import check_bool, check_instance, check_path, check_seed
from .._core.passthrough import check_csv_writable
from .._core.tables import COMPRESSED, column_hint, refuse_repeated, table_kind
from ..errors import DataError, OptionError, ShapeError
from ..losses import sigmoid
from .artifacts import load_torch_file
from .data import Dataset
from .mlp.models import MLPSpec, module_from_state
from .predictor_file import (
    PREDICTOR_FORMAT,
    PredictorInfo,
    check_fingerprint,
    check_weights,
    read_predictor_json,
)
from .tables import OUTPUT_COLUMNS, features_array, read_table

__all__ = [
    "OUTPUT_COLUMNS",
    "PREDICTOR_FORMAT",
    "Predictor",
    "load_predictor",
    "output_kind",
    "predict",
    "predictor_dict",
    "write_predictions",
]

_BATCH = 1 << 16

_AS_WRITTEN = "pass as_written=True to copy the other columns of a CSV file as text, else False"


def predictor_dict(spec: MLPSpec, ds: Dataset, seeds: list[int]) -> dict[str, Any]:
    """The content of ``predictor.json`` for an MLP trained on ``ds`` (which has a table)."""
    assert ds.table is not None
    return {
        "format": PREDICTOR_FORMAT,
        "model": spec.to_dict(),
        "n_inputs": int(ds.x_train.shape[1]),
        "n_outputs": int(ds.y_train.shape[1]),
        "seeds": list(seeds),
        "data": ds.name,
        "table": ds.table.to_dict(),
    }


def _seeds_shown(seeds: tuple[int, ...]) -> str:
    """The seeds of a run, as an error shows them: all, a range, or the first 10 and the count."""
    if len(seeds) == 1:
        return f"seeds ({seeds[0]})"
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{len(seeds)} seeds ({seeds[0]} to {seeds[-1]})"
    shown = ", ".join(str(v) for v in seeds[:10]) + (", ..." if len(seeds) > 10 else "")
    return f"{len(seeds)} seeds ({shown})"


@dataclass(frozen=True)
class Predictor(PredictorInfo):
    """A trained MLP with the table layout it was trained on (from a run folder): the
    checked ``predictor.json`` (spec, inputs, outputs, seeds, table) and its weights."""

    state: dict[str, Any]
    source: str

    def seed_index(self, seed: int | None) -> int:
        """The position of ``seed`` among the run's seeds (None: the first seed)."""
        if seed is None:
            return 0
        s = check_seed(seed, fname="predict")
        if s not in self.seeds:
            raise OptionError(
                f"predict: seed must be one of the run's {_seeds_shown(self.seeds)}",
                f"received seed={seed!r}",
                f"pass e.g. seed={self.seeds[0]}",
            )
        return self.seeds.index(s)

    def logits(
        self, x: np.ndarray, /, *, seed: int | None = None, source: str = "the data"
    ) -> np.ndarray:
        """Logits ``(N, outputs)`` (float32) of raw features ``(N, D)`` in the run's order
        (``source`` names the rows in errors)."""
        import torch  # optional dependency (bcelab[train])

        k = self.seed_index(seed)
        one = len(self.seeds) == 1
        mod = module_from_state(
            self.state, self.spec, self.n_inputs, self.n_outputs, seed_index=None if one else k
        )
        xs = torch.from_numpy(np.ascontiguousarray(self.table.transform(x, source=source)))
        with torch.no_grad():
            parts = [mod(xs[i : i + _BATCH]) for i in range(0, xs.shape[0], _BATCH)]
        out = torch.cat(parts) if parts else torch.zeros((0, self.n_outputs))
        return np.asarray(out.numpy(), dtype=np.float32)


@needs_extras("bcelab.train.load_predictor", TRAINING)
def load_predictor(run: str | Path, /) -> Predictor:
    """The predictor of a run folder (``predictor.json`` and ``model.pt``)."""

    d = check_path(
        run, name="run", fname="predict", hint="pass the out= folder of a completed training run"
    )
    meta, weights = d / "predictor.json", d / "model.pt"
    if not (meta.is_file() and weights.is_file()):
        raise DataError(
            "a run folder of bcelab train (the built-in model on a table or a built-in "
            "task) with predictor.json and model.pt",
            f"{d} has {'no predictor.json' if not meta.is_file() else 'no model.pt'}",
            "pass the out= folder of a completed training run (an interrupted run is "
            "completed by resuming it)",
        )
    info = read_predictor_json(meta)
    state = load_torch_file(
        weights,
        "a model.pt written by bcelab train",
        "train the model again; the file is damaged or from another program",
    )
    check_weights(state, info, weights, meta)
    # after the checks of the file and the shapes, which say more about a damaged file
    check_fingerprint(info, weights, meta)
    return Predictor(**vars(info), state=state, source=str(d))


def _as_table(
    data: Any, delimiter: str | None, features: tuple[str, ...], target: str, as_written: bool
) -> tuple[Any, str]:
    """A pyarrow Table (and a name for messages) from a path, a table, a dict of columns,
    or a 2-D array whose columns are ``features`` in the training data's order.  Of a
    text file with ``as_written``, the features and the ``target`` (the labels ``bcelab
    eval`` reads) are read as numbers, every other column as text; else every column's
    type is inferred."""
    import pyarrow as pa  # optional dependency (bcelab[eval])

    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biuf":
            raise DataError(
                f"predict: an array of data holding real numbers: the features "
                f"{list(features)} in the training data's order",
                f"received an array of dtype {data.dtype}",
                "pass x.real if every imaginary part is 0"
                if data.dtype.kind == "c"
                else "pass x.astype(float), or a table of the feature columns",
            )
        if data.ndim != 2 or data.shape[1] != len(features):
            raise ShapeError(
                f"predict: an array of data must have shape (rows, {len(features)}): the "
                f"features {list(features)} in the training data's order",
                f"received shape {data.shape}",
                "pass x with one row per example (x.reshape(-1, n_features) for one row)",
            )
        return pa.table({f: data[:, j] for j, f in enumerate(features)}), "the array"
    if isinstance(data, str | os.PathLike):
        numbers = {*features, target} if as_written else None
        return read_table(Path(data), delimiter=delimiter, numbers=numbers), str(data)
    if isinstance(data, pa.Table):
        return data, "the table"
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data]), "the table"
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow(), "the table"
    if type(data).__module__.startswith("pandas"):
        if not hasattr(data, "columns"):  # a Series: one column, or one row
            raise OptionError(
                f"predict: data must be a table of the feature columns {list(features)}",
                f"received a pandas {type(data).__name__}"
                + (f" named {data.name!r}" if getattr(data, "name", None) is not None else ""),
                f"pass the DataFrame with those columns, e.g. df[{list(features)}]",
            )
        dtypes = {str(c): t for c, t in zip(data.columns, data.dtypes, strict=True)}
        return _converted(lambda: _from_pandas(data), "the DataFrame", dtypes), "the DataFrame"
    if isinstance(data, Mapping):
        cols = {str(k): np.asarray(v) for k, v in data.items()}
        dtypes = {k: v.dtype for k, v in cols.items()}
        return _converted(lambda: pa.table(cols), "the columns", dtypes), "the columns"
    raise OptionError(
        "predict: data must be a CSV/TSV/Parquet path, a pyarrow Table, a polars or pandas "
        "DataFrame, a dict of columns, or a 2-D NumPy array of the features",
        f"received {type(data).__name__}",
        "pass the path of a table with the feature columns",
    )


def _from_pandas(df: Any) -> Any:
    """A pyarrow Table of a pandas DataFrame's columns; a repeated column name (which
    ``Table.from_pandas`` refuses) is kept, as in a CSV header."""
    import pyarrow as pa  # optional dependency (bcelab[eval])

    names = [str(c) for c in df.columns]
    if len(set(names)) == len(names):
        return pa.Table.from_pandas(df, preserve_index=False)
    cols = [pa.array(df.iloc[:, j], from_pandas=True) for j in range(df.shape[1])]
    return pa.Table.from_arrays(cols, names=names)


def _converted(make: Callable[[], Any], source: str, dtypes: Mapping[str, Any]) -> Any:
    """``make()`` (a pyarrow Table of in-memory columns of ``dtypes``); a column that
    pyarrow cannot hold (complex numbers, mixed objects) is a DataError."""
    import pyarrow as pa  # optional dependency (bcelab[eval])

    expected = "predict: data with columns of real numbers, text or booleans"
    fix = "convert the feature columns to numbers first (e.g. .astype(float))"
    for name, dt in dtypes.items():
        if getattr(dt, "kind", "") == "c":
            got = f"column {name!r} of {source} holds complex numbers ({dt})"
            raise DataError(
                expected, got, "pass its real part (.real) if every imaginary part is 0"
            )
    try:
        return make()
    except (pa.ArrowException, ValueError, TypeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(expected, f"converting {source} to a table failed: {reason}", fix) from None


def _features(tab: Any, p: Predictor, source: str) -> np.ndarray:
    """The run's feature columns of ``tab`` as float64, with every problem named."""
    trained = [f for f in p.table.features if f in OUTPUT_COLUMNS]
    if trained:  # bcelab train refuses such a feature now; an earlier run may have one
        raise DataError(
            f"a model whose features are not named {list(OUTPUT_COLUMNS)}, the columns "
            "that predict adds to its output",
            f"the model of {p.source} was trained on a feature column named {trained[0]!r}",
            f"rename that column in the training and test tables (e.g. to '{trained[0]}_in') "
            "and train the model again",
        )
    cols = list(tab.column_names)
    missing = [f for f in p.table.features if f not in cols]
    if missing:
        hint = column_hint(missing, cols)
        raise DataError(
            f"the feature columns the model was trained on: {list(p.table.features)}",
            f"{source} lacks {missing} (its columns are {cols[:20]})",
            f"{hint + ' ' if hint else ''}add those columns, spelt as in the training data "
            "(case matters)",
        )
    refuse_repeated(cols, p.table.features, source)
    taken = [c for c in OUTPUT_COLUMNS if c in cols]
    if taken:
        raise DataError(
            f"data without the output columns {list(OUTPUT_COLUMNS)}",
            f"{source} already has {taken}",
            "rename or drop those columns first",
        )
    x = features_array(tab, p.table.features, source, "as they were in the training data")
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        named = [f for f, b in zip(p.table.features, bad.any(axis=0), strict=True) if b]
        shown = ", ".join(str(int(i) + 1) for i in rows[:10])
        raise DataError(
            f"finite values in the feature columns of {source}",
            f"missing or infinite values in columns {named}, data rows {shown}"
            + (f" and {len(rows) - 10} more" if len(rows) > 10 else ""),
            "fill them in, or drop those rows",
        )
    return x


@needs_extras("bcelab.train.predict", TRAINING)
def predict(
    run: str | Path,
    data: Any,
    /,
    *,
    seed: int | None = None,
    delimiter: str | None = None,
    as_written: bool = False,
) -> Any:
    """The rows of ``data`` with ``logit`` and ``pred`` columns from the model of ``run``.

    Args:
        run: a run folder written by :func:`bcelab.train.fit` (``out=``) or ``bcelab train``
            for the built-in MLP on a table or a built-in task.
        data: a CSV/TSV/Parquet path, a pyarrow Table, a polars or pandas DataFrame, or a
            dict of columns, holding (at least) the feature columns of the training data;
            or a 2-D NumPy array of those features' raw values in the training data's
            order (the columns of the returned table are then named after them); they
            are standardised with the run's means and scales, so a ``Dataset``'s
            ``x_test``, standardised already, is not what to pass.
        seed: which seed's model of a many-seed run (default: the first seed).
        delimiter: the field separator of a CSV file (default: tab for ``.tsv``, else comma).
        as_written: of a CSV/TSV file, read the columns other than the features and the
            training data's target as text, as written (an id keeps its leading zeros and
            every digit), to write them back to a text file unchanged (``bcelab predict``
            with a CSV ``--out``); default: every column's type is inferred.

    Returns:
        A ``pyarrow.Table``: every input column, then ``logit`` and ``pred`` (float64).
    """
    import pyarrow as pa  # optional dependency (bcelab[eval])

    p = load_predictor(run)
    as_written = check_bool(as_written, name="as_written", fname="predict", hint=_AS_WRITTEN)
    tab, source = _as_table(data, delimiter, p.table.features, p.table.target, as_written)
    z = p.logits(_features(tab, p, source), seed=seed, source=source)[:, 0].astype(np.float64)
    return tab.append_column("logit", pa.array(z)).append_column("pred", pa.array(sigmoid(z)))


def output_kind(path: str | Path) -> str | None:
    """``"parquet"`` or ``"text"`` for a predictions file name, None for another suffix."""
    if str(path).lower().endswith(COMPRESSED):
        return None
    return table_kind(path)


@needs_extras("bcelab.train.write_predictions", TRAINING)
def write_predictions(table: Any, path: str | Path, /, *, delimiter: str | None = None) -> Path:
    """Write a table atomically as Parquet (``.parquet``) or CSV (``.csv``; ``.tsv``: tabs).

    ``delimiter``: the separator of a CSV file, when it is to be other than the one its
    extension names (tab for ``.tsv``, else comma).
    """
    import pyarrow as pa  # optional dependency (bcelab[eval])

    check_instance(
        table,
        pa.Table,
        name="table",
        fname="write_predictions",
        what="a pyarrow Table",
        hint="pass the table that predict returned",
    )
    path = check_path(
        path, name="path", fname="write_predictions", hint="pass e.g. 'predictions.parquet'"
    )
    kind = output_kind(path)
    if kind is None:
        raise OptionError(
            "predictions written to a .parquet, .csv or .tsv file",
            f"received {Path(path).name!r}",
            "end the file name in .parquet or .csv",
        )
    if kind == "text":
        check_csv_writable(
            table.schema, "the table", f"write it as Parquet: {Path(path).with_suffix('.parquet')}"
        )
    with atomic_open(path, "wb") as fh:
        if kind == "parquet":
            import pyarrow.parquet as pq  # optional dependency (bcelab[eval])

            pq.write_table(table, fh)
        else:
            import pyarrow.csv as pcsv  # optional dependency (bcelab[eval])

            sep = delimiter or ("\t" if str(path).lower().endswith(".tsv") else ",")
            pcsv.write_csv(table, fh, write_options=pcsv.WriteOptions(delimiter=sep))
    return Path(path)
