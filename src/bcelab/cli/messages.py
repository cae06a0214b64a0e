"""Errors in the command line's own words.

The library names Python arguments (``pass logits=True``, ``threshold=0.12``); a user of
the command line typed flags.  :func:`in_flags` rewrites a library error for a command:
each argument it knows becomes that command's flag (``--logits``, ``--threshold 0.12``),
and the Python function names in front of messages go.  :func:`missing_extra` turns a
missing optional package into the ``pip install`` line that brings it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from .._core.extras import TRAINING, missing_dependency
from ..errors import BCELabError, OptionError

__all__ = [
    "FLAGS",
    "in_flags",
    "missing_extra",
    "out_of_memory",
    "split_negative_values",
    "unknown_choice",
    "unrecognized",
]

_COMMAND_EXTRAS = {"train": TRAINING, "predict": {"torch": "train"}}

#: command -> {library argument: flag}
FLAGS: dict[str, dict[str, str]] = {
    "eval": {
        "preds": "--pred",
        "logits": "--logit",
        "target": "--target",
        "weight": "--weight",
        "by": "--by",
        "positive_label": "--positive-label",
        "threshold": "--threshold",
        "clip": "--clip",
        "delimiter": "--delimiter",
        "engine": "--engine",
        "threads": "--threads",
        "workers": "--workers",
        "scheduler": "--scheduler",
        "strict": "--strict",
        "progress": "--progress",
        "directory": "--report",
        "negative_rate": "--negative-rate",
        "recalibrate": "--recalibrate",
        "fit_on": "--fit-on",
        "method": "--recalibrate",
    },
    "compare": {
        "preds": "--pred",
        "logits": "--logit",
        "target": "--target",
        "weight": "--weight",
        "by": "--by",
        "id": "--id",
        "positive_label": "--positive-label",
        "replicates": "--replicates",
        "seed": "--seed",
        "confidence": "--confidence",
        "clip": "--clip",
        "delimiter": "--delimiter",
        "engine": "--engine",
        "threads": "--threads",
        "workers": "--workers",
        "scheduler": "--scheduler",
        "strict": "--strict",
        "progress": "--progress",
        "directory": "--report",
    },
    "loss": {
        "preds": "--preds",
        "logits": "--logits",
        "targets": "--targets",
        "label_smoothing": "--label-smoothing",
        "convention": "--convention",
    },
    "explain": {"targets": "--target"},
    "recalibrate": {
        "preds": "--pred",
        "logits": "--logit",
        "data": "--data",
        "out": "--out",
        "out_column": "--out-column",
        "delimiter": "--delimiter",
        "overwrite": "--overwrite",
    },
    "train": {
        "data": "--data",
        "target": "--target",
        "features": "--features",
        "test": "--test",
        "test_fraction": "--test-fraction",
        "dropna": "--dropna",
        "positive_label": "--positive-label",
        "delimiter": "--delimiter",
        "hidden": "--hidden",
        "epochs": "--epochs",
        "batch_size": "--batch-size",
        "lr": "--lr",
        "momentum": "--momentum",
        "optimizer": "--optimizer",
        "loss": "--loss",
        "label_smoothing": "--label-smoothing",
        "seeds": "--seeds",
        "seed": "--seed",
        "threads": "--threads",
        "out": "--out",
        "resume": "--resume",
        "checkpoint_every": "--checkpoint-every",
    },
    "predict": {
        "data": "--data",
        "seed": "--seed",
        "delimiter": "--delimiter",
        "out": "--out",
    },
}
#: a separator named in a message, as a shell takes it
_DELIMITERS = tuple(
    (f"pass delimiter={sep!r}", f"pass --delimiter {flag}")
    for sep, flag in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", ","))
)
#: a Client object and an address of this process are for Python callers only
_SCHEDULER = (("; inproc:// for one in this process), or a distributed.Client", ")"),)
#: command -> whole phrases that read better rewritten than translated word by word
_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "eval": (
        *_DELIMITERS,
        *_SCHEDULER,
        ("pass logits=True", "name the column with --logit instead of --pred"),
        (
            "name the predictions with logits= instead of preds=",
            "name the column with --logit instead of --pred",
        ),
        ("unless logits=True", "unless the column is named with --logit"),
        (
            "check the input columns and the filters",
            "check the --pred (or --logit), --target and --weight columns",
        ),
        (
            "use the isotonic map, which fits a step",
            "use --recalibrate isotonic, which fits a step",
        ),
        ("use the isotonic map, or raise max_passes", "use --recalibrate isotonic"),
    ),
    "loss": (
        ("call bce_with_logits instead", "add --logits"),
        ("pass logits=True", "add --logits"),
        ("apply bcelab.sigmoid first", "pass probabilities with --preds"),
    ),
    "train": (
        (
            "resume it with fit_autoencoder,",
            "resume it with `bcelab train autoencoder --resume DIR`,",
        ),
        (
            "resume it with fit,",
            "resume it with the `bcelab train` task that made it (circles, moons, "
            "breast-cancer or file),",
        ),
    ),
    "recalibrate": (
        (
            "written by RecalibrationMap.save",
            "written by `bcelab eval --recalibrate METHOD --save-map FILE`",
        ),
        ("a map saved by RecalibrationMap.save does not name it", "this map does not name it"),
        (
            "pass the map JSON file, or a folder written by write_report for an evaluation "
            "with recalibrate=",
            "pass the --save-map FILE or the --report DIR of `bcelab eval --recalibrate METHOD`",
        ),
        (
            "fit the map with fit_isotonic(stats) or save it with IsotonicMap.save",
            "fit the map again with `bcelab eval --recalibrate isotonic --save-map FILE`",
        ),
    ),
    "compare": (
        *_DELIMITERS,
        *_SCHEDULER,
        ("pass logits=True", "name the columns with --logit instead of --pred"),
        (
            "name the predictions with logits= instead of preds=",
            "name the columns with --logit instead of --pred",
        ),
        ("clip the probabilities, e.g. clip=1e-15", "clip the probabilities, e.g. --clip 1e-15"),
        (
            "check the input columns and the filters",
            "check the two --pred (or --logit) columns, --target and --weight",
        ),
    ),
}
_FUNCTION = re.compile(
    r"^(?:evaluate|compare|compute|write_report|write_comparison_report|recalibrate_file|load_map|"
    r"fit_isotonic|fit_platt|fit_temperature|fit_scaling|[A-Z]\w*\.\w+|bce|bce_with_logits|bce_grad|"
    r"bce_with_logits_grad|binary_kl|binary_entropy|decompose|sigmoid|"
    r"fit|fit_autoencoder|load_table|load_images|predict|MLPSpec): "
)
_ASSIGNMENT = re.compile(r"\b([a-z_]+)=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)?")
#: a model's input array as the Python API names it (``preds_a``, ``logits_b``)
_MODEL_ARRAY = re.compile(r"\b(preds|logits)_([ab])\b")
_ORDINAL = {"a": "first", "b": "second"}


def _rewrite(text: str, command: str) -> str:
    flags = FLAGS.get(command, {})
    for old, new in _PHRASES.get(command, ()):
        text = text.replace(old, new)
    if command == "compare":
        text = _MODEL_ARRAY.sub(
            lambda m: (
                f"model {m[2].upper()}'s column (the {_ORDINAL[m[2]]} "
                f"{'--logit' if m[1] == 'logits' else '--pred'})"
            ),
            text,
        )

    def one(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        flag = flags.get(name)
        if flag is None:
            return m.group(0)
        if value is None:  # "use workers= ..." names the option itself
            return flag
        if value == "True":
            return flag
        if value in ("False", "None"):
            return f"no {flag}"
        return f"{flag} {value.strip(chr(39) + chr(34))}"

    text = re.sub(
        r"\bpass (\w+)=(?:False|None)\b", lambda m: f"leave out {flags.get(m[1], m[0])}", text
    )
    text = re.sub(r"\bpass (\w+)=True\b", lambda m: f"add {flags.get(m[1], m[0])}", text)
    return _ASSIGNMENT.sub(one, text)


def in_flags(err: BCELabError, command: str) -> BCELabError:
    """The same error with the command's flags in place of the library's arguments."""
    if command not in FLAGS:
        return err
    expected = _FUNCTION.sub("", err.expected)
    lead = re.match(r"([a-z_]+) ", expected)  # "threshold must be ...": the option named
    if lead is not None and lead.group(1) in FLAGS[command]:
        expected = FLAGS[command][lead.group(1)] + expected[lead.end(1) :]
    parts = (
        _rewrite(expected, command),
        _rewrite(err.received, command),
        _rewrite(err.fix, command),
    )
    try:
        return type(err)(*parts)
    except TypeError:  # a subclass with another signature: keep it as it is
        return err


#: per command, the flags that set how much memory it takes
_MEMORY_FLAGS = {
    "train": "smaller --hidden layers, fewer --seeds or a smaller --batch-size",
    "compare": "fewer --replicates, fewer --threads, or a --by column with fewer values",
    "eval": "fewer --threads, or a --by column with fewer values",
}


def out_of_memory(err: MemoryError, command: str) -> OptionError:
    """A failed allocation, in the command's words (NumPy's message says how much)."""
    detail = str(err) or "an allocation failed"
    sizes = _MEMORY_FLAGS.get(command, "smaller inputs")
    return OptionError(
        f"a run of `bcelab {command}` that fits in this machine's memory",
        f"it ran out ({detail})",
        f"use {sizes}, or a machine with more memory",
    )


def missing_extra(err: ImportError, command: str) -> BCELabError | None:
    """The error to show for a missing optional package, or None if it is not one."""
    return missing_dependency(err, f"`bcelab {command}`", _COMMAND_EXTRAS.get(command))


_NUMBER = re.compile(r"^-(?:\d|\.\d|inf|nan)", re.IGNORECASE)


def split_negative_values(args: list[str], flags: tuple[str, ...]) -> list[str]:
    """``--preds -2,3`` -> ``--preds=-2,3``: argparse takes ``-2,3`` for an option, so a
    value that starts with a minus sign is joined to its flag."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in flags and i + 1 < len(args) and _NUMBER.match(args[i + 1]):
            out.append(f"{a}={args[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _flag_like(word: str) -> bool:
    """A word that starts like a flag and is not a negative number."""
    return word.startswith("-") and not _number(word)


def unrecognized(
    argv: Sequence[str],
    extra: Sequence[str],
    repeatable: Sequence[str] = (),
    command: str | None = None,
    lists: Sequence[str] = (),
) -> OptionError:
    """Arguments no flag took; after a flag's value (``--pred a b``), that each flag takes
    one value, and for a ``repeatable`` flag how to give it again, for a flag of
    comma-separated ``lists`` how to join the values."""
    first = extra[0]
    i = list(argv).index(first) if first in argv else -1
    flag = argv[i - 2] if i >= 2 and argv[i - 2].startswith("--") else None
    if flag is None or _flag_like(argv[i - 1]) or _flag_like(first):
        return OptionError(
            f"only the flags and values of `bcelab {command + ' ' if command else ''}--help`",
            f"received unrecognized arguments: {' '.join(extra)}",
            "check the spelling, and quote values with spaces",
        )
    value = argv[i - 1]
    run = []  # the words after the flag's value, up to the next flag
    for word in argv[i:]:
        if _flag_like(word):
            break
        run.append(word)
    shown = " ".join(run)
    if flag in lists and all(_number(w) for w in [value, *run]):
        fix = f"separate the values with commas: {flag} {','.join([value, *run])}"
    elif flag in repeatable:
        fix = f"give the flag once per value: {flag} {value} {flag} {first}"
    else:
        fix = f"quote a value with spaces ({flag} '{value} {first}'), or drop {first}"
    return OptionError(f"one value after {flag}", f"received {flag} {value} {shown}", fix)


def unknown_choice(
    what: str, received: str, choices: Sequence[str], usage: str, rest: Sequence[str] = ()
) -> OptionError:
    """The error for a word that names no ``what`` of ``choices`` (a command, a task).

    A flag in its place means the flags came first: the fix is the command line with
    ``usage`` (``bcelab train``) and the choice named later in ``rest`` (else the first
    choice) moved to the front.  A word close to a choice gets the suggestion
    (``circle`` -> ``circles``); any other gets the list.
    """
    listed = ", ".join(choices)
    if received.startswith("-"):
        words = [received, *rest]
        named = [w for w in words if w in choices]
        pick = named[0] if named else choices[0]
        if named:
            words.remove(pick)
        line = f"{usage} {pick} {' '.join(words)}"
        return OptionError(
            f"{what} before the flags ({listed})",
            f"received the flag {received} first",
            f"put the {what.split()[-1]} first: {line if named else 'for example ' + line}",
        )
    close = difflib.get_close_matches(received, list(choices), n=1, cutoff=0.6)
    fix = f"did you mean {usage} {close[0]}?" if close else f"for example {usage} {choices[0]}"
    return OptionError(f"{what}: one of {listed}", f"received {received!r}", fix)
