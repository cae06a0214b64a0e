"""``recalibrate_file``: the rows of a file plus the recalibrated column, every other
column copied as it is."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bcelab.errors import DataError, DomainError, OptionError
from bcelab.evaluation.recal_apply import load_fitted, recalibrate_file
from bcelab.metrics import load_map

IDENTITY = {"method": "platt", "version": 1, "params": {"a": 1.0, "b": 0.0}}

ROWS = 'id,p,flag,note\n00042,0.2,True,NA\n12345678901234567891,0.7,False,"a,b"\n'


@pytest.fixture()
def ids_csv(tmp_path: Path) -> Path:
    path = tmp_path / "ids.csv"
    path.write_text(ROWS)
    return path


def test_a_csv_output_copies_the_other_columns_as_written(ids_csv: Path) -> None:
    out = ids_csv.with_name("out.csv")
    recalibrate_file(IDENTITY, ids_csv, out, preds="p")
    lines = out.read_text().splitlines()
    assert lines[0] == '"id","p","flag","note","pred_recalibrated"'
    assert lines[1] == '"00042",0.2,"True","NA",0.2'
    assert lines[2] == '"12345678901234567891",0.7,"False","a,b",0.7'


def test_a_parquet_output_gets_the_inferred_types(ids_csv: Path) -> None:
    # typed columns, as any CSV read into Parquet: a 0/1 label stays a number that
    # `bcelab eval --target` reads without --positive-label
    out = ids_csv.with_name("out.parquet")
    recalibrate_file(IDENTITY, ids_csv, out, preds="p")
    got = pq.read_table(out)
    assert got["flag"].to_pylist() == [True, False]
    assert got["note"].to_pylist() == ["NA", "a,b"]
    assert got["p"].type == pa.float64()
    expected = load_map(IDENTITY).apply(got["p"].to_numpy())
    assert got["pred_recalibrated"].to_pylist() == pytest.approx(expected.tolist())


def test_a_csv_out_of_a_nested_column_is_refused_before_any_row(tmp_path: Path) -> None:
    """A list or struct column cannot go to a CSV file: refused from the schema, with
    no output file and no temporary file left."""
    data = tmp_path / "nested.parquet"
    t = pa.table({"p": [0.2, 0.7], "tags": [[1, 2], [3]], "s": [{"a": 1}, {"a": 2}]})
    pq.write_table(t, data)
    out = tmp_path / "n.csv"
    with pytest.raises(DataError) as err:
        recalibrate_file(IDENTITY, data, out, preds="p")
    assert "'tags' (list<element: int64>), 's' (struct<a: int64>)" in err.value.received
    assert err.value.fix == f"write a Parquet file instead: out='{tmp_path / 'n.parquet'}'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nested.parquet"]
    recalibrate_file(IDENTITY, data, tmp_path / "n.parquet", preds="p")
    assert pq.read_table(tmp_path / "n.parquet")["tags"].to_pylist() == [[1, 2], [3]]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_repeated_prediction_column_is_refused_as_predict_refuses_it(
    tmp_path: Path, suffix: str
) -> None:
    data = tmp_path / f"dup{suffix}"
    if suffix == ".csv":
        data.write_text("p,p\n0.2,0.3\n")
    else:
        pq.write_table(pa.Table.from_arrays([pa.array([0.2]), pa.array([0.3])], ["p", "p"]), data)
    with pytest.raises(DataError) as err:
        recalibrate_file(IDENTITY, data, tmp_path / "o.csv", preds="p")
    assert err.value.expected == f"one column named 'p' in {data}"
    assert err.value.received == "2 of its columns have that name"
    assert not (tmp_path / "o.csv").exists()


def test_a_non_ascii_delimiter_is_refused_before_any_read(ids_csv: Path) -> None:
    out = ids_csv.with_name("out.csv")
    with pytest.raises(OptionError) as err:
        recalibrate_file(IDENTITY, ids_csv, out, preds="p", delimiter="é")
    assert err.value.received == "received delimiter='é', not an ASCII character"
    assert not out.exists()


@pytest.mark.parametrize(
    ("named", "fix"),
    [
        ({}, "pass logits='p'"),  # the map names the column
        ({"preds": "p"}, "name the column with logits='p' instead of preds='p'"),
    ],
)
def test_probabilities_outside_0_1_point_to_logits_with_the_column(
    tmp_path: Path, named: dict[str, str], fix: str
) -> None:
    """logits= of recalibrate_file takes the column's name, not True."""
    data = tmp_path / "bad.csv"
    data.write_text("p\n0.5\n1.5\n")
    fitted = {**IDENTITY, "columns": {"pred": "p"}}
    with pytest.raises(DomainError) as err:
        recalibrate_file(fitted, data, tmp_path / "o.csv", **named)
    assert (
        err.value.fix == f"if these are logits (raw scores), {fix}; otherwise apply a sigmoid first"
    )
    assert "logits=True" not in str(err.value)


def test_a_missing_data_file_names_what_is_read(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        recalibrate_file(IDENTITY, tmp_path / "missing.csv", tmp_path / "o.csv", preds="p")
    assert err.value.expected.startswith("data must name one Parquet or CSV file (.parquet, ")
    assert "folder" not in err.value.expected


def test_a_report_folder_without_a_map_says_which_folder_holds_one(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_fitted(tmp_path)
    assert err.value.fix == (
        "pass the map JSON file, or a folder written by write_report for an evaluation "
        "with recalibrate="
    )
