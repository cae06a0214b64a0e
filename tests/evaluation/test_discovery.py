"""Which files a path names (bcelab.evaluation.discovery): what is refused rather than
skipped, through the Python API and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import bcelab  # noqa: E402
from bcelab.cli import main  # noqa: E402
from bcelab.errors import DataError  # noqa: E402
from bcelab.evaluation.discovery import discover  # noqa: E402


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "preds"
    d.mkdir()
    p = np.array([0.2, 0.7, 0.6])
    pq.write_table(pa.table({"y": [0.0, 1.0, 1.0], "a": p, "b": p[::-1].copy()}), d / "x.parquet")
    return d


def test_a_broken_link_in_a_folder_is_refused_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _folder(tmp_path)
    assert [f.name for f, _, _ in discover([d])] == ["x.parquet"]
    (d / "gone.parquet").symlink_to(tmp_path / "nowhere" / "gone.parquet")
    with pytest.raises(DataError, match="cannot be read as a file") as e:
        bcelab.evaluate(str(d), preds="a", target="y")
    assert "gone.parquet" in str(e.value) and "name the files explicitly" in e.value.fix
    for cmd in (
        ["eval", str(d), "--target", "y", "--pred", "a"],
        ["compare", str(d), "--target", "y", "--pred", "a", "--pred", "b"],
    ):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert "gone.parquet" in err and "Traceback" not in err
    # a hidden or ``_`` entry is still left out, broken or not
    (d / "gone.parquet").unlink()
    (d / "_tmp.parquet").symlink_to(tmp_path / "nowhere")
    assert [f.name for f, _, _ in discover([d])] == ["x.parquet"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_path_that_is_no_regular_file_says_so(tmp_path: Path) -> None:
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="a regular file or a folder") as e:
        discover([fifo])
    assert "does not exist" not in str(e.value)
    with pytest.raises(DataError, match="does not exist"):
        discover([tmp_path / "missing.csv"])
