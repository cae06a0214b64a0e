"""`bcelab loss`: strict JSON, the numbers each framework prints, predictions next to 0 and 1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bcelab.cli import main


def _refuse(constant: str) -> Any:
    raise ValueError(f"not strict JSON: {constant}")


def _strict_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["loss", *args, "--json"]) == 0
    res: dict[str, Any] = json.loads(capsys.readouterr().out, parse_constant=_refuse)
    return res


def test_json_is_strict_with_null_for_infinities_and_nan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: "bce": Infinity and "mean": NaN, which strict JSON parsers refuse
    res = _strict_json(capsys, "--targets", "1,0", "--preds", "0,0.5")
    assert res["rows"][0] == {
        "target": 1.0,
        "prediction": 0.0,
        "bce": None,
        "floor": 0.0,
        "excess": None,
    }
    assert res["rows"][1]["bce"] == pytest.approx(0.6931471805599453)
    assert res["mean"] == {"bce": None, "floor": 0.0, "excess": None}
    res = _strict_json(capsys, "--targets", "1", "--logits", "inf", "--convention", "torch")
    assert res["convention"] == {"name": "torch", "mean": None, "printed": "nan"}
    assert res["mean"] == {"bce": 0.0, "floor": 0.0, "excess": 0.0}
