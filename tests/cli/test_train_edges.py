"""The edges of `bcelab train` and `bcelab predict`, run as a user would.

Predictions out (`predict` then `eval` give the run's test loss), labels as users have
them, resume that refuses other options, output folders checked before training and
replaced all or nothing, SIGKILL then --resume, two Ctrl-C 50 ms apart, write failures
as exit 2, and words without internal jargon.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyarrow")

from bcelab.cli import main  # noqa: E402
from bcelab.train import MLPSpec, builtin, fit, load_history  # noqa: E402

PY_ARGUMENT = re.compile(r"\b[a-z_]+=")  # a Python keyword argument, e.g. epochs=200
RUN = {"checkpoint.pt", "curves.png", "history.csv", "history.json", "model.pt"}
RUN |= {"predictor.json", "summary.json"}


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_clear_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not PY_ARGUMENT.search(lines[0]), lines[0]  # flags, never Python arguments
    return lines[0]


def _csv(
    path: Path, n: int, seed: int, labels: tuple[str, str] = ("0", "1"), sep: str = ","
) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n) > 0
    rows = [sep.join(("f1", "f2", "noise", "label"))]
    rows += [
        sep.join((*(repr(float(v)) for v in r), labels[int(t)])) for r, t in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _train_file(data: Path, epochs: int = 2) -> list[object]:
    """`bcelab train file` on ``data`` with its "label" column, quietly, for a few epochs."""
    return ["train", "file", "--data", data, "--target", "label", "--epochs", epochs, "--quiet"]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")


# --- predictions out ----------------------------------------------------------------------


def test_predict_then_eval_give_the_test_loss_of_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tr, te = _csv(tmp_path / "tr.csv", 300, 0), _csv(tmp_path / "te.csv", 200, 1)
    run = tmp_path / "run"
    args = ["train", "file", "--data", tr, "--test", te, "--target", "label", "--epochs", "30"]
    rc, out, _ = _cli(capsys, *args, "--optimizer", "adam", "--out", run, "--quiet")
    assert rc == 0 and "predictor.json" in out
    test_loss = json.loads((run / "summary.json").read_text())["final"]["test_loss"]["mean"]
    for name in ("p.parquet", "p.csv"):
        rc, out, err = _cli(capsys, "predict", run, "--data", te, "--out", tmp_path / name)
        assert rc == 0 and "200 rows" in out, err
        rc, out, _ = _cli(
            capsys, "eval", tmp_path / name, "--target", "label", "--pred", "pred", "--json"
        )
        assert rc == 0
        assert json.loads(out)["metrics"]["log_loss"] == pytest.approx(test_loss, abs=1e-6)


def test_predict_checks_every_path_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", "moons", "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\x01 not a table")
    (tmp_path / "exists.parquet").write_text("")
    cases = [
        ([tmp_path / "nothing", "--data", garbage, "--out", tmp_path / "p.parquet"], "RUN_DIR must be"),
        ([run, "--data", garbage, "--out", tmp_path / "exists.parquet"], "--out must name a new file"),
        ([run, "--data", garbage, "--out", tmp_path / "p.xlsx"], "--out ending in .parquet"),
        ([run, "--data", garbage, "--out", tmp_path / "p.txt"], "--out ending in .parquet"),
        ([run, "--data", garbage, "--out", garbage / "p.csv"], "--out inside a folder"),
        ([run, "--data", tmp_path / "missing.csv", "--out", tmp_path / "p.csv"], "--data must name"),
        ([run, "--data", garbage, "--out", tmp_path], f"e.g. --out {tmp_path / 'predictions.parquet'}"),
    ]  # fmt: skip
    capsys.readouterr()
    for args, words in cases:
        rc, _, err = _cli(capsys, "predict", *args)
        assert rc == 2 and words in _one_clear_line(err), err
    # a missing feature column is named
    (tmp_path / "few.csv").write_text("x0,y\n0.1,1\n")
    rc, _, err = _cli(
        capsys, "predict", run, "--data", tmp_path / "few.csv", "--out", tmp_path / "p.csv"
    )
    assert rc == 2 and "lacks ['x1']" in _one_clear_line(err)
    assert not (tmp_path / "p.csv").exists()
    (tmp_path / "text.csv").write_text("x0,x1\n0.1,red\n")  # the model needs x1 as numbers
    rc, _, err = _cli(
        capsys, "predict", run, "--data", tmp_path / "text.csv", "--out", tmp_path / "p.csv"
    )
    line = _one_clear_line(err)
    assert rc == 2 and "'red'" in line and "as they were in the training data" in line
    assert "--features" not in line  # a trained model's features cannot be left out
    (tmp_path / "ok.csv").write_text("x0,x1\n0.1,0.2\n")
    rc, _, err = _cli(
        capsys,
        "predict",
        run,
        "--data",
        tmp_path / "ok.csv",
        "--out",
        tmp_path / "p.csv",
        "--seed",
        "4",
    )
    assert rc == 2 and "--seed must be one of the run's seeds (0)" in _one_clear_line(err)
    # an autoencoder run folder is named as such (its summary.json says so)
    ae = tmp_path / "ae"
    ae.mkdir()
    (ae / "summary.json").write_text(json.dumps({"config": {"model": {"kind": "autoencoder"}}}))
    rc, _, err = _cli(
        capsys, "predict", ae, "--data", tmp_path / "ok.csv", "--out", tmp_path / "q.csv"
    )
    line = _one_clear_line(err)
    assert rc == 2 and "holds an autoencoder run" in line and "circles, moons" in line


# --- labels and delimiters -----------------------------------------------------------------


def test_text_labels_need_and_take_positive_label(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "yn.tsv", 80, 2, ("no", "yes"), sep="\t")
    base = _train_file(data)
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a")
    line = _one_clear_line(err)
    assert rc == 2 and "'no', 'yes'" in line and "--positive-label yes" in line
    assert not (tmp_path / "a").exists()
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", "--positive-label", "yes")
    assert rc == 0, err
    info = json.loads((tmp_path / "a" / "predictor.json").read_text())
    assert info["table"]["positive_label"] == "yes"


def test_a_text_feature_column_names_the_flag_that_leaves_it_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "t.csv", 40, 3)
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0] + ",city", *(r + ",Oslo" for r in lines[1:])]) + "\n")
    base = _train_file(data)
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a")
    line = _one_clear_line(err)
    assert rc == 2 and "column 'city'" in line and "'Oslo'" in line and "--features" in line
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", "--features", "f1,f2,noise")
    assert rc == 0, err


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("", "--features to name at least one column"),
        (" , ", "received --features ' , '"),
        ("f1,f1", "'f1' 2 times"),
    ],
)
def test_features_that_name_no_column_or_one_twice_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], features: str, message: str
) -> None:
    base = _train_file(_csv(tmp_path / "t.csv", 40, 3))
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", "--features", features)
    assert rc == 2 and message in _one_clear_line(err)
    assert not (tmp_path / "a").exists()


def test_a_test_file_that_is_the_training_file_gets_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "t.csv", 40, 3)
    base = _train_file(data, epochs=1)
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", "--test", tmp_path / "." / "t.csv")
    assert rc == 0 and "note: --test names the --data file itself" in err
    other = tmp_path / "u.csv"
    other.write_text(data.read_text())  # the same rows in another file: the user's choice
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "b", "--test", other)
    assert rc == 0 and "note" not in err


def test_test_and_test_fraction_are_refused_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--test-fraction was silently ignored when --test was given."""
    data = _csv(tmp_path / "t.csv", 40, 3)
    base = _train_file(data, epochs=1)
    args = ("--test", data, "--test-fraction", "0.3")
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", *args)
    line = _one_clear_line(err)
    assert rc == 2 and "--test " in line and "--test-fraction 0.3" in line and "not both" in line
    assert not (tmp_path / "a").exists()


def test_one_class_of_training_targets_gets_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "ones.csv"
    data.write_text("f1,label\n" + "".join(f"{i * 0.1},1\n" for i in range(20)))
    rc, _, err = _cli(capsys, *_train_file(data, epochs=1), "--out", tmp_path / "a")
    assert rc == 0
    assert "note: every training target is 1, so the model can only learn to predict 1" in err


def test_minus_one_labels_and_a_delimiter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "pm.csv", 80, 3, ("-1", "1"), sep=";")
    base = _train_file(data)
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a")
    assert rc == 2 and "--delimiter" in _one_clear_line(err)  # one column: the separator is ';'
    base += ["--delimiter", ";"]
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a")
    line = _one_clear_line(err)
    assert rc == 2 and "-1, 1" in line and "--positive-label 1" in line
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", "--positive-label", "-1")
    assert rc == 0, err


# --- resume ---------------------------------------------------------------------------


def test_resume_refuses_another_task_or_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert (
        main(["train", "circles", "--epochs", "4", "--lr", "0.05", "--out", str(run), "--quiet"])
        == 0
    )
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    cases = [
        (["moons"], "the run trained circles, this command asks for moons"),
        (["circles", "--lr", "0.1"], "--lr 0.05 in the run, 0.1 now"),
        (["circles", "--seeds", "3", "--hidden", "8"], "--hidden 50 in the run, 8 now; --seeds 1 in the run, 3 now"),
        (["circles", "--epochs", "2"], "--epochs 2, but the run has already trained 4 epochs"),
    ]  # fmt: skip
    for args, words in cases:
        rc, _, err = _cli(capsys, "train", *args, "--resume", run)
        assert rc == 2 and words in _one_clear_line(err), err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # the run's own options are kept; the same value given again is fine
    rc, out, _ = _cli(
        capsys, "train", "circles", "--resume", run, "--lr", "0.05", "--epochs", "6", "--quiet"
    )
    assert rc == 0 and "SGD lr 0.05" in out and "6 epochs" in out
    full = fit(MLPSpec(), builtin("circles"), epochs=6, lr=0.05)
    h = load_history(run / "history.json")
    for k in full.metrics:
        np.testing.assert_array_equal(h.metrics[k], full.metrics[k])


def test_resume_of_an_autoencoder_run_names_the_autoencoder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "the run trained circles" (an autoencoder run's options name no task)
    run = tmp_path / "ae"
    args = ["train", "autoencoder", "--epochs", "1", "--out", str(run), "--quiet"]
    assert main(args) == 0
    rc, _, err = _cli(capsys, "train", "moons", "--resume", run, "--epochs", "3")
    assert rc == 2 and "the run trained an autoencoder, this command asks for moons" in err, err


def test_resume_from_a_damaged_checkpoint_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", "circles", "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    (run / "checkpoint.pt").write_bytes(b"garbage")
    rc, _, err = _cli(capsys, "train", "circles", "--resume", run, "--epochs", "3")
    line = _one_clear_line(err)
    assert rc == 2 and "checkpoint.pt is not one: it starts with b'garb'" in line, err
    assert "weights_only=False" not in err and "file an issue" not in err


def test_autoencoder_resume_continues_bit_for_bit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["train", "autoencoder", "--quiet", "--batch-size", "256"]
    assert main([*common, "--epochs", "4", "--out", str(a)]) == 0
    assert main([*common, "--epochs", "2", "--out", str(b)]) == 0
    rc, _, err = _cli(capsys, "train", "autoencoder", "--resume", b, "--lr", "0.01", "--quiet")
    assert rc == 2 and "--lr 0.001 in the run, 0.01 now" in _one_clear_line(err)
    rc, _, err = _cli(capsys, "train", "autoencoder", "--resume", b, "--epochs", "4", "--quiet")
    assert rc == 0, err
    ha, hb = load_history(a / "history.json"), load_history(b / "history.json")
    assert hb.epochs == 4
    for k in ha.metrics:
        np.testing.assert_array_equal(hb.metrics[k], ha.metrics[k], err_msg=k)
    sa, sb = (torch.load(d / "model.pt", weights_only=True) for d in (a, b))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert (b / "reconstructions.png").is_file()


# --- output folders -------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["", " "])
@pytest.mark.parametrize("task", ["circles", "autoencoder"])
def test_an_empty_out_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    out: str,
) -> None:
    """``--out ""`` silently wrote to runs/<name>-<timestamp>/ (the autoencoder: the cwd)."""
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capsys, "train", task, "--epochs", "1", "--quiet", "--out", out)
    line = _one_clear_line(err)
    assert rc == 2 and "--out must name a folder" in line and f"received --out {out!r}" in line
    assert list(tmp_path.iterdir()) == []


def test_out_holding_a_run_needs_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", "circles", "--epochs", "3", "--out", str(run), "--quiet"]) == 0
    rc, _, err = _cli(capsys, "train", "circles", "--epochs", "2", "--out", run, "--quiet")
    line = _one_clear_line(err)
    assert rc == 2 and "--out must be a new or empty folder" in line and "--overwrite" in line
    rc, _, _ = _cli(
        capsys, "train", "circles", "--epochs", "2", "--out", run, "--quiet", "--overwrite"
    )
    assert rc == 0 and load_history(run / "history.json").epochs == 2
    assert {p.name for p in run.iterdir()} == RUN
    (run / "mine.txt").write_text("keep me")
    for flag in ("--overwrite", "--resume"):  # a folder with other files is never replaced
        args = ["--out", run, "--overwrite"] if flag == "--overwrite" else ["--resume", run]
        rc, _, err = _cli(capsys, "train", "circles", *args)
        assert rc == 2 and "holds other files: mine.txt" in _one_clear_line(err)
    assert (run / "mine.txt").read_text() == "keep me"


def test_read_only_out_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    real = __import__("tempfile").TemporaryFile

    def refuse(*a: object, dir: object = None, **k: object) -> object:
        if dir is not None and Path(str(dir)) == ro:  # also for root, who writes anywhere
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr("tempfile.TemporaryFile", refuse)

    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("training started before the output check")

    monkeypatch.setattr("bcelab.cli.train.fit", no_training)
    monkeypatch.setattr("bcelab.cli.autoencoder.fit_autoencoder", no_training)
    try:
        for cmd in (["circles", "--epochs", "100000"], ["autoencoder", "--epochs", "100000"]):
            rc, out, err = _cli(capsys, "train", *cmd, "--out", ro / "run")
            assert rc == 2 and "--out in a folder bcelab can write to" in _one_clear_line(err)
            assert out == ""
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []


def test_disk_full_is_exit_2_with_the_path_and_the_previous_run_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    assert main(["train", "circles", "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()

    def full(obj: object, path: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("bcelab.train.artifacts.save_torch", full)
    rc, _, err = _cli(
        capsys, "train", "circles", "--epochs", "3", "--out", run, "--overwrite", "--quiet"
    )
    line = _one_clear_line(err)
    assert (
        rc == 2 and "model.pt: No space left on device" in line and "free some disk space" in line
    )
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# --- killed and interrupted runs --------------------------------------------------------------


def _wait_for_checkpoint(proc: subprocess.Popen[str], out: Path, epochs: int) -> int:
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            done = json.loads((out / "summary.json").read_text())["epochs_completed"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= epochs:
            return int(done)
        time.sleep(0.005)
    raise AssertionError(f"no checkpoint of {epochs} epochs: {proc.communicate()}")


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    out, epochs = tmp_path / "run", 1500
    cmd = [sys.executable, "-m", "bcelab", "train", "circles", "--epochs", str(epochs)]
    cmd += ["--checkpoint-every", "25", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for_checkpoint(proc, out, 50)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    summary = json.loads((out / "summary.json").read_text())
    assert summary["in_progress"] and 50 <= summary["epochs_completed"] < epochs
    # the next start (a new process) removes what the killed one left, and continues
    again = [sys.executable, "-m", "bcelab", "train", "circles", "--resume", str(out), "--quiet"]
    res = subprocess.run(again, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    full = fit(MLPSpec(), builtin("circles"), epochs=epochs)
    h = load_history(out / "history.json")
    assert h.epochs == epochs and not json.loads((out / "summary.json").read_text())["in_progress"]
    for k in full.metrics:
        np.testing.assert_array_equal(h.metrics[k], full.metrics[k], err_msg=k)
    state = torch.load(out / "model.pt", weights_only=True)
    assert full.model_state is not None
    assert all(torch.equal(state[k], full.model_state[k]) for k in state)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left


@pytest.mark.slow
def test_two_ctrl_c_50_ms_apart_leave_a_complete_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "bcelab", "train", "circles", "--epochs", "1000000"]
    cmd += ["--checkpoint-every", "20", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(
        cmd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when the suite runs with SIGINT ignored (a
        # background job), which the child would inherit and bcelab would respect
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_for_checkpoint(proc, out, 40)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted after epoch" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and not summary["in_progress"]
    assert {p.name for p in out.iterdir()} == RUN
    h = load_history(out / "history.json")
    assert h.epochs == summary["epochs_completed"] >= 40
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["history"]["epochs"] == h.epochs
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert "Train:" in stdout


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train"],
        ["train", "circles"],
        ["train", "moons"],
        ["train", "breast-cancer"],
        ["train", "file"],
        ["train", "autoencoder"],
        ["predict"],
    ],
)
def test_help_has_no_internal_jargon(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([*args, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert not re.search(r"seed 0\d\d|issue \d", text.lower()), text
    if args == ["train"]:
        assert "the two-circles tutorial" in text and "the autoencoder question" in text


def test_train_output_says_the_two_circles_tutorial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = _cli(
        capsys, "train", "circles", "--epochs", "2", "--out", tmp_path / "r", "--quiet"
    )
    assert rc == 0 and "the two-circles tutorial (one Keras run): Train: 0.836, Test: 0.852" in out
    assert "this run's --epochs differs from it" in out  # 2 epochs, not the recipe's 200
    assert not re.search(r"seed 0\d\d|issue \d", out)
    rc, out, _ = _cli(
        capsys, "train", "circles", "--epochs", "2", "--hidden", "8", "--lr", "0.1",
        "--out", tmp_path / "r2", "--quiet",
    )  # fmt: skip
    assert "this run's --hidden, --epochs, --lr differ from it" in out


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["circles", "--checkpoint-every", "-1"], "--checkpoint-every"),
        (["file", "--target", "y"], "--data"),
        (["file", "--data", "x.csv", "--target", "y", "--delimiter", "ab"], "--delimiter"),
        (["autoencoder", "--resume", "nowhere"], "--resume"),
        (["circles", "--device", "tpu"], "--device"),
        (["moons", "--device", "cuda:99"], "--device cuda:99 (found"),
    ],
)
def test_bad_flags_are_named_as_typed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    flag: str,
) -> None:
    (tmp_path / "x.csv").write_text("a,y\n1,0\n2,1\n")
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capsys, "train", *args, "--out", tmp_path / "never")
    assert rc == 2 and flag in _one_clear_line(err), err
    assert not (tmp_path / "never").exists()


def test_a_model_larger_than_memory_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    rc, _, err = _cli(capsys, "train", "circles", "--hidden", "100000,100000", "--out", out)
    line = _one_clear_line(err)
    assert rc == 2 and not out.exists()
    assert "hidden layers of 100,000 and 100,000 units, --seeds 1; this machine has" in line
    assert line.endswith("use smaller --hidden layers, fewer --seeds or a smaller --batch-size")


def test_running_out_of_memory_anyway_is_exit_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # beyond the floor the check knows, an allocation can still fail: NumPy's message
    # (how much it asked for) and the command's size flags, not a traceback
    import bcelab.train.mlp.models as models

    def no_memory(*args: object, **kwargs: object) -> np.ndarray:
        return np.empty((2**40, 2**20), dtype=np.uint8)  # 1 EiB: NumPy refuses it

    monkeypatch.setattr(models.rng, "uniform", no_memory)
    rc, _, err = _cli(capsys, "train", "circles", "--epochs", "1", "--out", tmp_path / "run")
    line = _one_clear_line(err)
    assert rc == 2
    assert "it ran out (Unable to allocate 1.00 EiB" in line
    assert "use smaller --hidden layers, fewer --seeds or a smaller --batch-size" in line


def test_a_number_positive_label_that_matches_no_row_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It trained on all-0 targets and exited 0, with only a note."""
    base = _train_file(_csv(tmp_path / "d.csv", 40, 5))
    rc, _, err = _cli(capsys, *base, "--out", tmp_path / "a", "--positive-label", "7")
    line = _one_clear_line(err)
    assert rc == 2 and "--positive-label 7 matches no row of" in line
    assert "whose values are 0, 1. leave out --positive-label" in line
    assert not (tmp_path / "a").exists()


def test_a_feature_named_pred_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It trained a model that `bcelab predict` refused for every --data."""
    data = _csv(tmp_path / "d.csv", 40, 6)
    data.write_text(data.read_text().replace("f1,", "pred,", 1))
    rc, _, err = _cli(capsys, *_train_file(data), "--out", tmp_path / "a")
    line = _one_clear_line(err)
    assert rc == 2 and "has the feature column 'pred'" in line
    assert "(e.g. to 'pred_in'), or name the other features with --features" in line
    assert not (tmp_path / "a").exists()


def test_resume_with_a_file_asks_for_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--resume train.csv` complained that --out '.' holds other files."""
    data = _csv(tmp_path / "train.csv", 20, 7)
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capsys, *_train_file(data), "--resume", "train.csv")
    line = _one_clear_line(err)
    assert rc == 2 and "--resume needs the run folder" in line
    assert "received 'train.csv', a file, not a run folder" in line and "--out '.'" not in line
