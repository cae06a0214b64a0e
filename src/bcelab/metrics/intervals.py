r"""Bootstrap intervals, bootstrap p-values and delta-method standard errors.

For a statistic :math:`\hat\theta` (a difference B - A) and its bootstrap replicates
:math:`\theta^*_1, \dots, \theta^*_R`:

* **percentile interval** at confidence :math:`1 - \alpha`: the order statistics
  :math:`\theta^*_{(m)}` and :math:`\theta^*_{(R + 1 - m)}` of the sorted replicates, with
  :math:`m = \lfloor (R + 1)\,\alpha / 2 \rfloor` (Davison & Hinkley, 1997, section
  5.2.2: the :math:`(R + 1)\alpha/2`-th of :math:`R` replicates; :math:`m = 5` of 199 at
  95%).  With :math:`m = 0` (fewer than :math:`2/\alpha - 1` replicates) the tails hold no
  replicate and the interval is :math:`(-\infty, \infty)`;
* **two-sided p-value** of :math:`\theta = 0`:

  .. math::

      p = \min\Bigl(1,\ \frac{2 \min\bigl(1 + \#\{\theta^*_r \le 0\},\
          1 + \#\{\theta^*_r \ge 0\}\bigr)}{R + 1}\Bigr),

  the bootstrap proportion on the far side of 0, doubled, with the +1 correction of
  Davison & Hinkley, so that :math:`p \ge 2 / (R + 1)`.  The two agree exactly:
  :math:`p \le \alpha` if and only if 0 lies outside the :math:`1 - \alpha` percentile
  interval (with :math:`k` replicates at or below 0, the lower end
  :math:`\theta^*_{(m)}` is above 0 exactly when :math:`k < m`, that is when
  :math:`2 (1 + k) \le (R + 1) \alpha`; the upper end likewise);
* **delta method**: for :math:`\theta = g(S)` with :math:`S` a vector of totals over
  i.i.d. rows, :math:`\mathrm{SE} = \sqrt{\nabla g^\top \Sigma\, \nabla g}` with
  :math:`\Sigma = \sum_i (x_i - \bar x)(x_i - \bar x)^\top` the rows' scatter matrix.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bootstrap_p_value", "delta_se", "percentile_interval", "tail_rank"]


def tail_rank(replicates: int, confidence: float) -> int:
    """``m``, the rank of the percentile interval's lower end among ``replicates`` sorted
    replicates (see the module docstring); 0 when the tails hold no replicate."""
    # 1 - confidence rounds (1 - 0.95 = 0.05000000000000004): a rank that is an integer
    # in exact arithmetic must not fall just below it
    return math.floor((replicates + 1) * (1.0 - confidence) / 2.0 * (1.0 + 1e-9))


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the finite replicates (NaN, NaN when there are none)."""
    v = np.asarray(replicates, dtype=np.float64)
    v = np.sort(v[np.isfinite(v)])
    if v.size == 0:
        return math.nan, math.nan
    m = tail_rank(v.size, confidence)
    if m < 1:
        return -math.inf, math.inf
    return float(v[m - 1]), float(v[v.size - m])


def bootstrap_p_value(replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value of ``theta = 0`` (see the module docstring); NaN if none."""
    v = np.asarray(replicates, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan
    below = int(np.count_nonzero(v <= 0))
    above = int(np.count_nonzero(v >= 0))
    return min(1.0, 2.0 * min(1 + below, 1 + above) / (v.size + 1))


def delta_se(grad: np.ndarray, scatter: np.ndarray, magnitude: np.ndarray | None = None) -> float:
    """``sqrt(grad' scatter grad)``; NaN when undefined or negative.

    ``magnitude`` (entrywise at least ``|scatter|``: the sizes of the terms whose
    difference the scatter is) bounds its rounding: a variance within 16 ulps of
    ``|grad|' magnitude |grad|`` of zero, either side, cannot be told from zero (a
    constant model, or two that differ by a constant) and gives 0.
    """
    g = np.asarray(grad, dtype=np.float64)
    var = float(g @ scatter @ g)
    if not math.isfinite(var):
        return math.nan
    if magnitude is not None:
        a = np.abs(g)
        var = 0.0 if abs(var) <= 16 * np.finfo(np.float64).eps * float(a @ magnitude @ a) else var
    return math.sqrt(var) if var >= 0 else math.nan
