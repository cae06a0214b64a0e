"""Parquet files for the reader: whole column chunks, or a buffer for large ones."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.errors import DataError
from bcelab.evaluation import parquet_source
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.reader import iter_unit, plan_units

COLS = Columns("y", "p")


def _file(tmp_path, n: int = 20_000, groups: int = 4_000):
    rng = np.random.default_rng(5)
    p = rng.random(n).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    path = tmp_path / "a.parquet"
    pq.write_table(
        pa.table({"y": y, "p": p, "s": rng.integers(0, 3, n)}), path, row_group_size=groups
    )
    return path


def _chunk_sizes(path) -> list[int]:
    md = pq.ParquetFile(path).metadata
    return [
        md.row_group(g).column(c).total_compressed_size
        for g in range(md.num_row_groups)
        for c in range(2)  # y and p
    ]


def test_small_chunks_are_read_whole_and_large_ones_through_a_buffer(tmp_path, monkeypatch):
    path = _file(tmp_path)
    units = plan_units([path], COLS, unit_rows=8_000)
    assert units and not any(u.buffered for u in units)
    whole = [b.pred for u in units for b in iter_unit(u, COLS, batch_rows=3_000)]

    # the limit between the chunks' sizes: the units holding a larger chunk are buffered
    sizes = sorted(_chunk_sizes(path))
    monkeypatch.setattr(parquet_source, "WHOLE_CHUNK_BYTES", sizes[0])
    units = plan_units([path], COLS, unit_rows=8_000)
    assert any(u.buffered for u in units)
    buffered = [b.pred for u in units for b in iter_unit(u, COLS, batch_rows=3_000)]
    assert len(buffered) == len(whole)
    for a, b in zip(whole, buffered, strict=True):
        np.testing.assert_array_equal(a, b)


def test_whole_chunks_looks_only_at_the_columns_read(tmp_path, monkeypatch):
    path = _file(tmp_path, n=4_000, groups=4_000)
    md = pq.ParquetFile(path).metadata
    y_size = md.row_group(0).column(0).total_compressed_size
    s_size = md.row_group(0).column(2).total_compressed_size
    monkeypatch.setattr(parquet_source, "WHOLE_CHUNK_BYTES", max(y_size, s_size) - 1)
    big = "s" if s_size > y_size else "y"
    small = "y" if big == "s" else "s"
    assert not parquet_source.whole_chunks(md, [0], [big])
    assert parquet_source.whole_chunks(md, [0], [small, "a partition key"])


def test_the_same_metrics_whether_chunks_are_read_whole_or_buffered(tmp_path, monkeypatch):
    path = _file(tmp_path)
    whole = bcelab.evaluate(path, preds="p", target="y", threads=2)
    monkeypatch.setattr(parquet_source, "WHOLE_CHUNK_BYTES", 0)
    buffered = bcelab.evaluate(path, preds="p", target="y", threads=2)
    assert repr(whole.metrics) == repr(buffered.metrics)


def test_an_empty_file_is_a_data_error(tmp_path):
    path = tmp_path / "e.parquet"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        parquet_source.open_parquet(str(path))
