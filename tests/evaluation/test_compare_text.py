"""The text of a comparison: the note under the verdict when an estimate lies outside
its own interval."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from bcelab.evaluation import compare
from bcelab.evaluation.compare_text import render_comparison


def _table(constant_a: bool, rows: int = 1_000) -> pa.Table:
    """Model B sees the score with noise; model A is a constant near the base rate (0.334)
    or a noisier view of the same score."""
    rng = np.random.default_rng(5)
    s = rng.normal(-1.0, 1.5, rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-s))).astype(np.float64)
    good = 1 / (1 + np.exp(-(s + rng.normal(0, 0.5, rows))))
    other = np.full(rows, 0.33) if constant_a else 1 / (1 + np.exp(-(s + rng.normal(0, 0.8, rows))))
    return pa.table({"y": y, "a": other, "b": good})


def test_a_constant_model_gets_the_note_on_its_biased_parts() -> None:
    res = compare(_table(constant_a=True), preds=("a", "b"), target="y")
    m = res.to_dict()["metrics"]["miscalibration"]
    lo, hi = m["ci"]
    assert not lo <= m["diff"] <= hi  # the bias of B's isotonic fit, taken off
    text = render_comparison(res)
    assert "miscalibration: the estimate lies outside its interval" in text
    assert "basic for discrimination and miscalibration" in text


def test_two_real_models_get_no_note() -> None:
    res = compare(_table(constant_a=False), preds=("a", "b"), target="y")
    for m in res.to_dict()["metrics"].values():
        lo, hi = m["ci"]
        assert lo <= m["diff"] <= hi
    assert "outside its interval" not in render_comparison(res)
