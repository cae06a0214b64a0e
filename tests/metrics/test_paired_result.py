"""Differences of the histogram metrics within rounding count as 0.

Two models that rank every row alike (B a monotone map of A) got a PR-AUC difference of
0 with bootstrap replicates of -1.1e-16 and -2.2e-16: an interval that excluded 0, and
p = 0.0498 in a segment of ``--by`` ("A better"), where no pair of rows is ordered
differently.  Each model's metrics come from its own histogram, summed in its own order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bcelab.evaluation import compare
from bcelab.metrics.paired_result import METHOD, ROUNDING_ULPS

RANKING = ("roc_auc", "pr_auc", "discrimination")


def _rows(n: int = 30, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p).astype(np.float64)


@pytest.mark.parametrize("seed", range(3, 12))
def test_a_monotone_map_of_the_same_scores_differs_in_no_ranking_metric(seed: int) -> None:
    # the point estimates are equal (rounding aside); the replicates, from coarser bins
    # in which the two models' scores can fall apart, spread around 0 in some seeds
    p, y = _rows(seed=seed)
    metrics = compare(pa.table({"y": y, "a": p, "b": p**1.3}), preds=("a", "b"), target="y")
    d = metrics.to_dict()["metrics"]
    for name in RANKING:
        lo, hi = d[name]["ci"]
        assert d[name]["diff"] == 0.0 and lo <= 0.0 <= hi and d[name]["p_value"] > 0.5, d[name]
    if seed == 3:  # the replicates too: -1.1e-16 and -2.2e-16 before
        assert all(d[n]["ci"] == [0.0, 0.0] and d[n]["p_value"] == 1.0 for n in RANKING)


def test_the_segment_that_was_called_better_is_not() -> None:
    p, y = _rows()
    rng = np.random.default_rng(3)
    q = rng.random(60)
    table = pa.table(
        {
            "y": np.r_[y, np.zeros(30), np.ones(30)],
            "a": np.r_[p, q],
            "b": np.r_[p, q] ** 1.3,
            "s": ["both"] * 30 + ["zeros"] * 30 + ["ones"] * 30,
        }
    )
    res = compare(table, preds=("a", "b"), target="y", by="s").to_dict()
    both = next(s for s in res["segments"] if s["value"] == "both")["metrics"]["pr_auc"]
    assert both["p_value"] == 1.0 and both["ci"] == [0.0, 0.0]


def test_one_pair_ordered_differently_is_a_difference() -> None:
    # the smallest real change of ranking, one positive and one negative swapped, is far
    # above the rounding tolerance (1 / (positives * negatives) against 64 ulps)
    p, y = _rows(n=200)
    order = np.argsort(p)
    ranked_y = y[order]
    i = next(k for k in range(len(p) - 1) if ranked_y[k] != ranked_y[k + 1])
    b = p.copy()
    b[order[i]], b[order[i + 1]] = p[order[i + 1]], p[order[i]]
    d = compare(pa.table({"y": y, "a": p, "b": b}), preds=("a", "b"), target="y").to_dict()
    roc = d["metrics"]["roc_auc"]["diff"]
    assert abs(roc) == pytest.approx(1 / (y.sum() * (len(y) - y.sum())), rel=1e-9)
    assert abs(roc) > 1e6 * ROUNDING_ULPS * np.finfo(np.float64).eps


def test_the_method_states_the_rule() -> None:
    assert f"{ROUNDING_ULPS} ulps" in METHOD["rounding"]
