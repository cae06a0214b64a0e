"""How many units the paired bootstrap resamples (``resampling_units``).

Rows that share an id share their Poisson count: a cluster bootstrap, whose intervals
rest on the number of distinct ids.  With one id for every row (or a single row) every
replicate is the same data counted c times; the replicates then show no spread, and an
interval of zero width with p = 0.0167 (one row of 2,000 ids all 0: "A is better") was
what the comparison reported before the unit count existed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bcelab.metrics import PairedBootstrapStats


def _state(n: int, ids: np.ndarray | None, *, seed: int = 0, replicates: int = 200,
           weights: np.ndarray | None = None) -> PairedBootstrapStats:  # fmt: skip
    rng = np.random.default_rng(11 + seed)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(np.float64)
    q = np.clip(p + rng.normal(0.0, 0.05, n), 1e-6, 1 - 1e-6)
    st = PairedBootstrapStats(replicates=replicates, seed=seed)
    return st.update(p, q, y, ids=ids, weights=weights)


@pytest.mark.parametrize(("n", "distinct"), [(2_000, 2_000), (2_000, 20), (2_000, 3), (300, 60)])
def test_the_estimate_is_the_number_of_distinct_ids(n: int, distinct: int) -> None:
    # relative error about sqrt(2 / 200) = 0.1 per seed; the median over seeds is close
    rng = np.random.default_rng(distinct)
    est = [
        _state(n, rng.permutation(n) % distinct, seed=s).compute().resampling_units
        for s in range(15)
    ]
    assert 0.8 * distinct < float(np.median(est)) < 1.25 * distinct
    assert all(0.4 * distinct < e < 2.5 * distinct for e in est)


def test_rows_keyed_by_position_count_exactly_as_kish() -> None:
    # each row is its own unit: (sum w)^2 / sum w^2 from the exact point sums
    n = 3_000
    assert _state(n, None).compute().resampling_units == pytest.approx(n, rel=1e-12)
    w = np.where(np.arange(n) < 100, 100.0, 1.0)
    kish = w.sum() ** 2 / np.square(w).sum()
    assert _state(n, None, weights=w).compute().resampling_units == pytest.approx(kish, rel=1e-12)
    # keyed by unique ids, the same rows are counted from the replicates (about 10%)
    est = [_state(n, np.arange(n), seed=s, weights=w).compute().resampling_units for s in range(9)]
    assert 0.75 * kish < float(np.median(est)) < 1.3 * kish


@pytest.mark.parametrize("case", ["one id", "one row", "one weighted id among zero weights"])
def test_one_unit_gives_no_interval_no_p_value_and_no_se(case: str) -> None:
    n = 1 if case == "one row" else 500
    ids = np.zeros(n, dtype=np.int64)
    w = None
    if case == "one weighted id among zero weights":
        ids = np.arange(n)
        w = np.where(ids == 7, 1.0, 0.0)
    res = _state(n, ids, weights=w).compute()
    assert res.resampling_units == 1.0
    for name, m in res.metrics.items():
        assert all(math.isnan(v) for v in m["ci"]), name
        assert math.isnan(m["p_value"]) and math.isnan(m["se"]), name
    assert math.isfinite(res.metrics["log_loss"]["diff"])
    d = res.to_dict()
    assert d["resampling_units"] == 1.0 and d["metrics"]["log_loss"]["p_value"] is None


def test_two_ids_still_give_intervals() -> None:
    n = 400
    res = _state(n, np.arange(n) % 2).compute()
    assert res.resampling_units < 4
    lo, hi = res.metrics["log_loss"]["ci"]
    assert lo < hi and 0 < res.metrics["log_loss"]["p_value"] <= 1
