"""Evaluate prediction files of any size: streaming on one machine, or on a Dask cluster.

:func:`evaluate` (:mod:`.evaluate`) checks its options, reads Parquet/CSV in record
batches (:mod:`.reader`) or in-memory tables (:mod:`.tables`), runs one pure task per
unit of rows (:mod:`.tasks`) on the local engine (:mod:`.local_engine`) or on Dask
(:mod:`.dask_engine`), merges the fixed-size states in one fixed tree, and returns an
:class:`EvalResult` (:mod:`.eval_result`).  :mod:`.text` renders it as text,
:mod:`.figures` draws it and :mod:`.report` writes the report folder.

pyarrow (the eval extra) is needed for all of it except :mod:`.warmup`; without it these
names raise :class:`bcelab.errors.MissingDependencyError`, which names the extra.

:func:`compare` (:mod:`.compare`) runs the same tasks and engines with a paired
bootstrap state per segment (:mod:`.compare_task`) and returns a
:class:`ComparisonResult` (:mod:`.compare_result`): model A vs model B with intervals
and p-values, as text (:mod:`.compare_text`), figures (:mod:`.compare_figures`) and a
report folder (:mod:`.compare_report`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_getattr
from ..errors import MissingDependencyError

if TYPE_CHECKING:
    from .compare import compare
    from .compare_result import ComparisonResult, SegmentComparison

__all__ = [
    "ENGINES",
    "ComparisonResult",
    "EvalResult",
    "Segment",
    "SegmentComparison",
    "compare",
    "evaluate",
]

try:
    import pyarrow  # noqa: F401  (optional dependency: the eval extra)
except ImportError:

    def __getattr__(name: str) -> object:
        if name in __all__:
            raise MissingDependencyError(
                "pyarrow for bcelab.evaluate, bcelab.evaluation.compare, bcelab eval and "
                "bcelab compare",
                "it is not installed",
                "pip install 'bcelab[eval]'",
            ) from None
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

else:
    #: start-up time: the paired comparison loads on first use, not with every evaluate
    _LAZY = {
        "compare": ".compare",
        "ComparisonResult": ".compare_result",
        "SegmentComparison": ".compare_result",
    }
    __getattr__ = lazy_getattr(__name__, _LAZY)

    from .eval_result import EvalResult, Segment
    from .evaluate import ENGINES, evaluate
