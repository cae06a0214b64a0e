"""The verdict of a comparison and the example data behind the docs."""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.errors import OptionError
from bcelab.evaluation.compare_result import verdict
from bcelab.evaluation.example_data import two_models


def _m(diff: float, lo: float, hi: float, p: float = 0.01) -> dict[str, object]:
    return {"diff": diff, "ci": [lo, hi], "p_value": p}


def _metrics(ll: dict[str, object], dsc: float, mcb: float) -> dict[str, dict[str, object]]:
    return {"log_loss": ll, "discrimination": _m(dsc, 0, 0), "miscalibration": _m(mcb, 0, 0)}


def test_b_better_mainly_discrimination() -> None:
    v = verdict(_metrics(_m(-0.012, -0.015, -0.009), dsc=0.010, mcb=-0.002), 0.95)
    assert v["better"] == "B" and v["mainly"] == "discrimination"
    assert v["text"].startswith("B is better than A in log loss by 0.012 (B − A = -0.012, 95% CI")
    assert "-0.01 from ranking" in v["why"] and "-0.002 from calibration" in v["why"]


def test_a_better_mainly_miscalibration() -> None:
    v = verdict(_metrics(_m(0.03, 0.02, 0.04, 0.02), dsc=-0.005, mcb=0.025), 0.9)
    assert v["better"] == "A" and v["mainly"] == "miscalibration"
    assert v["text"].startswith("A is better than B in log loss by 0.03") and "90% CI" in v["text"]


def test_interval_with_zero_is_no_clear_difference() -> None:
    v = verdict(_metrics(_m(-0.001, -0.003, 0.0005, 0.4), dsc=0.0008, mcb=-0.0002), 0.95)
    assert v["better"] is None
    assert v["text"].startswith("No clear difference in log loss")
    assert "includes 0" in v["text"]


def test_identical_models_name_no_main_part() -> None:
    v = verdict(_metrics(_m(0.0, 0.0, 0.0, 1.0), dsc=0.0, mcb=0.0), 0.95)
    assert v["better"] is None and v["mainly"] is None
    assert v["why"] == "Neither part differs: the models rank and calibrate these rows alike."


def test_undefined_difference_gives_no_verdict() -> None:
    v = verdict(_metrics(_m(None, None, None, None), dsc=0.0, mcb=0.0), 0.95)  # type: ignore[arg-type]
    assert v["better"] is None and v["text"] == ""


def test_example_data_is_seeded() -> None:
    a, b = two_models(500, seed=2), two_models(500, seed=2)
    assert a.equals(b) and not a.equals(two_models(500, seed=3))
    assert a.column_names == ["id", "segment", "y", "a", "b"]
    assert len(np.unique(a["id"].to_numpy())) == 500
    with pytest.raises(OptionError, match="rows must be an integer >= 1"):
        two_models(0)
