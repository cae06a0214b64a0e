"""The column a missing name probably meant, shared by evaluation, training and prediction."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcelab._core.tables import check_delimiter, column_hint, suggest_label, table_kind
from bcelab.errors import DataError, OptionError


@pytest.mark.parametrize(
    ("missing", "names", "hint"),
    [
        (["Y"], ["p", "y"], "did you mean 'y' for 'Y'?"),
        (["target"], ["targets", "x"], "did you mean 'targets' for 'target'?"),
        (["Y", "q"], ["p", "y"], "did you mean 'y' for 'Y'?"),
        (["q"], ["p", "y"], None),
        (["label"], [], None),
    ],
)
def test_column_hint(missing: list[str], names: list[str], hint: str | None) -> None:
    assert column_hint(missing, names) == hint


NAME = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=6)


@given(st.lists(NAME, min_size=1, max_size=6, unique=True))
def test_a_hint_only_names_columns_that_exist(names: list[str]) -> None:
    wanted = [n.swapcase() for n in names]
    missing = [w for w in wanted if w not in names]
    hint = column_hint(missing, names)
    if hint is not None:
        suggested = [part.split("'")[1] for part in hint.removeprefix("did you mean ").split(", ")]
        assert set(suggested) <= set(names)


def test_training_and_prediction_name_the_near_column(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from bcelab.train import fit, load_table, predict

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x1": x, "y": (x > 0).astype(float)}), path)
    with pytest.raises(DataError, match="did you mean 'y' for 'Y'"):
        load_table(path, target="Y")
    fit(None, load_table(path, target="y"), epochs=1, out=tmp_path / "run")
    renamed = tmp_path / "new.parquet"
    pq.write_table(pa.table({"X1": x}), renamed)
    with pytest.raises(DataError, match="did you mean 'X1' for 'x1'"):
        predict(tmp_path / "run", renamed)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.parquet", "parquet"),
        ("A.PARQ", "parquet"),
        ("dir.csv/a.pq", "parquet"),
        ("a.csv", "text"),
        ("a.tsv.gz", "text"),
        ("a.CSV.zst", "text"),
        ("a.parquet.gz", None),  # pyarrow reads compressed text, not compressed Parquet
        ("a.txt", None),
        ("notes.csv.txt", None),
        ("a.gz", None),
    ],
)
def test_one_rule_for_the_tables_every_command_reads(
    tmp_path: Path, name: str, kind: str | None
) -> None:
    from bcelab.evaluation.discovery import discover

    assert table_kind(name) == kind
    path = tmp_path / Path(name).name
    path.write_bytes(b"y,p\n1,0.5\n")
    if kind is None:
        with pytest.raises(DataError, match=r"\.csv"):
            discover([path])
    else:  # training, prediction and evaluation read the same names
        assert discover([path])[0][1] == {"text": "csv"}.get(kind, kind)


@pytest.mark.parametrize(
    ("delimiter", "problem"),
    [("é", "not an ASCII character"), ("\x00", "not an ASCII character"), ("\n", "a line break")],
)
def test_a_delimiter_the_csv_reader_cannot_take_is_refused(delimiter: str, problem: str) -> None:
    """pyarrow's CSV reader takes one ASCII character, not a line break: anything else
    is refused by name before a file is opened."""
    with pytest.raises(OptionError, match="delimiter must be one character") as err:
        check_delimiter(delimiter, fname="evaluate")
    assert err.value.received == f"received delimiter={delimiter!r}, {problem}"
    for ok in (",", ";", "\t", "|", "\x01", None):
        assert check_delimiter(ok, fname="evaluate") == ok


def test_suggest_label_never_names_an_infinite_or_nan_value() -> None:
    nan, inf = float("nan"), float("inf")
    assert suggest_label([0.0, 2.0, inf]) == 2.0  # before: inf, the largest
    assert suggest_label([-inf, 0.0, 3.0]) == 3.0
    assert suggest_label([inf, nan]) == 1
    assert suggest_label(["no", "yes"]) == "yes"
