"""``bcelab compare``: a thin layer over ``bcelab.evaluation.compare``; flags, report, errors."""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
import time
import types
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.clock import JumpingClock

from bcelab.cli import main
from bcelab.evaluation import compare
from bcelab.evaluation import compare_report as report_module
from bcelab.evaluation.example_data import two_models
from bcelab.metrics import PairedBootstrapStats

pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is missing")

REPS = 40


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "two.parquet"
    pq.write_table(two_models(6000, seed=1), path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _base(data: Path) -> list[object]:
    return [data, "--target", "y", "--pred", "a", "--pred", "b", "--replicates", REPS]


def test_json_is_the_python_dict(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    rc, out, _ = _run(capsys, *_base(data), "--id", "id", "--by", "segment", "--json")
    assert rc == 0
    res = compare(
        data, target="y", preds=("a", "b"), id="id", by="segment", replicates=REPS
    ).to_dict()
    assert json.loads(out) == json.loads(json.dumps(res))
    assert [s["value"] for s in res["segments"]] == ["new", "returning"]


def test_text_table_verdict_and_keying(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    rc, out, _ = _run(capsys, *_base(data), "--seed", "3", "--confidence", "0.9")
    assert rc == 0
    assert "90% CI" in out and "ROC-AUC" in out and "miscalibration" in out
    assert "B is better than A in log loss by" in out and "Mainly miscalibration" in out
    assert "rows keyed by file and row (no id column)" in out and "--id COL" in out
    rc, out, _ = _run(capsys, *_base(data), "--id", "id")
    assert "rows keyed by the id column 'id'" in out and "--id COL" not in out


def test_logits_and_clip(capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    t = pq.read_table(data)
    pq.write_table(t, tmp_path / "x.parquet")
    rc, _, err = _run(
        capsys, tmp_path / "x.parquet", "--target", "y", "--logit", "a", "--logit", "b"
    )
    assert rc == 0, err  # probabilities read as logits are valid logits
    rc, _, err = _run(capsys, *_base(data), "--clip", "1e-7")
    assert rc == 0, err


def test_report_folder_is_written_whole(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "rep"
    rc, out, err = _run(capsys, *_base(data), "--by", "segment", "--json", "--report", out_dir)
    assert rc == 0 and "report.html" in err
    saved = json.loads((out_dir / "comparison.json").read_text())
    assert saved == json.loads(out)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["comparison.json", "forest.png", "forest_segments.png", "report.html"]
    page = (out_dir / "report.html").read_text()
    assert "data:image/png;base64," in page and "B is better than A" in page
    assert page.count("rows keyed by file and row") == 1  # in its warning only
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep")]


def test_failed_report_leaves_the_previous_one(
    capsys: pytest.CaptureFixture[str],
    data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out_dir = tmp_path / "rep"
    assert _run(capsys, *_base(data), "--report", out_dir)[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}

    def broken(*_: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_module, "render_html", broken)
    res = compare(data, target="y", preds=("a", "b"), replicates=REPS, seed=5)
    with pytest.raises(OSError, match="No space left"):
        report_module.write_comparison_report(res, out_dir)
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


BAD = [
    (["--pred", "a"], "--pred twice"),
    (["--pred", "a", "--pred", "b", "--pred", "y"], "--pred twice"),
    (["--pred", "a", "--pred", "a"], "two different columns for model A and model B"),
    (["--pred", "a", "--pred", "b", "--id", "a"], "a different column for each of"),
    (["--pred", "a", "--pred", "b", "--replicates", "0"], "--replicates must be an integer"),
    (["--pred", "a", "--pred", "b", "--replicates", "2001"], "--replicates at most 2,000"),
    (
        ["--pred", "a", "--pred", "b", "--replicates", "20"],
        "--replicates at least 39 for --confidence 0.95",
    ),
    (
        ["--pred", "a", "--pred", "b", "--replicates", "300", "--confidence", "0.999"],
        "write --replicates 1999, or --confidence 0.9933 or lower",
    ),
    (
        ["--pred", "a", "--pred", "b", "--replicates", "2000", "--confidence", "0.9999"],
        "write --confidence 0.999 or lower",
    ),
    (["--pred", "a", "--pred", "b", "--seed", "-1"], "--seed must be a whole number in [0, 2**63)"),
    (["--pred", "a", "--pred", "b", "--seed", str(2**63)], "received --seed 9223372036854775808"),
    (["--pred", "a", "--pred", "b", "--confidence", "95"], "--confidence must be"),
    (["--pred", "a", "--pred", "b", "--clip", "0.9"], "--clip must be a number in (0, 0.5)"),
    (["--logit", "a", "--logit", "b", "--clip", "1e-7"], "--clip only with --pred"),
    (["--pred", "a", "--pred", "b", "--threads", "2", "--engine", "dask"], "--threads"),
    (["--pred", "a", "--pred", "b", "--workers", "2"], "--workers (Dask worker processes)"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_flags_exit_2_before_reading(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    rc, out, err = _run(capsys, "/no/such/file.parquet", "--target", "y", *args)
    assert rc == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert err.startswith("bcelab compare: error: ")


def test_a_malformed_scheduler_exits_2_before_reading(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    args = ["--pred", "a", "--pred", "b", "--engine", "dask", "--scheduler", "tls://host:1"]
    rc, out, err = _run(capsys, "/no/such/file.parquet", "--target", "y", *args)
    assert rc == 2 and out == "" and "Traceback" not in err
    assert err.startswith("bcelab compare: error: --scheduler must be the address of a running")
    assert "received --scheduler tls://host:1 (tls:// needs Dask's TLS configuration" in err


def test_report_path_checked_before_reading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    args = ["/no/such/file.parquet", "--target", "y", "--pred", "a", "--pred", "b"]
    rc, _, err = _run(capsys, *args, "--report", tmp_path)
    assert rc == 2 and "--report must be a new folder or a previous output folder" in err
    assert (tmp_path / "keep.txt").read_text() == "mine"
    rc, _, err = _run(capsys, *args, "--report", tmp_path / "keep.txt")
    assert rc == 2 and "--report must name a folder" in err


def test_data_errors_exit_2(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    rc, _, err = _run(capsys, data, "--target", "y", "--pred", "a", "--pred", "nope")
    assert rc == 2 and "'nope'" in err and "available:" in err
    rc, _, err = _run(capsys, data, "--target", "y", "--pred", "a", "--pred", "b", "--id", "y")
    assert rc == 2 and "a different column for each of" in err and "--id y" in err


def test_a_bad_value_names_the_model_column_and_a_fix_that_applies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n0.2,0.3,1\n0.4,inf,0\n")
    rc, _, err = _run(capsys, path, "--target", "y", "--pred", "a", "--pred", "b")
    assert rc == 2 and "in model B's column (the second --pred), 1 value is outside" in err
    assert "preds_b" not in err
    # an infinite logit against its target: --clip is refused with --logit, so not advised
    rc, _, err = _run(capsys, path, "--target", "y", "--logit", "a", "--logit", "b")
    assert rc == 2 and "model B has 1 row with an infinite loss" in err
    assert "--clip" not in err and "drop or correct those rows" in err
    rc, _, err = _run(capsys, path, "--target", "y", "--pred", "b", "--pred", "a")
    assert rc == 2 and "in model A's column (the first --pred)" in err


def test_labels_and_delimiter(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    t = pq.read_table(data)
    lines = ["y;a;b;id"] + [
        f"{'yes' if y > 0.5 else 'no'};{a!r};{b!r};{i}"
        for y, a, b, i in zip(*(t[c].to_pylist() for c in ("y", "a", "b", "id")), strict=True)
    ]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    args = [tmp_path / "rows.csv", "--target", "y", "--pred", "a", "--pred", "b", "--id", "id"]
    rc, out, err = _run(capsys, *args, "--delimiter", ";", "--positive-label", "yes", "--json")
    assert rc == 0, err
    assert json.loads(out)["rows_used"] == 6000
    rc, _, err = _run(capsys, *args, "--delimiter", ";")
    assert rc == 2 and "--positive-label yes" in err


class _SlowPaired(PairedBootstrapStats):
    """A first compile, simulated: every update waits (for the notice's timer) and moves
    the comparison's clock 100 s on."""

    def update(self, *args: object, **kwargs: object) -> PairedBootstrapStats:
        time.sleep(0.6)
        JumpingClock.offset += 100.0
        return super().update(*args, **kwargs)


def test_first_run_compile_is_one_line_and_not_timed(
    capsys: pytest.CaptureFixture[str], data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bcelab.evaluation.warmup._PAIRED_READY", threading.Event())
    importlib.import_module("bcelab.evaluation.compare")  # bound to the real class first
    # the warm-up imports the class when it runs (start-up time), from bcelab.metrics
    monkeypatch.setattr("bcelab.metrics.PairedBootstrapStats", _SlowPaired)
    monkeypatch.setattr(JumpingClock, "offset", 0.0)
    clock = types.SimpleNamespace(perf_counter=JumpingClock.perf_counter)
    monkeypatch.setattr(sys.modules["bcelab.evaluation.compare"], "time", clock)
    rc, out, err = _run(capsys, *_base(data))
    assert rc == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bcelab compare: compiling the metric kernels once")
    assert lines[0].endswith("s (not counted in the time)")
    seconds = float(re.search(r"; (\d+\.\d\d) s \(local\)", out)[1])  # type: ignore[index]
    assert JumpingClock.offset >= 100.0  # the simulated compile ran
    assert seconds < 100.0  # the compile moved the clock on by 100 s per step
    rc, _, err = _run(capsys, *_base(data))
    assert rc == 0 and err == ""
