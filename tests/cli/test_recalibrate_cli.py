"""``bcelab eval`` with the decomposition, --recalibrate, --fit-on, --negative-rate and
--save-map, and ``bcelab recalibrate`` (bad input: exit 2, flags named, no traceback)."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bcelab.cli import main
from bcelab.evaluation.recal_apply import BATCH_ROWS
from bcelab.metrics import load_map


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(11)
    n = 12_000
    z = rng.normal(size=n) * 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    t = pa.table(
        {
            "y": y,
            "p": (1 / (1 + np.exp(-2 * z))).astype(np.float32),
            "z": (2 * z).astype(np.float32),
            "seg": rng.choice(np.array(["north", "south"]), n),
        }
    )
    pq.write_table(t, tmp_path / "preds.parquet")
    pq.write_table(t.slice(0, 4_000), tmp_path / "calib.parquet")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([*map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_eval_json_and_text(capsys, data):
    base = ["eval", data / "preds.parquet", "--target", "y", "--pred", "p", "--by", "seg"]
    rc, out, _ = _run(capsys, *base, "--json", "--recalibrate", "platt")
    assert rc == 0
    d = json.loads(out)
    ll = d["decomposition"]["log_loss"]
    assert ll["uncertainty"] - ll["discrimination"] + ll["miscalibration"] == pytest.approx(
        d["metrics"]["log_loss"], abs=1e-9
    )
    rec = d["recalibrated"]
    assert rec["method"] == "platt" and set(rec["params"]) == {"a", "b"}
    assert rec["fitted_on"] is None and rec["metrics"].keys() == d["metrics"].keys()
    assert rec["metrics"]["calibration"] == pytest.approx(1.0, abs=1e-6)
    assert all("decomposition" in s and "recalibrated" in s for s in d["segments"])
    # text: the metric lines of a plain run are unchanged, the new lines follow
    _, plain, _ = _run(capsys, *base)
    _, text, _ = _run(capsys, *base, "--recalibrate", "platt")
    assert plain.splitlines()[1:14] == text.splitlines()[1:14]
    assert re.search(
        r"^decomposition +recalibrating would remove [\d.]+ of the log loss", text, re.M
    )
    assert re.search(
        r"^recalibrated +platt \(a=[\d.]+, b=-?[\d.e-]+\); fitted on the evaluated rows", text, re.M
    )
    assert re.search(r"^  calibration +[\d.]+ +1\b", text, re.M)


def test_negative_rate_flag(capsys, data):
    args = ["eval", data / "preds.parquet", "--target", "y", "--pred", "p", "--json"]
    _, out, _ = _run(capsys, *args, "--negative-rate", "0.5", "--recalibrate", "downsampling")
    d = json.loads(out)
    assert d["negative_rate"] == 0.5 and d["recalibrated"]["params"] == {"negative_rate": 0.5}
    _, plain, _ = _run(capsys, *args)
    assert d["metrics"]["base_rate"] < json.loads(plain)["metrics"]["base_rate"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--recalibrate", "spline"], "--recalibrate must be one of platt, temperature"),
        (["--fit-on", "calib.parquet"], "--fit-on only with --recalibrate"),
        (["--save-map", "m.json"], "--save-map only with --recalibrate"),
        (["--recalibrate", "downsampling"], "--recalibrate downsampling with --negative-rate W"),
        (["--negative-rate", "0"], "--negative-rate must be a number in (0, 1]"),
        (["--negative-rate", "-0.5"], "--negative-rate must be a number in (0, 1]"),
        (["--negative-rate", "1.5"], "--negative-rate must be a number in (0, 1]"),
        (
            ["--recalibrate", "platt", "--fit-on", "nowhere.parquet"],
            "--fit-on must name an existing",
        ),
        (
            [
                "--recalibrate",
                "downsampling",
                "--negative-rate",
                "0.1",
                "--fit-on",
                "calib.parquet",
            ],
            "no --fit-on with --recalibrate downsampling",
        ),
        (["--recalibrate", "platt", "--save-map", "."], "--save-map must name a file"),
        (
            ["--recalibrate", "platt", "--save-map", "calib.parquet"],
            "received --save-map calib.parquet, an existing file that is not a recalibration map",
        ),
        (
            ["--recalibrate", "platt", "--report", "rep", "--save-map", "rep/platt.json"],
            "--save-map outside the --report folder (the report writes its map as rep/map.json)",
        ),
    ],
)
def test_eval_flag_errors_before_any_read(capsys, data, monkeypatch, flags, message):
    monkeypatch.chdir(data)
    # the data file does not exist: a flag error must come first
    rc, out, err = _run(capsys, "eval", "missing.parquet", "--target", "y", "--pred", "p", *flags)
    assert rc == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert not re.search(r"\b[a-z_]+=", err.split("error:", 1)[1]), err


def test_save_map_then_recalibrate_new_rows(capsys, data):
    m = data / "platt.json"
    rc, _, err = _run(
        capsys, "eval", data / "preds.parquet", "--target", "y", "--logit", "z",
        "--recalibrate", "platt", "--fit-on", data / "calib.parquet", "--save-map", m,
    )  # fmt: skip
    assert rc == 0 and f"map: {m}" in err
    doc = json.loads(m.read_text())
    assert doc["columns"] == {"logit": "z"} and doc["method"] == "platt"
    fitted = load_map(m)
    src = pq.read_table(data / "preds.parquet")
    for out in (data / "new.parquet", data / "new.csv"):
        rc, text, _ = _run(capsys, "recalibrate", m, "--data", data / "preds.parquet", "--out", out)
        assert rc == 0 and "12000 rows" in text
        got = pq.read_table(out) if out.suffix == ".parquet" else pacsv.read_csv(out)
        assert got.column_names == [*src.column_names, "pred_recalibrated"]
        q = fitted.apply(src["z"].to_numpy(), logits=True)  # the map names the logit column
        np.testing.assert_allclose(got["pred_recalibrated"].to_numpy(), q, rtol=1e-15)
        assert got["seg"].to_pylist() == src["seg"].to_pylist()
    rc, _, err = _run(capsys, "recalibrate", m, "--data", data / "preds.parquet", "--out", out)
    assert rc == 2 and "--out must not exist (or add --overwrite)" in err
    rc, _, err = _run(capsys, "recalibrate", m, "--data", data / "preds.parquet", "--out", data)
    assert rc == 2 and f"e.g. --out {data / 'recalibrated.parquet'}" in err
    rc, _, _ = _run(
        capsys, "recalibrate", m, "--data", data / "preds.parquet", "--out", out, "--overwrite",
        "--pred", "p", "--out-column", "q",
    )  # fmt: skip
    assert rc == 0
    got = pacsv.read_csv(out)
    np.testing.assert_allclose(got["q"].to_numpy(), fitted.apply(src["p"].to_numpy()), rtol=1e-15)


def test_report_folder_holds_the_map_and_the_figure(capsys, data):
    report = data / "report"
    args = ["eval", data / "preds.parquet", "--target", "y", "--pred", "p", "--report", report]
    rc, _, _ = _run(capsys, *args, "--recalibrate", "isotonic")
    assert rc == 0
    assert {"map.json", "decomposition.png", "report.html"} <= {p.name for p in report.iterdir()}
    assert "Recalibrated: isotonic" in (report / "report.html").read_text()
    out = data / "iso.parquet"
    rc, _, _ = _run(capsys, "recalibrate", report, "--data", data / "calib.parquet", "--out", out)
    assert rc == 0
    p = pq.read_table(data / "calib.parquet")["p"].to_numpy()
    q = load_map(report / "map.json").apply(p)
    np.testing.assert_array_equal(pq.read_table(out)["pred_recalibrated"].to_numpy(), q)
    # a report without a recalibration replaces the old one whole: no map.json left
    rc, _, _ = _run(capsys, *args)
    assert rc == 0 and not (report / "map.json").exists()
    rc, _, err = _run(capsys, "recalibrate", report, "--data", data / "calib.parquet", "--out", out)
    assert rc == 2 and "has no map.json" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.json", "--data", "preds.parquet", "--out", "o.parquet"], "RUN_OR_FIT must name"),
        (
            ["m.json", "--data", "missing.parquet", "--out", "o.parquet"],
            "--data must name one Parquet or CSV file (.parquet, .parq, .pq, .csv, ",
        ),
        (
            ["rep", "--data", "preds.parquet", "--out", "o.parquet"],
            "rep has no map.json. pass the --save-map FILE or the --report DIR of "
            "`bcelab eval --recalibrate METHOD`",
        ),
        (
            ["iso.json", "--data", "preds.parquet", "--out", "o.parquet", "--pred", "p"],
            "is below value 0 (0.9). fit the map again with "
            "`bcelab eval --recalibrate isotonic --save-map FILE`",
        ),
        (["m.json", "--data", "preds.parquet", "--out", "o.txt"], "--out must end in one of"),
        (["m.json", "--data", "preds.parquet", "--out", "o.csv", "--pred", "nah"], "'nah'"),
        (
            ["m.json", "--data", "preds.parquet", "--out", "o.csv", "--out-column", "p"],
            "already has a column 'p'",
        ),
        (
            ["m.json", "--data", "preds.parquet", "--out", "o.csv", "--delimiter", "é"],
            "received --delimiter 'é', not an ASCII character. write e.g. --delimiter ';'",
        ),
        (
            ["m.json", "--data", "dup.csv", "--out", "o.csv"],
            "one column named 'p' in dup.csv; 2 of its columns have that name. rename the "
            "repeated columns",
        ),
        (
            ["bare.json", "--data", "preds.parquet", "--out", "o.csv"],
            "this map does not name it; received neither. pass --pred p (or --logit z)",
        ),
        (
            ["preds.parquet", "--data", "preds.parquet", "--out", "o.csv"],
            "a readable JSON file written by `bcelab eval --recalibrate METHOD --save-map FILE`",
        ),
    ],
)
def test_recalibrate_errors(capsys, data, monkeypatch, args, message):
    monkeypatch.chdir(data)
    (data / "m.json").write_text(
        json.dumps(
            {"method": "platt", "version": 1, "params": {"a": 1, "b": 0}, "columns": {"pred": "p"}}
        )
    )
    (data / "dup.csv").write_text("p,p\n0.2,0.3\n")
    (data / "rep").mkdir()
    (data / "iso.json").write_text(
        json.dumps(
            {
                "method": "isotonic",
                "version": 1,
                "params": {"edges": [0, 0.5, 1], "values": [0.9, 0.1]},
            }
        )
    )
    (data / "bare.json").write_text(
        json.dumps({"method": "temperature", "version": 1, "params": {"temperature": 2.0}})
    )
    rc, out, err = _run(capsys, "recalibrate", *args)
    assert rc == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert not re.search(r"\b[a-z_]+=|\w\(", err), err  # flags, not Python arguments or calls
    assert not (data / "o.csv").exists() and not (data / "o.parquet").exists()


def test_recalibrate_names_the_file_row_of_a_bad_probability(capsys, tmp_path):
    """A probability outside [0, 1] in the second batch: the error names the file's row
    (not the row within its batch), exit 2, no output file."""
    n = BATCH_ROWS + 37_856  # one whole batch and the rest
    at = BATCH_ROWS + 17_856
    p = np.full(n, 0.25, dtype=np.float32)
    p[at] = 1.5
    pq.write_table(pa.table({"p": p}), tmp_path / "new.parquet")
    (tmp_path / "m.json").write_text(
        json.dumps(
            {"method": "platt", "version": 1, "params": {"a": 1, "b": 0}, "columns": {"pred": "p"}}
        )
    )
    out = tmp_path / "o.parquet"
    rc, text, err = _run(
        capsys, "recalibrate", tmp_path / "m.json", "--data", tmp_path / "new.parquet", "--out", out
    )
    assert rc == 2 and text == "" and "Traceback" not in err
    assert f"1.5 at row {at})" in err and f"rows {BATCH_ROWS}-{n - 1}" in err
    assert err.startswith("bcelab recalibrate: error: probabilities must lie in [0, 1]")
    assert "Map.apply" not in err and "pass --logit p;" in err  # the command's words
    assert not out.exists()


@pytest.mark.parametrize(
    "bad", ["empty.parquet", "empty.csv", "truncated.parquet", "cut.csv", "headless.csv"]
)
def test_recalibrate_refuses_a_bad_file_as_eval_does(capsys, data, bad):
    """An empty or truncated input: exit 2, no traceback, no output file, and the same
    message as ``bcelab eval`` gives for that file."""
    (data / "empty.parquet").write_bytes(b"")
    (data / "empty.csv").write_bytes(b"")
    (data / "cut.csv").write_bytes(b"y,p\n1,0.25\n0,0.7")  # the last row cut short
    (data / "headless.csv").write_bytes(b"\n1,0.25\n")
    whole = (data / "preds.parquet").read_bytes()
    (data / "truncated.parquet").write_bytes(whole[: len(whole) - 100])
    (data / "m.json").write_text(
        json.dumps(
            {"method": "platt", "version": 1, "params": {"a": 1, "b": 0}, "columns": {"pred": "p"}}
        )
    )
    out = data / "o.parquet"
    rc, stdout, err = _run(
        capsys, "recalibrate", data / "m.json", "--data", data / bad, "--out", out
    )
    assert rc == 2 and stdout == "" and "Traceback" not in err
    assert not out.exists() and not list(data.glob("*.tmp*"))
    rc_eval, _, err_eval = _run(capsys, "eval", data / bad, "--target", "y", "--pred", "p")
    assert rc_eval == 2
    # the same message after each command's name
    assert err.split(" error: ", 1)[1] == err_eval.split(" error: ", 1)[1]
    assert str(data / bad) in err and ".." not in err


@pytest.mark.parametrize("method", ["platt", "temperature"])
def test_separated_classes_point_to_the_isotonic_flag(capsys, tmp_path, method):
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.5).astype(np.float32)
    path = tmp_path / "sep.parquet"
    pq.write_table(pa.table({"y": y, "p": np.where(y == 1, 0.6, 0.4).astype(np.float32)}), path)
    rc, out, err = _run(
        capsys, "eval", path, "--target", "y", "--pred", "p", "--recalibrate", method
    )
    assert rc == 2 and out == "" and "Traceback" not in err
    assert "separate the classes" in err and "use --recalibrate isotonic, which fits a step" in err


def test_save_map_replaces_an_earlier_map_and_nothing_else(capsys, data):
    args = ["eval", data / "preds.parquet", "--target", "y", "--pred", "p"]
    m = data / "m.json"
    for method in ("platt", "temperature"):  # a second run replaces the first map
        rc, _, err = _run(capsys, *args, "--recalibrate", method, "--save-map", m)
        assert rc == 0 and f"map: {m}" in err and load_map(m).method == method
    before = (data / "preds.parquet").read_bytes()
    rc, out, err = _run(
        capsys, *args, "--recalibrate", "platt", "--save-map", data / "preds.parquet"
    )
    assert rc == 2 and out == "" and "not a recalibration map" in err
    assert (data / "preds.parquet").read_bytes() == before


def test_recalibrate_refuses_a_csv_out_of_a_nested_column(capsys, tmp_path):
    pq.write_table(pa.table({"p": [0.2, 0.7], "tags": [[1, 2], [3]]}), tmp_path / "n.parquet")
    (tmp_path / "m.json").write_text(
        json.dumps(
            {"method": "platt", "version": 1, "params": {"a": 1, "b": 0}, "columns": {"pred": "p"}}
        )
    )
    out = tmp_path / "n.csv"
    rc, text, err = _run(
        capsys, "recalibrate", tmp_path / "m.json", "--data", tmp_path / "n.parquet", "--out", out
    )
    assert rc == 2 and text == "" and "Traceback" not in err and not out.exists()
    assert "'tags' (list<element: int64>)" in err
    assert err.rstrip().endswith(f"write a Parquet file instead: --out {tmp_path / 'n.parquet'}")
