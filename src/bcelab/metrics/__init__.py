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

from typing import TYPE_CHECKING

from .._core.lazy import lazy_getattr
from .decomposition import (
    CalibrationDecomposition,
    ScoreDecomposition,
    decompose_binned,
    decompose_stats,
)
from .result import BinaryMetrics
from .stats import BinaryStats

if TYPE_CHECKING:
    from .paired import PairedBootstrapStats
    from .paired_result import PairedComparison
    from .recalibration import (
        DownsamplingMap,
        IsotonicMap,
        PlattMap,
        RecalibrationMap,
        TemperatureMap,
        fit_isotonic,
        load_map,
        reweight_negatives,
    )
    from .scaling import ScalingStats
    from .scaling_fit import ScalingFitter, fit_platt, fit_scaling, fit_temperature

#: start-up time: the paired bootstrap, the recalibration maps and the scaling fits load
#: on first use (an evaluation without recalibration needs none of them)
_LAZY = {
    "PairedBootstrapStats": ".paired",
    "PairedComparison": ".paired_result",
    **dict.fromkeys(
        (
            "DownsamplingMap",
            "IsotonicMap",
            "PlattMap",
            "RecalibrationMap",
            "TemperatureMap",
            "fit_isotonic",
            "load_map",
            "reweight_negatives",
        ),
        ".recalibration",
    ),
    "ScalingStats": ".scaling",
    **dict.fromkeys(
        ("ScalingFitter", "fit_platt", "fit_scaling", "fit_temperature"), ".scaling_fit"
    ),
}

__all__ = [
    "BinaryMetrics",
    "BinaryStats",
    "CalibrationDecomposition",
    "DownsamplingMap",
    "IsotonicMap",
    "PairedBootstrapStats",
    "PairedComparison",
    "PlattMap",
    "RecalibrationMap",
    "ScalingFitter",
    "ScalingStats",
    "ScoreDecomposition",
    "TemperatureMap",
    "decompose_binned",
    "decompose_stats",
    "fit_isotonic",
    "fit_platt",
    "fit_scaling",
    "fit_temperature",
    "load_map",
    "reweight_negatives",
]

__getattr__ = lazy_getattr(__name__, _LAZY)
