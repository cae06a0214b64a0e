"""`bcelab train`: the tutorial line, artifacts, many seeds, a user CSV end to end, bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bcelab.cli import main  # noqa: E402
from bcelab.train import History, MLPSpec, builtin, load_history, module_from_state  # noqa: E402


def test_circles_prints_tutorial_line_and_writes_artifacts(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "circles", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^Train: 0\.\d{3}, Test: 0\.\d{3}$", text, re.M)
    assert "Train: 0.836, Test: 0.852" in text  # the tutorial's reported line, for comparison
    took = re.search(r"^trained in (\S+) s ", text, re.M)
    assert took is not None and float(took.group(1)) > 0  # milliseconds, not "0.00"
    names = {p.name for p in out.iterdir()}
    assert {
        "curves.png",
        "history.csv",
        "history.json",
        "model.pt",
        "summary.json",
        "checkpoint.pt",
    } <= names
    assert not [n for n in names if n.endswith(".tmp")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["epochs"] == 3 and summary["seeds"] == [0]
    assert {"torch", "numpy", "bcelab", "python"} <= set(summary["versions"])
    assert summary["train_time_s"] > 0 and summary["wall_time_s"] >= summary["train_time_s"]
    # model.pt: a state_dict that loads with weights_only=True into the tutorial's model
    sd = torch.load(out / "model.pt", weights_only=True)
    mod = module_from_state(sd, MLPSpec(), 2, 1)
    ds = builtin("circles")
    p = torch.sigmoid(mod(torch.from_numpy(ds.x_test))).detach().numpy()
    acc = float(((p >= 0.5) == (ds.y_test >= 0.5)).mean())
    assert acc == pytest.approx(summary["final"]["test_acc"]["mean"], abs=1e-12)
    h = load_history(out / "history.json")
    assert isinstance(h, History) and h.epochs == 3
    rows = (out / "history.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,train_loss") and len(rows) == 4


def test_many_seeds_report_ci(tmp_path, capsys) -> None:
    out = tmp_path / "r"
    assert (
        main(["train", "moons", "--epochs", "2", "--seeds", "4", "--out", str(out), "--quiet"]) == 0
    )
    text = capsys.readouterr().out
    assert "over 4 seeds" in text and "95% CI" in text and "(mean of 4 seeds)" in text
    sd = torch.load(out / "model.pt", weights_only=True)
    assert sd["0.weight"].shape == (4, 50, 2)
    csv_head = (out / "history.csv").read_text().splitlines()[0]
    assert "test_acc_mean" in csv_head and "test_acc_sd" in csv_head


def test_user_csv_end_to_end(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    lines = ["f1,f2,noise,label"] + [f"{a},{b},{c},{t}" for (a, b, c), t in zip(x, y, strict=True)]
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "file",
            "--data",
            str(tmp_path / "mine.csv"),
            "--target",
            "label",
            "--features",
            "f1,f2",
            "--epochs",
            "30",
            "--optimizer",
            "adam",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    test_acc = float(re.search(r"Test: (0\.\d+)", text).group(1))
    assert test_acc > 0.9  # a linearly separable problem
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["data"] == "mine" and summary["config"]["n_train"] == 100


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    (tmp_path / "bad.csv").write_text("a,label\n1,0\n2,3\n3,1\n")
    out = tmp_path / "never"
    rc = main(
        [
            "train",
            "file",
            "--data",
            str(tmp_path / "bad.csv"),
            "--target",
            "label",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "0, 1, 3" in err and not out.exists()
    for bad in (
        ["--lr", "0"],
        ["--lr", "1e300"],  # was torch's RuntimeError, exit 1
        ["--lr", "1e39", "--optimizer", "adam"],
        ["--epochs", "0"],
        ["--batch-size", "0"],
        ["--seeds", "0"],
        ["--seed", "-1"],
        ["--hidden", "0"],
        ["--hidden", "50,,3"],  # a missing size was skipped: MLP 2-50-3-1
        ["--hidden", "64,"],
        ["--momentum", "1"],
        ["--momentum", "0.5", "--optimizer", "adam"],  # was accepted, and the flag ignored
        ["--label-smoothing", "-0.1"],
        ["--resume", str(tmp_path / "nothing")],
    ):
        assert main(["train", "circles", "--out", str(out), *bad]) == 2
        err = capsys.readouterr().err
        assert bad[0] in err and not re.search(r"[a-z_]=", err), err  # the flag, as typed
    for bad in (["--test-fraction", "1"], ["--data", str(tmp_path / "missing.csv")]):
        args = ["train", "file", "--data", str(tmp_path / "bad.csv"), "--target", "label"]
        assert main([*args, "--out", str(out), *bad]) == 2
        assert bad[0] in capsys.readouterr().err
    assert not out.exists()


def test_resume_cli_continues_to_the_same_result(tmp_path, capsys) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        main(["train", "circles", "--epochs", "6", "--seeds", "2", "--out", str(a), "--quiet"]) == 0
    )
    assert (
        main(["train", "circles", "--epochs", "3", "--seeds", "2", "--out", str(b), "--quiet"]) == 0
    )
    assert main(["train", "circles", "--resume", str(b), "--epochs", "6", "--quiet"]) == 0
    ha, hb = load_history(a / "history.json"), load_history(b / "history.json")
    assert hb.epochs == 6
    for k in ha.metrics:
        np.testing.assert_array_equal(ha.metrics[k], hb.metrics[k])
    capsys.readouterr()


def test_progress_bar_only_on_a_tty() -> None:
    import io

    from bcelab.train import ProgressBar

    h = History(seeds=[0])
    h.append({"train_loss": np.array([0.5]), "test_loss": np.array([0.4])})
    buf = io.StringIO()
    ProgressBar(10, stream=buf)(h)
    assert buf.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    t = Tty()
    bar = ProgressBar(10, stream=t)
    bar(h)
    bar.close()
    assert "epoch 1/10" in t.getvalue() and "loss 0.5000" in t.getvalue()


@pytest.mark.parametrize("worker", ["1", ""])
def test_fresh_process_draws_the_figure_in_a_worker_or_in_process(tmp_path, worker: str) -> None:
    """A fresh `bcelab train` forks a figure worker before torch loads; both paths give
    the same complete run folder with a PNG."""
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    env = dict(os.environ, BCELAB_NO_PLOT_WORKER="" if worker else "1")
    cmd = [sys.executable, "-m", "bcelab", "train", "circles", "--epochs", "2", "--quiet"]
    res = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    png = (out / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (out / "summary.json").is_file()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def _two_dirs_run(tmp_path, monkeypatch, capsys):
    """A `train file` run started in tmp/a with relative paths; the cwd is then tmp/b."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    rng = np.random.default_rng(4)
    for name in ("train.csv", "test.csv"):
        x = rng.normal(size=(30, 2))
        rows = [f"{u},{v},{int(u > 0)}" for u, v in x]
        (a / name).write_text("u,v,label\n" + "\n".join(rows) + "\n")
    monkeypatch.chdir(a)
    args = ["train", "file", "--data", "train.csv", "--test", "test.csv", "--target", "label"]
    assert main([*args, "--epochs", "2", "--out", "run", "--quiet"]) == 0
    monkeypatch.chdir(b)
    capsys.readouterr()
    return a


def test_a_run_on_relative_paths_resumes_from_another_directory(
    tmp_path, monkeypatch, capsys
) -> None:
    """`--resume DIR` failed ("received 'train.csv', which does not exist"), and the same
    file named from there was refused as another --data."""
    a = _two_dirs_run(tmp_path, monkeypatch, capsys)
    saved = json.loads((a / "run" / "summary.json").read_text())
    assert saved["cli"]["data"] == str((a / "train.csv").resolve())
    assert main(["train", "file", "--resume", "../a/run", "--epochs", "3", "--quiet"]) == 0
    same = ["--data", "../a/train.csv", "--test", str(a / "test.csv")]
    assert main(["train", "file", "--resume", "../a/run", *same, "--epochs", "4", "--quiet"]) == 0
    assert load_history(a / "run" / "history.json").epochs == 4
    capsys.readouterr()
    other = ["--data", "../a/test.csv"]
    assert main(["train", "file", "--resume", "../a/run", *other, "--epochs", "5"]) == 2
    assert "--data " + str((a / "train.csv").resolve()) + " in the run" in capsys.readouterr().err


def test_a_run_that_saved_a_relative_path_is_read_against_the_current_directory(
    tmp_path, monkeypatch, capsys
) -> None:
    """An earlier version saved --data as typed, and no working directory."""
    a = _two_dirs_run(tmp_path, monkeypatch, capsys)
    ck_path = a / "run" / "checkpoint.pt"
    ck = torch.load(ck_path, weights_only=True)
    ck["run_info"]["cli"].update(data="train.csv", test="test.csv")
    del ck["run_info"]["cwd"]
    torch.save(ck, ck_path)
    assert main(["train", "file", "--resume", "../a/run", "--epochs", "3", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the run saved --data 'train.csv', relative to a directory it does not record" in err
    assert "or resume from the directory the run was started in" in err
    same = ["--data", "../a/train.csv", "--test", "../a/test.csv"]
    assert main(["train", "file", "--resume", "../a/run", *same, "--epochs", "3", "--quiet"]) == 0
    torch.save(ck, ck_path)
    monkeypatch.chdir(a)
    assert main(["train", "file", "--resume", "run", "--epochs", "3", "--quiet"]) == 0
