"""``bcelab recalibrate``: apply a fitted recalibration map to new rows.

``bcelab recalibrate RUN_OR_FIT --data FILE --out FILE`` reads the map (a JSON file
written by ``bcelab eval --recalibrate ... --save-map FILE``, or the report folder of
``bcelab eval --recalibrate ... --report DIR``, which holds ``map.json``), streams
``--data`` (Parquet or CSV) and writes its rows plus the recalibrated probability
(column ``pred_recalibrated``, or ``--out-column``) to ``--out`` (Parquet or CSV by
extension).  The map, ``--data`` and ``--out`` are checked before any row is read;
``--out`` must not exist unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from .._core.display import count_of
from ..errors import DataError, OptionError
from .flags import check_delimiter
from .output import check_file

__all__ = ["Config", "add_arguments", "config_from_args", "execute"]


@dataclass(frozen=True)
class Config:
    fitted: str
    data: str
    out: str
    preds: str | None = None
    logits: str | None = None
    out_column: str = "pred_recalibrated"
    delimiter: str | None = None
    overwrite: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "fitted",
        metavar="RUN_OR_FIT",
        help="the map: a JSON file from `bcelab eval --recalibrate ... --save-map`, or a "
        "report folder of `bcelab eval --recalibrate ... --report` (it holds map.json)",
    )
    p.add_argument("--data", required=True, metavar="FILE", help="Parquet or CSV file of new rows")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="output file: the rows of --data plus the recalibrated column; .parquet or .csv",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pred", metavar="COL", help="prediction column holding probabilities")
    g.add_argument("--logit", metavar="COL", help="prediction column holding logits")
    p.add_argument(
        "--out-column",
        default="pred_recalibrated",
        metavar="NAME",
        help="name of the new column (default: pred_recalibrated)",
    )
    p.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="CSV field separator of --data: one character, or tab (default: tab for .tsv, "
        "else comma)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def _check_map(fitted: str) -> None:
    # optional dependency (pyarrow, the eval extra) and start-up time
    from ..evaluation.recal_apply import load_fitted

    if not Path(fitted).exists():
        raise DataError(
            "RUN_OR_FIT must name a map JSON file or a report folder",
            f"received {fitted!r}, which does not exist",
            "pass the --save-map file or the --report folder of `bcelab eval --recalibrate`",
        )
    load_fitted(fitted)  # a bad map fails here, before any row is read


def config_from_args(ns: argparse.Namespace) -> Config:
    """The checked configuration: the map loads, --data exists, --out can be written."""
    # optional dependency (pyarrow, the eval extra) and start-up time
    from ..evaluation.recal_apply import check_paths

    for flag, value in (
        ("--pred", ns.pred),
        ("--logit", ns.logit),
        ("--out-column", ns.out_column),
    ):
        if value is not None and not value:
            raise OptionError(f"{flag} must name a column", "received ''", f"write {flag} COL")
    delimiter = check_delimiter(ns.delimiter)
    _check_map(ns.fitted)
    check_file(ns.out, "--out", "recalibrated.parquet")
    check_paths(ns.data, ns.out, overwrite=ns.overwrite)
    return Config(
        ns.fitted, ns.data, ns.out, ns.pred, ns.logit, ns.out_column, delimiter, ns.overwrite
    )


def execute(cfg: Config) -> int:
    # optional dependency (pyarrow, the eval extra) and start-up time
    from ..evaluation.recal_apply import recalibrate_file

    res = recalibrate_file(
        cfg.fitted,
        cfg.data,
        cfg.out,
        preds=cfg.preds,
        logits=cfg.logits,
        out_column=cfg.out_column,
        delimiter=cfg.delimiter,
        overwrite=cfg.overwrite,
    )
    print(
        f"{res.path}: {count_of(res.rows, 'row')} of {cfg.data} with {res.column!r} "
        f"({res.recalibration_map.method} map)",
        file=sys.stdout,
    )
    return 0
