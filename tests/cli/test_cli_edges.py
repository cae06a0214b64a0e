"""Every failure of the command line: one line on stderr, exit 2, no traceback, the flag named.

Also: missing optional packages name their extra, negative numbers are values, output
paths are checked before any data is read, and the help texts use no internal jargon.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bcelab.cli import COMMANDS, main
from bcelab.cli.messages import in_flags, split_negative_values
from bcelab.errors import DomainError, NaNError, OptionError

PY_ARGUMENT = re.compile(r"\b[a-z_]+=")  # a Python keyword argument, e.g. logits=True


def _err(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_clear_line(err: str) -> str:
    assert "Traceback" not in err
    # a cold cache adds the one-time compile notice (its own test checks it)
    lines = [ln for ln in err.strip().splitlines() if "compiling the metric kernels" not in ln]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture()
def preds(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    p = rng.random(1000)
    path = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"y": (rng.random(1000) < p).astype(float), "p": p}), path)
    return path


# --- negative numbers are values ------------------------------------------------------


def test_negative_logits_are_values(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _err(capsys, "loss", "--preds", "-2,3", "--targets", "0,1", "--logits")
    assert rc == 0, err
    assert "0.119203" in out  # sigmoid(-2)
    rc, out, _ = _err(capsys, "loss", "--preds", "-inf,inf", "--targets", "0,1", "--logits")
    assert rc == 0 and "-0.000000" not in out and "nan" not in out.lower()


def test_tiny_and_huge_losses_are_shown_with_an_exponent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # fixed-point showed e**-100 as 0.000000 and a logit of 1e30 as thirty-one digits
    rc, out, err = _err(
        capsys, "loss", "--preds", "100,-100,1e30", "--targets", "1,0,0", "--logits"
    )
    assert rc == 0, err
    assert out.count("3.72008e-44") == 5  # the loss and excess of rows 1-2, and p of row 2
    assert "1e+30" in out and "3.33333e+29" in out
    assert "000000000" not in out


def test_split_negative_values_only_joins_the_named_flags() -> None:
    args = ["loss", "--preds", "-2,3", "--targets", "-.5", "--logits", "--x", "-1"]
    assert split_negative_values(args, ("--preds", "--targets")) == [
        "loss",
        "--preds=-2,3",
        "--targets=-.5",
        "--logits",
        "--x",
        "-1",
    ]
    assert split_negative_values(["--preds", "--json"], ("--preds",)) == ["--preds", "--json"]


# --- errors name flags, never Python arguments ----------------------------------------


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (
            ["loss", "--preds", "2,3", "--targets", "0,1"],
            "pass them as --logits instead of --preds",
        ),
        (["loss", "--preds", "0.2,0.3", "--targets", "2,1"], "--targets must lie in [0, 1]"),
        (["loss", "--preds", "nan", "--targets", "1"], "--preds must be numbers"),
        (["explain", "--target", "-0.5"], "--target must lie in [0, 1]"),
        (["loss", "--preds", "0.2,0.3", "--targets", "0.5,nan"], "leave out a missing (nan)"),
        (["explain", "--target", "nan"], "give a number, e.g. --target 0.3"),
    ],
)
def test_loss_and_explain_errors_name_the_flag(
    capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    rc, out, err = _err(capsys, *args)
    line = _one_clear_line(err)
    assert rc == 2 and out == "" and flag in line
    assert not PY_ARGUMENT.search(line), line


def test_explain_reads_minus_zero_as_zero(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _err(capsys, "explain", "--target", "-0")
    assert rc == 0 and out.startswith("BCE(y = 0, p)") and "-0" not in out


def test_eval_errors_from_the_library_name_the_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"y": [1.0, 0.0], "p": [1.5, float("nan")]}), path)
    rc, _, err = _err(capsys, "eval", path, "--target", "y", "--pred", "p")
    line = _one_clear_line(err)
    assert rc == 2 and "--logit" in line and not PY_ARGUMENT.search(line), line
    pq.write_table(pa.table({"y": [1.0, 0.0], "p": [0.5, float("nan")]}), path)
    rc, _, err = _err(capsys, "eval", path, "--target", "y", "--pred", "p", "--strict")
    line = _one_clear_line(err)
    assert rc == 2 and "leave out --strict" in line and not PY_ARGUMENT.search(line), line
    pq.write_table(pa.table({"y": [1.0, -1.0], "p": [0.5, 0.5]}), path)
    rc, _, err = _err(capsys, "eval", path, "--target", "y", "--pred", "p")
    line = _one_clear_line(err)
    assert rc == 2 and "--positive-label 1" in line and not PY_ARGUMENT.search(line), line


@pytest.mark.parametrize("command", ["eval", "compare"])
def test_no_usable_row_names_the_columns_not_the_function(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    path = tmp_path / "nan.parquet"
    nan = [float("nan")] * 3
    pq.write_table(pa.table({"y": [1.0, 0.0, 1.0], "p": nan, "q": nan}), path)
    preds = ["--pred", "p"] + (["--pred", "q"] if command == "compare" else [])
    rc, _, err = _err(capsys, command, path, "--target", "y", *preds)
    line = _one_clear_line(err)
    assert rc == 2 and "at least one row with a valid target" in line, line
    assert "compute" not in line and "--pred (or --logit)" in line and "--weight" in line


def test_isotonic_fit_on_unusable_rows_names_the_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pq.write_table(pa.table({"y": [1.0, 0.0, 1.0], "p": [0.7, 0.2, 0.6]}), good)
    pq.write_table(pa.table({"y": [1.0, 0.0], "p": [float("nan")] * 2}), bad)
    args = ["eval", good, "--target", "y", "--pred", "p", "--recalibrate", "isotonic"]
    rc, _, err = _err(capsys, *args, "--fit-on", bad)
    line = _one_clear_line(err)
    assert rc == 2 and line.startswith("bcelab eval: error: --fit-on with at least one usable")


def test_in_flags_rewrites_each_argument_for_its_command() -> None:
    err = NaNError(
        "evaluate: preds must not contain NaN when strict=True",
        "found 1",
        "clean the data, or pass strict=False to exclude and count those rows",
    )
    out = in_flags(err, "eval")
    assert isinstance(out, NaNError)
    assert str(out) == (
        "--pred must not contain NaN when --strict; found 1. clean the data, or leave out "
        "--strict to exclude and count those rows"
    )
    err = OptionError(
        "evaluate: threshold must be an exact bin edge",
        "received threshold=0.123, positive_label='yes'",
        "use workers= for Dask",
    )
    assert str(in_flags(err, "eval")) == (
        "--threshold must be an exact bin edge; received --threshold 0.123, "
        "--positive-label yes. use --workers for Dask"
    )
    err = DomainError(
        "bce: probabilities must lie in [0, 1]",
        "2 values are outside",
        "call bce_with_logits instead; or label_smoothing=0.1",
    )
    assert str(in_flags(err, "loss")) == (
        "probabilities must lie in [0, 1]; 2 values are outside. add --logits; or "
        "--label-smoothing 0.1"
    )
    err = DomainError("decompose: p", "2 values are outside", "pass logits=True; or so")
    assert str(in_flags(err, "loss")).endswith("add --logits; or so")
    err = OptionError("a reachable scheduler", "no", "or pass scheduler=None to start one")
    assert str(in_flags(err, "compare")).endswith("or leave out --scheduler to start one")
    err = DomainError("compare: x", "in preds_b, 1 value is outside", "pass logits=True")
    assert "in model B's column (the second --pred), 1 value" in str(in_flags(err, "compare"))
    # the library's own messages keep their Python names
    assert "strict=True" in str(NaNError("evaluate: strict=True", "x", "y"))


# --- output paths are checked before any work -----------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("file", "--report must name a folder"),
        ("others", "--report must be a new folder or a previous output folder"),
        ("under_file", "--report inside a folder"),
    ],
)
def test_report_path_is_checked_before_the_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: str, message: str
) -> None:
    target = tmp_path / "r"
    if make == "file":
        target.write_text("not a folder")
    elif make == "others":
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
    else:
        (tmp_path / "f").write_text("")
        target = tmp_path / "f" / "r"
    missing = tmp_path / "not-there.parquet"  # the path check comes first
    rc, out, err = _err(capsys, "eval", missing, "--target", "y", "--pred", "p", "--report", target)
    line = _one_clear_line(err)
    assert rc == 2 and out == "" and message in line, line
    if make == "others":
        assert (target / "notes.txt").read_text() == "keep me"


def test_unwritable_report_folder_is_refused_before_the_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse new files
        real = __import__("tempfile").TemporaryFile

        def refuse(*a: object, dir: object = None, **k: object) -> object:
            if dir is not None and Path(str(dir)) == ro:
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return real(*a, dir=dir, **k)

        monkeypatch.setattr("tempfile.TemporaryFile", refuse)
    try:
        rc, _, err = _err(
            capsys, "eval", tmp_path / "nope.parquet", "--target", "y", "--pred", "p",
            "--report", ro / "r",
        )  # fmt: skip
    finally:
        ro.chmod(0o755)
    line = _one_clear_line(err)
    assert rc == 2 and "--report in a folder bcelab can write to" in line, line


@pytest.mark.parametrize(
    ("plot", "message"),
    [
        ("curve.xyz", "--plot ending in a figure format"),
        ("folder", "--plot must name a file"),
        ("file/curve.png", "--plot inside a folder"),
    ],
)
def test_plot_path_is_checked_before_the_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plot: str, message: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    rc, out, err = _err(capsys, "explain", "--target", "0.3", "--plot", tmp_path / plot)
    line = _one_clear_line(err)
    assert rc == 2 and out == "" and message in line, line


def test_write_failure_is_exit_2_with_path_and_cause(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, preds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report"
    assert main(["eval", str(preds), "--target", "y", "--pred", "p", "--report", str(report)]) == 0
    before = {p.name: p.read_bytes() for p in report.iterdir()}
    capsys.readouterr()

    def full(path: object, text: str) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("bcelab.evaluation.report.write_text", full)
    args = ["eval", preds, "--target", "y", "--pred", "p", "--threshold", "0.3", "--report", report]
    rc, _, err = _err(capsys, *args)
    line = _one_clear_line(err)
    assert rc == 2 and "report.html: No space left on device" in line
    assert "free some disk space" in line
    # all or nothing: the previous report is whole, nothing else is left beside it
    assert {p.name: p.read_bytes() for p in report.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bcelab")] == []


# --- words ----------------------------------------------------------------------------


def test_hard_targets_say_the_minimum_is_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, out, _ = _err(capsys, "loss", "--preds", "0.3,0.8", "--targets", "0,1")
    assert rc == 0 and "not 0" not in out and "a perfect prediction scores 0." in out
    titles: list[str] = []

    def keep(fig: object, path: object) -> object:
        titles.append(fig.axes[0].get_title())  # type: ignore[attr-defined]
        return path

    monkeypatch.setattr("bcelab.cli.explain.save_figure", keep)
    for y in ("1", "0.3"):
        assert main(["explain", "--target", y, "--plot", str(tmp_path / "c.png")]) == 0
    assert "minimum is H(y) = 0" in titles[0] and "not 0" not in titles[0]
    assert "minimum is H(y), not 0" in titles[1]


@pytest.mark.parametrize(
    ("target", "floor"),
    [("0.1234567", "0.3738"), ("1e-300", "6.92e-298"), ("0.3", "0.6109"), ("5e-324", "3.68e-321")],
)
def test_explain_marks_the_minimum_at_the_target_itself(
    capsys: pytest.CaptureFixture[str], target: str, floor: str
) -> None:
    # the table's row p = y carries the marker for any target, not only for those of six
    # digits, and a tiny floor is shown as a number, not as 0.0000 beside "it is not 0"
    assert main(["explain", "--target", target]) == 0
    out = capsys.readouterr().out
    marked = [line for line in out.splitlines() if line.endswith("<- minimum: p = y")]
    assert len(marked) == 1 and marked[0].split()[2] == "0.0000"
    assert f"H(y) = {floor} (the floor)" in out
    # the target is shown with the digits that give it back: 0.1234567, not 0.123457
    assert marked[0].split()[0] == target and f"p = y = {target}, where" in out


def test_explain_never_shows_an_uncertain_target_as_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: "The minimum is at p = y = 1, where BCE equals the entropy H(y) = 4.19e-15
    # ... It is not 0 because the target itself is uncertain"
    assert main(["explain", "--target", "0.9999999999999999"]) == 0
    out = capsys.readouterr().out
    assert "p = y = 0.9999999999999999, where" in out and "H(y) = 4.19e-15" in out
    assert "BCE(y = 0.9999999999999999, p)" in out


@pytest.mark.parametrize("command", [None, *(c for c in COMMANDS if c != "train")])
def test_help_has_no_internal_jargon(
    capsys: pytest.CaptureFixture[str], command: str | None
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"] if command is None else [command, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out.lower()
    assert not re.search(r"seed 0\d\d|issue \d", text), text


# --- a base install without extras ----------------------------------------------------

_BLOCK = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed
from bcelab.cli import main
sys.exit(main({args!r}))
"""


def _without(blocked: list[str], args: list[str]) -> subprocess.CompletedProcess[str]:
    code = _BLOCK.format(blocked=blocked, args=args)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        (["pyarrow"], ["eval", "x.parquet", "--target", "y", "--pred", "p"], "eval"),
        (["matplotlib"], ["eval", "x.parquet", "--target", "y", "--pred", "p", "--report", "r"], "eval"),
        (["matplotlib"], ["explain", "--target", "0.3", "--plot", "c.png"], "eval"),
        (["torch"], ["train", "circles", "--epochs", "1"], "train"),
    ],
)  # fmt: skip
def test_missing_extra_is_one_line_with_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocked: list[str], args: list[str], extra: str
) -> None:
    monkeypatch.chdir(tmp_path)
    res = _without(blocked, args)
    assert res.returncode == 2, res.stderr
    line = _one_clear_line(res.stderr)
    assert f"pip install 'bcelab[{extra}]'" in line, line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_evaluate_without_pyarrow_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import bcelab\n"
        "from bcelab.errors import MissingDependencyError\n"
        "try:\n"
        "    bcelab.evaluate('x.parquet', preds='p', target='y')\n"
        "except MissingDependencyError as e:\n"
        "    assert isinstance(e, ImportError) and isinstance(e, bcelab.BCELabError)\n"
        "    print(e)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert res.returncode == 0, res.stderr
    assert "pip install 'bcelab[eval]'" in res.stdout


# --- warmup ---------------------------------------------------------------------------


def test_warmup_command_says_what_it_did(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numba")
    rc, out, _ = _err(capsys, "warmup")
    assert rc == 0
    assert "metric kernels" in out and "fused loss kernels" in out and "ready in" in out


def test_warmup_compiles_the_kernels_of_the_usual_calls() -> None:
    # the warmup called the losses with their default reduction only: the first
    # bcelab.bce(p, y, reduction="mean") after it still compiled for seconds
    pytest.importorskip("numba")
    import bcelab
    from bcelab.cli.warmup import _loss_calls
    from bcelab.kernels import loss

    _loss_calls(bcelab)
    warmed = set(loss.KERNELS)
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        p = rng.uniform(0.01, 0.99, 1000).astype(dtype)
        w = rng.uniform(0.5, 2.0, 1000).astype(dtype)
        for y in ((rng.random(1000) < p).astype(dtype), rng.random(1000).astype(dtype)):
            for weights in (None, w):
                bcelab.bce(p, y, weights=weights, reduction="mean")
                bcelab.bce_with_logits(p, y, weights=weights, reduction="sum", pos_weight=2.0)
                bcelab.bce_with_logits(p, y, weights=weights, label_smoothing=0.1)
                bcelab.bce_grad(p, y)
    assert set(loss.KERNELS) <= warmed, set(loss.KERNELS) - warmed


def test_warmup_without_numba_says_there_is_nothing_to_compile(tmp_path: Path) -> None:
    res = _without(["numba"], ["warmup"])
    assert res.returncode == 0, res.stderr
    assert "numba is not installed" in res.stdout and "pip install 'bcelab[fast]'" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["compare", "f.parquet", "--target", "y", "--pred", "a", "b"],
            "bcelab compare: error: one value after --pred; received --pred a b. "
            "give the flag once per value: --pred a --pred b",
        ),
        (
            ["loss", "--preds", "0.5", "--targets", "1", "extra"],
            "bcelab loss: error: one value after --targets; received --targets 1 extra. "
            "quote a value with spaces (--targets '1 extra'), or drop extra",
        ),
        (
            ["eval", "f.parquet", "--target", "y", "--pred", "p", "--bogus"],
            "bcelab eval: error: only the flags and values of `bcelab eval --help`; "
            "received unrecognized arguments: --bogus",
        ),
        (["--bogus"], "bcelab: error: only the flags and values of `bcelab --help`"),
        (  # the task's own help lists its flags (the autoencoder's differ from circles')
            ["train", "autoencoder", "--seeds", "3"],
            "only the flags and values of `bcelab train autoencoder --help`",
        ),
    ],
)
def test_arguments_no_flag_takes_are_named_with_the_fix(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    # argparse said "bcelab: error: unrecognized arguments: b" under bcelab's own usage line
    rc, out, err = _err(capsys, *args)
    assert rc == 2 and out == "" and message in err and "usage:" not in err


@pytest.mark.parametrize(
    ("args", "example"),
    [
        (
            [
                "eval",
                "f.parquet",
                "--target",
                "y",
                "--pred",
                "p",
                "--recalibrate",
                "platt",
                "--save-map",
            ],
            "map.json",
        ),
        (["explain", "--target", "0.3", "--plot"], "out.png"),
    ],
)
def test_an_output_folder_where_a_file_goes_suggests_a_file_of_that_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], example: str
) -> None:
    # every such message suggested out.png, also for maps and prediction tables
    rc, out, err = _err(capsys, *args, tmp_path)
    assert rc == 2 and out == ""
    assert f"is a folder. add a file name, e.g. {args[-1]} {tmp_path / example}" in err


def test_weights_too_small_to_average_are_refused_and_a_segment_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # before: weights of 1e-320 printed a log loss off in its fifth digit and a
    # decomposition that put 90% of the loss in miscalibration instead of 6%
    rng = np.random.default_rng(1)
    p = rng.random(400)
    y = (rng.random(400) < p).astype(float)
    seg = ["a"] * 200 + ["b"] * 200
    path = tmp_path / "w.parquet"
    w = np.r_[np.ones(200), np.full(200, 1e-320)]
    pq.write_table(pa.table({"y": y, "p": p, "w": np.full(400, 1e-320), "v": w, "s": seg}), path)
    args = ["eval", path, "--target", "y", "--pred", "p"]
    rc, out, err = _err(capsys, *args, "--weight", "w")
    line = _one_clear_line(err)
    assert rc == 2 and not out and "weights whose mean is at least 1.002e-292" in line, line
    # a metric state adds a subnormal weight as float64's smallest normal number
    assert "400 usable rows add up to 8.9e-306, a mean of 2.225e-308 (each weight below" in line
    rc, out, err = _err(capsys, *args, "--weight", "v", "--by", "s")
    line = _one_clear_line(err)
    assert rc == 2 and not out and "in the segment s = 'b', the weights of 200" in line, line
    assert "rescale that segment's weights by a common factor" in line and not PY_ARGUMENT.search(
        line
    ), line
    rc, out, _ = _err(capsys, *args, "--weight", "v")  # the whole file averages 0.5: fine
    assert rc == 0 and "log loss" in out


def test_loss_table_never_shows_an_input_that_is_not_one_as_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: prediction "1" with a finite BCE of 36.7 for target 0, and target 0.1234567
    # shown as 0.1235
    assert main(["loss", "--targets", "0,0.1234567", "--preds", "0.9999999999999999,0.5"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:3]
    assert rows[0].split()[:3] == ["0", "0.9999999999999999", "36.736801"], rows
    assert rows[1].split()[:2] == ["0.1234567", "0.5"], rows
    # from logits, p is computed: 6 digits, or every digit where 6 would read 1
    assert main(["loss", "--targets", "0,0", "--logits", "36,-3.5"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:3]
    assert rows[0].split()[1] == "0.9999999999999998" and rows[1].split()[1] == "0.0293122"


def test_the_range_of_predictions_never_reads_one_for_less(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "r.parquet"
    pq.write_table(
        pa.table({"y": [1.0, 0.0, 1.0, 0.0], "p": [0.9999999999999999, 0.2, 0.7, 1e-17]}), path
    )
    assert main(["eval", str(path), "--target", "y", "--pred", "p"]) == 0
    assert "range [1e-17, 0.9999999999999999])" in capsys.readouterr().out


def test_a_full_standard_output_is_named_as_such() -> None:
    # `bcelab loss ... > /dev/full`: the message said "a file: No space left on device"
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    cmd = [sys.executable, "-m", "bcelab", "loss", "--preds", "0.3", "--targets", "1"]
    with open("/dev/full", "w") as full:
        done = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    line = _one_clear_line(done.stderr)
    assert done.returncode == 2
    assert "the printed output (standard output): No space left on device" in line
