"""Evaluate prediction files of any size: streaming on one machine, or on a Dask cluster.

:func:`evaluate` (:mod:`.evaluate`) checks its options, reads Parquet/CSV in record
batches (:mod:`.reader`), runs one pure task per unit of rows (:mod:`.tasks`) on the
local engine (:mod:`.local_engine`) or on Dask (:mod:`.dask_engine`), merges the
fixed-size states in one fixed tree, and returns an :class:`EvalResult`
(:mod:`.eval_result`).  :mod:`.text` renders it as text, :mod:`.figures` draws it and
:mod:`.report` writes the report folder.
"""

from __future__ import annotations

from ..errors import MissingDependencyError

try:
    import pyarrow  # noqa: F401  (optional dependency: the eval extra)
except ImportError:
    raise MissingDependencyError(
        "pyarrow for bcelab.evaluate and bcelab eval",
        "it is not installed",
        "pip install 'bcelab[eval]'",
    ) from None

from .eval_result import EvalResult, Segment
from .evaluate import ENGINES, evaluate

__all__ = ["ENGINES", "EvalResult", "Segment", "evaluate"]
