r"""A seeded example for ``bcelab compare``: two models' predictions on the same rows.

The rows come from a known population: a score :math:`s \sim N(-1, 1.5^2)` and a label
:math:`y \sim \mathrm{Bernoulli}(\sigma(s))`.  Each model sees the score through its
own noise and distortion:

* model A ranks well (noise 0.5) but is over-confident: its logit is
  :math:`1.6\,(s + e_A)`, :math:`e_A \sim N(0, 0.5^2)`;
* model B ranks a little worse (noise 0.6) and is calibrated for that noise: its
  logit is :math:`(s + e_B) / \sqrt{1 + 0.6^2 \pi / 8}`, :math:`e_B \sim N(0, 0.6^2)`.

So B should win on log loss, mostly through calibration, while A keeps the better
ranking.  The file also holds a row id and a ``segment`` column (``"new"`` or
``"returning"``).  Write it with one line:

.. code-block:: console

    python -c "from bcelab.evaluation.example_data import write_two_models; write_two_models('two_models.parquet')"
"""

from __future__ import annotations

import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._core.options import check_positive_int, check_seed

__all__ = ["two_models", "write_two_models"]

FNAME = "write_two_models"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def two_models(rows: int = 20_000, *, seed: int = 0) -> pa.Table:
    """The example rows (see the module docstring) as a ``pyarrow.Table``.

    Columns: ``id`` (int64, distinct, shuffled), ``segment`` (string), ``y`` (0/1),
    ``a`` and ``b`` (the two models' probabilities), all float32 but ``id``.
    """
    n = check_positive_int(rows, name="rows", fname=FNAME, example=20_000)
    rng = np.random.default_rng(check_seed(seed, fname=FNAME))
    s = rng.normal(-1.0, 1.5, n)
    y = rng.random(n) < _sigmoid(s)
    za = 1.6 * (s + rng.normal(0.0, 0.5, n))
    zb = (s + rng.normal(0.0, 0.6, n)) / math.sqrt(1.0 + 0.36 * math.pi / 8.0)
    return pa.table(
        {
            "id": rng.permutation(10 * n)[:n].astype(np.int64),
            "segment": np.where(rng.random(n) < 0.3, "new", "returning"),
            "y": y.astype(np.float32),
            "a": _sigmoid(za).astype(np.float32),
            "b": _sigmoid(zb).astype(np.float32),
        }
    )


def write_two_models(
    path: str | os.PathLike[str], rows: int = 20_000, *, seed: int = 0
) -> os.PathLike[str] | str:
    """Write :func:`two_models` to a Parquet file at ``path``; returns ``path``."""
    pq.write_table(two_models(rows, seed=seed), path)
    return path
