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
