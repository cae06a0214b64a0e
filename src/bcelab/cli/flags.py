"""Checks of flags, in the words of the command line.

``config_from_args`` of the commands (:mod:`.train`, :mod:`.autoencoder`,
:mod:`.predict`, :mod:`.eval`, :mod:`.compare`) call these before any data is read or
any training starts, so a bad flag is named as the user typed it (``--lr must be ...``,
``pass e.g. --lr 0.01``); the library below checks the same values again in the words of
its Python arguments.  :func:`add_engine_arguments` and :func:`check_engine_flags` are
the flags that say where ``eval`` and ``compare`` read the data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._core.tables import delimiter_problem
from ..errors import DataError, OptionError
from .numbers import whole_number

__all__ = [
    "add_engine_arguments",
    "add_target_arguments",
    "check_checkpoint_every",
    "check_delimiter",
    "check_device",
    "check_engine_flags",
    "check_existing_file",
    "check_fraction",
    "check_lr",
    "check_positive",
    "check_positive_label",
    "check_resume_dir",
    "check_seed",
    "check_unit_open",
]

_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " "}


def check_positive(value: int, flag: str, example: int) -> int:
    """An integer flag that must be >= 1 (argparse made it an int)."""
    if value < 1:
        raise OptionError(
            f"{flag} must be an integer >= 1",
            f"received {flag} {value}",
            f"pass e.g. {flag} {example}",
        )
    return value


def check_device(value: str) -> str:
    """``--device``: ``cpu``, or ``cuda``/``cuda:N`` naming a GPU that torch can use here."""
    from ..train.checks import check_device as check_torch_device

    try:
        return str(check_torch_device(value, fname="--device"))
    except OptionError as e:
        raise OptionError(
            "--device must be cpu, or cuda / cuda:N naming a GPU that torch can use",
            f"received --device {value}"
            + ("" if e.received.startswith("received") else f" ({e.received})"),
            "leave --device out to train on the CPU",
        ) from None


def check_seed(value: int, flag: str = "--seed") -> int:
    if not 0 <= value < 2**63:
        raise OptionError(
            f"{flag} must be a whole number in [0, 2**63)",
            f"received {flag} {value}",
            f"pass e.g. {flag} 0",
        )
    return value


def check_lr(value: float, example: str) -> float:
    from ..train.checks import MAX_LR  # start-up time: only the training commands ask

    if not 0 < value <= MAX_LR:
        raise OptionError(
            f"--lr must be a number > 0 and <= {MAX_LR:g}",
            f"received --lr {value:g}",
            f"pass e.g. --lr {example}",
        )
    return value


def check_unit_open(value: float, flag: str, example: str) -> float:
    """A number in [0, 1) (momentum, label smoothing)."""
    if not 0.0 <= value < 1.0:
        raise OptionError(
            f"{flag} must lie in [0, 1)",
            f"received {flag} {value:g}",
            f"pass e.g. {flag} {example}",
        )
    return value


def check_fraction(value: float, flag: str, example: str) -> float:
    """A number strictly between 0 and 1."""
    if not 0.0 < value < 1.0:
        raise OptionError(
            f"{flag} must lie strictly between 0 and 1",
            f"received {flag} {value:g}",
            f"pass e.g. {flag} {example}",
        )
    return value


def check_existing_file(path: str, flag: str, what: str) -> str:
    """``path`` names an existing file (``what``: e.g. "CSV or Parquet file")."""
    p = Path(path)
    if not p.is_file():
        state = "is a directory" if p.is_dir() else "does not exist"
        raise DataError(
            f"{flag} must name an existing {what}",
            f"received {path!r}, which {state}",
            "check the path",
        )
    return path


def check_resume_dir(path: str) -> str:
    """``--resume DIR``: a run folder that holds checkpoint.pt (or the file itself)."""
    p = Path(path)
    if p.is_file() and p.name != "checkpoint.pt":
        raise DataError(
            "--resume needs the run folder (the --out of an earlier run), which holds "
            "checkpoint.pt",
            f"received {path!r}, a file, not a run folder",
            "pass the folder that the earlier run printed (wrote DIR/: ...)",
        )
    if not ((p / "checkpoint.pt").is_file() or p.is_file()):
        raise DataError(
            "--resume needs a run folder that contains checkpoint.pt",
            f"received {path!r}, where checkpoint.pt does not exist",
            "pass the --out folder of an earlier run",
        )
    return path


def check_checkpoint_every(value: int | None) -> int | None:
    """``--checkpoint-every N``: epochs between checkpoints, 0 for only at the end."""
    if value is not None and value < 0:
        raise OptionError(
            "--checkpoint-every must be an integer >= 0 (epochs; 0: only at the end)",
            f"received --checkpoint-every {value}",
            "pass e.g. --checkpoint-every 50",
        )
    return value


def check_delimiter(text: str | None) -> str | None:
    """``--delimiter``: one ASCII character (not a line break), or a name (tab, comma,
    semicolon, space)."""
    if text is None:
        return None
    sep = _DELIMITERS.get(text.lower(), text)
    problem = delimiter_problem(sep) if len(sep) == 1 else None
    if len(sep) != 1 or problem is not None:
        raise OptionError(
            "--delimiter must be one character, or tab"
            + ("" if problem is None else ": an ASCII character other than a line break"),
            f"received --delimiter {text!r}" + ("" if problem is None else f", {problem}"),
            "write e.g. --delimiter ';' or --delimiter tab",
        )
    return sep


def check_positive_label(text: str | None) -> str | None:
    """``--positive-label VALUE``: a value of the target column (not empty)."""
    if text == "":
        raise OptionError(
            "--positive-label must be the value of the positive class",
            "received an empty value",
            "write e.g. --positive-label 1 or --positive-label yes",
        )
    return text


def add_target_arguments(p: argparse.ArgumentParser, *, by_help: str) -> None:
    """--target, --positive-label, --weight and --by: the columns of a prediction table."""
    p.add_argument(
        "--target",
        required=True,
        metavar="COL",
        help="target column: numbers in [0, 1] (0/1 labels or probabilities), or labels "
        "with --positive-label",
    )
    p.add_argument(
        "--positive-label",
        metavar="VALUE",
        help="the target value of the positive class (a number or text, e.g. 1, yes, "
        "True): it counts as 1, every other value as 0",
    )
    p.add_argument("--weight", metavar="COL", help="sample-weight column (>= 0)")
    p.add_argument("--by", metavar="COL", help=by_help)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """--engine, --threads, --scheduler, --workers, --strict and --progress."""
    p.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: this machine's cores (default); dask: a dask.distributed cluster",
    )
    p.add_argument(
        "--threads",
        type=whole_number,
        metavar="N",
        help="threads of the local engine (default: every core, at most 8)",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="address of a running Dask scheduler (with --engine dask)",
    )
    p.add_argument(
        "--workers",
        type=whole_number,
        metavar="N",
        help="worker processes of the Dask LocalCluster started without --scheduler "
        "(with --engine dask; default 2)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail on NaN predictions or missing targets instead of counting them",
    )
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always draw the progress bar on stderr (default: only on a terminal)",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false")


def check_engine_flags(ns: argparse.Namespace) -> None:
    """The flags of :func:`add_engine_arguments` fit together."""
    if ns.scheduler is not None and ns.engine != "dask":
        raise OptionError(
            "--scheduler only with --engine dask",
            f"received --engine {ns.engine}",
            "add --engine dask",
        )
    if ns.workers is not None and ns.engine != "dask":
        raise OptionError(
            "--workers (Dask worker processes) only with --engine dask",
            f"received --workers {ns.workers} with --engine {ns.engine}",
            "use --threads N for the local engine's threads, or add --engine dask",
        )
    if ns.threads is not None and ns.engine == "dask":
        raise OptionError(
            "--threads (the local engine's threads) only with --engine local",
            f"received --threads {ns.threads} with --engine dask",
            "use --workers N to size the Dask LocalCluster (worker processes)",
        )
    if ns.scheduler is not None and ns.workers is not None:
        raise OptionError(
            "either --scheduler or --workers",
            "received both",
            "--workers sizes the LocalCluster started when there is no scheduler",
        )
    for flag, value in (("--threads", ns.threads), ("--workers", ns.workers)):
        if value is not None and value < 1:
            raise OptionError(
                f"{flag} must be an integer >= 1", f"received {flag} {value}", f"write {flag} 2"
            )
    if ns.engine == "dask":
        # optional dependency (the eval and dask extras) and start-up time: only for Dask.
        # Dask installed and the --scheduler address well formed, before any file is
        # read; the library's words become the flags' where the command catches the error.
        from ..evaluation.run_options import check_engine_options

        check_engine_options("dask", None, ns.workers, ns.scheduler, fname="evaluate")
