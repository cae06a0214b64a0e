"""The flags of ``bcelab train`` (circles, moons, breast-cancer, file; autoencoder's are its own).

The options that a run keeps (``--lr``, ``--seeds``, ``--data``, ...) have no argparse
default: a flag that was not typed is absent from the namespace, so that ``--resume``
can tell the options the user gave (and must match the run) from those the run keeps.
:data:`DEFAULTS` holds their values otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import autoencoder_flags, run_folder
from .numbers import number, whole_number

__all__ = ["DEFAULTS", "FLAG_NAMES", "TASKS", "add_arguments", "given_options"]

TASKS = ("circles", "moons", "breast-cancer", "file")

#: option -> its value when the flag is not given
DEFAULTS: dict[str, Any] = {
    "data": None,
    "target": None,
    "features": None,
    "test": None,
    "test_fraction": 0.5,
    "dropna": False,
    "positive_label": None,
    "delimiter": None,
    "hidden": "50",
    "epochs": 200,
    "batch_size": 32,
    "lr": 0.01,
    "momentum": 0.9,
    "optimizer": "sgd",
    "loss": "bce",
    "label_smoothing": 0.0,
    "seeds": 1,
    "seed": 0,
    "device": "cpu",
}
#: option -> its flag
FLAG_NAMES = {k: "--" + k.replace("_", "-") for k in DEFAULTS}

_HELPS = {
    "circles": "the two-circles tutorial: MLP 2-50-1, SGD, 200 epochs",
    "moons": "two moons (make_moons, noise 0.2)",
    "breast-cancer": "scikit-learn's bundled breast-cancer data, standardised",
    "file": "your CSV/TSV/Parquet table: --data FILE --target COL",
}
_KEEP = argparse.SUPPRESS  # not typed: absent from the namespace (see the module doc)


def given_options(ns: argparse.Namespace) -> frozenset[str]:
    """The kept options that were typed on the command line."""
    return frozenset(k for k in DEFAULTS if hasattr(ns, k))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hidden",
        default=_KEEP,
        metavar="N[,N...]",
        help="hidden layer sizes (default 50: the tutorial's Dense(50, relu))",
    )
    p.add_argument("--epochs", type=whole_number, default=_KEEP, help="default 200")
    p.add_argument("--batch-size", type=whole_number, default=_KEEP, help="default 32")
    p.add_argument("--lr", type=number, default=_KEEP, help="learning rate (default 0.01)")
    p.add_argument("--momentum", type=number, default=_KEEP, help="SGD momentum (default 0.9)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=_KEEP, help="default sgd")
    p.add_argument("--loss", choices=("bce", "focal", "kl"), default=_KEEP, help="default bce")
    p.add_argument("--label-smoothing", type=number, default=_KEEP, metavar="S", help="default 0")
    p.add_argument(
        "--seeds",
        type=whole_number,
        default=_KEEP,
        help="train this many seeds at once (batched) and report mean ± CI (default 1)",
    )
    p.add_argument("--seed", type=whole_number, default=_KEEP, help="first seed (default 0)")
    p.add_argument(
        "--device",
        default=_KEEP,
        metavar="DEV",
        help="where to train: cpu (default), cuda or cuda:N (a CUDA build of torch on a GPU)",
    )
    run_folder.add_flags(p, "runs/<name>-<timestamp>/")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _file(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--data",
        default=_KEEP,
        metavar="FILE",
        help="a .csv, .tsv or .parquet table with a header (required unless --resume)",
    )
    sp.add_argument(
        "--target",
        default=_KEEP,
        metavar="COL",
        help="the target column: 0/1 (or in [0, 1]), or labels with --positive-label "
        "(required unless --resume)",
    )
    sp.add_argument(
        "--positive-label",
        default=_KEEP,
        metavar="VALUE",
        help="the target value of the positive class (a number or text, e.g. 1, yes, "
        "True): it counts as 1, every other value as 0",
    )
    sp.add_argument(
        "--features",
        default=_KEEP,
        metavar="A,B,C",
        help="feature columns (default: all other columns)",
    )
    sp.add_argument("--test", default=_KEEP, metavar="FILE", help="a separate test table")
    sp.add_argument(
        "--test-fraction",
        type=number,
        default=_KEEP,
        help="without --test: share of shuffled rows held out (default 0.5)",
    )
    sp.add_argument(
        "--dropna", action="store_true", default=_KEEP, help="drop rows with missing values"
    )
    sp.add_argument(
        "--delimiter",
        default=_KEEP,
        metavar="CHAR",
        help="CSV field separator: one character, or tab (default: tab for .tsv, else comma)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for task in TASKS:
        sp = sub.add_parser(task, help=_HELPS[task], description=_HELPS[task])
        if task == "file":
            _file(sp)
        _common(sp)
    sp = sub.add_parser(
        "autoencoder",
        help="the autoencoder question: image autoencoder, BCE = floor + excess",
        description="image autoencoder with a sigmoid output and BCE, reported as "
        "BCE = floor + excess",
    )
    autoencoder_flags.add_arguments(sp)
