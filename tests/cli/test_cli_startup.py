"""What a command loads: only its own parser and the modules its work needs.

Start-up time is most of a small ``bcelab eval``: every module a plain evaluation does
not use (recalibration, Dask, figures, the loss kernel, ...) loads on first use instead.
Each case runs in a fresh interpreter, the way a user's shell runs the command.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bcelab.cli import COMMANDS, main

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

# modules a plain `bcelab eval FILE --pred p --target y` must not import
NOT_FOR_PLAIN_EVAL = (
    "bcelab.metrics.recalibration",
    "bcelab.metrics.scaling",
    "bcelab.metrics.scaling_fit",
    "bcelab.evaluation.recal_fit",
    "bcelab.evaluation.recal_pass",
    "bcelab.evaluation.dask_engine",
    "bcelab.evaluation.figures",
    "bcelab.evaluation.markup",
    "bcelab.evaluation.report",
    "bcelab.kernels.fused_api",
    "bcelab.kernels.dispatch",
    "matplotlib",
    "numba",
    "torch",
    "dask",
)

_PROBE = """
import json, sys
from bcelab.cli import main


def _run_main(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse's --help exits after printing
        return e.code


rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}))
"""


def _loaded(*args: str) -> tuple[int, set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=False
    )
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(last["rc"]), set(last["modules"]), proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 2000).astype(np.float32)
    y = (rng.uniform(size=2000) < p).astype(np.float32)
    path = tmp_path_factory.mktemp("startup") / "preds.parquet"
    pq.write_table(pa.table({"p": p, "y": y}), path)
    return str(path)


def test_plain_eval_loads_none_of_the_optional_parts(small: str) -> None:
    rc, mods, out = _loaded("eval", small, "--pred", "p", "--target", "y")
    assert rc == 0, out
    assert "log loss" in out
    assert sorted(m for m in NOT_FOR_PLAIN_EVAL if m in mods) == []


def test_recalibration_loads_its_modules_when_asked(small: str) -> None:
    rc, mods, out = _loaded("eval", small, "--pred", "p", "--target", "y", "--recalibrate", "platt")
    assert rc == 0, out
    assert {"bcelab.evaluation.recal_fit", "bcelab.metrics.scaling_fit"} <= mods
    assert "recalibrated      platt (a=" in out


def test_unknown_command_still_lists_every_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bcelab", "evl"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    listed = proc.stderr.split("one of ")[1].split(";")[0].split(", ")
    assert listed == [
        "loss",
        "explain",
        "train",
        "eval",
        "compare",
        "recalibrate",
        "predict",
        "warmup",
    ]
    assert "did you mean bcelab eval?" in proc.stderr and "Traceback" not in proc.stderr


def test_version_and_help_import_no_command() -> None:
    """`bcelab --version` and `bcelab --help` list the commands from their one-line helps:
    no command module and no NumPy load."""
    for args in (("--version",), ("--help",)):
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE.replace("rc = main", "rc = _run_main"), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        last = json.loads(proc.stdout.strip().splitlines()[-1])
        loaded = set(last["modules"])
        assert not {f"bcelab.cli.{c}" for c in COMMANDS} & loaded
        assert "numpy" not in loaded
    proc = subprocess.run(
        [sys.executable, "-m", "bcelab", "--help"], capture_output=True, text=True, check=True
    )
    for name, (_, help_) in COMMANDS.items():
        assert name in proc.stdout
        assert help_.split()[0] in proc.stdout


def test_a_help_flag_before_the_command_shows_every_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bcelab", "-h", "eval"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("usage: bcelab [-h]")
    for name in COMMANDS:
        assert name in proc.stdout


def test_known_command_help_is_its_own() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bcelab", "eval", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: bcelab eval ")
    assert "--pred" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("loss", "--preds", "0.1,0.5,0.9", "--targets", "0.3,0.5,1", "--json"),
        ("loss", "--preds", "-3,0,12.5", "--targets", "0,0.5,1", "--logits", "--json"),
        ("explain", "--target", "0.3"),
    ],
)
def test_typed_numbers_load_no_compiled_kernel(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """`bcelab loss` and `bcelab explain` use the reference formulas: no numba import
    (0.4 s), and the same output as the same command run in this process (where the
    fused kernel may already be loaded)."""
    rc, mods, out = _loaded(*args)
    assert rc == 0, out
    assert not {"numba", "bcelab.kernels.loss_driver"} & mods
    assert main(list(args)) == 0
    assert out.startswith(capsys.readouterr().out)
