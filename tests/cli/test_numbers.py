"""The flags' number types: the value float() / int() read, or a message in the user's words."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzzing import fuzz

from bcelab.cli import main
from bcelab.cli.numbers import number, whole_number


@fuzz
@given(st.floats(allow_nan=False))
def test_number_reads_every_float_as_python_does(x):
    for text in (repr(x), f"{x:.17e}", f"{x:g}"):
        value = float(text)
        if value == 0.0 and x != 0.0 and any(c in "123456789" for c in text.split("e")[0]):
            continue  # rounded to 0 by the format itself: refused, tested below
        if math.isinf(value) and not math.isinf(x):
            continue
        assert number(text) == value


@pytest.mark.parametrize(
    "text", ["0", "-0.0", "1e-7", " 0.5 ", "+3", "inf", "-Infinity", "1_000.5"]
)
def test_number_accepts_what_float_reads(text):
    assert number(text) == float(text) or (math.isnan(number(text)) and math.isnan(float(text)))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abc", "expected a number such as 0.5 or 1e-7; received 'abc'"),
        ("0.3x", "received '0.3x'"),
        ("", "received ''"),
        ("1e-400", "received '1e-400', which is below its smallest positive value"),
        ("-2.5e-999", "would be read as 0"),
        ("1e400", "received '1e400', which is beyond its largest value"),
        ("-9e999", "write a smaller value"),
    ],
)
def test_number_refuses_with_the_text_typed(text, words):
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number") as err:
        number(text)
    assert words in str(err.value)


@pytest.mark.parametrize("text", ["0.0e5", "0e-400", "-0.000"])
def test_a_written_zero_is_zero(text):
    assert number(text) == 0.0


def test_whole_number():
    assert whole_number("12") == 12 and whole_number("-1") == -1 and whole_number("1_000") == 1000
    for text in ("2.0", "two", "", "1e3"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number") as err:
            whole_number(text)
        assert f"received {text!r}" in str(err.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["loss", "--preds", "0.5", "--targets", "1", "--label-smoothing", "1e-400"],
            "argument --label-smoothing: expected a number float64 can hold; received '1e-400'",
        ),
        (
            ["train", "circles", "--epochs", "1.5"],
            "argument --epochs: expected a whole number such as 2; received '1.5'",
        ),
        (
            ["train", "circles", "--lr", "fast"],
            "argument --lr: expected a number such as 0.5 or 1e-7; received 'fast'",
        ),
    ],
)
def test_commands_exit_2_with_the_flag_and_the_text(capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err
