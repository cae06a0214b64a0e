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
