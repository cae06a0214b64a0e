"""`bcelab train autoencoder`, run as a user would: output line, artifacts, errors, no debris."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bcelab.cli import autoencoder as autoencoder_cli
from bcelab.cli import main

ARTIFACTS = {
    "history.csv",
    "history.json",
    "model.pt",
    "checkpoint.pt",
    "summary.json",
    "reconstructions.png",
    "curves.png",
    "per_pixel_excess.png",
}
LINE = re.compile(
    r"test BCE (\d\.\d{4}) = floor (\d\.\d{4}) \+ excess (\d\.\d{4}) "
    r"\(the part training can still reduce\)"
)


@pytest.fixture
def npz(tmp_path: Path) -> Path:
    """40 blurry uint8 blobs of 12x12 (smooth, so an autoencoder has something to learn)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:12, 0:12]
    cy, cx = rng.uniform(3, 9, size=(2, 40, 1, 1))
    x = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=x.astype(np.uint8))
    return path


def _run(args: list[str]) -> int:
    return main(["train", "autoencoder", *args])


def test_end_to_end_on_user_npz(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _run(["--data", str(npz), "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "scaled by 1/255" in text  # the uint8 scaling is stated
    assert "epoch" not in text  # --quiet
    assert {p.name for p in out.iterdir()} == ARTIFACTS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    m = LINE.search(text)
    assert m is not None, text
    summary = json.loads((out / "summary.json").read_text())
    final = summary["final_test"]
    assert [float(g) for g in m.groups()] == [
        round(final[k], 4) for k in ("bce", "floor", "excess")
    ]
    assert f"reconstructions: {out / 'reconstructions.png'}" in text
    assert summary["data"]["scaling"].startswith("pixels were uint8")
    assert summary["config"]["loss"] == "bce" and summary["epochs_completed"] == 3
    # the trainer's summary layout: final metrics summarised over the (one) seed
    assert summary["final"]["test_excess"]["mean"] == final["excess"]
    assert summary["final"]["test_floor"]["mean"] == final["floor"]

    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(float(r["epoch"])) for r in rows] == [1, 2, 3]
    for r in rows:
        assert float(r["test_floor"]) + float(r["test_excess"]) == pytest.approx(
            float(r["test_bce"]), rel=1e-12
        )
    assert float(rows[-1]["test_excess"]) == final["excess"]

    state = torch.load(out / "model.pt", weights_only=True)
    assert state["1.weight"].shape == (32, 144)  # dense 144 -> 32 -> 16 -> 32 -> 144
    for name in ("reconstructions.png", "curves.png", "per_pixel_excess.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_losses(npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert _run(["--data", str(npz), "--epochs", "1", "--compare-losses", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    excess = summary["final_test_excess"]
    assert set(excess) == {"bce", "kl", "mse"}
    # bce and kl train identical weights, so their final test excess is identical
    assert excess["bce"] == excess["kl"]
    for loss in ("bce", "kl", "mse"):
        assert {p.name for p in (out / loss).iterdir()} == ARTIFACTS
        sub = json.loads((out / loss / "summary.json").read_text())
        assert sub["final_test"]["excess"] == excess[loss]
        assert f"[{loss}] test BCE" in text
    assert "lowest final test excess: --loss" in text
    assert "epoch 1/1  mse" in text  # per-epoch lines without --quiet


def test_float_pixels_over_one_fail_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.linspace(0, 255, 5 * 16).reshape(5, 4, 4))
    out = tmp_path / "never"
    assert _run(["--data", str(bad), "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "received values in [0, 255]" in err and "divide by 255" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_conv_on_digits_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    assert _run(["--arch", "conv", "--out", str(out)]) == 2
    assert "--arch dense" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "bad",
    [
        ["--epochs", "0"],
        ["--batch-size", "0"],
        ["--lr", "nan"],
        ["--lr", "1e300"],  # was torch's RuntimeError, exit 1
        ["--seed", "-1"],
        ["--threads", "0"],
        ["--loss", "kl", "--compare-losses"],  # was accepted, and --loss ignored
    ],
)
def test_bad_flags_are_named_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    out = tmp_path / "never"
    assert _run([*bad, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert bad[0] in err and not re.search(r"[a-z_]=", err), err  # no Python argument
    assert not out.exists()


def test_missing_data_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--data", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "never")]) == 2
    assert "--data must name an existing" in capsys.readouterr().err


def test_nothing_partial_when_writing_fails(
    npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated)")

    # history, model and reconstructions are already staged when the curves fail
    monkeypatch.setattr(autoencoder_cli, "plot_curves", broken)
    out = tmp_path / "runs" / "ae"
    cfg = autoencoder_cli.Config(data=str(npz), epochs=1, out=str(out), quiet=True)
    with pytest.raises(OSError, match="simulated"):
        autoencoder_cli.execute(cfg)
    assert not out.exists()
    assert list((tmp_path / "runs").iterdir()) == []  # no staging folder left behind


def test_default_out_folder_is_timestamped(
    npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out, results = autoencoder_cli.run(
        autoencoder_cli.Config(data=str(npz), epochs=1, quiet=True), echo=False
    )
    assert re.fullmatch(r"runs/autoencoder-\d{8}-\d{6}", out.as_posix())
    assert {p.name for p in (tmp_path / out).iterdir()} == ARTIFACTS
    assert autoencoder_cli.final_line(results["bce"]).startswith("test BCE ")


def test_idx_gz_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    from tests.train.test_autoencoder_images import idx_bytes

    x = np.random.default_rng(3).integers(0, 256, size=(20, 6, 6), dtype=np.uint8)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(x)))
    out = tmp_path / "idx"
    assert _run(["--data", str(path), "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "train-images-idx3-ubyte.gz: 15 train + 5 test images of 6x6x1" in text
    assert LINE.search(text) is not None
    assert {p.name for p in out.iterdir()} == ARTIFACTS


def _run_in(a: Path, b: Path, npz: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run started in ``a`` on ``--data blobs.npz`` (relative); the cwd is then ``b``."""
    a.mkdir()
    b.mkdir()
    (a / "blobs.npz").write_bytes(npz.read_bytes())
    monkeypatch.chdir(a)
    assert _run(["--data", "blobs.npz", "--epochs", "1", "--out", "run", "--quiet"]) == 0
    monkeypatch.chdir(b)
    return a / "run"


def test_a_run_on_a_relative_data_path_resumes_from_another_directory(
    npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data was saved as typed: `--resume DIR` from elsewhere said blobs.npz does not exist."""
    a = tmp_path / "a"
    run = _run_in(a, tmp_path / "b", npz, monkeypatch)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ck["run_info"]["cli"]["data"] == str((a / "blobs.npz").resolve())
    assert (
        json.loads((run / "summary.json").read_text())["cli"]["data"]
        == ck["run_info"]["cli"]["data"]
    )
    assert _run(["--resume", "../a/run", "--epochs", "2", "--quiet"]) == 0
    same = ["--data", "../a/blobs.npz"]  # the same file, named from here
    assert _run(["--resume", "../a/run", *same, "--epochs", "3", "--quiet"]) == 0
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 3
    capsys.readouterr()


def test_a_run_that_saved_a_relative_data_path_is_read_against_the_current_directory(
    npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An earlier version saved --data as typed, and no working directory."""
    a = tmp_path / "a"
    run = _run_in(a, tmp_path / "b", npz, monkeypatch)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    ck["run_info"]["cli"]["data"] = "blobs.npz"
    del ck["run_info"]["cwd"]
    torch.save(ck, run / "checkpoint.pt")
    capsys.readouterr()
    assert _run(["--resume", "../a/run", "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the run saved --data 'blobs.npz', relative to a directory it does not record" in err
    assert _run(["--resume", "../a/run", "--data", "../a/blobs.npz", "--epochs", "2"]) == 0
    torch.save(ck, run / "checkpoint.pt")
    monkeypatch.chdir(a)
    assert _run(["--resume", "run", "--epochs", "2", "--quiet"]) == 0


def test_a_compare_losses_sub_folder_resumes_as_that_one_losss_run(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--resume DIR/kl` (as the refusal of `--resume DIR` advises) trained bce first and
    failed on the loss; `--resume DIR/bce` trained bce, then failed on kl."""
    cmp, alone = tmp_path / "cmp", tmp_path / "alone"
    data = ["--data", str(npz), "--quiet"]
    assert _run([*data, "--compare-losses", "--epochs", "1", "--out", str(cmp)]) == 0
    assert _run([*data, "--loss", "kl", "--epochs", "2", "--out", str(alone)]) == 0
    capsys.readouterr()
    assert _run(["--resume", str(cmp), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "a --compare-losses folder with one run per loss (bce, kl, mse)" in err
    assert f"--resume {cmp / 'bce'}" in err
    assert _run(["--resume", str(cmp / "kl"), "--epochs", "2", "--quiet"]) == 0
    assert "--- loss" not in capsys.readouterr().out  # one loss, kl only
    sub = json.loads((cmp / "kl" / "summary.json").read_text())
    assert sub["epochs_completed"] == 2 and sub["cli"]["loss"] == "kl"
    assert sub["cli"]["compare_losses"] is False  # a one-loss run from now on
    ha = json.loads((alone / "history.json").read_text())
    hb = json.loads((cmp / "kl" / "history.json").read_text())
    assert hb["metrics"] == ha["metrics"]  # bit for bit an uninterrupted 2-epoch kl run
    for loss in ("bce", "mse"):  # the other losses' runs are untouched
        assert json.loads((cmp / loss / "summary.json").read_text())["epochs_completed"] == 1
    assert _run(["--resume", str(cmp / "kl"), "--compare-losses"]) == 2
    assert "leave out --compare-losses" in capsys.readouterr().err
