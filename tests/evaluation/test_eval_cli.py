"""``bcelab eval``: a thin layer over ``bcelab.evaluate`` (bad input: exit 2, flags named)."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import types

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.cli import main
from bcelab.evaluation import warmup
from bcelab.evaluation.warmup import NOTICE
from tests.clock import JumpingClock


@pytest.fixture()
def good(tmp_path):
    rng = np.random.default_rng(3)
    n = 20_000
    p = rng.random(n).astype(np.float32)
    t = pa.table(
        {
            "y": (rng.random(n) < p).astype(np.float32),
            "p": p,
            "seg": rng.choice(np.array(["north", "south"]), n),
        }
    )
    path = tmp_path / "preds.parquet"
    pq.write_table(t, path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main(["eval", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_output(capsys, good):
    rc, out, err = _run(capsys, good, "--target", "y", "--pred", "p", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["rows"] == 20_000 and d["metrics"]["rows_used"] == 20_000
    assert "\r" not in err  # stderr is not a terminal here: no progress bar


def test_text_output_with_segments(capsys, good):
    rc, out, _ = _run(
        capsys, good, "--target", "y", "--pred", "p", "--by", "seg", "--threshold", "0.3"
    )
    assert rc == 0
    assert "log loss" in out and "ROC-AUC" in out and "at p >= 0.3" in out
    lines = out.splitlines()
    assert any(line.startswith("north ") for line in lines)
    assert any(line.startswith("south ") for line in lines)


def test_progress_bar_on_request(capsys, good):
    # stderr is not a terminal here: rich draws the final state once, with the rate
    rc, _, err = _run(capsys, good, "--target", "y", "--pred", "p", "--progress")
    assert rc == 0 and "rows/s" in err and "100%" in err and "20k/20k rows" in err


def test_report_directory(capsys, good, tmp_path):
    rc, out, err = _run(
        capsys, good, "--target", "y", "--pred", "p", "--json", "--report", tmp_path / "r"
    )
    assert rc == 0 and "report.html" in err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["metrics"] == json.loads(out)["metrics"]
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        ("missing", ["--target", "label", "--pred", "p"], "available: ['y', 'p', 'seg']"),
        ("truncated", ["--target", "y", "--pred", "p"], "corrupt or truncated"),
        ("corrupt_csv", ["--target", "y", "--pred", "p"], "line 3: Expected 2 columns, got 3"),
        ("empty", ["--target", "y", "--pred", "p"], "empty (0 bytes)"),
        ("outside", ["--target", "y", "--pred", "p"], "probabilities must lie in [0, 1]"),
        ("nan", ["--target", "y", "--pred", "p", "--strict"], "must not contain NaN"),
        (
            "good",
            ["--target", "y", "--pred", "p", "--scheduler", "tcp://x:1"],
            "--scheduler only with --engine dask",
        ),
        ("good", ["--target", "y", "--pred", "p", "--threshold", "0.123"], "--threshold 0.12"),
        ("good", ["--target", "y", "--pred", "p", "--clip", "0.7"], "--clip must be"),
        (
            "good",
            ["--target", "y", "--logit", "p", "--clip", "1e-7"],
            "--clip applies to probabilities (--pred) only; received --clip 1e-07 together "
            "with --logit p. drop --clip (logits need no clipping",
        ),
        ("good", ["--target", "y", "--pred", "p", "--threads", "0"], "--threads must be"),
        ("good", ["--target", "y", "--pred", "p", "--workers", "2"], "--workers (Dask"),
        (
            "good",
            ["--target", "y", "--pred", "p", "--engine", "dask", "--threads", "2"],
            "--threads (the local engine's threads) only with --engine local",
        ),
        ("good", ["--target", "y", "--pred", "y"], "a different column for each of --pred"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, good, tmp_path, make, args, message):
    if make == "missing" or make == "good":
        path = good
    elif make == "truncated":
        data = good.read_bytes()
        path = tmp_path / "t.parquet"
        path.write_bytes(data[: len(data) - 100])
    elif make == "corrupt_csv":
        path = tmp_path / "bad.csv"
        path.write_text("y,p\n1,0.5\n0,0.5,9\n")
    elif make == "empty":
        path = tmp_path / "e.parquet"
        path.write_bytes(b"")
    else:
        path = tmp_path / "x.parquet"
        p = [0.5, 1.5] if make == "outside" else [0.5, float("nan")]
        pq.write_table(pa.table({"y": [1.0, 0.0], "p": p}), path)
    rc, out, err = _run(capsys, path, *args)
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert out == ""
    if make == "good":  # an option error: it names the flag, never the Python argument
        assert not re.search(r"[a-z_]=", err.split("error:", 1)[1]), err


@pytest.mark.parametrize("address", ["nonsense", "tcp://", "tcp://:8786x", "inproc://abc"])
def test_a_malformed_scheduler_exits_2_before_any_work(capsys, monkeypatch, address):
    """Checked with the flags: before the kernels compile and before any file is read."""
    pytest.importorskip("distributed")

    def no_work(**_: object) -> None:
        raise AssertionError("the kernels compiled before the flags were checked")

    monkeypatch.setattr(warmup, "compile_metric_kernels", no_work)
    args = ["--target", "y", "--pred", "p", "--engine", "dask", "--scheduler", address]
    rc, out, err = _run(capsys, "/no/such/file.parquet", *args)
    assert rc == 2 and out == "" and "Traceback" not in err
    assert err.startswith(
        "bcelab eval: error: --scheduler must be the address of a running Dask scheduler, "
        "tcp://HOST:PORT (or tls://, ws://, wss://, ucx://); "
        f"received --scheduler {address} ("
    )
    assert "e.g. --scheduler tcp://127.0.0.1:8786, or leave out --scheduler" in err
    assert not re.search(r"[a-z_]=", err) and "Client" not in err


def test_a_segment_without_labels_is_a_row_of_the_table(capsys, tmp_path):
    """A segment whose targets are all missing: exit 0, its row in the table (n/a), and
    the total from the other rows."""
    path = tmp_path / "pending.parquet"
    t = {"y": [1.0, 0.0, 1.0, None], "p": [0.7, 0.2, 0.6, 0.5], "seg": ["a", "a", "a", "b"]}
    pq.write_table(pa.table(t), path)
    rc, out, err = _run(capsys, path, "--target", "y", "--pred", "p", "--by", "seg")
    assert rc == 0, err
    row_b = next(line for line in out.splitlines() if line.startswith("b "))
    assert row_b.split() == ["b", "1"] + ["n/a"] * 6
    assert "rows              4 (used 3" in out


def test_nan_without_strict_is_counted(capsys, tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"y": [1.0, 0.0, 1.0], "p": [0.5, float("nan"), 0.8]}), path)
    rc, out, _ = _run(capsys, path, "--target", "y", "--pred", "p", "--json")
    m = json.loads(out)["metrics"]
    assert rc == 0 and m["nan_predictions"] == 1 and m["rows_used"] == 2


def test_null_predictions_are_counted_with_nan_and_named_so(capsys, tmp_path):
    path = tmp_path / "x.parquet"
    table = {"y": [1.0, 0.0, 1.0, None], "p": [None, float("nan"), 0.8, 0.3]}
    pq.write_table(pa.table(table), path)
    rc, out, _ = _run(capsys, path, "--target", "y", "--pred", "p")
    assert rc == 0
    assert "excluded 3: 2 NaN or null predictions, 1 missing or invalid target" in out
    rc, _, err = _run(capsys, path, "--target", "y", "--pred", "p", "--strict")
    assert rc == 2 and "found 2 NaN or null values (first at row 0" in err


@pytest.mark.parametrize(("sep", "flag"), [(";", "--delimiter ';'"), ("\t", "--delimiter tab")])
def test_the_wrong_separator_names_the_flag_as_a_shell_takes_it(capsys, tmp_path, sep, flag):
    path = tmp_path / "semi.csv"
    path.write_text(f"p{sep}y\n0.5{sep}1\n")
    rc, _, err = _run(capsys, path, "--target", "y", "--pred", "p")
    assert rc == 2 and err.rstrip().endswith(f"pass {flag}")
    rc, out, _ = _run(capsys, path, "--target", "y", "--pred", "p", *flag.replace("'", "").split())
    assert rc == 0 and "rows              1 (used 1" in out


def test_pred_and_logit_are_exclusive(capsys, good):
    with pytest.raises(SystemExit) as e:
        main(["eval", str(good), "--target", "y", "--pred", "p", "--logit", "p"])
    assert e.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_threads_change_nothing(capsys, good):
    outs = []
    for n in ("1", "3"):
        rc, out, _ = _run(capsys, good, "--pred", "p", "--target", "y", "--threads", n, "--json")
        assert rc == 0
        outs.append(json.loads(out)["metrics"])
    assert outs[0] == outs[1]


_REAL_METRIC_CALLS = warmup._metric_calls


def _slow_metric_calls() -> None:
    """A first compile, simulated: the warm-up (the precompiled module's build, or the
    JIT's first calls) waits for the notice's timer and moves the evaluation's clock
    100 s on."""
    time.sleep(warmup.NOTICE_AFTER_S + 0.2)
    JumpingClock.offset += 100.0
    _REAL_METRIC_CALLS()


def _slow_first_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bcelab.evaluation.warmup._READY", threading.Event())
    monkeypatch.setattr(warmup, "_metric_calls", _slow_metric_calls)
    monkeypatch.setattr(JumpingClock, "offset", 0.0)
    clock = types.SimpleNamespace(perf_counter=JumpingClock.perf_counter)
    monkeypatch.setattr(sys.modules["bcelab.evaluation.evaluate"], "time", clock)


def test_first_run_compile_is_one_line_and_not_timed(capsys, good, monkeypatch):
    _slow_first_compile(monkeypatch)
    rc, out, err = _run(capsys, good, "--target", "y", "--pred", "p", "--json")
    assert rc == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bcelab eval: compiling the metric kernels once for this machine")
    assert re.search(r"done in \d+\.\d s \(not counted in the rows/s\)$", lines[0]), lines[0]
    run = json.loads(out)["run"]
    assert JumpingClock.offset >= 100.0  # the simulated compile ran
    assert run["seconds"] < 100.0  # the compile moved the clock on by 100 s per step
    # a second run in this process: nothing to compile, nothing said
    rc, _, err = _run(capsys, good, "--target", "y", "--pred", "p", "--json")
    assert rc == 0 and err == ""


def test_python_api_logs_the_compile_once(good, monkeypatch, caplog):
    _slow_first_compile(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="bcelab"):
        res = bcelab.evaluate(good, preds="p", target="y")
        bcelab.evaluate(good, preds="p", target="y")
    notes = [r.getMessage() for r in caplog.records if "compiling" in r.getMessage()]
    assert notes == ["bcelab: " + NOTICE]
    assert res.seconds < 100.0  # the compile moved the clock on by 100 s per step


def test_clip_with_logit_is_refused_before_any_file_is_read(capsys, tmp_path):
    """The flag conflict, not the data error of a file read later (b.csv has no y)."""
    (tmp_path / "a.csv").write_text("p,y\n0.1,0\n")
    (tmp_path / "b.csv").write_text("p,label\n0.1,0\n")
    rc, out, err = _run(capsys, tmp_path, "--target", "y", "--logit", "p", "--clip", "1e-7")
    assert (rc, out) == (2, "")
    assert err.count("\n") == 1 and "b.csv" not in err and "a.csv" not in err
    assert "received --clip 1e-07 together with --logit p. drop --clip" in err


def test_the_library_clip_error_reads_in_flags():
    from bcelab.cli.messages import in_flags
    from bcelab.errors import OptionError

    with pytest.raises(OptionError) as e:
        bcelab.evaluate({"p": [0.1], "y": [0]}, logits="p", target="y", clip=1e-7)
    assert "(in " not in str(e.value)  # an option error, not one of a batch of rows
    text = str(in_flags(e.value, "eval"))
    assert text.startswith("--clip applies to probabilities (--pred) only")
    assert "received --clip 1e-07 together with --logit p. drop --clip (" in text
