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

from bcelab._core.tables import column_hint
from bcelab.errors import DataError


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
