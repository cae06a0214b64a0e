"""``bcelab compare``: is model B better than model A on the same rows, by how much, and why?

Two prediction columns of the same file(s), one paired bootstrap pass: per metric A, B,
B − A, its interval and a p-value, a verdict, and the share of the log-loss difference
that is ranking (discrimination) or calibration.  Every flag and the ``--report``
folder are checked before any data is read.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Any

from .._core.display import count_of
from .._core.replicates import MAX_REPLICATES, fewest_replicates, highest_confidence
from ..errors import OptionError
from .flags import (
    add_engine_arguments,
    add_target_arguments,
    check_delimiter,
    check_engine_flags,
    check_positive,
    check_positive_label,
    check_seed,
)
from .numbers import number, whole_number
from .output import check_dir
from .warmup import CompileNotice

__all__ = [
    "REPEATABLE_FLAGS",
    "VALUE_FLAGS",
    "Config",
    "add_arguments",
    "config_from_args",
    "execute",
    "run",
]

#: flags whose value may start with a minus sign (``--positive-label -1``)
VALUE_FLAGS = ("--positive-label", "--clip", "--confidence")
#: flags given once per value (``--pred a --pred b``)
REPEATABLE_FLAGS = ("--pred", "--logit")


@dataclass(frozen=True)
class Config:
    sources: tuple[str, ...]
    target: str
    preds: tuple[str, str] | None = None  # the two columns, from --pred A --pred B
    logits: tuple[str, str] | None = None  # the two columns, from --logit A --logit B
    weight: str | None = None
    by: str | None = None
    id: str | None = None
    positive_label: str | None = None
    delimiter: str | None = None
    replicates: int = 200
    seed: int = 0
    confidence: float = 0.95
    clip: float | None = None
    as_json: bool = False
    report: str | None = None
    engine: str = "local"
    scheduler: str | None = None
    threads: int | None = None
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
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument(
        "--pred",
        action="append",
        metavar="COL",
        help="give twice, model A first: the two models' probability columns",
    )
    g.add_argument(
        "--logit",
        action="append",
        metavar="COL",
        help="give twice, model A first: the two models' logit (raw score) columns",
    )
    add_target_arguments(p, by_help="one comparison per distinct value of COL")
    p.add_argument(
        "--id",
        metavar="COL",
        help="row id column (integers or text): keys each row's bootstrap weights, so the "
        "answer does not depend on files or their order (default: file and row)",
    )
    p.add_argument(
        "--replicates",
        type=whole_number,
        default=200,
        metavar="R",
        help=f"bootstrap replicates (default 200, at most {MAX_REPLICATES:,})",
    )
    p.add_argument(
        "--seed", type=whole_number, default=0, help="seed of the bootstrap weights (default 0)"
    )
    p.add_argument(
        "--confidence",
        type=number,
        default=0.95,
        metavar="LEVEL",
        help="confidence level of the intervals (default 0.95)",
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
        help="write report.html, comparison.json and forest plots (PNG) to DIR (a new "
        "folder, or a previous comparison report, which is replaced whole)",
    )
    add_engine_arguments(p)


def _pair(values: list[str] | None, flag: str) -> tuple[str, str] | None:
    if values is None:
        return None
    if len(values) != 2:
        raise OptionError(
            f"{flag} twice: model A's column, then model B's",
            f"received {flag} {count_of(len(values), 'time')}: {values}",
            f"write e.g. {flag} model_a {flag} model_b",
        )
    if not all(values):
        raise OptionError(f"{flag} must name a column", "received ''", f"write {flag} COL")
    if values[0] == values[1]:
        raise OptionError(
            f"two different columns for model A and model B ({flag})",
            f"received {flag} {values[0]} twice",
            "name each model's own column",
        )
    return values[0], values[1]


def _check_columns(ns: argparse.Namespace, pair: tuple[str, str]) -> None:
    kind = "--pred" if ns.pred is not None else "--logit"
    named = {f"{kind} (A)": pair[0], f"{kind} (B)": pair[1], "--target": ns.target}
    named.update({f: c for f, c in (("--weight", ns.weight), ("--by", ns.by), ("--id", ns.id))})
    named = {f: c for f, c in named.items() if c is not None}
    for flag, col in named.items():
        if not col:
            raise OptionError(f"{flag} must name a column", "received ''", f"write {flag} COL")
    if len(set(named.values())) != len(named):
        raise OptionError(
            "a different column for each of " + ", ".join(named),
            "received " + ", ".join(f"{f} {c}" for f, c in named.items()),
            "name each role's own column",
        )


def _check_statistics(ns: argparse.Namespace) -> None:
    check_positive(ns.replicates, "--replicates", 200)
    if ns.replicates > MAX_REPLICATES:
        raise OptionError(
            f"--replicates at most {MAX_REPLICATES:,} (each adds about 250 kB to every state)",
            f"received --replicates {ns.replicates}",
            "write e.g. --replicates 200 (p-values down to 0.01) or 2000 (down to 0.001)",
        )
    check_seed(ns.seed)
    if not (math.isfinite(ns.confidence) and 0.0 < ns.confidence < 1.0):
        raise OptionError(
            "--confidence must be a number strictly between 0 and 1",
            f"received --confidence {ns.confidence!r}",
            "write e.g. --confidence 0.95",
        )
    need = fewest_replicates(ns.confidence)
    if ns.replicates < need:
        top = highest_confidence(ns.replicates)
        fixes = [f"--replicates {max(need, 200)}"] if need <= MAX_REPLICATES else []
        fixes += [f"--confidence {top} or lower"] if top > 0 else []
        fix = "write " + (
            ", or ".join(fixes)
            or f"--replicates {MAX_REPLICATES} --confidence {highest_confidence(MAX_REPLICATES)}"
        )
        raise OptionError(
            f"--replicates at least {need:,} for --confidence {ns.confidence:g} (with fewer, "
            "an interval's tail holds no whole replicate, and no p-value can fall below "
            "1 - confidence)",
            f"received --replicates {ns.replicates}",
            fix,
        )
    if ns.clip is not None and not 0.0 < ns.clip < 0.5:
        raise OptionError(
            "--clip must be a number in (0, 0.5)",
            f"received --clip {ns.clip!r}",
            "write e.g. --clip 1e-7, or leave it out for the exact (unclipped) loss",
        )
    if ns.clip is not None and ns.logit is not None:
        raise OptionError(
            "--clip only with --pred (probabilities)",
            "received --clip with --logit",
            "drop --clip: the loss from logits is exact without it",
        )


def config_from_args(ns: argparse.Namespace) -> Config:
    """The typed configuration; each flag and the report folder are checked here, with a
    message naming the flag."""
    check_engine_flags(ns)
    preds, logits = _pair(ns.pred, "--pred"), _pair(ns.logit, "--logit")
    pair = preds if preds is not None else logits
    assert pair is not None  # argparse requires one of the two flags
    _check_columns(ns, pair)
    _check_statistics(ns)
    delimiter = check_delimiter(ns.delimiter)
    check_positive_label(ns.positive_label)
    if ns.report is not None:
        # optional dependency (pyarrow and matplotlib, the eval extra) and start-up time
        from ..evaluation.compare_report import check_report_dir

        check_dir(ns.report, "--report")
        check_report_dir(ns.report, fname="", name="--report")
    return Config(
        sources=tuple(ns.sources),
        target=ns.target,
        preds=preds,
        logits=logits,
        weight=ns.weight,
        by=ns.by,
        id=ns.id,
        positive_label=ns.positive_label,
        delimiter=delimiter,
        replicates=ns.replicates,
        seed=ns.seed,
        confidence=ns.confidence,
        clip=ns.clip,
        as_json=ns.as_json,
        report=ns.report,
        engine=ns.engine,
        scheduler=ns.scheduler,
        threads=ns.threads,
        workers=ns.workers,
        strict=ns.strict,
        progress=ns.progress,
    )


def run(cfg: Config) -> Any:
    """Compare as configured; the progress bar, when shown, is drawn on stderr."""
    # optional dependency (pyarrow, the eval extra) and start-up time
    from ..evaluation import compare
    from ..evaluation.row_progress import RowProgressBar
    from ..evaluation.warmup import compile_paired_kernels

    notice = CompileNotice("bcelab compare", not_counted_in="the time")
    notice.finish(compile_paired_kernels(notice=notice))
    show = sys.stderr.isatty() if cfg.progress is None else cfg.progress
    bar = RowProgressBar(sys.stderr) if show else None
    try:
        return compare(
            list(cfg.sources),
            target=cfg.target,
            preds=cfg.preds,
            logits=cfg.logits,
            weight=cfg.weight,
            by=cfg.by,
            id=cfg.id,
            positive_label=cfg.positive_label,
            delimiter=cfg.delimiter,
            replicates=cfg.replicates,
            seed=cfg.seed,
            confidence=cfg.confidence,
            engine=cfg.engine,
            threads=cfg.threads,
            workers=cfg.workers,
            scheduler=cfg.scheduler,
            clip=cfg.clip,
            strict=cfg.strict,
            progress=bar if bar is not None else False,
        )
    finally:
        if bar is not None:
            bar.close()  # end the bar's line, also when an error follows


def execute(cfg: Config) -> int:
    # optional dependency (pyarrow and matplotlib, the eval extra) and start-up time
    from ..evaluation.compare_report import write_comparison_report
    from ..evaluation.compare_text import render_comparison

    res = run(cfg)
    if cfg.report is not None:
        written = write_comparison_report(res, cfg.report)
        print(f"report: {written['report.html']}", file=sys.stderr)
    if cfg.as_json:
        json.dump(res.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(render_comparison(res, id_hint="--id COL"))
    return 0
