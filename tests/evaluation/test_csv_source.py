"""CSV files: which cells are missing, and a file that is not UTF-8 text."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest

import bcelab
from bcelab.errors import DataError
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.reader import iter_unit, plan_units


def _segments(path: Path, **kw: object) -> dict[object, int]:
    res = bcelab.evaluate(path, preds="p", target="y", **kw)  # type: ignore[arg-type]
    return {s["value"]: s["rows"] for s in res.to_dict()["segments"]}


def test_only_an_empty_text_cell_is_a_missing_by_value(tmp_path: Path) -> None:
    path = tmp_path / "countries.csv"
    rows = ["NA", "NA", "FR", "", "null", "nan", "N/A", '""']
    path.write_text("p,y,country\n" + "".join(f"0.5,1,{c}\n" for c in rows))
    got = _segments(path, by="country")
    assert got == {"NA": 2, "FR": 1, "null": 1, "nan": 1, "N/A": 1, None: 2}


def test_a_text_target_label_na_is_a_label_not_a_missing_target(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("p,y\n0.9,NA\n0.8,NA\n0.3,FR\n0.5,\n")
    m = bcelab.evaluate(path, preds="p", target="y", positive_label="NA").to_dict()["metrics"]
    assert (m["rows_used"], m["invalid_targets"]) == (3, 1)
    assert m["base_rate"] == pytest.approx(2 / 3)


def test_an_id_na_is_an_id_and_an_empty_cell_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("y,p,id\n1,0.5,NA\n0,0.4,null\n")
    cols = Columns("y", "p", id="id")
    (unit,) = plan_units([path], cols)
    (b,) = list(iter_unit(unit, cols))
    assert b.ids is not None and b.ids.tolist() == ["NA", "null"]
    path.write_text("y,p,id\n1,0.5,NA\n0,0.4,\n")
    (unit,) = plan_units([path], cols)
    with pytest.raises(DataError, match="1 row without an id"):
        list(iter_unit(unit, cols))


def test_number_columns_keep_na_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("y,p\n1,0.5\n0,NA\nnan,0.3\n")
    cols = Columns("y", "p")
    (unit,) = plan_units([path], cols)
    (b,) = list(iter_unit(unit, cols))
    assert np.isnan(b.pred[1]) and np.isnan(b.target[2])


def test_a_csv_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"p,y,city\n0.1,0,abc\n0.9,1,caf\xe9\n")
    with pytest.raises(DataError) as e:
        bcelab.evaluate(path, preds="p", target="y", by="city")
    msg = str(e.value)
    assert "UTF-8 text in the CSV file" in msg and "column 'city' at line 3" in msg
    assert f"iconv -f latin1 -t utf-8 {path} > {tmp_path / 'latin1-utf8.csv'}" in msg
    assert "corrupt" not in msg
    path.write_bytes(b"p,y,caf\xe9\n0.1,0,abc\n")
    with pytest.raises(DataError, match=r"its header at line 1 holds bytes that are not UTF-8"):
        bcelab.evaluate(path, preds="p", target="y", by="city")


def _beside_parquet(folder: Path, parquet_by: list[object], csv_by: list[str]) -> Path:
    """A Parquet file that gives the by column ``g`` its type, and a CSV file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir()
    n = len(parquet_by)
    table = pa.table({"p": [0.5] * n, "y": [1.0] * n, "g": parquet_by})
    pq.write_table(table, folder / "a.parquet")
    (folder / "b.csv").write_text("p,y,g\n" + "".join(f"0.5,1,{c}\n" for c in csv_by))
    return folder


@pytest.mark.parametrize("cell", ["NA", "null", "nan", "NaN", "N/A"])
def test_a_missing_value_word_is_a_bad_value_in_a_number_by_column(
    tmp_path: Path, cell: str
) -> None:
    # before, pyarrow's null words silently joined the (null) segment
    folder = _beside_parquet(tmp_path / "run", [0, 1, None], ["0", cell, ""])
    with pytest.raises(DataError) as e:
        bcelab.evaluate(folder, preds="p", target="y", by="g")
    assert str(e.value).startswith(
        f"values of type int64 in the by column 'g' of {folder / 'b.csv'} (its type in the "
        f"Parquet files of the run); line 3 holds {cell!r}. fix that row (only an empty cell "
        "is a missing value)"
    )


def test_csv_nan_in_a_float_by_column_is_the_segment_of_parquet_nan(tmp_path: Path) -> None:
    folder = _beside_parquet(tmp_path / "run", [0.5, float("nan"), None], ["0.5", "nan", "NaN", ""])
    res = bcelab.evaluate(folder, preds="p", target="y", by="g")
    got = [(s.value, s.stats.rows) for s in res.segments]
    assert got[0] == (0.5, 2) and got[2] == (None, 2)
    assert np.isnan(got[1][0]) and got[1][1] == 3  # one NaN segment: 1 Parquet + 2 CSV rows
    with pytest.raises(DataError, match=r"type double in the by column 'g'.*line 2 holds 'NA'"):
        bcelab.evaluate(
            _beside_parquet(tmp_path / "na", [0.5], ["NA"]), preds="p", target="y", by="g"
        )


def test_a_typed_csv_by_column_reads_its_values_as_before(tmp_path: Path) -> None:
    # spaces around a number, as pyarrow's CSV parser reads them; an empty cell is null
    folder = _beside_parquet(tmp_path / "run", [0, 1], [" 1", "0", ""])
    assert _segments(folder, by="g") == {0: 2, 1: 2, None: 1}
    dates = _beside_parquet(tmp_path / "d", [datetime.date(2020, 1, 2)], ["2020-01-02", ""])
    got = _segments(dates, by="g")
    assert list(got.values()) == [2, 1] and list(got)[1] is None
