"""``bcelab predict``: the input rows copied to --out as they are, and bad input refused
(exit 2, one line in flags, no traceback) before any prediction is made."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import bcelab.cli.predict as predict_cli  # noqa: E402
from bcelab.cli import main  # noqa: E402

PY_ARGUMENT = re.compile(r"\b[a-z_]+=")  # a Python keyword argument, e.g. delimiter=';'


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("predict_cli") / "run"
    assert main(["train", "circles", "--epochs", "2", "--out", str(folder), "--quiet"]) == 0
    return folder


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _refused(rc: int, out: str, err: str) -> str:
    """The one line of a refusal: exit 2, nothing on stdout, flags and no traceback."""
    assert rc == 2 and out == "" and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and not PY_ARGUMENT.search(lines[0]), err
    return lines[0]


def test_the_other_columns_of_a_csv_are_copied_as_written(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("id,x0,x1,flag\n00042,0.1,0.2,True\n12345678901234567891,0.3,0.4,False\n")
    rc, _, _ = _cli(capsys, "predict", run, "--data", data, "--out", tmp_path / "o.csv")
    assert rc == 0
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert rows[0] == '"id","x0","x1","flag","logit","pred"'
    assert rows[1].startswith('"00042",0.1,0.2,"True",')
    assert rows[2].startswith('"12345678901234567891",0.3,0.4,"False",')
    rc, _, _ = _cli(capsys, "predict", run, "--data", data, "--out", tmp_path / "o.parquet")
    assert rc == 0  # to Parquet: the types pyarrow infers
    assert pq.read_table(tmp_path / "o.parquet")["flag"].to_pylist() == [True, False]


def test_a_nested_column_and_a_csv_out_are_refused_before_predicting(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "nested.parquet"
    table = pa.table({"x0": [0.1, 0.2], "x1": [0.3, 0.4], "tags": [[1, 2], [3]]})
    pq.write_table(table, data)

    def no_predict(*args: object, **kwargs: object) -> None:
        raise AssertionError("predicted before the output was checked")

    monkeypatch.setattr(predict_cli, "predict", no_predict)
    for name in ("n.csv", "n.tsv"):
        out = tmp_path / name
        line = _refused(*_cli(capsys, "predict", run, "--data", data, "--out", out))
        assert "'tags' (list<element: int64>)" in line
        assert line.endswith(f"write the predictions as Parquet: --out {tmp_path / 'n.parquet'}")
        assert not out.exists()
    monkeypatch.undo()
    rc, _, _ = _cli(capsys, "predict", run, "--data", data, "--out", tmp_path / "n.parquet")
    assert rc == 0
    assert pq.read_table(tmp_path / "n.parquet")["tags"].to_pylist() == [[1, 2], [3]]


@pytest.mark.parametrize(("delimiter", "problem"), [("é", "not an ASCII character"), ("ab", "")])
def test_a_delimiter_the_reader_cannot_take_is_refused_as_every_command_refuses_it(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], delimiter: str, problem: str
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("x0,x1\n0.1,0.2\n")
    received = f"received --delimiter {delimiter!r}" + (f", {problem}" if problem else "")
    for command in (["predict", run], ["recalibrate", data]):
        args = [*command, "--data", data, "--out", tmp_path / "o.csv", "--delimiter", delimiter]
        line = _refused(*_cli(capsys, *args))
        assert "error: --delimiter must be one character, or tab" in line
        assert f"; {received}. write e.g. --delimiter ';' or --delimiter tab" in line
        assert not (tmp_path / "o.csv").exists()


def test_the_out_separator_follows_its_extension_not_the_input_delimiter(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("id;x0;x1\n7;0.1;0.2\n")
    for name, sep in (("o.tsv", "\t"), ("o.csv", ",")):
        out = tmp_path / name
        rc, _, _ = _cli(capsys, "predict", run, "--data", data, "--out", out, "--delimiter", ";")
        assert rc == 0
        header = out.read_text().splitlines()[0]
        assert header == sep.join(f'"{c}"' for c in ("id", "x0", "x1", "logit", "pred"))
