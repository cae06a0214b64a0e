"""Errors of an update inside the engine name the source's row (bcelab.evaluation.tasks).

Reference: the row where the test file holds the bad value.  An update sees only part of
the source (one batch, or one segment's rows of a batch, or a segment's rows held across
batches), so the engine maps the row its error names back to the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.errors import DataError, DomainError
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.reader import plan_units
from bcelab.evaluation.tasks import Plan, run_unit_objects

from .segment_data import segment_file


@pytest.mark.parametrize("by", ["g", None])
@pytest.mark.parametrize("strict", [False, True])
def test_a_bad_prediction_is_named_with_its_row_and_batch(
    tmp_path: Path, by: str | None, strict: bool
) -> None:
    """Held, one update per segment and batch (strict), or one per batch (no by): the
    error names the file's row, not the row within the update's arrays."""
    # row 70,000 lies in batch 70,000 // 2048 = 34 of the file's one unit
    segment_file(tmp_path / "s.parquet", 100_000, 3, bad_row=70_000)
    cols = Columns("y", "p", by=by)
    units = plan_units([tmp_path / "s.parquet"], cols, unit_rows=1 << 30)
    with pytest.raises(DomainError) as e:
        run_unit_objects(units[0], Plan(cols, batch_rows=2048, strict=strict))
    assert "1.5 at row 70000 of " in e.value.received
    assert e.value.received.endswith("batch 34)")


def test_a_bad_weight_in_a_csv_file_is_named_with_its_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    p = rng.random(3000)
    w = rng.random(3000)
    w[2500] = -2.0
    rows = zip(p.tolist(), w.tolist(), strict=True)
    lines = ["y,p,w,g"] + [f"1,{a!r},{b!r},{i % 7}" for i, (a, b) in enumerate(rows)]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    for by in (None, "g"):
        with pytest.raises(DomainError) as e:
            bcelab.evaluate(tmp_path / "w.csv", preds="p", target="y", weight="w", by=by)
        assert "-2.0 at line 2502 of " in e.value.received  # the header is line 1
        assert lines[2501].split(",")[2] == "-2.0"


def test_a_target_outside_0_1_names_its_row(tmp_path: Path) -> None:
    data = segment_file(tmp_path / "s.parquet", 50_000, 4)
    data["y"][40_000] = 3.0
    pq.write_table(pa.table(data), tmp_path / "t.parquet", row_group_size=1 << 14)
    with pytest.raises(DataError) as e:
        bcelab.evaluate(tmp_path / "t.parquet", preds="p", target="y", by="g")
    assert "row 40000" in e.value.received


@pytest.mark.parametrize("by", [None, "g"])
def test_a_comparison_names_the_file_row(tmp_path: Path, by: str | None) -> None:
    rng = np.random.default_rng(8)
    n = 300_000
    a, b = rng.random(n).astype(np.float32), rng.random(n).astype(np.float32)
    b[290_000] = 1.5
    y = (rng.random(n) < a).astype(np.float32)
    g = rng.integers(0, 5, n).astype(np.int32)
    pq.write_table(pa.table({"y": y, "a": a, "b": b, "g": g}), tmp_path / "c.parquet")
    with pytest.raises(DomainError) as e:
        bcelab.evaluation.compare(tmp_path / "c.parquet", preds=("a", "b"), target="y", by=by)
    assert "1.5 at row 290000 of " in e.value.received


def test_a_negative_weight_is_named_as_the_weight_column(tmp_path: Path) -> None:
    t = {"y": [1.0, 0.0, 1.0], "p": [0.5, 0.2, 0.9], "w": [1.0, -1.0, 2.0], "g": [0, 1, 0]}
    pq.write_table(pa.table(t), tmp_path / "w.parquet")
    for by in (None, "g"):  # one update per batch, or the rows held per segment
        with pytest.raises(DomainError) as e:
            bcelab.evaluate(tmp_path / "w.parquet", preds="p", target="y", weight="w", by=by)
        assert e.value.expected == "weight column 'w' must be finite and >= 0"
        assert "-1.0 at row 1 of " in e.value.received


@pytest.mark.parametrize("strict", [False, True])
def test_bad_weights_are_counted_over_the_batch_not_one_segment(
    tmp_path: Path, strict: bool
) -> None:
    """With a by column the rows reach each segment's state apart; the count of bad
    weights is the batch's (100 of 1,000 rows, in two of four segments), as without by."""
    rng = np.random.default_rng(9)
    n = 1_000
    w = pa.array([None if i % 20 == 0 else (-1.0 if i % 10 == 0 else 1.0) for i in range(n)])
    t = {"y": (rng.random(n) < 0.5).astype(float), "p": rng.random(n), "w": w}
    pq.write_table(pa.table({**t, "g": np.arange(n) % 4}), tmp_path / "w.parquet")
    for by in (None, "g"):
        with pytest.raises(DomainError) as e:
            bcelab.evaluate(
                tmp_path / "w.parquet", preds="p", target="y", weight="w", by=by, strict=strict
            )
        assert e.value.received.startswith("100 weights are negative, infinite or NaN")
        assert "(first: nan at row 0 of " in e.value.received


def test_nan_in_a_float_by_column_is_one_segment_across_batches_and_files(tmp_path: Path) -> None:
    """A float NaN equals nothing and hashes by identity: the NaN rows of each batch and
    file must still add up to one segment, sorted after the numbers."""
    rng = np.random.default_rng(12)
    n = 3000
    g = rng.choice([2.0, 1.0, np.nan], n)
    g[0] = np.nan  # the first segment seen is the NaN one
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < p).astype(float)
    table = pa.table({"y": y, "p": p, "g": g})
    pq.write_table(table.slice(0, 2000), tmp_path / "a.parquet", row_group_size=500)
    pq.write_table(table.slice(2000), tmp_path / "b.parquet", row_group_size=500)
    res = bcelab.evaluate(tmp_path, preds="p", target="y", by="g")
    values = [s.value for s in res.segments]
    assert values[:2] == [1.0, 2.0] and np.isnan(values[2]) and len(values) == 3
    assert [s.metrics.rows for s in res.segments] == [
        int((g == 1.0).sum()),
        int((g == 2.0).sum()),
        int(np.isnan(g).sum()),
    ]
    assert [s["value"] for s in res.to_dict()["segments"]] == [1.0, 2.0, "NaN"]
    assert "\nNaN " in str(res) and ">NaN</th>" in res._repr_html_()
    both = table.append_column("b", pa.array(np.clip(p * 1.1, 0, 0.99)))
    cmp = bcelab.evaluation.compare(both, preds=("p", "b"), target="y", by="g")
    assert [s["value"] for s in cmp.to_dict()["segments"]] == [1.0, 2.0, "NaN"]
    nan_rows = np.isnan(g)
    want = bcelab.metrics.BinaryStats().update(p[nan_rows], y[nan_rows]).compute()
    assert res.segments[2].metrics.log_loss == pytest.approx(want.log_loss, rel=1e-12)


def _split_segments(folder: Path, files: int, per_file: int) -> None:
    """``files`` Parquet files of ``per_file`` distinct ``g`` values each, none shared."""
    for i in range(files):
        g = np.arange(i * per_file, (i + 1) * per_file)
        p = np.full(per_file, 0.5)
        pq.write_table(pa.table({"y": np.ones(per_file), "p": p, "g": g}), folder / f"{i}.parquet")


@pytest.mark.parametrize("threads", [1, 2])
def test_too_many_segments_across_files_is_a_data_error_naming_the_column(
    tmp_path: Path, threads: int
) -> None:
    """Each file is under the limit and only the merged states are over it: the merge's
    error is the library's DataError (the command line's one message), with the column."""
    from bcelab.evaluation.tasks import MAX_SEGMENTS

    per_file = MAX_SEGMENTS // 2 + 22  # 150 each, 300 together
    _split_segments(tmp_path, 2, per_file)
    with pytest.raises(DataError) as e:
        bcelab.evaluate(tmp_path, preds="p", target="y", by="g", threads=threads)
    assert str(e.value).startswith(f"at most {MAX_SEGMENTS} distinct values in the by column 'g'")
    assert f"found {2 * per_file} or more" in e.value.received
    assert "coarser column than 'g'" in e.value.fix


def test_a_dask_merge_over_the_limit_names_the_column(tmp_path: Path) -> None:
    """The Dask merge task sends the same error across processes (as a PortableError)."""
    from bcelab.evaluation.tasks import MAX_SEGMENTS, PortableError, merge_encoded, run_unit

    _split_segments(tmp_path, 2, MAX_SEGMENTS // 2 + 22)
    cols = Columns("y", "p", by="g")
    plan = Plan(cols)
    a, b = (run_unit(u, plan) for u in plan_units(sorted(tmp_path.iterdir()), cols))
    with pytest.raises(PortableError) as e:
        merge_encoded(a, b, plan)
    err = e.value.restore()
    assert type(err) is DataError and "by column 'g'" in err.expected
