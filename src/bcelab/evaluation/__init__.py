"""Evaluate prediction files of any size: streaming on one machine, or on a Dask cluster.

:func:`evaluate` (:mod:`.evaluate`) checks its options, reads Parquet/CSV in record
batches (:mod:`.reader`), runs one pure task per unit of rows (:mod:`.tasks`) on the
local engine (:mod:`.local_engine`) or on Dask (:mod:`.dask_engine`), merges the
fixed-size states in one fixed tree, and returns an :class:`EvalResult`
(:mod:`.eval_result`).  :mod:`.text` renders it as text, :mod:`.figures` draws it and
:mod:`.report` writes the report folder.

:func:`compare` (:mod:`.compare`) runs the same tasks and engines with a paired
bootstrap state per segment (:mod:`.compare_task`) and returns a
:class:`ComparisonResult` (:mod:`.compare_result`): model A vs model B with intervals
and p-values, as text (:mod:`.compare_text`), figures (:mod:`.compare_figures`) and a
report folder (:mod:`.compare_report`).
"""

from __future__ import annotations

from .compare import compare
from .compare_result import ComparisonResult, SegmentComparison
from .eval_result import EvalResult, Segment
from .evaluate import ENGINES, evaluate

__all__ = [
    "ENGINES",
    "ComparisonResult",
    "EvalResult",
    "Segment",
    "SegmentComparison",
    "compare",
    "evaluate",
]
