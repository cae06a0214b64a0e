"""Fuzzing of the command line with hypothesis: any flags and values, exit 0 or 2, never a traceback.

Each example builds the arguments of one command (``loss``, ``explain``, ``eval``,
``compare``, ``recalibrate``) from that command's own parser, so a new flag is fuzzed
as soon as it exists: each flag appears or not, with a value drawn from hostile strings
(empty, NaN, infinities, 1e309, a Unicode minus, lists, words), plausible ones (column
names, numbers) and paths (the test's small Parquet and CSV files, a missing file, a
folder, outputs in new, existing and missing folders).  The command exits with 0 or 2;
its standard error holds no traceback and no Python warning, and an exit of 2 ends with
one ``bcelab ...: error:`` line.  The Dask engine is left out (a cluster per example
would take most of the run); its option checks have their own tests.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/cli/test_cli_fuzz.py`` runs the larger check.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import io
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzzing import fuzz

from bcelab.cli import COMMANDS, main

COMMANDS_FUZZED = ["loss", "explain", "eval", "compare", "recalibrate"]
ERROR_LINE = re.compile(r"^bcelab( [a-z]+)?: error: ")
HOSTILE = ["", " ", "nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "1", "2", "0.5", "1e-320"]
HOSTILE += ["abc", ",", "0,1", "0.2,0.9", "1,0,1", "\u22121", "0x10", "-0.0", "1,,0", "3.5e38"]
COLUMNS = ["p", "q", "y", "w", "seg", "id", "label", "missing", "P"]
NUMBERS = ["5", "3", "200", "2001", "0.95", "1.0", "0.01", "1e-7", "0.3", "7", "-3"]
METHODS = ["platt", "temperature", "isotonic", "none", "Platt"]


def _files() -> dict[str, str]:
    """Small inputs in a folder that lives as long as the test process."""
    root = Path(tempfile.mkdtemp(prefix="bcelab-cli-fuzz-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    rng = np.random.default_rng(0)
    n = 120
    p = rng.random(n)
    table = pa.table(
        {
            "y": (rng.random(n) < p).astype(float),
            "p": p,
            "q": np.clip(p + rng.normal(0, 0.2, n), 0, 1),
            "w": rng.exponential(1.0, n),
            "seg": rng.choice(["a", "b"], n),
            "id": np.arange(n),
            "label": rng.choice(["yes", "no"], n),
        }
    )
    pq.write_table(table, root / "rows.parquet")
    table.to_pandas().to_csv(root / "rows.csv", index=False)
    (root / "empty.csv").write_text("")
    (root / "folder").mkdir()
    (root / "existing.json").write_text("{}")
    saved = root / "platt.json"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = main([
            "eval", str(root / "rows.parquet"), "--pred", "p", "--target", "y",
            "--recalibrate", "platt", "--save-map", str(saved),
        ])  # fmt: skip
    assert rc == 0 and saved.exists()
    return {"root": str(root), "parquet": str(root / "rows.parquet"), "map": str(saved)}


FILES = _files()
ROOT = Path(FILES["root"])
INPUTS = [
    FILES["parquet"],
    str(ROOT / "rows.csv"),
    str(ROOT / "empty.csv"),
    str(ROOT / "nope.parquet"),
]
INPUTS += [str(ROOT / "folder"), FILES["map"], "/dev/null"]


def _output(data: st.DataObject) -> str:
    kind = data.draw(st.sampled_from(["new", "existing", "missing-folder", "folder", "input"]))
    suffix = data.draw(st.sampled_from([".json", ".png", ".svg", ".parquet", ".csv", ""]))
    name = f"out-{data.draw(st.integers(0, 10**9))}"
    return {
        "new": str(ROOT / f"{name}{suffix}"),
        "existing": str(ROOT / "existing.json"),
        "missing-folder": str(ROOT / "no-such-folder" / name),
        "folder": str(ROOT / "folder"),
        "input": FILES["parquet"],
    }[kind]


def _value(data: st.DataObject, flag: str, choices: object) -> str:
    pool = list(HOSTILE)
    if choices:
        pool += [c for c in choices if c != "dask"] * 4  # type: ignore[attr-defined]
    if flag in {"--pred", "--logit", "--target", "--weight", "--by", "--id", "--out-column"}:
        pool += COLUMNS * 3
    if flag in {"--preds", "--targets", "--target", "--label-smoothing", "--threshold"}:
        pool += ["0.2,0.8,1", "0,1,1", "0.7", "1e-300,1", "0.5,nan"]
    if flag in {"--replicates", "--seed", "--confidence", "--clip", "--threads", "--workers"}:
        pool += NUMBERS * 2
    if flag in {"--recalibrate"}:
        pool += METHODS * 3
    if flag in {"--negative-rate", "--positive-label"}:
        pool += ["0.1", "yes", "1", "no"]
    if flag in {"--data", "--fit-on", "fitted"}:
        pool += INPUTS * 2
    if flag in {"--report", "--save-map", "--out", "--plot"}:
        return _output(data)
    if flag == "--delimiter":
        pool += [",", ";", "\\t", "ab"]
    if flag == "--scheduler":
        return "tcp://127.0.0.1:1"  # refused (the engine is local) before any connection
    return data.draw(st.sampled_from(pool))


def _parser(command: str) -> argparse.ArgumentParser:
    """The command's own flags, as its module declares them."""
    sub = argparse.ArgumentParser(prog=f"bcelab {command}")
    importlib.import_module(COMMANDS[command][0]).add_arguments(sub)
    return sub


PARSERS = {c: _parser(c) for c in COMMANDS_FUZZED}


def _baseline(command: str) -> list[list[str]]:
    """A valid command line, as (flag, value) groups: the examples change it."""
    data, out = FILES["parquet"], str(ROOT / "recalibrated.parquet")
    return {
        "loss": [["--preds", "0.2,0.8,1"], ["--targets", "0,1,1"]],
        "explain": [["--target", "0.3"]],
        "eval": [[data], ["--pred", "p"], ["--target", "y"]],
        "compare": [[data], ["--pred", "p"], ["--pred", "q"], ["--target", "y"],
                    ["--replicates", "40"]],
        "recalibrate": [[FILES["map"]], ["--data", data], ["--out", out], ["--pred", "p"]],
    }[command]  # fmt: skip


def _argv(data: st.DataObject, command: str) -> list[str]:
    """The command's valid baseline with up to four changes: a value replaced, a group
    dropped, or one of the command's other flags added (with a value from the pools)."""
    groups = _baseline(command)
    actions = {
        a.option_strings[-1]: a
        for a in PARSERS[command]._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction)
    }
    for _ in range(data.draw(st.integers(0, 4))):
        change = data.draw(st.sampled_from(["replace", "drop", "add", "add"]))
        if change == "replace" and groups:
            i = data.draw(st.integers(0, len(groups) - 1))
            flag = groups[i][0] if len(groups[i]) == 2 else "source"
            value = data.draw(st.sampled_from(INPUTS)) if flag == "source" else None
            if flag == "source" and command == "recalibrate":
                value = _value(data, "fitted", None)
            groups[i] = [value] if value is not None else [flag, _value(data, flag, None)]
        elif change == "drop" and groups:
            groups.pop(data.draw(st.integers(0, len(groups) - 1)))
        else:
            flag = data.draw(st.sampled_from(sorted(actions)))
            action = actions[flag]
            if flag == "--engine":
                continue
            if action.nargs == 0:
                groups.append([flag])
            else:
                groups.append([flag, _value(data, flag, action.choices)])
    return [command] + [v for g in groups for v in g]


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own usage errors
            rc = e.code if isinstance(e.code, int) else 2
    return rc, err.getvalue()


@pytest.mark.filterwarnings("error")
@fuzz
@given(data=st.data(), command=st.sampled_from(COMMANDS_FUZZED))
def test_any_flags_exit_0_or_2_without_a_traceback(data: st.DataObject, command: str) -> None:
    argv = _argv(data, command)
    if command == "compare" and "--replicates" not in argv:
        argv += ["--replicates", "40"]  # the default 200 costs 50 MB per state
    rc, err = _run(argv)
    assert rc in (0, 2), (argv, rc, err)
    assert "Traceback" not in err and "Warning" not in err, (argv, err)
    if rc == 2:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        assert ERROR_LINE.match(last), (argv, err)
