"""Streaming, mergeable evaluation of binary predictions (log loss, NE, calibration, AUC, ...).

>>> import numpy as np
>>> from bcelab.metrics import BinaryStats
>>> a = BinaryStats().update(np.array([0.9, 0.2, 0.6]), [1, 0, 1])
>>> b = BinaryStats().update(np.array([0.4, 0.1]), [0, 0])
>>> m = (a + b).compute()
>>> round(m.log_loss, 6), m.rows, m.roc_auc
(0.291103, 5, 1.0)
"""

from __future__ import annotations

from .paired import PairedBootstrapStats
from .paired_result import PairedComparison
from .result import BinaryMetrics
from .stats import BinaryStats

__all__ = ["BinaryMetrics", "BinaryStats", "PairedBootstrapStats", "PairedComparison"]
