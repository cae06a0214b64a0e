"""``bcelab.evaluate`` on tables in memory: the same numbers as a Parquet file of the rows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.errors import DataError, OptionError
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.local_engine import run_local, run_serial
from bcelab.evaluation.reader import plan_units
from bcelab.evaluation.tables import stream_units, table_units
from bcelab.evaluation.tasks import Plan

N = 300_000  # three batches of 2**17 rows, the last one short


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(11)
    p = rng.random(N).astype(np.float32)
    return pa.table(
        {
            "y": (rng.random(N) < p).astype(np.float32),
            "p": p,
            "w": rng.uniform(0.5, 2.0, N),
            "seg": rng.choice(np.array(["a", "b", "c"]), N),
            "other": np.arange(N),
        }
    )


@pytest.fixture(scope="module")
def from_file(table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("tables") / "t.parquet"
    pq.write_table(table, path)
    return bcelab.evaluate(path, preds="p", target="y", weight="w", by="seg")


def _same(a: Any, b: Any) -> None:
    """Bit-identical: the merged states and every segment's state."""
    assert a.stats == b.stats
    assert [s.value for s in a.segments] == [s.value for s in b.segments]
    assert all(sa.stats == sb.stats for sa, sb in zip(a.segments, b.segments, strict=True))
    assert a.to_dict()["metrics"] == b.to_dict()["metrics"]
    assert a.rows == b.rows


def _sources(table: pa.Table) -> dict[str, Any]:
    return {
        "pyarrow Table": table,
        "chunked pyarrow Table": pa.Table.from_batches(table.to_batches(max_chunksize=777)),
        "pyarrow RecordBatch": table.combine_chunks().to_batches()[0],
        "pyarrow RecordBatchReader": table.to_reader(max_chunksize=50_000),
        "dict of arrays": {c: table[c].to_numpy() for c in table.column_names},
        "dict of lists": {c: table[c].to_pylist() for c in ("y", "p", "w", "seg")},
    }


@pytest.mark.parametrize(
    "name",
    [
        "pyarrow Table",
        "chunked pyarrow Table",
        "pyarrow RecordBatch",
        "pyarrow RecordBatchReader",
        "dict of arrays",
        "dict of lists",
    ],
)
def test_in_memory_tables_equal_the_file(table: pa.Table, from_file: Any, name: str) -> None:
    source = _sources(table)[name]
    res = bcelab.evaluate(source, preds="p", target="y", weight="w", by="seg")
    _same(res, from_file)
    label = name.removeprefix("chunked ").replace("dict of lists", "dict of arrays")
    assert res.files == 0 and res.source == (label,)


def test_polars_dataframe_equals_the_file(table: pa.Table, from_file: Any) -> None:
    pl = pytest.importorskip("polars")
    res = bcelab.evaluate(pl.from_arrow(table), preds="p", target="y", weight="w", by="seg")
    _same(res, from_file)
    assert res.source == ("polars DataFrame",)


def test_pandas_dataframe_equals_the_file(table: pa.Table, from_file: Any) -> None:
    pytest.importorskip("pandas")
    res = bcelab.evaluate(table.to_pandas(), preds="p", target="y", weight="w", by="seg")
    _same(res, from_file)


def test_torch_tensors_in_a_dict(table: pa.Table, from_file: Any) -> None:
    torch = pytest.importorskip("torch")
    data: dict[str, Any] = {
        c: torch.from_numpy(table[c].to_numpy().copy()) for c in ("y", "p", "w")
    }
    data["seg"] = table["seg"].to_numpy(zero_copy_only=False)
    res = bcelab.evaluate(data, preds="p", target="y", weight="w", by="seg")
    _same(res, from_file)


def test_pandas_and_polars_are_not_imported_for_other_sources(table: pa.Table) -> None:
    before = {m for m in ("pandas", "polars") if m in sys.modules}
    bcelab.evaluate(table, preds="p", target="y")
    assert {m for m in ("pandas", "polars") if m in sys.modules} == before


def test_many_units_are_cut_like_the_file(table: pa.Table, tmp_path: Path) -> None:
    """Several units (here of 2**16 rows): table slices and a stream give the file's states."""
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=1 << 14)
    cols = Columns("y", "p", weight="w", by="seg")
    plan = Plan(cols, batch_rows=1 << 13)
    units = plan_units([tmp_path / "t.parquet"], cols, unit_rows=1 << 16)
    ref = run_local(units, plan, threads=3)
    tab = run_local(table_units(table, "t", unit_rows=1 << 16), plan, threads=3)
    reader = table.to_reader(max_chunksize=5_000)
    stream = run_serial(
        stream_units(reader, "t", unit_rows=1 << 16, batch_rows=1 << 13), plan, None, None
    )
    assert len(units) == 5
    for res in (tab, stream):
        assert res.rows == ref.rows == N
        assert res.states.keys() == ref.states.keys()
        assert all(res.states[k] == ref.states[k] for k in ref.states)


def test_text_labels_in_memory(from_file: Any, table: pa.Table) -> None:
    data = {
        "y": np.where(table["y"].to_numpy() == 1, "click", "none"),
        "p": table["p"].to_numpy(),
        "w": table["w"].to_numpy(),
        "seg": table["seg"].to_numpy(zero_copy_only=False),
    }
    with pytest.raises(DataError, match=r"text labels in the dict of arrays: 'click', 'none'"):
        bcelab.evaluate(data, preds="p", target="y")
    res = bcelab.evaluate(data, preds="p", target="y", weight="w", by="seg", positive_label="click")
    _same(res, from_file)


def test_bad_in_memory_sources_are_clear_errors(table: pa.Table) -> None:
    with pytest.raises(OptionError, match="source must be a path, a list of paths, a pyarrow"):
        bcelab.evaluate(42, preds="p", target="y")
    with pytest.raises(DataError, match=r"\['label'\] not found; available: \['y', 'p'"):
        bcelab.evaluate(table, preds="p", target="label")
    with pytest.raises(DataError, match="same length"):
        bcelab.evaluate({"y": [1.0, 0.0], "p": [0.5]}, preds="p", target="y")
    with pytest.raises(DataError, match="0 rows"):
        bcelab.evaluate(table.slice(0, 0), preds="p", target="y")
    with pytest.raises(DataError, match="0 rows"):
        bcelab.evaluate(table.slice(0, 0).to_reader(), preds="p", target="y")
    with pytest.raises(OptionError, match="RecordBatchReader only with engine='local'"):
        bcelab.evaluate(table.to_reader(), preds="p", target="y", engine="dask", workers=1)


def test_masked_arrays_in_a_dict_are_missing_rows() -> None:
    # the masked values of a NumPy masked array are missing, as nulls in a table are
    rng = np.random.default_rng(5)
    p = rng.random(200)
    y = (rng.random(200) < p).astype(np.float64)
    keep = p >= 0.2
    res = bcelab.evaluate({"p": np.ma.masked_array(p, mask=~keep), "y": y}, preds="p", target="y")
    m = res.metrics
    assert (m.rows, m.rows_used, m.nan_predictions) == (200, keep.sum(), (~keep).sum())
    clean = bcelab.evaluate({"p": p[keep], "y": y[keep]}, preds="p", target="y").metrics
    assert m.log_loss == clean.log_loss and m.roc_auc == clean.roc_auc
    masked_y = np.ma.masked_array(y, mask=~keep)
    m = bcelab.evaluate({"p": p, "y": masked_y}, preds="p", target="y").metrics
    assert m.invalid_targets == (~keep).sum() and m.log_loss == clean.log_loss


def test_a_polars_lazy_frame_is_refused_with_how_to_collect_it(table: pa.Table) -> None:
    pl = pytest.importorskip("polars")
    with pytest.raises(OptionError, match=r"LazyFrame. collect it first \(lazy_frame.collect"):
        bcelab.evaluate(pl.from_arrow(table).lazy(), preds="p", target="y")


def test_pandas_column_labels_that_are_not_text() -> None:
    pd = pytest.importorskip("pandas")
    # a DataFrame built from an array has the columns 0, 1, ...: they are named by their text
    frame = pd.DataFrame(np.array([[0.2, 0.0], [0.7, 1.0], [0.9, 1.0]]))
    by_text = bcelab.evaluate(frame, preds="0", target="1").metrics
    named = bcelab.evaluate({"p": [0.2, 0.7, 0.9], "y": [0.0, 1.0, 1.0]}, preds="p", target="y")
    assert by_text.log_loss == named.metrics.log_loss
    keyed = bcelab.evaluate({0: [0.2, 0.7, 0.9], 1: [0.0, 1.0, 1.0]}, preds="0", target="1")
    assert keyed.metrics.log_loss == named.metrics.log_loss


def test_pandas_repeated_columns_and_an_index_are_explained() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.array([[0.2, 0.0, 1.0], [0.7, 1.0, 0.0]]), columns=["p", "y", "y"])
    with pytest.raises(DataError, match="one column named 'y' in pandas DataFrame; 2 of its"):
        bcelab.evaluate(frame, preds="p", target="y")
    indexed = pd.DataFrame({"p": [0.2, 0.7], "y": [0.0, 1.0]}).set_index("p")
    with pytest.raises(DataError, match=r"\['p'\] is its index, not a column. pass frame.reset_"):
        bcelab.evaluate(indexed, preds="p", target="y")
    back = bcelab.evaluate(indexed.reset_index(), preds="p", target="y").metrics
    assert back.rows == 2
