"""The forest plots of a comparison: what each row's annotation says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pytest

from bcelab.evaluation import compare
from bcelab.evaluation.compare_figures import forest

from .compare_data import one_positive

pytest.importorskip("matplotlib")  # forest() draws with it

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _titles(fig: Figure) -> dict[str, str]:
    """Each row's metric (its tick label) and the numbers above it."""
    return {ax.get_yticklabels()[0].get_text(): ax.get_title(loc="right") for ax in fig.axes}


def test_a_metric_without_an_interval_says_so() -> None:
    d = compare(one_positive(), preds=("a", "b"), target="y", replicates=40).to_dict()
    titles = _titles(forest(d))
    assert "no interval" in titles["ROC-AUC"] and "p = " in titles["ROC-AUC"]
    assert "95% CI [" in titles["log loss"] and "no interval" not in titles["log loss"]


def test_a_metric_neither_model_has_gets_no_scale() -> None:
    # rows of one class: NE, calibration and the areas are undefined for both models; their
    # panels drew an axis of +-8e-13 around nothing, as did the all-zero discrimination
    rng = np.random.default_rng(2)
    p = rng.random(200)
    d = compare(
        pa.table({"y": np.zeros(200), "a": p, "b": p / 2}), preds=("a", "b"), target="y"
    ).to_dict()
    fig = forest(d)
    axes = {ax.get_yticklabels()[0].get_text(): ax for ax in fig.axes}
    for name in ("NE", "calibration", "ROC-AUC", "PR-AUC"):
        assert axes[name].get_title(loc="right").startswith("undefined for both models")
        assert list(axes[name].get_xticks()) == []
    assert list(axes["discrimination"].get_xticks()) == [0.0]
    assert len(axes["log loss"].get_xticks()) > 1


def test_a_clear_calibration_difference_is_not_grey() -> None:
    # calibration has no better side of B − A by itself: a clear difference (p = 0.00995)
    # was drawn grey under a title that read "grey = no clear difference", and p as 0.01
    rng = np.random.default_rng(3)
    s = rng.normal(0, 1.5, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-s))).astype(float)
    a, b = 1 / (1 + np.exp(-s)), 1 / (1 + np.exp(-(s + 0.8)))  # B over-predicts
    d = compare(pa.table({"y": y, "a": a, "b": b}), preds=("a", "b"), target="y").to_dict()
    cal = d["metrics"]["calibration"]
    assert cal["ci"][0] > 0 and cal["p_value"] < 0.05
    fig = forest(d)
    ax = next(ax for ax in fig.axes if ax.get_yticklabels()[0].get_text() == "calibration")
    dot = next(line for line in ax.get_lines() if line.get_marker() == "o")
    assert dot.get_color() == "#2471a3"  # blue: differs
    title = ax.get_title(loc="right")
    assert f"p = {cal['p_value']:.3g}" in title and f"A {cal['a']:.3g}, B {cal['b']:.3g}" in title
    assert "blue: differs" in fig.get_suptitle()
