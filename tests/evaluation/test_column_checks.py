"""A missing column is named with the columns there are, and the one it probably meant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.cli import main
from bcelab.errors import DataError, DTypeError
from bcelab.evaluation import compare
from bcelab.evaluation.column_checks import check_columns, shared_by_type
from bcelab.evaluation.columns import Columns

TABLE = pa.table({"label": [0.0, 1.0, 1.0], "score": [0.2, 0.7, 0.6]})


@pytest.mark.parametrize(
    ("target", "pred", "hint"),
    [
        ("Label", "score", "did you mean 'label' for 'Label'?"),
        ("label", "scores", "did you mean 'score' for 'scores'?"),
        ("LABEL", "Score", "did you mean 'label' for 'LABEL', 'score' for 'Score'?"),
    ],
)
def test_a_near_miss_gets_the_column_it_probably_meant(target: str, pred: str, hint: str) -> None:
    with pytest.raises(DataError) as e:
        bcelab.evaluate(TABLE, preds=pred, target=target)
    assert hint in str(e.value) and "available: ['label', 'score']" in str(e.value)


def test_a_header_with_spaces_around_a_name_is_guessed() -> None:
    # a CSV header written "p , y" has the columns 'p ' and ' y'
    table = pa.table({"p ": [0.2, 0.7], " y": [0.0, 1.0]})
    with pytest.raises(DataError) as e:
        bcelab.evaluate(table, preds="p", target="y")
    assert "did you mean ' y' for 'y', 'p ' for 'p'?" in str(e.value)


def test_a_name_like_no_column_gets_no_guess() -> None:
    with pytest.raises(DataError) as e:
        check_columns("t", ["label", "score"], None, Columns(target="label", pred="q"))
    assert "did you mean" not in str(e.value)
    assert str(e.value).endswith(
        "name the prediction, target, weight and by columns as the data spell them"
    )


def test_the_command_line_shows_the_guess_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"y": np.array([0.0, 1.0]), "p": np.array([0.3, 0.8])}), path)
    assert main(["eval", str(path), "--pred", "P", "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert "column ['P'] not found; available: ['y', 'p']. did you mean 'p' for 'P'?" in err


def test_a_repeated_column_name_is_refused_not_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a CSV header or a table can name two columns alike: which one was meant is unknown
    csv = tmp_path / "dup.csv"
    csv.write_text("p,y,y\n0.2,0,1\n0.7,1,0\n")
    parquet = tmp_path / "dup.parquet"
    names = ["p", "y", "y"]
    arrays = [pa.array([0.2, 0.7]), pa.array([0.0, 1.0]), pa.array([1.0, 0.0])]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), parquet)
    for path in (csv, parquet):
        assert main(["eval", str(path), "--pred", "p", "--target", "y"]) == 2
        err = capsys.readouterr().err
        assert f"one column named 'y' in {path}; 2 of its columns have that name" in err
        assert "Traceback" not in err
    with pytest.raises(DataError, match="one column named 'y' in pyarrow Table; 2 of its"):
        bcelab.evaluate(pa.Table.from_arrays(arrays, names=names), preds="p", target="y")
    # a repeated column the call does not need is no one's concern
    other = pa.Table.from_arrays([*arrays, pa.array([1, 2])], names=["p", "y", "z", "z"])
    assert bcelab.evaluate(other, preds="p", target="y").metrics.rows == 2


def test_a_column_that_its_folder_name_also_sets_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # seg=a/f.parquet with a column 'seg' of its own: the file's values were read, the
    # folder's ignored, without a word
    for part in ("a", "b"):
        folder = tmp_path / "hive" / f"seg={part}"
        folder.mkdir(parents=True)
        table = pa.table({"p": [0.2, 0.7], "y": [0.0, 1.0], "seg": ["x", "y"]})
        pq.write_table(table, folder / "f.parquet")
    assert (
        main(["eval", str(tmp_path / "hive"), "--pred", "p", "--target", "y", "--by", "seg"]) == 2
    )
    err = capsys.readouterr().err
    assert "the file has a column 'seg' and its folder's name sets one (seg=...)" in err
    # a run that does not need the column reads the files as before
    assert bcelab.evaluate(tmp_path / "hive", preds="p", target="y").metrics.rows == 4


@pytest.mark.parametrize(
    ("values", "shown"),
    [([[1, 2], [3]], "list<item: int64>"), ([{"a": 1}, {"a": 2}], "struct<a: int64>")],
)
def test_a_by_column_of_lists_or_structs_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], values: list[object], shown: str
) -> None:
    # it ended in ArrowNotImplementedError: Function 'dictionary_encode' has no kernel
    table = pa.table({"p": [0.2, 0.7], "y": [0.0, 1.0], "tags": values})
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    args = ["eval", str(path), "--pred", "p", "--target", "y", "--by", "tags"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"a by column 'tags' in {path} with one text, number, bool or date value per row" in err
    assert "segment by a text, number, bool or date column" in err and "Traceback" not in err
    with pytest.raises(DataError, match=r"by column 'tags' in pyarrow Table .*its type is"):
        bcelab.evaluate(table, preds="p", target="y", by="tags")
    pair = table.append_column("q", pa.array([0.3, 0.6]))
    with pytest.raises(DataError, match=r"by column 'tags' in pyarrow Table"):
        compare(pair, preds=("p", "q"), target="y", by="tags")


def test_by_columns_of_one_kind_share_a_type_for_csv_files() -> None:
    assert shared_by_type("g", []) is None
    assert shared_by_type("g", [("a", pa.null())]) is None
    assert shared_by_type("g", [("a", pa.int32()), ("b", pa.uint8())]) == pa.int64()
    assert shared_by_type("g", [("a", pa.int64()), ("b", pa.float32())]) == pa.float64()
    text = pa.dictionary(pa.int32(), pa.string())
    assert shared_by_type("g", [("a", text), ("b", pa.large_string())]) == pa.string()
    assert shared_by_type("g", [("a", pa.bool_()), ("b", pa.null())]) == pa.bool_()
    assert shared_by_type("g", [("a", pa.date32())]) == pa.date32()


def test_by_columns_of_different_kinds_are_refused() -> None:
    # True == 1 in Python: a bool column and an int one made one segment of both
    typed = [("a.parquet", pa.bool_()), ("b.parquet", pa.int64()), ("c.parquet", pa.int8())]
    with pytest.raises(DataError) as e:
        shared_by_type("seg", typed)
    assert str(e.value) == (
        "one kind of value in the by column 'seg' in every file, so that each value makes "
        "one segment; it holds booleans (bool) in a.parquet; numbers (int64) in b.parquet "
        "and 1 other file. write the by column with one type in every file (cast it to "
        "string in all of them, say), or evaluate the files separately"
    )
    with pytest.raises(DataError, match=r"text \(string\) in a; values \(date32\[day\]\) in b"):
        shared_by_type("d", [("a", pa.string()), ("b", pa.date32())])


@pytest.mark.parametrize("kind", ["int64", "bool"])
def test_an_integer_or_boolean_prediction_column_is_refused_as_a_likely_swap(kind):
    # evaluate(preds="y", target="p") ran (a log loss of inf); BinaryStats.update refuses
    # integer predictions as a likely swap, and so do the tables and files now
    cols = Columns(target="p", pred="y")
    types = {"y": pa.int64() if kind == "int64" else pa.bool_(), "p": pa.float64()}
    with pytest.raises(DTypeError, match=r"prediction column 'y' in t.parquet of floating-point"):
        check_columns("t.parquet", ["y", "p"], types, cols)
    check_columns("t.parquet", ["y", "p"], types, Columns(target="y", pred="p"))
