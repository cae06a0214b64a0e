"""The flags of ``bcelab train autoencoder``.

As for the other training commands (:mod:`.train_flags`), the options that a run keeps
have no argparse default, so that ``--resume`` knows which ones the user typed;
:data:`DEFAULTS` holds their values otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..train.autoencoder.spec import ARCHS, LOSSES
from . import run_folder
from .numbers import number, whole_number

__all__ = ["DEFAULTS", "FLAG_NAMES", "KEPT", "add_arguments"]

#: option -> its value when the flag is not given (a resumed run keeps these)
DEFAULTS: dict[str, Any] = {
    "data": None,
    "arch": "dense",
    "epochs": 100,
    "batch_size": 32,
    "lr": 1e-3,
    "loss": "bce",
    "seed": 0,
    "threads": 1,
}
KEPT = ("data", "arch", "batch_size", "lr", "loss", "seed", "threads")
FLAG_NAMES = {k: "--" + k.replace("_", "-") for k in DEFAULTS}
_KEEP = argparse.SUPPRESS  # not typed: absent from the namespace


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        metavar="FILE",
        default=_KEEP,
        help="images: FILE.npz with an array x of shape (N,H,W) or (N,H,W,C), float "
        "in [0,1] or uint8 0..255; or an MNIST-style IDX file "
        "(train-images-idx3-ubyte[.gz]). Default: scikit-learn's 8x8 digits",
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default=_KEEP,
        help="dense: D->32->16->32->D (default); conv: small convolutional "
        "autoencoder for images of 16x16 and larger",
    )
    p.add_argument(
        "--epochs", type=whole_number, default=_KEEP, help="training epochs (default 100)"
    )
    p.add_argument("--batch-size", type=whole_number, default=_KEEP, help="batch size (default 32)")
    p.add_argument("--lr", type=number, default=_KEEP, help="Adam learning rate (default 1e-3)")
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default=_KEEP,
        help="bce (default); kl = BCE minus the floor (same gradient, goes to 0 at a "
        "perfect reconstruction); mse (for comparison)",
    )
    p.add_argument(
        "--compare-losses",
        action="store_true",
        help="train once with each of bce, kl and mse (same seed) and compare their "
        "final test excess",
    )
    p.add_argument(
        "--seed",
        type=whole_number,
        default=_KEEP,
        help="initialisation and shuffling seed (default 0)",
    )
    run_folder.add_flags(p, "runs/autoencoder-<timestamp>/")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.add_argument(
        "--threads",
        type=whole_number,
        default=_KEEP,
        help="torch intra-op threads (default 1: fastest for these small models)",
    )
