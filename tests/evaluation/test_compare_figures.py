"""The forest plots of a comparison: what each row's annotation says."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
