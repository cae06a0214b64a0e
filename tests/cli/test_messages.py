"""A word that names no command or task, or values a flag did not take: what was expected,
what came, and the fix.

argparse said ``argument TASK: invalid choice: '30'`` for ``bcelab train --seeds 30``
(the flag's value taken for the task) and offered no suggestion for a misspelt word.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzzing import fuzz

from bcelab.cli import COMMANDS, main
from bcelab.cli.messages import unknown_choice


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and "usage:" not in err
    assert len(err.strip().splitlines()) == 1, err
    return rc, err.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--seeds", "30"],
            "bcelab train: error: a train task before the flags (circles, moons, "
            "breast-cancer, file, autoencoder); received the flag --seeds first. put the "
            "task first: for example bcelab train circles --seeds 30",
        ),
        (
            ["train", "--epochs=5", "moons", "--seeds", "3"],
            "put the task first: bcelab train moons --epochs=5 --seeds 3",
        ),
        (["train", "circle"], "received 'circle'. did you mean bcelab train circles?"),
        (["train", "xyz"], "received 'xyz'. for example bcelab train circles"),
        (["evl", "x.parquet"], "bcelab: error: a command: one of loss, explain, train"),
        (["evl", "x.parquet"], "received 'evl'. did you mean bcelab eval?"),
        (
            ["--seeds", "3", "train", "circles"],
            "received the flag --seeds first. put the command first: bcelab train "
            "--seeds 3 circles",
        ),
    ],
)
def test_a_misplaced_or_misspelt_word_gets_the_fix(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    rc, err = _run(capsys, *args)
    assert rc == 2 and message in err


def test_the_suggested_line_runs(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    # the fix, as printed, is a command line that works
    rc, err = _run(capsys, "train", "--epochs", "1", "moons", "--out", str(tmp_path))
    line = err.split("put the task first: ")[1]
    assert rc == 2 and line.startswith("bcelab train moons --epochs 1 --out ")
    assert main(line.split()[1:]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["train", "-h"], ["train", "autoencoder", "--help"]]
)
def test_help_and_version_are_left_to_the_parser(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    try:
        rc = main(args)
    except SystemExit as e:  # argparse's help exits 0
        rc = int(e.code or 0)
    out, _ = capsys.readouterr()
    assert rc == 0 and out


def test_flags_alone_stay_unrecognized(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _run(capsys, "--bogus")
    assert rc == 2 and "only the flags and values of `bcelab --help`" in err


def test_every_command_is_a_choice() -> None:
    err = unknown_choice("a command", "x", list(COMMANDS), "bcelab")
    assert all(name in str(err) for name in COMMANDS)


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["loss", "--preds", "0", "1", "0.5", "--targets", "1,0,0.5"], "--preds 0,1,0.5"),
        (["loss", "--logits", "2", "-1", "--targets", "1,0"], "--logits 2,-1"),
        (["loss", "--logits", "inf", "-inf", "--targets", "1,0"], "--logits inf,-inf"),
    ],
)
def test_space_separated_values_of_a_list_flag_get_the_commas(
    capsys: pytest.CaptureFixture[str], args: list[str], fix: str
) -> None:
    # the fix said "quote a value with spaces (--preds '0 1')", which `bcelab loss` then
    # refused too: its lists are comma-separated
    rc, err = _run(capsys, *args)
    flag = fix.split()[0]
    received = " ".join(args[args.index(flag) : args.index("--targets")])
    assert rc == 2 and err.endswith(f"received {received}. separate the values with commas: {fix}")
    fixed = args[: args.index(flag)] + fix.split() + args[args.index("--targets") :]
    assert main(fixed) == 0
    capsys.readouterr()


def test_a_word_in_a_list_is_still_quoted_or_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _run(capsys, "loss", "--preds", "0.5", "--targets", "1", "extra")
    assert rc == 2 and err.endswith(
        "quote a value with spaces (--targets '1 extra'), or drop extra"
    )


WORDS = st.sampled_from(["evl", "trian", "circle", "moon", "x", "30", "-1", "0.5", "file.csv"])
FLAGS = st.sampled_from(["--seeds", "--epochs=5", "--out", "-V", "--pred", "--bogus"])


@fuzz
@given(
    first=st.one_of(WORDS, FLAGS, st.just("train")),
    rest=st.lists(st.one_of(WORDS, FLAGS, st.sampled_from(list(COMMANDS))), max_size=5),
)
def test_no_misplaced_line_runs_or_leaves_a_traceback(first: str, rest: list[str]) -> None:
    # words that name no task after `train`, or no command first: refused before any work
    argv = [first, *rest]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own usage errors
            rc = int(e.code or 0)
    text = err.getvalue()
    assert rc == 2 and "Traceback" not in text, (argv, text)
