"""The `bcelab loss` and `bcelab explain` commands, run as a user would."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bcelab.cli
from bcelab.cli import console, main

SEED = ["--targets", "0.5,0.3,0.5,0.9"]


def test_loss_table_explains_seed_000(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loss", *SEED, "--preds", "0.5,0.3,0.5,0.9"]) == 0
    out = capsys.readouterr().out
    assert "the floor here is 0.5806" in out
    assert "mean" in out and "0.580560" in out
    assert "BCE = floor + excess: 0.5806 = 0.5806 + 0.0000" in out


def test_loss_convention_prints_the_frameworks_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loss", *SEED, "--preds", "0.1,0.3,0.5,0.8", "--convention", "tf_keras"]) == 0
    out = capsys.readouterr().out
    assert "tf_keras prints 0.71743906" in out  # seed 000's first number
    assert "exact: 0.71743932" in out


def test_loss_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loss", *SEED, "--preds", "0.1,0.3,0.5,0.8", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["rows"]) == 4
    assert res["mean"]["bce"] == pytest.approx(0.71743932, abs=5e-9)
    assert res["mean"]["floor"] + res["mean"]["excess"] == pytest.approx(res["mean"]["bce"])


def test_loss_logits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loss", "--targets", "1,0", "--preds", "inf,-inf", "--logits"]) == 0
    out = capsys.readouterr().out
    assert "0.000000" in out and "nan" not in out.lower()


def test_loss_takes_logits_as_values_or_reads_preds_as_logits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["loss", "--logits", "-2,3,800", "--targets", "0,1,0", "--json"]) == 0
    given = json.loads(capsys.readouterr().out)
    assert main(["loss", "--preds", "-2,3,800", "--logits", "--targets", "0,1,0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == given
    assert given["mean"]["bce"] == pytest.approx((0.126928011 + 0.048587352 + 800.0) / 3)


def test_a_probability_below_the_smallest_float64_is_an_error_naming_its_logit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 1e-400 would read as 0, and a loss of inf instead of -log(1e-400) = 921.03
    assert main(["loss", "--preds", "1e-400", "--targets", "1"]) == 2
    assert "give that prediction as a logit instead: --logits -921.034" in capsys.readouterr().err
    assert main(["loss", "--logits", "-921.034", "--targets", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean"]["bce"] == pytest.approx(921.034)
    # as a logit, or as a target, so small a number changes nothing: read as 0
    assert main(["loss", "--preds", "1e-400", "--logits", "--targets", "1e-400"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["loss", *SEED, "--preds", "0.1,0.2"], "same number of values"),
        (["loss", *SEED, "--logits", "0.1,0.2"], "--logits and --targets must have the same"),
        (["loss", *SEED], "received neither --preds nor --logits values"),
        (["loss", *SEED, "--logits"], "received neither --preds nor --logits values"),
        (["loss", "--preds", "0.2", "--logits", "3", "--targets", "1"], "not both"),
        (["loss", "--preds", "3", "--targets", "1"], "pass them as --logits instead of --preds"),
        (["loss", *SEED, "--preds", "0.1,x,0.3,0.4"], "comma-separated numbers"),
        # an empty value would pair every later prediction with the wrong target
        (["loss", "--preds", "0.1,,0.3", "--targets", "1,0"], "value 2 empty"),
        (["loss", "--preds", "0.1,0.3", "--targets", ",1,0"], "--targets must have a number"),
        (["loss", "--targets", "255,0", "--preds", "0.1,0.2"], "divide 0..255"),
        (["loss", "--targets", "1,0", "--preds", "1.5,0.2"], "probabilities must lie in"),
        (["explain", "--target", "3"], "--target must lie in [0, 1]"),
        (
            ["loss", *SEED, "--preds", "0.1,0.2,0.3,0.4", "--label-smoothing", "2"],
            "--label-smoothing",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_one_trailing_comma_is_fine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loss", "--preds", "0.1,0.3,", "--targets", "1,0"]) == 0
    assert main(["loss", "--preds", "0.1,0.3,,", "--targets", "1,0"]) == 2
    assert "value 3 empty" in capsys.readouterr().err


def test_label_smoothing_names_the_smoothed_targets(capsys: pytest.CaptureFixture[str]) -> None:
    # hard targets, smoothed: the floor is H(0.9), and the minimum is at 0.9, not at 1
    assert (
        main(["loss", "--preds", "0.3,0.95", "--targets", "1,0", "--label-smoothing", "0.2"]) == 0
    )
    out = capsys.readouterr().out
    assert "each target y counts as y * (1 - 0.2) + 0.1 (1 -> 0.9, 0 -> 0.1)" in out
    assert "the floor here, 0.3251, is the entropy of the smoothed targets" in out
    assert "prediction = target" not in out and "soft targets themselves" not in out
    assert main(["loss", "--preds", "0.9", "--targets", "1", "--label-smoothing", "0.2"]) == 0
    assert "BCE = floor + excess: 0.3251 = 0.3251 + 0.0000." in capsys.readouterr().out


def test_explain_with_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "sub" / "explain.png"
    assert main(["explain", "--target", "0.3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "minimum is at p = y = 0.3" in out and "H(y) = 0.6109" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in png.parent.iterdir()] == ["explain.png"]  # no temp files left


def test_console_script_runs_as_a_process() -> None:
    exe = Path(sys.executable).parent / "bcelab"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bcelab"]
    res = subprocess.run(
        [*cmd, "loss", *SEED, "--preds", "0.5,0.3,0.5,0.9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "0.5806" in res.stdout
    res = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=120)
    assert res.stdout.startswith("bcelab ")


def test_console_entry_returns_mains_code_and_freezes_the_collector(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # restored after the test
    monkeypatch.setattr(sys, "argv", ["bcelab", "loss", *SEED, "--preds", "0.5,0.3,0.5,0.9"])
    try:
        assert console() == 0
        assert gc.get_freeze_count() > 0  # the exit's last collection skips them
    finally:
        gc.unfreeze()
    assert "0.5806" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["bcelab", "loss", "--targets", "2", "--preds", "0.5"])
    try:
        assert console() == 2
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("command", "preset", "expected"),
    [
        ("eval", None, "1"),
        ("compare", None, "1"),
        ("loss", None, "1"),
        ("eval", "3", "3"),  # the user's own choice stands
        ("train", None, None),  # multiplies a model's weights: BLAS keeps its own choice
        ("predict", None, None),
        (None, None, None),  # no command: the usage message
    ],
)
def test_console_starts_blas_with_one_thread_for_commands_without_matrices(
    monkeypatch: pytest.MonkeyPatch, command: str | None, preset: str | None, expected: str | None
) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "x")  # recorded, so the test leaves it as it was
    if preset is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset)
    monkeypatch.setattr(bcelab.cli, "main", lambda: 0)
    monkeypatch.setattr(sys, "argv", ["bcelab", *([command, "--help"] if command else ["-h"])])
    try:
        assert console() == 0
    finally:
        gc.unfreeze()
    assert os.environ.get("OPENBLAS_NUM_THREADS") == expected


@pytest.mark.parametrize(
    ("command", "preset", "expected"),
    [
        ("eval", None, "jemalloc"),
        ("eval", "system", None),  # the user's choice: the pool is left alone
        ("loss", None, None),
    ],
)
def test_console_gives_eval_pyarrows_jemalloc_allocator(
    monkeypatch: pytest.MonkeyPatch, command: str, preset: str | None, expected: str | None
) -> None:
    pa = pytest.importorskip("pyarrow")
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow is built without jemalloc")
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "x")  # recorded, restored afterwards
    if preset is None:
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
    else:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", preset)
    monkeypatch.setattr(bcelab.cli, "main", lambda: 0)
    monkeypatch.setattr(sys, "argv", ["bcelab", command, "--help"])
    before = pa.default_memory_pool()
    try:
        assert console() == 0
        after = pa.default_memory_pool().backend_name
    finally:
        gc.unfreeze()
        pa.set_memory_pool(before)
    assert after == (expected or before.backend_name)


def test_files_written_by_the_console_process_are_complete(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"p": [0.2, 0.7, 0.9, 0.4], "y": [0.0, 1.0, 1.0, 0.0]}), data)
    report = tmp_path / "report"
    cmd = [sys.executable, "-m", "bcelab", "eval", str(data), "--pred", "p", "--target", "y"]
    res = subprocess.run(
        [*cmd, "--report", str(report)], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert json.loads((report / "metrics.json").read_text())["metrics"]["rows"] == 4
    assert (report / "report.html").read_text().rstrip().endswith("</html>")
