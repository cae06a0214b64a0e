"""Recalibration maps: Platt and temperature fits, isotonic and downsampling maps, JSON.

Reference for Platt: the logistic regression of y on logit(p), fitted in memory by
``scipy.optimize.minimize`` (BFGS, analytic gradient, gtol 1e-13), whose log loss
agrees with scikit-learn's ``LogisticRegression(C=inf)`` to 1e-15 on hard labels.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize

from bcelab._core.options import check_recalibration
from bcelab.errors import DataError, DomainError, EmptyReductionError, OptionError
from bcelab.metrics import BinaryStats
from bcelab.metrics.recalibration import (
    DownsamplingMap,
    IsotonicMap,
    PlattMap,
    TemperatureMap,
    fit_isotonic,
    load_map,
    reweight_negatives,
)
from bcelab.metrics.scaling import ScalingStats
from bcelab.metrics.scaling_fit import ScalingFitter, fit_platt, fit_scaling, fit_temperature


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _loss(a: float, b: float, z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    t = a * z + b
    return math.fsum(w * (y * np.logaddexp(0, -t) + (1 - y) * np.logaddexp(0, t))) / math.fsum(w)


def _reference_fit(z: np.ndarray, y: np.ndarray, w: np.ndarray, *, platt: bool) -> float:
    """Log loss at the in-memory optimum (Platt: a, b; temperature: a only)."""

    def jac(th: np.ndarray) -> np.ndarray:
        a, b = (th[0], th[1]) if platt else (th[0], 0.0)
        g = w * (_sig(a * z + b) - y)
        full = np.array([np.sum(g * z), np.sum(g)]) / np.sum(w)
        return full if platt else full[:1]

    def fun(th: np.ndarray) -> float:
        return _loss(th[0], th[1] if platt else 0.0, z, y, w)

    x0 = [1.0, 0.0] if platt else [1.0]
    res = minimize(fun, x0, jac=jac, method="BFGS", options={"gtol": 1e-13, "maxiter": 500})
    return float(res.fun)


def _data(kind: str, n: int = 30_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n) * 1.5
    y = (rng.random(n) < _sig(s)).astype(np.float64)
    w = None
    if kind == "weighted":
        w = rng.exponential(size=n)
    elif kind == "soft":
        y = _sig(s + rng.normal(size=n))
    elif kind == "rare":
        s = s - 4.0
        y = (rng.random(n) < _sig(s)).astype(np.float64)
    p = _sig(1.7 * s + 0.3)  # over-confident and shifted
    return p, y, w


@pytest.mark.parametrize("kind", ["hard", "weighted", "soft", "rare"])
def test_platt_matches_logistic_regression_and_calibrates(kind: str) -> None:
    p, y, w = _data(kind)
    ww = np.ones_like(p) if w is None else w
    m = fit_platt(p, y, weights=w)
    z = np.log(p) - np.log1p(-p)
    assert _loss(m.a, m.b, z, y, ww) - _reference_fit(z, y, ww, platt=True) <= 1e-7
    assert abs(_loss(m.a, m.b, z, y, ww) - _reference_fit(z, y, ww, platt=True)) <= 1e-12
    q = m.apply(p)
    assert math.fsum(ww * q) / math.fsum(ww * y) == pytest.approx(1.0, abs=1e-6)
    # the same fit from logits
    m2 = fit_platt(z, y, weights=w, logits=True)
    assert m2.a == pytest.approx(m.a, rel=1e-10) and m2.b == pytest.approx(m.b, abs=1e-10)
    np.testing.assert_allclose(m.apply(z, logits=True), q, rtol=1e-12)


@pytest.mark.parametrize("kind", ["hard", "weighted", "soft"])
def test_temperature_matches_the_in_memory_optimum(kind: str) -> None:
    p, y, w = _data(kind, seed=1)
    ww = np.ones_like(p) if w is None else w
    m = fit_temperature(p, y, weights=w)
    z = np.log(p) - np.log1p(-p)
    assert (
        abs(_loss(1.0 / m.temperature, 0.0, z, y, ww) - _reference_fit(z, y, ww, platt=False))
        <= 1e-12
    )
    np.testing.assert_allclose(m.apply(p), _sig(z / m.temperature), rtol=1e-12)


def test_streaming_passes_with_merges_equal_the_in_memory_fit() -> None:
    p, y, w = _data("weighted", n=30_000, seed=2)
    parts = np.array_split(np.arange(p.size), 7)

    def run_pass(stats: ScalingStats) -> ScalingStats:
        for idx in parts:  # one "worker" per part, merged at the end
            stats.merge(ScalingStats(stats.a, stats.b).update(p[idx], y[idx], weights=w[idx]))
        return stats

    fitter = ScalingFitter("platt")
    while not fitter.done:
        fitter.step(run_pass(fitter.new_stats()))
    streamed = fitter.result()
    assert fitter.converged and fitter.passes <= 12
    whole = fit_platt(p, y, weights=w)
    assert isinstance(streamed, PlattMap)
    assert streamed.a == pytest.approx(whole.a, rel=1e-10)
    assert streamed.b == pytest.approx(whole.b, rel=1e-10, abs=1e-12)
    t_streamed = fit_scaling(run_pass, method="temperature")
    assert isinstance(t_streamed, TemperatureMap)
    t_whole = fit_temperature(p, y, weights=w).temperature
    assert t_streamed.temperature == pytest.approx(t_whole, rel=1e-10)


def test_rows_at_zero_and_one_keep_their_prediction() -> None:
    p, y, _ = _data("hard", n=5000, seed=3)
    p2 = np.concatenate([p, [0.0, 1.0, 1.0, 0.0]])
    y2 = np.concatenate([y, [0.0, 1.0, 1.0, 1.0]])  # the last one is wrong: infinite loss
    stats = ScalingStats().update(p2, y2)
    assert stats.infinite_rows == 4 and stats.infinite_loss and math.isfinite(stats.loss)
    m = fit_platt(p2, y2)
    assert m == fit_platt(p, y)  # the rows at 0 and 1 do not move the fit
    out = m.apply(np.array([0.0, 1.0, np.nan, 0.5]))
    assert out[0] == 0.0 and out[1] == 1.0 and math.isnan(out[2])
    t = fit_temperature(p2, y2)
    assert t.apply(np.array([0.0, 1.0])).tolist() == [0.0, 1.0]
    flipped = PlattMap(-2.0, 0.5).apply(np.array([0.0, 1.0]))
    assert flipped.tolist() == [1.0, 0.0]
    assert PlattMap(0.0, 0.0).apply(np.array([0.0, 1.0])).tolist() == [0.5, 0.5]


def test_excluded_rows_are_counted() -> None:
    s = ScalingStats().update(np.array([0.2, np.nan, 0.7]), np.array([0.0, 1.0, 2.0]))
    assert (s.rows, s.excluded_rows) == (3, 2)
    assert s.total("w") == 1.0


def test_fit_errors() -> None:
    p = np.linspace(0.1, 0.9, 50)
    with pytest.raises(DataError, match="both classes"):
        fit_platt(p, np.zeros(50))
    with pytest.raises(DataError, match="temperature"):
        fit_temperature(p, (p < 0.5).astype(float))  # ranks backwards
    with pytest.raises(OptionError, match="method"):
        ScalingFitter("isotonic")
    with pytest.raises(DomainError, match="logits=True"):
        fit_platt(np.array([1.5, 0.2]), np.array([1.0, 0.0]))
    with pytest.raises(DomainError, match="weights"):
        ScalingStats().update(p, p > 0.5, weights=-np.ones(50))
    a, b = ScalingStats(1.0, 0.0), ScalingStats(2.0, 0.0)
    with pytest.raises(OptionError, match="same parameters"):
        a.merge(b)
    fitter = ScalingFitter()
    with pytest.raises(OptionError, match="new_stats"):
        fitter.step(ScalingStats(3.0, 1.0))


def test_separable_labels_do_not_converge() -> None:
    p = np.linspace(0.05, 0.95, 100)
    with pytest.raises(DataError, match="converge"):
        fit_platt(p, (p > 0.5).astype(float), max_passes=8)


@pytest.mark.parametrize("fit", [fit_platt, fit_temperature])
def test_separated_classes_are_named_not_fitted(fit: Any) -> None:
    # temperature scaling returned T = 0.0115 here: its Newton steps stopped where the
    # vanishing loss rounded away, at a map that is only a stage on the way to a step
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.5).astype(float)
    p = np.where(y == 1, 0.6, 0.4)
    with pytest.raises(
        DataError, match=r"separate the classes: the loss fell from 0.511 to .*isotonic"
    ):
        fit(p, y)
    p[0] = 0.7 if y[0] == 0 else 0.3  # one row on the wrong side: a finite best map
    assert np.isfinite(list(fit(p, y).params.values())).all()


@pytest.mark.parametrize("value", [0.3, 0.5, 0.9])
def test_platt_of_one_prediction_is_the_best_map_closest_to_the_identity(value: float) -> None:
    # every (a, b) on the line a z + b = logit(rate) fits; the least-squares Newton steps
    # from (1, 0) end at that line's point nearest the identity
    y = (np.arange(400) % 4 == 0).astype(float)
    m = fit_platt(np.full(400, value), y)
    z, target = math.log(value / (1 - value)), math.log(0.25 / 0.75)
    t = (target - z) / (z * z + 1.0)
    assert m.params["a"] == pytest.approx(1.0 + t * z, abs=1e-9)
    assert m.params["b"] == pytest.approx(t, abs=1e-9)
    assert float(m.apply(np.array([value]))[0]) == pytest.approx(0.25, rel=1e-9)


def test_isotonic_map_is_the_binned_fit() -> None:
    p, y, _ = _data("hard", n=20_000, seed=4)
    stats = BinaryStats().update(p, y)
    m = fit_isotonic(stats)
    q = m.apply(p)
    assert np.all(np.diff(q[np.argsort(p)]) >= 0)
    # every fine bin maps to one value, the pooled rate of its block
    h = stats.histogram()
    b = np.searchsorted(h["edges"], p, side="right") - 1
    for i in np.unique(b)[:50]:
        assert np.unique(q[b == i]).size == 1
    assert float(np.sum(q)) == pytest.approx(float(np.sum(y)), rel=1e-12)  # calibrated
    np.testing.assert_array_equal(m.apply(np.log(p) - np.log1p(-p), logits=True), q)
    assert math.isnan(m.apply(np.array([np.nan]))[0])
    with pytest.raises(EmptyReductionError, match="fit_isotonic"):
        fit_isotonic(BinaryStats())
    assert check_recalibration("isotonic", fname="f") == "isotonic"
    with pytest.raises(OptionError, match="method must be one of"):
        check_recalibration("spline", fname="f")


def test_downsampling_map_and_weights() -> None:
    m = DownsamplingMap(0.1)
    p = np.array([0.0, 0.01, 0.5, 0.9, 1.0])
    q = m.apply(p)
    np.testing.assert_allclose(q, p / (p + (1 - p) / 0.1), rtol=1e-15)
    z = np.log(p[1:-1]) - np.log1p(-p[1:-1])
    np.testing.assert_allclose(m.apply(z, logits=True), q[1:-1], rtol=1e-13)
    np.testing.assert_array_equal(DownsamplingMap(1.0).apply(p), p)
    for bad in (0.0, 1.5, -0.1, "x"):
        with pytest.raises(OptionError, match="negative_rate"):
            DownsamplingMap(bad)  # type: ignore[arg-type]


def test_reweight_negatives_equals_an_explicit_weight_column() -> None:
    p, y, w = _data("weighted", n=20_000, seed=5)
    rate = 0.07
    y2, w2 = reweight_negatives(y, w, negative_rate=rate)
    explicit = np.where(y == 0, w * (1 / rate), w)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_allclose(w2, explicit, rtol=1e-12)
    a = BinaryStats().update(p, y2, weights=w2).compute().to_dict()
    b = BinaryStats().update(p, y, weights=explicit).compute().to_dict()
    for key, va in a.items():
        if isinstance(va, float):
            assert va == pytest.approx(b[key], rel=1e-12, abs=1e-15), key


def test_reweight_negatives_with_soft_labels_splits_the_mass() -> None:
    p, y, _ = _data("soft", n=10_000, seed=6)
    rate = 0.25
    y2, w2 = reweight_negatives(y, None, negative_rate=rate)
    # explicit split: a positive row of weight y and a negative row of weight (1 - y)/W
    pp = np.concatenate([p, p])
    yy = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    ww = np.concatenate([y, (1 - y) / rate])
    a = BinaryStats().update(p, y2, weights=w2).compute()
    b = BinaryStats().update(pp, yy, weights=ww).compute()
    for key in ("log_loss", "base_rate", "ne", "calibration", "roc_auc", "weight_total"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-12), key
    y3, w3 = reweight_negatives(
        np.array([np.nan, 2.0, np.inf, 0.5]), [1, 1, 1, 1], negative_rate=rate
    )
    assert math.isnan(y3[0]) and y3[1:3].tolist() == [2.0, np.inf]
    assert w3[:3].tolist() == [1.0, 1.0, 1.0]
    assert w3[3] == pytest.approx(0.5 + 0.5 / rate) and y3[3] == pytest.approx(0.5 / w3[3])


@pytest.mark.parametrize(
    "m",
    [
        PlattMap(0.7, -0.2),
        TemperatureMap(1.8),
        DownsamplingMap(0.05),
        IsotonicMap([0.0, 0.2, 0.6, 1.0], [0.05, 0.3, 0.9]),
    ],
)
def test_maps_round_trip_through_json(m, tmp_path) -> None:
    path = m.save(tmp_path / "map.json")
    d = json.loads(path.read_text())
    assert d["method"] == m.method and d["version"] == 1 and "params" in d
    back = load_map(path)
    p = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(back.apply(p), m.apply(p))
    assert load_map(m.to_dict()).to_dict() == m.to_dict()


def test_load_map_rejects_bad_input(tmp_path) -> None:
    cases = [
        ({"method": "magic", "version": 1, "params": {}}, "method must be one of"),
        ({"method": "platt", "version": 9, "params": {"a": 1, "b": 0}}, "version"),
        ({"method": "platt", "version": 1, "params": {"a": "x", "b": 0}}, "params.a"),
        ({"method": "temperature", "version": 1, "params": {"temperature": -1}}, "> 0"),
        ({"method": "downsampling", "version": 1, "params": {"negative_rate": 2}}, "(0, 1]"),
        (
            {"method": "isotonic", "version": 1, "params": {"edges": [0, 1], "values": [0.9, 0.1]}},
            "values",
        ),
        (
            {
                "method": "isotonic",
                "version": 1,
                "params": {"edges": [0, 0.5, 1], "values": [0.9, 0.1]},
            },
            "non-decreasing",
        ),
        ({"method": "platt", "version": 1}, '"params"'),
    ]
    for d, match in cases:
        with pytest.raises(DataError, match=re.escape(match)):
            load_map(d)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="readable JSON"):
        load_map(bad)
    with pytest.raises(DataError, match="could not read"):
        load_map(tmp_path / "missing.json")
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match="holds list"):
        load_map(bad)


@pytest.mark.parametrize(
    ("edges", "values", "broken"),
    [
        ([0, 1], [0.9, 0.1], "received 2 values and 2 edges"),
        ([0, 0.5, 1], [0.9, 0.1], "received value 1 (0.1) is below value 0 (0.9)"),
        ([0, 0.5, 1], [0.2, 1.5], "received value 1 is 1.5"),
        ([0, 1], [float("nan")], "received value 0 is nan"),
        ([0, 0.7, 0.5, 1], [0.1, 0.2, 0.3], "received edge 1 (0.7) is not below edge 2 (0.5)"),
        ([0.1, 0.5, 1], [0.1, 0.2], "received edges from 0.1 to 1.0"),
        ([0, float("inf"), float("inf"), 1], [0.1, 0.2, 0.3], "edge 1 (inf) is not below edge 2"),
        # huge finite edges and values: their differences overflow float64 (the 10,000-
        # example fuzz found the warning)
        ([0, 1e308, -1e308, 1], [0.1, 0.2, 0.3], "edge 1 (1e+308) is not below edge 2"),
        ([0, 0.5, 1], [1e308, -1e308], "received value 0 is 1e+308"),
    ],
)
def test_an_isotonic_map_names_the_rule_its_steps_break(
    edges: list[float], values: list[float], broken: str
) -> None:
    with warnings.catch_warnings(), pytest.raises(DataError, match=re.escape(broken)):
        warnings.simplefilter("error")  # the error alone, no NumPy warning before it
        IsotonicMap(np.array(edges), np.array(values))


def test_apply_checks_the_domain() -> None:
    with pytest.raises(DomainError, match="logits=True"):
        TemperatureMap(2.0).apply(np.array([0.5, 3.0]))
    out = PlattMap(1.0, 0.0).apply([[0.25, 0.5]])  # any array-like; shape kept
    assert out.shape == (1, 2)
    np.testing.assert_allclose(out, [[0.25, 0.5]], rtol=1e-15)


def test_scaling_stats_bytes_round_trip() -> None:
    p, y, w = _data("hard", n=5_000, seed=9)
    s = ScalingStats(0.7, -0.2).update(p, y, weights=w)
    s.update(np.array([0.0, 1.0, np.nan]), np.array([1.0, 1.0, 0.0]))  # infinite, excluded
    back = ScalingStats.from_bytes(s.to_bytes())
    assert back.to_bytes() == s.to_bytes()
    assert (back.a, back.b, back.rows, back.excluded_rows, back.infinite_rows) == (
        0.7,
        -0.2,
        s.rows,
        s.excluded_rows,
        s.infinite_rows,
    )
    assert back.infinite_loss and back.total("loss") == s.total("loss")
    for bad in (b"", s.to_bytes()[:-1], b"x" * len(s.to_bytes())):
        with pytest.raises(DataError, match=r"ScalingStats\.from_bytes"):
            ScalingStats.from_bytes(bad)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PlattMap(float("nan"), 0.0), "a must be a finite number"),
        (lambda: PlattMap(1.0, float("inf")), "b must be a finite number"),
        (lambda: PlattMap(True, 0.0), "a must be a finite number"),
        (lambda: TemperatureMap(0.0), "temperature must be a finite number > 0"),
        (lambda: TemperatureMap(-2.0), "temperature must be a finite number > 0"),
        (lambda: TemperatureMap("warm"), "temperature must be a finite number > 0"),
        (lambda: DownsamplingMap(True), "negative_rate must be a number in"),
    ],
)
def test_maps_refuse_parameters_that_would_answer_nan_or_flip(make, message) -> None:
    # before, TemperatureMap(-2) silently reversed the order and PlattMap(nan, 0) gave NaN
    with pytest.raises(OptionError, match=message):
        make()


def test_maps_at_the_edges_of_float64() -> None:
    p = np.array([0.0, 1e-300, 0.5, 1.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # a tiny rate: no overflow
        q = DownsamplingMap(5e-324).apply(p)
    np.testing.assert_array_equal(q, [0.0, 0.0, 0.0, 1.0])
    assert PlattMap(2, -1).a == 2.0 and isinstance(PlattMap(2, -1).a, float)
    state = BinaryStats().update(p[1:3], np.array([0.0, 1.0]), weights=np.full(2, 1.5e308))
    with pytest.raises(DomainError, match=r"fit_isotonic: weights whose total"):
        fit_isotonic(state)
    with pytest.raises(DomainError, match=r"below 1e100"):
        ScalingStats().update(np.array([0.2, 0.7]), np.array([0.0, 1.0]), weights=np.full(2, 1e150))


def test_a_scaling_fit_names_the_weight_or_the_logit_that_is_too_large() -> None:
    # a logit of 1e200 without weights was refused with "divide the weights by their
    # largest value"; the message names the logit and the fix that helps (clip it)
    y = np.array([0.0, 1.0, 1.0])
    with pytest.raises(DomainError, match=r"received a logit of 1e\+200\. clip the logits"):
        ScalingStats().update(np.array([0.1, 1e200, -3.0]), y, logits=True)
    w = np.array([1.0, 1e101, 1.0])
    with pytest.raises(DomainError, match=r"received a weight of 1e\+101\. divide the weights"):
        ScalingStats().update(np.array([0.2, 0.7, 0.4]), y, weights=w)
    w = np.array([1.0, 400.0, 1.0])
    with pytest.raises(
        DomainError, match=r"a logit of 1e\+99 with a weight of 400 \(\|z\| sqrt\(w\) 2e\+100\)"
    ):
        ScalingStats().update(np.array([0.1, 1e99, -3.0]), y, weights=w, logits=True)


def test_logits_option_must_be_a_bool() -> None:
    p, y = np.array([0.2, 0.7, 0.4, 0.9, 0.6]), np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    calls = [
        lambda v: PlattMap(1.5, 0.1).apply(p, logits=v),
        lambda v: TemperatureMap(2.0).apply(p, logits=v),
        lambda v: DownsamplingMap(0.1).apply(p, logits=v),
        lambda v: fit_isotonic(BinaryStats().update(p, y)).apply(p, logits=v),
        lambda v: ScalingStats().update(p, y, logits=v),
        lambda v: fit_platt(p, y, logits=v),
        lambda v: fit_temperature(p, y, logits=v),
    ]
    for call in calls:
        for v in ("False", 1, None):
            with pytest.raises(OptionError, match=r"logits must be True or False"):
                call(v)
        call(np.False_)


def test_reweight_negatives_refuses_a_rate_whose_inverse_overflows() -> None:
    # 1e-320 made 1/W infinite: the positive row got target and weight NaN (0 * inf)
    y = np.array([0.0, 1.0, 0.5])
    for rate in (1e-320, 5e-324):
        with pytest.raises(OptionError, match=r"inverse, the weight of each negative, is finite"):
            reweight_negatives(y, negative_rate=rate)
    y2, w2 = reweight_negatives(y, negative_rate=1e-308)  # the smallest rates still work
    assert np.isfinite(y2).all() and np.isfinite(w2).all()
    assert y2.tolist() == [0.0, 1.0, 0.5 / w2[2]] and w2[:2].tolist() == [1e308, 1.0]


def test_save_to_a_folder_is_an_option_error(tmp_path) -> None:
    # atomic_open's raw IsADirectoryError came out of PlattMap.save
    for m in (PlattMap(1.0, 0.0), DownsamplingMap(0.5)):
        with pytest.raises(
            OptionError, match=r"path must name a file; received .*, an existing folder"
        ):
            m.save(tmp_path)
    assert load_map(PlattMap(1.0, 0.0).save(tmp_path / "map.json")) == PlattMap(1.0, 0.0)
