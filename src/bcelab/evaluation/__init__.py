"""Evaluate prediction files of any size: streaming on one machine, or on a Dask cluster.

:func:`evaluate` reads Parquet/CSV in record batches (:mod:`.reader`), runs one pure task
per unit of rows (:mod:`.tasks`) on the local engine (:mod:`.engine`) or on Dask
(:mod:`.dask_engine`), merges the fixed-size states in one fixed tree, and returns an
:class:`EvalResult` (:mod:`.result`); :mod:`.report` writes the HTML report.
"""

from __future__ import annotations

from .api import ENGINES, evaluate
from .result import EvalResult, Segment

__all__ = ["ENGINES", "EvalResult", "Segment", "evaluate"]
