"""Labels as users have them: ``positive_label``, targets outside [0, 1], text, CSV and TSV."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.cli import main
from bcelab.errors import DataError, DomainError, OptionError
from bcelab.evaluation import compare
from bcelab.evaluation.reader import DEFAULT_BATCH_ROWS

P = [0.9, 0.2, 0.7, 0.4, 0.6]
HARD = [1.0, 0.0, 1.0, 0.0, 1.0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("ref") / "ref.parquet"
    pq.write_table(pa.table({"y": HARD, "p": P}), path)
    return bcelab.evaluate(path, preds="p", target="y").to_dict()["metrics"]


@pytest.mark.parametrize(
    ("labels", "positive"),
    [
        ([1, -1, 1, -1, 1], 1),
        ([255, 0, 255, 0, 255], 255),
        ([3, 7, 3, 9, 3], 3),  # one class against all the others
        (["yes", "no", "yes", "no", "yes"], "yes"),
        ([True, False, True, False, True], True),
    ],
)
def test_positive_label_maps_that_value_to_one(
    tmp_path: Path, reference: dict[str, object], labels: list[object], positive: object
) -> None:
    path = tmp_path / "l.parquet"
    pq.write_table(pa.table({"y": labels, "p": P}), path)
    res = bcelab.evaluate(path, preds="p", target="y", positive_label=positive)
    assert res.to_dict()["metrics"] == reference


@pytest.mark.parametrize(
    ("text", "positive"),
    [
        ("y,p\n1,0.9\n-1,0.2\n1,0.7\n-1,0.4\n1,0.6\n", "1"),
        ("y,p\nyes,0.9\nno,0.2\nyes,0.7\nno,0.4\nyes,0.6\n", "yes"),
        ("y,p\nTrue,0.9\nFalse,0.2\nTrue,0.7\nFalse,0.4\nTrue,0.6\n", "True"),
        ("y,p\npos,0.9\n,0.2\npos,0.7\nneg,0.4\npos,0.6\n", "pos"),
    ],
)
def test_cli_positive_label_on_csv(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    reference: dict[str, object],
    text: str,
    positive: str,
) -> None:
    path = tmp_path / "l.csv"
    path.write_text(text)
    rc = main(["eval", str(path), "--target", "y", "--pred", "p", "--json"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and f"--positive-label {positive}" in err
    assert "corrupt" not in err  # text labels are not a damaged file
    rc = main(["eval", str(path), "--target", "y", "--pred", "p", "--json", "--positive-label", positive])  # fmt: skip
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert rc == 0
    if "neg" in text:  # a missing label is counted, never taken for a negative
        assert metrics["invalid_targets"] == 1 and metrics["rows_used"] == 4
    else:
        assert metrics == reference


def test_values_outside_unit_interval_are_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "g.parquet"
    pq.write_table(pa.table({"y": np.arange(256.0), "p": np.full(256, 0.5)}), path)
    with pytest.raises(DataError) as e:
        bcelab.evaluate(path, preds="p", target="y")
    msg = str(e.value)
    assert "target column 'y'" in msg and "256 distinct values: 0, 1, 2" in msg
    assert "at row 2 of" in msg and "divide 0..255 values by 255" in msg
    # and never half the rows dropped: no partial result exists to be wrong


def test_missing_targets_stay_missing_with_a_positive_label(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"y": ["a", None, "b", "a"], "p": [0.9, 0.5, 0.2, 0.8]}), path)
    m = bcelab.evaluate(path, preds="p", target="y", positive_label="a").metrics
    assert (m.rows, m.rows_used, m.invalid_targets, m.base_rate) == (4, 3, 1, 2 / 3)


def test_positive_label_must_fit_the_column(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"y": [1, -1], "p": [0.9, 0.2]}), path)
    with pytest.raises(DataError, match="received the text positive_label='yes'"):
        bcelab.evaluate(path, preds="p", target="y", positive_label="yes")
    with pytest.raises(OptionError, match="positive_label must be"):
        bcelab.evaluate(path, preds="p", target="y", positive_label=[1])
    with pytest.raises(OptionError, match="positive_label must be"):
        bcelab.evaluate(path, preds="p", target="y", positive_label=float("nan"))


def test_a_positive_label_in_another_case_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # "YES" for a column of "yes"/"no" matched no row: every target read as 0, silently
    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table({"y": ["yes", "no", "yes"], "p": [0.9, 0.2, 0.7], "p2": [0.8, 0.3, 0.6]}), path
    )
    with pytest.raises(DataError, match="case matters") as e:
        bcelab.evaluate(path, preds="p", target="y", positive_label="YES")
    assert "'no', 'yes'" in e.value.received and e.value.fix == "pass positive_label='yes'"
    with pytest.raises(DataError, match="case matters"):
        compare(path, preds=("p", "p2"), target="y", positive_label=" yes")
    rc = main(["eval", str(path), "--target", "y", "--pred", "p", "--positive-label", "Yes"])
    err = capsys.readouterr().err
    assert rc == 2 and "pass --positive-label yes" in err and "Traceback" not in err
    # a label that no spelling matches is the caller's choice: every target 0
    m = bcelab.evaluate(path, preds="p", target="y", positive_label="maybe").metrics
    assert m.rows_used == 3 and m.base_rate == 0.0


def test_text_labels_stored_as_string_views(
    tmp_path: Path, reference: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrow's string_view type (what some writers use for text) had no comparison kernel
    labels = pa.array(["yes", "no", "yes", "no", "yes"], pa.string_view())
    table = pa.table({"y": labels, "p": P})
    path = tmp_path / "v.parquet"
    pq.write_table(table, path)
    for source in (table, path):
        res = bcelab.evaluate(source, preds="p", target="y", positive_label="yes")
        assert res.to_dict()["metrics"] == reference
    rc = main(["eval", str(path), "--target", "y", "--pred", "p", "--positive-label", "YES"])
    err = capsys.readouterr().err
    assert rc == 2 and "pass --positive-label yes" in err and "Traceback" not in err


def test_tsv_is_tab_separated_and_delimiter_is_an_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, reference: dict[str, object]
) -> None:
    rows = "".join(f"{y:g}\t{p}\n" for y, p in zip(HARD, P, strict=True))
    (tmp_path / "a.tsv").write_text("y\tp\n" + rows)
    assert bcelab.evaluate(tmp_path / "a.tsv", preds="p", target="y").to_dict()["metrics"] == (
        reference
    )
    (tmp_path / "b.csv").write_text("y;p\n" + rows.replace("\t", ";"))
    res = bcelab.evaluate(tmp_path / "b.csv", preds="p", target="y", delimiter=";")
    assert res.to_dict()["metrics"] == reference
    with pytest.raises(DataError, match=r"not found; available: \['y;p'\]"):
        bcelab.evaluate(tmp_path / "b.csv", preds="p", target="y")
    args = ["eval", str(tmp_path / "b.csv"), "--target", "y", "--pred", "p", "--json"]
    rc = main([*args, "--delimiter", ";"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["metrics"] == reference
    (tmp_path / "c.csv").write_text("y\tp\n" + rows)
    args = ["eval", str(tmp_path / "c.csv"), "--target", "y", "--pred", "p", "--json"]
    assert main([*args, "--delimiter", "tab"]) == 0
    capsys.readouterr()
    assert main([*args, "--delimiter", "ab"]) == 2
    assert "--delimiter must be one character" in capsys.readouterr().err
    with pytest.raises(OptionError, match="delimiter must be one character"):
        bcelab.evaluate(tmp_path / "c.csv", preds="p", target="y", delimiter="ab")


def test_bad_csv_value_names_column_and_line(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("y,p\n" + "1,0.5\n" * 5 + "0,abc\n" + "1,0.5\n" * 3)
    with pytest.raises(DataError, match=r"numbers in column 'p' of .*v\.csv; line 7 holds 'abc'"):
        bcelab.evaluate(path, preds="p", target="y")


def test_a_decimal_comma_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "euro.csv"
    path.write_text("y;p\n1;0.5\n0;0,25\n")
    with pytest.raises(DataError, match=r"line 3 holds '0,25'.*write 0\.25 \(export the file"):
        bcelab.evaluate(str(path), preds="p", target="y", delimiter=";")


def test_csv_cut_in_its_last_row_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text("y,p\n1,0.5\n0,0.2\n1,0.")
    with pytest.raises(DataError, match=r"cut\.csv.*last line \(line 4\).*cut in the middle"):
        bcelab.evaluate(path, preds="p", target="y")
    path.write_text("y,p\n1,0.5\n0,0.2\n1")
    with pytest.raises(DataError, match="line 4"):
        bcelab.evaluate(path, preds="p", target="y")
    path.write_text("y,p\n1,0.5\n0,0.2\n1,0.\n")  # complete: 1,0. is a number
    assert bcelab.evaluate(path, preds="p", target="y").rows == 3


def _labels_file(tmp_path: Path, y: np.ndarray, p: np.ndarray, **extra: np.ndarray) -> Path:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"y": y, "p": p, **extra}), path)
    return path


def test_a_target_outside_the_interval_is_found_in_any_batch_and_segment(tmp_path: Path) -> None:
    # the metric kernel's count of invalid targets sends the batch to the search: the
    # row is named where it lies, in the fourth batch of the file
    n = 3 * DEFAULT_BATCH_ROWS + 1000
    rng = np.random.default_rng(3)
    y = (rng.random(n) < 0.3).astype(np.float32)
    at = 3 * DEFAULT_BATCH_ROWS + 17
    y[at + 1 :: 7] = np.nan  # missing targets are counted (refused only with strict=True)
    y[at] = 2.0
    p = rng.random(n).astype(np.float32)
    seg = np.where(np.arange(n) % 3 == 0, "a", "b")
    path = _labels_file(tmp_path, y, p, s=pa.array(seg))
    for kw in ({}, {"by": "s"}, {"threads": 1}, {"strict": True}):
        with pytest.raises(DataError, match=rf"first outside \[0, 1\]: 2 at row {at} of .*batch 3"):
            bcelab.evaluate(path, preds="p", target="y", **kw)
    y[at] = 1.0
    m = bcelab.evaluate(_labels_file(tmp_path, y, p), preds="p", target="y").metrics
    assert m.invalid_targets == int(np.isnan(y).sum()) > 0


def test_a_target_error_comes_before_a_probability_error_of_the_same_batch(
    tmp_path: Path,
) -> None:
    # the probability of row 3 is outside [0, 1] as well; the reader's order stands:
    # the target is named first, whatever the kernel refuses
    y = np.array([1, 0, 1, 0, 5], np.float64)
    p = np.array([0.9, 0.2, 0.6, 1.5, 0.5], np.float64)
    path = _labels_file(tmp_path, y, p)
    with pytest.raises(DataError, match=r"first outside \[0, 1\]: 5 at row 4"):
        bcelab.evaluate(path, preds="p", target="y")
    y[4] = 1.0
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\].*batch 0"):
        bcelab.evaluate(_labels_file(tmp_path, y, p), preds="p", target="y")


def test_a_comparison_refuses_targets_outside_the_interval(tmp_path: Path) -> None:
    y = np.array([1, 0, 1, 0, -1, 1], np.float64)
    p = np.array([0.9, 0.2, 0.6, 0.3, 0.5, 0.7], np.float64)
    path = _labels_file(tmp_path, y, p, q=p[::-1].copy())
    with pytest.raises(DataError, match=r"first outside \[0, 1\]: -1 at row 4"):
        compare(path, preds=["p", "q"], target="y", replicates=40)


def test_a_positive_label_that_matches_no_target_is_named_in_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 'maybe' for labels yes/no: every target counts as 0, which the metrics alone show
    # only as a base rate of 0; the text, the JSON, the report page and the notebook view
    # name the label
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"y": ["yes", "no", "yes", "no", "yes"], "p": P}), path)
    args = [str(path), "--pred", "p", "--target", "y", "--positive-label", "maybe"]
    note = "The positive label 'maybe' matched no used target, so every target counts as 0."
    assert main(["eval", *args]) == 0
    assert note in capsys.readouterr().out
    assert main(["eval", *args, "--json", "--report", str(tmp_path / "rep")]) == 0
    assert json.loads(capsys.readouterr().out)["columns"]["positive_label"] == "maybe"
    assert html.escape(note) in (tmp_path / "rep" / "report.html").read_text()
    res = bcelab.evaluate(path, preds="p", target="y", positive_label="maybe")
    assert note in str(res) and html.escape(note) in res._repr_html_()
    res = bcelab.evaluate(path, preds="p", target="y", positive_label="yes")
    assert "matched no used target" not in str(res) + res._repr_html_()
