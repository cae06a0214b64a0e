r"""``bcelab.evaluation.compare``: is model B better than model A on the same rows, and why?

One streaming pass over the rows, through the same unit tasks and engines as
:func:`bcelab.evaluate`, fills one :class:`bcelab.metrics.PairedBootstrapStats` per
segment: both models' sums and histograms, and every bootstrap replicate at once.
Every option is checked here, at the door, before any file is opened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from .._core.options import (
    check_bool,
    check_positive_int,
    check_seed,
)
from .._core.replicates import MAX_REPLICATES, check_confidence, check_enough_replicates
from .._core.tables import check_delimiter
from ..errors import EmptyReductionError, OptionError
from ..metrics import PairedBootstrapStats
from ..metrics.stats import STRICT_HINT
from .columns import Columns, check_positive_label
from .compare_result import ComparisonResult, SegmentComparison
from .compare_task import PairedAccumulator, file_keys
from .local_engine import ProgressFn, default_threads
from .run_options import check_clip_option, check_engine_options, progress_callable
from .runner import open_runner
from .segment_keys import segment_order
from .sources import Planned, check_source_kind, plan_source, run_planned
from .tasks import Plan, UnitResult
from .warmup import compile_paired_kernels

__all__ = ["MAX_REPLICATES", "compare"]

FNAME = "compare"
#: each replicate adds about 250 kB to every state; 2,000 give p-values down to 0.001
Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any


def compare(
    source: Source,
    *,
    target: str,
    preds: Sequence[str] | None = None,
    logits: Sequence[str] | None = None,
    weight: str | None = None,
    by: str | None = None,
    id: str | None = None,
    positive_label: str | float | bool | None = None,
    replicates: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    clip: float | None = None,
    delimiter: str | None = None,
    engine: str = "local",
    threads: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    strict: bool = False,
    progress: bool | ProgressFn = False,
) -> ComparisonResult:
    r"""Compare model A with model B on the same rows: every metric, B − A, an interval, a p-value.

    ``source`` is anything :func:`bcelab.evaluate` takes (files, folders, tables).  Name
    the two models' columns as a pair, model A first: ``preds=("a", "b")`` for
    probabilities or ``logits=("a", "b")`` for raw scores, and the ``target=`` column.  For each metric (log loss, NE, Brier score,
    calibration, ECE, ROC-AUC, PR-AUC and the log loss's uncertainty, discrimination
    and miscalibration) the result holds A, B, ``diff`` = B − A, the ``confidence``
    interval of the difference (percentile; for discrimination and miscalibration the
    basic interval, which takes off the bias of their isotonic fits) and a two-sided
    p-value, overall and, with ``by=``, per value of that column.

    **Method**: a paired Poisson bootstrap.  In replicate r, row i counts
    :math:`c_{ir} \sim \mathrm{Poisson}(1)` times for *both* models, so the noise the
    two models share cancels in B − A (a paired test: far more powerful than comparing
    two separate intervals).  The weights are a pure function of (``seed``, the row's
    key, r): the key is the row's ``id=`` column, and the answer does not depend on the
    files, their order, the threads or the engine.  Without ``id=`` the key is (file,
    row): the file's path relative to the folder passed and the row's position, the
    same on every run.  ``replicates`` (at most 2,000) sets the resolution of the
    p-value, which is at least 2 / (replicates + 1).

    The other options are those of :func:`bcelab.evaluate` (``clip``: probabilities
    only).  Every option is checked before any data is read.
    """
    label = check_positive_label(positive_label, fname=FNAME)
    cols = _columns(target, preds, logits, weight, by, id, label)
    n_rep, seed_, conf, eps = _stat_options(replicates, seed, confidence, clip, logits)
    strict = check_bool(strict, name="strict", fname=FNAME, hint=STRICT_HINT)
    sep = check_delimiter(delimiter, fname=FNAME)
    engine = check_engine_options(engine, threads, workers, scheduler, fname=FNAME)
    kind = check_source_kind(source, engine, fname=FNAME)
    show, bar = progress_callable(progress, fname=FNAME)
    compile_paired_kernels()
    t0 = time.perf_counter()
    try:
        planned = plan_source(source, kind, cols, sep)
        acc = PairedAccumulator(
            n_rep,
            seed_,
            threads=_unit_threads(engine, threads, planned),
            file_keys=_file_keys(planned, cols),
        )
        plan = Plan(cols, strict=strict, clip=eps, accumulator=acc)
        res = _run(planned, plan, engine, threads, workers, scheduler, show)
    finally:
        if bar is not None:
            bar.close()  # end the bar's line, also when an error follows
    total, segments = _statistics(res, cols, conf)
    return ComparisonResult(
        stats=total,
        comparison=total.compute(confidence=conf),
        segments=segments,
        columns=cols,
        source=planned.labels,
        files=len({u.path for u in planned.units}) if kind == "paths" else 0,
        engine=engine,
        seconds=time.perf_counter() - t0,
    )


def _run(
    planned: Planned,
    plan: Plan,
    engine: str,
    threads: int | None,
    workers: int | None,
    scheduler: Any,
    progress: ProgressFn | None,
) -> UnitResult:
    where = {"threads": threads, "workers": workers, "scheduler": scheduler}
    with open_runner(engine, progress=progress, **where) as runner:
        return run_planned(planned, plan, runner)


def _file_keys(planned: Planned, cols: Columns) -> dict[str, str]:
    """Without ids: each file's key (its relative name); a table's rows are keyed by their
    position alone, so a pyarrow Table, a DataFrame and a dict of the same rows agree."""
    if cols.id is not None:
        return {}
    if planned.kind == "paths":
        return file_keys(planned.labels, planned.units)
    return {name: "table" for name in planned.labels}


def _unit_threads(engine: str, threads: int | None, planned: Planned) -> int:
    """Threads of one unit's ``update``: the cores the units leave idle (1 on Dask).

    The paired state is the same for any number of threads, so this only changes speed.
    """
    if engine == "dask":
        return 1
    total = default_threads() if threads is None else threads
    return max(1, total // min(total, max(1, len(planned.units))))


def _statistics(
    res: UnitResult, cols: Columns, conf: float
) -> tuple[PairedBootstrapStats, tuple[SegmentComparison, ...]]:
    """The merged state of every row, and one comparison per segment (sorted values)."""
    keys = sorted(res.states, key=segment_order)
    states = [res.states[k] for k in keys]
    total = states[0] if len(states) == 1 else PairedBootstrapStats.merge_all(states)
    if cols.by is None:
        return total, ()
    segments = []
    for k, st in zip(keys, states, strict=True):
        try:
            comp = st.compute(confidence=conf)
        except EmptyReductionError:  # a segment without one usable row
            comp = None
        segments.append(SegmentComparison(k, st, comp))
    return total, tuple(segments)


def _pair(value: object, name: str) -> tuple[str, str]:
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(c, str) and c for c in value)
    ):
        a, b = value
        if a == b:
            raise OptionError(
                f"{FNAME}: two different columns for model A and model B",
                f"received {name}=({a!r}, {b!r})",
                "name each model's own prediction column",
            )
        return str(a), str(b)
    raise OptionError(
        f"{FNAME}: {name} must be a pair of column names, model A first",
        f"received {name}={value!r}",
        f"pass e.g. {name}=('model_a', 'model_b')",
    )


def _columns(
    target: object,
    preds: object,
    logits: object,
    weight: object,
    by: object,
    id_: object,
    positive_label: Any,
) -> Columns:
    if (preds is None) == (logits is None):
        raise OptionError(
            f"{FNAME}: exactly one pair of prediction columns: preds=(A, B) (probabilities) "
            "or logits=(A, B) (raw scores)",
            f"received preds={preds!r}, logits={logits!r}",
            "bcelab never guesses whether values are logits; name the columns with the "
            "matching keyword",
        )
    a, b = _pair(preds, "preds") if preds is not None else _pair(logits, "logits")
    roles = {"target": target, "weight": weight, "by": by, "id": id_}
    for name, val in roles.items():
        if (val is not None or name == "target") and not (isinstance(val, str) and val):
            raise OptionError(
                f"{FNAME}: {name} must be a column name",
                f"received {name}={val!r}",
                f"pass {name}='column'",
            )
    names = [c for c in (a, b, target, weight, by, id_) if c is not None]
    if len(set(names)) != len(names):
        raise OptionError(
            f"{FNAME}: distinct columns for the two predictions, the target, weight, by and id",
            f"received {names}",
            "name each role's own column",
        )
    return Columns(
        str(target),
        a,
        logits is not None,
        weight if isinstance(weight, str) else None,
        by if isinstance(by, str) else None,
        positive_label,
        pred_b=b,
        id=id_ if isinstance(id_, str) else None,
    )


def _stat_options(
    replicates: object, seed: object, confidence: object, clip: object, logits: object
) -> tuple[int, int, float, float | None]:
    n_rep = check_positive_int(replicates, name="replicates", fname=FNAME, example=200)
    if n_rep > MAX_REPLICATES:
        raise OptionError(
            f"{FNAME}: replicates must be at most {MAX_REPLICATES:,} (each adds about 250 kB "
            "to every state)",
            f"received replicates={replicates!r}",
            "pass e.g. replicates=200 (p-values down to 0.01) or 2000 (down to 0.001)",
        )
    eps = check_clip_option(clip, logits, fname=FNAME)
    conf = check_confidence(confidence, fname=FNAME)
    check_enough_replicates(n_rep, conf, fname=FNAME)
    return (
        n_rep,
        check_seed(seed, fname=FNAME),
        conf,
        eps,
    )
