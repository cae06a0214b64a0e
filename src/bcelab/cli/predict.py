"""``bcelab predict RUN_DIR --data FILE --out FILE``: a trained model's predictions for new rows.

The run folder of ``bcelab train`` (circles, moons, breast-cancer or file) holds the
model and how it reads a table (``predictor.json``).  The output is the input rows plus
``logit`` and ``pred`` columns, as Parquet or CSV by the extension of ``--out``; it is
what ``bcelab eval FILE --target COL --pred pred`` reads.  Every path is checked before
any row is read: the run folder, the input table, and ``--out`` (a new file unless
``--overwrite``, in a folder that can be written).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from .._core.display import count_of
from .._core.passthrough import check_csv_writable
from ..errors import DataError, OptionError
from ..train.predicting import output_kind, predict, write_predictions
from ..train.tables import parquet_schema
from . import flags, output
from .numbers import whole_number

__all__ = ["Config", "add_arguments", "config_from_args", "execute"]


@dataclass(frozen=True)
class Config:
    run: str
    data: str
    out: str
    seed: int | None = None
    delimiter: str | None = None
    overwrite: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="the --out folder of a `bcelab train` run")
    p.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="a .csv, .tsv or .parquet table with the feature columns of the training data",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the predictions: .parquet, .csv or .tsv (the input rows plus logit and pred)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument(
        "--seed",
        type=whole_number,
        default=None,
        help="which seed's model of a run with --seeds N (default: its first seed)",
    )
    p.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="field separator of a CSV --data: one character, or tab (default: tab for .tsv, "
        "else comma); a CSV --out is separated by tabs for .tsv, else commas",
    )


def _is_autoencoder_run(run: Path) -> bool:
    try:
        summary = json.loads((run / "summary.json").read_text())
        return bool(summary["config"]["model"]["kind"] == "autoencoder")
    except (OSError, ValueError, KeyError, TypeError):
        return False


def config_from_args(ns: argparse.Namespace) -> Config:
    """Every path and flag checked, before any row is read."""
    run = Path(ns.run)
    if not (run / "predictor.json").is_file():
        state = "does not exist" if not run.exists() else "has no predictor.json"
        fix = (
            "pass the folder that `bcelab train` printed (an interrupted run is completed "
            "with --resume)"
        )
        if _is_autoencoder_run(run):
            state = "holds an autoencoder run (its reconstructions are in reconstructions.png)"
            fix = "pass the folder of a circles, moons, breast-cancer or file run"
        raise DataError(
            "RUN_DIR must be the --out folder of a completed `bcelab train` run of an MLP",
            f"received {ns.run!r}, which {state}",
            fix,
        )
    data = flags.check_existing_file(ns.data, "--data", "CSV, TSV or Parquet file")
    out = output.check_file(ns.out, "--out", "predictions.parquet")
    if output_kind(out) is None:
        raise OptionError(
            "--out ending in .parquet, .csv or .tsv",
            f"received {out.name!r}",
            f"e.g. --out {out.with_suffix('.parquet')}",
        )
    if out.exists() and not ns.overwrite:
        raise OptionError(
            "--out must name a new file",
            f"{out} exists",
            "choose another --out, or add --overwrite to replace it",
        )
    schema = parquet_schema(data)  # from the file's footer, before any row is read
    if schema is not None and output_kind(out) == "text":
        fix = f"write the predictions as Parquet: --out {out.with_suffix('.parquet')}"
        check_csv_writable(schema, data, fix)
    if ns.seed is not None:
        flags.check_seed(ns.seed)
    return Config(
        str(run), data, str(out), ns.seed, flags.check_delimiter(ns.delimiter), ns.overwrite
    )


def execute(cfg: Config) -> int:
    t0 = time.perf_counter()
    # a text --out gets the other columns as written; a Parquet --out their inferred types
    as_written = output_kind(cfg.out) == "text"
    table = predict(
        cfg.run, cfg.data, seed=cfg.seed, delimiter=cfg.delimiter, as_written=as_written
    )
    write_predictions(table, cfg.out)  # separated by --out's extension: tab for .tsv
    seed = "" if cfg.seed is None else f" (seed {cfg.seed})"
    print(
        f"wrote {cfg.out}: {count_of(table.num_rows, 'row', grouped=True)} with logit and pred from {cfg.run}{seed} "
        f"in {time.perf_counter() - t0:.2f} s"
    )
    return 0
