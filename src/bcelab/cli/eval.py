"""``bcelab eval``: metrics of a prediction file of any size (Parquet or CSV), optionally on Dask.

Every flag and the ``--report`` folder are checked before any data is read; the metric
kernels are compiled (once per machine) before the clock starts, with one line on stderr
when that takes a while.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from .._core.atomic import write_json
from ..errors import OptionError
from ..metrics.compute import check_threshold
from . import flags
from .numbers import number
from .output import check_dir
from .recal_flags import (
    RecalibrationFlags,
    add_recalibration_arguments,
    check_recalibration_flags,
)
from .warmup import CompileNotice

__all__ = ["VALUE_FLAGS", "Config", "add_arguments", "config_from_args", "execute", "run"]

#: flags whose value may start with a minus sign (``--positive-label -1``)
VALUE_FLAGS = ("--positive-label", "--threshold", "--clip", "--negative-rate")


@dataclass(frozen=True)
class Config:
    sources: tuple[str, ...]
    target: str
    preds: str | None = None  # the column, from --pred
    logits: str | None = None  # the column, from --logit
    weight: str | None = None
    by: str | None = None
    positive_label: str | None = None
    delimiter: str | None = None
    threshold: float = 0.5
    clip: float | None = None
    as_json: bool = False
    report: str | None = None
    engine: str = "local"
    scheduler: str | None = None
    threads: int | None = None
    workers: int | None = None
    strict: bool = False
    progress: bool | None = None  # None: only when stderr is a terminal
    recalibration: RecalibrationFlags = field(default_factory=RecalibrationFlags)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="Parquet files, CSV files, or folders of them (hive key=value folders)",
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pred", metavar="COL", help="prediction column holding probabilities")
    g.add_argument("--logit", metavar="COL", help="prediction column holding logits (raw scores)")
    flags.add_target_arguments(p, by_help="one row of metrics per distinct value of COL")
    p.add_argument(
        "--threshold",
        type=number,
        default=0.5,
        help="decision threshold for accuracy/precision/recall/F1 (p >= t is positive)",
    )
    p.add_argument(
        "--clip",
        type=number,
        metavar="EPS",
        help="clip probabilities to [EPS, 1-EPS] (counted in the output); off by default",
    )
    p.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="CSV field separator: one character, or tab (default: tab for .tsv, else comma)",
    )
    p.add_argument("--json", dest="as_json", action="store_true", help="print JSON on stdout")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write report.html, metrics.json and the figures (PNG) to DIR (a new folder, "
        "or a previous report folder, which is replaced whole)",
    )
    add_recalibration_arguments(p)
    flags.add_engine_arguments(p)


def _check_value_flags(ns: argparse.Namespace) -> None:
    t = ns.threshold
    try:
        check_threshold(t)
    except OptionError:
        example = round(t, 2) if 0.01 <= t <= 0.99 else 0.5
        raise OptionError(
            "--threshold must be an exact bin edge in (0, 1): a multiple of 0.01, a multiple "
            "of 1/15, or a dyadic edge such as 0.5, 0.25 or 2**-10",
            f"received --threshold {t!r}",
            f"round it, e.g. --threshold {example!r}",
        ) from None
    if ns.clip is not None and not 0.0 < ns.clip < 0.5:
        raise OptionError(
            "--clip must be a number in (0, 0.5)",
            f"received --clip {ns.clip!r}",
            "write e.g. --clip 1e-7, or leave it out for the exact (unclipped) loss",
        )
    if ns.clip is not None and ns.logit is not None:
        raise OptionError(
            "--clip applies to probabilities (--pred) only",
            f"received --clip {ns.clip!r} together with --logit {ns.logit}",
            "drop --clip (logits need no clipping: the loss from logits is exact)",
        )
    flags = {"--pred": ns.pred, "--logit": ns.logit, "--target": ns.target}
    flags.update({"--weight": ns.weight, "--by": ns.by})
    named = {f: c for f, c in flags.items() if c is not None}
    for flag, col in named.items():
        if not col:
            raise OptionError(f"{flag} must name a column", "received ''", f"write {flag} COL")
    if len(set(named.values())) != len(named):
        raise OptionError(
            "a different column for each of " + ", ".join(named),
            "received " + ", ".join(f"{f} {c}" for f, c in named.items()),
            "name each role's own column",
        )


def _check_report(path: str) -> None:
    """A folder the report can be written to (new, or a previous report), before any work."""
    # optional dependency (pyarrow and matplotlib, the eval extra) and start-up time
    from ..evaluation.report import check_report_dir

    check_dir(path, "--report")
    check_report_dir(path, fname="", name="--report")


def config_from_args(ns: argparse.Namespace) -> Config:
    """The typed configuration; each flag and the report folder are checked here, with a
    message naming the flag."""
    flags.check_engine_flags(ns)
    _check_value_flags(ns)
    delimiter = flags.check_delimiter(ns.delimiter)
    flags.check_positive_label(ns.positive_label)
    recalibration = check_recalibration_flags(ns)
    if ns.report is not None:
        _check_report(ns.report)
    return Config(
        sources=tuple(ns.sources),
        target=ns.target,
        preds=ns.pred,
        logits=ns.logit,
        weight=ns.weight,
        by=ns.by,
        positive_label=ns.positive_label,
        delimiter=delimiter,
        threshold=ns.threshold,
        clip=ns.clip,
        as_json=ns.as_json,
        report=ns.report,
        engine=ns.engine,
        scheduler=ns.scheduler,
        threads=ns.threads,
        workers=ns.workers,
        strict=ns.strict,
        progress=ns.progress,
        recalibration=recalibration,
    )


def run(cfg: Config) -> Any:
    """Evaluate as configured; the progress bar, when shown, is drawn on stderr."""
    # optional dependency (pyarrow, the eval extra) and start-up time
    from ..evaluation import evaluate
    from ..evaluation.row_progress import RowProgressBar
    from ..evaluation.warmup import compile_metric_kernels

    notice = CompileNotice("bcelab eval")
    notice.finish(compile_metric_kernels(notice=notice))  # not counted in the rows/s
    show = sys.stderr.isatty() if cfg.progress is None else cfg.progress
    bar = RowProgressBar(sys.stderr) if show else None
    try:
        return evaluate(
            list(cfg.sources),
            preds=cfg.preds,
            logits=cfg.logits,
            target=cfg.target,
            weight=cfg.weight,
            by=cfg.by,
            positive_label=cfg.positive_label,
            delimiter=cfg.delimiter,
            threshold=cfg.threshold,
            clip=cfg.clip,
            engine=cfg.engine,
            threads=cfg.threads,
            workers=cfg.workers,
            scheduler=cfg.scheduler,
            strict=cfg.strict,
            negative_rate=cfg.recalibration.negative_rate,
            recalibrate=cfg.recalibration.recalibrate,
            fit_on=cfg.recalibration.fit_on,
            progress=bar if bar is not None else False,
        )
    finally:
        if bar is not None:
            bar.close()  # end the bar's line, also when an error follows


def execute(cfg: Config) -> int:
    # optional dependency (pyarrow, the eval extra) and start-up time
    from ..evaluation.text import render

    res = run(cfg)
    save = cfg.recalibration.save_map
    if save is not None and res.recalibration is not None:
        write_json(save, res.recalibration.map_document(res.columns))
        print(f"map: {save}", file=sys.stderr)
    if cfg.report is not None:
        from ..evaluation.report import write_report  # start-up time: only with --report

        written = write_report(res, cfg.report)
        print(f"report: {written['report.html']}", file=sys.stderr)
    if cfg.as_json:
        json.dump(res.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(render(res))
    return 0
