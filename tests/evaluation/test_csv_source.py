"""CSV files: which cells are missing, and a file that is not UTF-8 text."""

from __future__ import annotations

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
