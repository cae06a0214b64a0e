"""Mean, standard deviation and a 95% confidence interval over seeds.

.. math::

    \\bar x \\pm t_{0.975,\\,n-1} \\, s / \\sqrt{n}

The Student-t quantiles are tabulated (standard tables, e.g. NIST/SEMATECH e-Handbook
of Statistical Methods, section 1.3.6.7.2) so that no SciPy import is needed; between
table entries the quantile is interpolated linearly in 1/df, which is exact to about
1e-3 for every df.

>>> round(t975(29), 3)
2.045
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["summarise", "t975"]

# df -> t_{0.975, df}  (NIST/SEMATECH e-Handbook, table 1.3.6.7.2)
_T = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    50: 2.009,
    60: 2.000,
    80: 1.990,
    100: 1.984,
}
_Z = 1.959964  # the normal quantile, df -> infinity


def t975(df: int, /) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("df must be >= 1")
    if df in _T:
        return _T[df]
    keys = sorted(_T)
    if df > keys[-1]:
        lo_df, lo, hi_inv, hi = keys[-1], _T[keys[-1]], 0.0, _Z
    else:
        lo_df = max(k for k in keys if k < df)
        hi_df = min(k for k in keys if k > df)
        lo, hi, hi_inv = _T[lo_df], _T[hi_df], 1.0 / hi_df
    f = (1.0 / df - 1.0 / lo_df) / (hi_inv - 1.0 / lo_df)
    return lo + f * (hi - lo)


def summarise(values: Sequence[float] | np.ndarray, /) -> dict[str, Any]:
    """``{"mean", "sd", "ci95": [lo, hi], "n", "values"}``; sd and CI are None for one value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = int(v.size)
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "sd": None, "ci95": None, "n": n, "values": v.tolist()}
    with np.errstate(invalid="ignore"):  # inf - inf: a metric of a caller's may be inf
        sd = float(v.std(ddof=1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return {
        "mean": mean,
        "sd": sd,
        "ci95": [mean - half, mean + half],
        "n": n,
        "values": v.tolist(),
    }
