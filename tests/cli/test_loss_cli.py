"""`bcelab loss`: strict JSON, the numbers each framework prints, predictions next to 0 and 1."""

from __future__ import annotations

import json
from decimal import Decimal
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


def _sklearn_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["loss", *args, "--convention", "sklearn"]) == 0
    return capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize(
    ("targets", "preds"),
    [
        ([1.0, 0.0], [0.0, 0.3]),  # clipped at float64's eps: float32's gave 8.149530056923687
        ([1.0, 0.0, 1.0], [0.9, 0.2, 1e-9]),
        ([0.0, 1.0], [1.0, 0.5]),
    ],
)
def test_sklearn_convention_prints_what_scikit_learn_prints(
    capsys: pytest.CaptureFixture[str], targets: list[float], preds: list[float]
) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    expected = metrics.log_loss(targets, preds)
    line = _sklearn_line(
        capsys, "--targets", ",".join(map(repr, targets)), "--preds", ",".join(map(repr, preds))
    )
    assert line.startswith(f"sklearn prints {expected!r} for this mean ("), line
    res = _strict_json(
        capsys,
        "--targets",
        ",".join(map(repr, targets)),
        "--preds",
        ",".join(map(repr, preds)),
        "--convention",
        "sklearn",
    )
    assert res["convention"]["mean"] == expected


def test_sklearn_convention_names_the_labels_it_needs_for_one_class(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    with pytest.raises(ValueError, match="only one label"):
        metrics.log_loss([1.0, 1.0], [0.9, 0.8])
    expected = metrics.log_loss([1.0, 1.0], [0.9, 0.8], labels=[0, 1])
    line = _sklearn_line(capsys, "--targets", "1,1", "--preds", "0.9,0.8")
    assert line.startswith(f"sklearn prints {expected!r} for this mean given labels=[0, 1] ("), line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--targets", "0.3,1", "--preds", "0.4,0.9"],
            "--convention sklearn takes targets of 0 or 1 only: scikit-learn's log_loss refuses "
            "soft targets; received --targets 0.3. leave out --convention",
        ),
        (
            ["--targets", "1,0", "--preds", "0.4,0.9", "--label-smoothing", "0.2"],
            "--convention sklearn has no label smoothing: scikit-learn's log_loss takes none; "
            "received --label-smoothing 0.2. leave out --label-smoothing",
        ),
    ],
)
def test_sklearn_convention_refuses_what_scikit_learn_has_no_number_for(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    # before: "sklearn prints 0.36891283544744613" where log_loss raises ValueError
    metrics = pytest.importorskip("sklearn.metrics")
    with pytest.raises(ValueError):
        metrics.log_loss([0.3, 1.0], [0.4, 0.9])
    assert main(["loss", *args, "--convention", "sklearn"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and "Traceback" not in err
    # the frameworks that take soft targets and label smoothing still print their number
    assert main(["loss", *args, "--convention", "keras"]) == 0
    assert "keras prints " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("typed", "side", "logit"),
    [
        # before: read as 1, "inf" and exit 0 for the BCE of -log(1e-20) = 46.0517
        ("0.99999999999999999999", "closer to 1 than any float64 below 1", "46.0517"),
        ("0.99999999999999995", "closer to 1 than any float64 below 1", "37.5345"),
        ("1e-400", "closer to 0 than any float64 (the smallest is 5e-324)", "-921.034"),
    ],
)
def test_a_probability_float64_rounds_to_0_or_1_is_refused_with_its_logit(
    capsys: pytest.CaptureFixture[str], typed: str, side: str, logit: str
) -> None:
    assert main(["loss", "--targets", "0", "--preds", typed]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert f"--preds: {typed} is {side}" in err and f"received {typed}." in err
    assert f"give that prediction as a logit instead: --logits {logit} for {typed}" in err
    # the logit offered gives the loss that was typed
    res = _strict_json(capsys, "--targets", "1", "--logits", logit)
    p = Decimal(typed)
    assert res["mean"]["bce"] == pytest.approx(float(-p.ln()), rel=1e-5)
    res = _strict_json(capsys, "--targets", "0", "--logits", logit)
    assert res["mean"]["bce"] == pytest.approx(float(-(1 - p).ln()), rel=1e-5)


def test_probabilities_float64_holds_apart_from_0_and_1_are_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the largest float64 below 1, and the nearest decimals that round to it or to 1 itself
    res = _strict_json(
        capsys, "--targets", "0,0,0,1", "--preds", "0.9999999999999999,0.99999999999999994,1,1e-320"
    )
    assert [r["prediction"] for r in res["rows"]] == [1 - 2**-53, 1 - 2**-53, 1.0, 1e-320]
    bces = [r["bce"] for r in res["rows"]]
    assert bces[:2] == [pytest.approx(36.7368005696771)] * 2 and bces[2] is None  # 1 is 1
    assert bces[3] == pytest.approx(736.8272133)  # -log(1e-320)
    # as logits, or as targets, such numbers change nothing shown: read as they round
    assert main(["loss", "--preds", "0.99999999999999999999", "--logits", "--targets", "1"]) == 0
    assert main(["loss", "--preds", "0.5", "--targets", "0.99999999999999999999"]) == 0


@pytest.mark.parametrize("convention", ["keras", "torch"])
def test_logits_beyond_float32_give_the_librarys_number_and_no_warning(
    convention: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # the library receives float32: 1e308 is inf there (a RuntimeWarning leaked before)
    args = ["loss", "--targets", "0,1", "--logits", "-1e308,1e308", "--convention", convention]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert err == "" and f"{convention} prints" in out
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["convention"]["name"] == convention


def test_json_rows_say_the_smoothed_target_and_the_logit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["loss", "--targets", "1,0", "--preds", "0.9,0.2", "--label-smoothing", "0.2", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["label_smoothing"] == 0.2
    assert [r["smoothed_target"] for r in out["rows"]] == [0.9, 0.1]
    assert out["rows"][0]["floor"] == pytest.approx(out["rows"][0]["bce"])  # H(0.9), not H(1)
    assert main(["loss", "--targets", "1,0", "--logits", "-2,40", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["logit"] for r in rows] == [-2.0, 40.0] and "smoothed_target" not in rows[0]


def test_messages_speak_in_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loss", "--targets", "1,0", "--logits", "0,1", "--convention", "sklearn"]) == 2
    err = capsys.readouterr().err
    assert "pass probabilities with --preds" in err and "bcelab.sigmoid" not in err
    assert main(["explain", "--target", "0.3", "--plot", ""]) == 2
    err = capsys.readouterr().err
    assert "an empty name" in err and "is a folder" not in err
