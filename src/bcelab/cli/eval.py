"""``bcelab eval``: metrics of a prediction file of any size (Parquet or CSV), optionally on Dask."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from ..errors import OptionError

__all__ = ["Config", "add_arguments", "config_from_args", "execute"]


@dataclass(frozen=True)
class Config:
    sources: tuple[str, ...]
    target: str
    pred: str | None = None
    logit: str | None = None
    weight: str | None = None
    by: str | None = None
    threshold: float = 0.5
    clip: float | None = None
    as_json: bool = False
    report: str | None = None
    engine: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    strict: bool = False
    progress: bool | None = None  # None: only when stderr is a terminal


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="Parquet files, CSV files, or folders of them (hive key=value folders)",
    )
    p.add_argument("--target", required=True, metavar="COL", help="target column, values in [0, 1]")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pred", metavar="COL", help="prediction column holding probabilities")
    g.add_argument("--logit", metavar="COL", help="prediction column holding logits (raw scores)")
    p.add_argument("--weight", metavar="COL", help="sample-weight column (>= 0)")
    p.add_argument("--by", metavar="COL", help="one row of metrics per distinct value of COL")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="decision threshold for accuracy/precision/recall/F1 (p >= t is positive)",
    )
    p.add_argument(
        "--clip",
        type=float,
        metavar="EPS",
        help="clip probabilities to [EPS, 1-EPS] (counted in the output); off by default",
    )
    p.add_argument("--json", dest="as_json", action="store_true", help="print JSON on stdout")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write report.html, metrics.json and the figures (PNG) to DIR",
    )
    p.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: this machine's cores (default); dask: a dask.distributed cluster",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="address of a running Dask scheduler (with --engine dask)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (local engine, or the LocalCluster started for dask)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail on NaN predictions or targets outside [0, 1] instead of counting them",
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


def config_from_args(ns: argparse.Namespace) -> Config:
    if ns.scheduler is not None and ns.engine != "dask":
        raise OptionError(
            "--scheduler only with --engine dask",
            f"received --engine {ns.engine}",
            "add --engine dask",
        )
    if ns.scheduler is not None and ns.workers is not None:
        raise OptionError(
            "either --scheduler or --workers",
            "received both",
            "--workers sizes the LocalCluster started when there is no scheduler",
        )
    if ns.workers is not None and ns.workers < 1:
        raise OptionError("--workers >= 1", f"received {ns.workers}", "pass e.g. --workers 2")
    return Config(
        tuple(ns.sources),
        ns.target,
        ns.pred,
        ns.logit,
        ns.weight,
        ns.by,
        ns.threshold,
        ns.clip,
        ns.as_json,
        ns.report,
        ns.engine,
        ns.scheduler,
        ns.workers,
        ns.strict,
        ns.progress,
    )


def run(cfg: Config) -> Any:
    """Evaluate as configured (no printing except the opt-in progress bar on stderr)."""
    from ..evaluation import evaluate

    show = sys.stderr.isatty() if cfg.progress is None else cfg.progress
    return evaluate(
        list(cfg.sources),
        target=cfg.target,
        pred=cfg.pred,
        logit=cfg.logit,
        weight=cfg.weight,
        by=cfg.by,
        threshold=cfg.threshold,
        clip=cfg.clip,
        engine=cfg.engine,
        workers=cfg.workers,
        scheduler=cfg.scheduler,
        strict=cfg.strict,
        progress=show,
    )


def execute(cfg: Config) -> int:
    res = run(cfg)
    if cfg.report is not None:
        from ..evaluation.report import write_report

        written = write_report(res, cfg.report)
        print(f"report: {written['report.html']}", file=sys.stderr)
    if cfg.as_json:
        json.dump(res.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    from ..evaluation.text import render

    print(render(res))
    return 0
