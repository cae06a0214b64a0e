"""Decomposition of the log loss and the Brier score: identity, uncertainty, the bound.

Reference: scikit-learn's ``IsotonicRegression`` fitted in memory on the same rows
(``y_min=0, y_max=1, out_of_bounds="clip"``, sample weights; x = the rank of each
distinct prediction, so that equal predictions tie exactly and no two distinct ones
do), its log loss and Brier score summed with ``math.fsum``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression

from bcelab.errors import EmptyReductionError, OptionError, ShapeError
from bcelab.metrics import BinaryStats
from bcelab.metrics.decomposition import decompose_binned, decompose_stats, log_loss_terms
from bcelab.metrics.histogram import layout
from bcelab.metrics.isotonic import isotonic_curve, pool_adjacent_violators
from bcelab.metrics.recalibration import fit_isotonic


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _losses(q: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, y * -np.log(q), 0.0)
        b = np.where(y < 1, (1 - y) * -np.log1p(-q), 0.0)
    tw = math.fsum(w)
    return math.fsum(w * (a + b)) / tw, math.fsum(w * (q - y) ** 2) / tw


def exact_miscalibration(p, y, w=None) -> tuple[float, float]:
    """(log loss, Brier) miscalibration of the in-memory isotonic fit."""
    w = np.ones_like(p) if w is None else w
    # fitted on the rank of each distinct p: scikit-learn pools x values closer than
    # 1e-15 and then interpolates between them, which is not the fit on the rows
    rank = np.unique(p, return_inverse=True)[1].astype(np.float64)
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")
    q = iso.fit(rank, y, sample_weight=w).predict(rank)
    ll_p, bs_p = _losses(p, y, w)
    ll_q, bs_q = _losses(q, y, w)
    return ll_p - ll_q, bs_p - bs_q


def _population(kind: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n) * 1.5
    y = (rng.random(n) < _sig(s)).astype(np.float64)
    w = None
    p = _sig(s)
    if kind == "over-confident":
        p = _sig(2.0 * s)
    elif kind == "under-confident":
        p = _sig(0.5 * s)
    elif kind == "few scores":
        p = np.clip(np.round(p, 2), 0.01, 0.99)
    elif kind == "weighted":
        w = rng.exponential(size=n)
    elif kind == "soft labels":
        y = _sig(s + rng.normal(size=n))
    elif kind == "rare positives":
        s = rng.normal(size=n) - 4.0
        y = (rng.random(n) < _sig(s)).astype(np.float64)
        p = _sig(1.5 * s + 2.0)
    return p, y, w


KINDS = [
    "calibrated",
    "over-confident",
    "under-confident",
    "few scores",
    "weighted",
    "soft labels",
    "rare positives",
]


@pytest.mark.parametrize("kind", KINDS)
def test_within_bound_of_sklearn_at_200k(kind: str) -> None:
    p, y, w = _population(kind, 200_000, seed=KINDS.index(kind))
    d = decompose_stats(BinaryStats().update(p, y, weights=w))
    ll_exact, bs_exact = exact_miscalibration(p, y, w)
    for part, exact in ((d.log_loss, ll_exact), (d.brier, bs_exact)):
        # the exact fit is at least as good as the binned one: exact >= binned
        assert -1e-12 <= exact - part.miscalibration <= part.bound
    assert d.log_loss.bound <= 2e-3
    if kind == "few scores":  # every score is a bin edge: the binned fit is the exact fit
        assert d.log_loss.bound < 1e-11
        assert d.brier.bound < 1e-11


def test_identity_and_uncertainty_match_the_metrics() -> None:
    p, y, w = _population("weighted", 20_000, seed=3)
    s = BinaryStats().update(p, y, weights=w)
    m, d = s.compute(), decompose_stats(s)
    assert d.log_loss.score == m.log_loss
    assert d.brier.score == m.brier
    assert d.log_loss.uncertainty == pytest.approx(m.base_entropy, rel=1e-12)
    assert d.brier.uncertainty == pytest.approx(m.base_rate * (1 - m.base_rate), rel=1e-12)
    for part in (d.log_loss, d.brier):
        rebuilt = part.uncertainty - part.discrimination + part.miscalibration
        assert abs(rebuilt - part.score) <= 1e-12
        assert part.discrimination >= 0 and part.miscalibration >= 0


def test_recalibrated_score_is_the_isotonic_map_applied_to_the_rows() -> None:
    p, y, w = _population("over-confident", 20_000, seed=4)
    s = BinaryStats().update(p, y, weights=w)
    d = decompose_stats(s)
    q = fit_isotonic(s).apply(p)
    ll_q, bs_q = _losses(q, y, np.ones_like(p))
    assert ll_q == pytest.approx(d.log_loss.score - d.log_loss.miscalibration, abs=1e-12)
    assert bs_q == pytest.approx(d.brier.score - d.brier.miscalibration, abs=1e-12)


def test_bound_is_attained_when_negatives_come_first_in_every_bin() -> None:
    rng = np.random.default_rng(7)
    p = np.sort(0.25 + 0.5 * rng.random(5000))
    y = (rng.random(p.size) < p).astype(np.float64)
    bins = np.searchsorted(layout().edges, p, side="right") - 1
    order = np.lexsort((y, bins))  # within each bin: the negatives, then the positives
    y = y[order]  # p is sorted, so the k-th row of a bin keeps its p and gets a sorted label
    d = decompose_stats(BinaryStats().update(p, y))
    ll_exact, bs_exact = exact_miscalibration(p, y)
    assert ll_exact - d.log_loss.miscalibration == pytest.approx(d.log_loss.bound, rel=1e-8)
    assert bs_exact - d.brier.miscalibration == pytest.approx(d.brier.bound, rel=1e-8)
    assert d.log_loss.bound > 1e-3


rows = st.integers(1, 300).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.one_of(
                st.floats(0, 1),
                st.sampled_from([0.0, 1.0, 0.5, 0.25, 0.3, 0.31]),
            ),
            min_size=n,
            max_size=n,
        ),
        st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n),
        st.lists(st.floats(0.01, 1), min_size=n, max_size=n),
        st.lists(st.floats(0, 1), min_size=n, max_size=n),
    )
)


@settings(max_examples=40, deadline=None)
@given(data=rows, weighted=st.booleans(), soft=st.booleans())
def test_bound_covers_the_exact_fit(data, weighted: bool, soft: bool) -> None:
    p, y, w, ys = (np.asarray(v, dtype=np.float64) for v in data)
    # the state cannot tell apart predictions a few ulps apart on a bin edge (they count
    # as one prediction: bcelab.metrics.isotonic.single_score_bins), so the exact fit is
    # compared on data where such near-ties are exact ties: each prediction within 1e-12
    # (relative) of the one below it takes that one's value (filtering such data out
    # instead rejected most of Hypothesis's examples)
    distinct = np.unique(p)
    new_run = np.concatenate(([True], np.diff(distinct) > 1e-12 * np.maximum(distinct[1:], 1e-300)))
    p = distinct[new_run][np.cumsum(new_run) - 1][np.searchsorted(distinct, p)]
    if soft:
        # the reference's fitted rate of subnormal labels can underflow to 0 (a mean of
        # 5e-324 and 0 is not a float64), which makes its log loss inf - inf: such labels
        # are 0 here
        y = np.where((ys > 0) & (ys < 1e-300), 0.0, ys)
    w = w if weighted else None
    s = BinaryStats().update(p, y, weights=w)
    d = decompose_stats(s)
    ll_exact, bs_exact = exact_miscalibration(p, y, w)
    for part, exact in ((d.log_loss, ll_exact), (d.brier, bs_exact)):
        scale = 1e-12 * (1.0 + abs(part.score))
        rebuilt = part.uncertainty - part.discrimination + part.miscalibration
        if math.isfinite(part.score):
            assert abs(rebuilt - part.score) <= 1e-9
            assert abs(exact - part.miscalibration) <= part.bound + scale
            if part is d.log_loss or not soft:  # one-sided but for the soft Brier's c
                assert exact - part.miscalibration >= -scale
        else:
            assert math.isinf(exact) and math.isinf(part.miscalibration)
        assert not math.isnan(part.discrimination) and part.bound >= 0


def _reference_pav(rate: np.ndarray, mass: np.ndarray) -> np.ndarray:
    keep = mass > 0
    iso = IsotonicRegression().fit(np.flatnonzero(keep), rate[keep], sample_weight=mass[keep])
    return iso.predict(np.flatnonzero(keep))


@settings(max_examples=30, deadline=None)
@given(
    pos=st.lists(st.floats(0, 50), min_size=1, max_size=400),
    extra=st.lists(st.floats(0, 50), min_size=400, max_size=400),
)
def test_pool_adjacent_violators_matches_sklearn(pos: list[float], extra: list[float]) -> None:
    wpos = np.asarray(pos)
    mass = wpos + np.asarray(extra[: wpos.size])
    first, bpos, bmass = pool_adjacent_violators(wpos, mass)
    if not (mass > 0).any():
        assert first.size == 0
        return
    # expand the blocks back to the elements with mass
    idx = np.flatnonzero(mass > 0)
    block = np.searchsorted(first, idx, side="right") - 1
    ours = (bpos / bmass)[block]
    with np.errstate(invalid="ignore"):
        ref = _reference_pav(np.where(mass > 0, wpos / mass, 0.0), mass)
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    assert np.sum(bmass) == pytest.approx(np.sum(mass), rel=1e-12)


def test_long_cascade_is_pooled_exactly() -> None:
    # increasing rates, then one heavy bin below all of them: one block in the end
    n = 5000
    wpos = np.append(np.linspace(1, 99, n - 1), 0.0)
    mass = np.append(np.full(n - 1, 100.0), 1e9)
    first, bpos, bmass = pool_adjacent_violators(wpos, mass)
    assert first.tolist() == [0]
    assert bpos[0] == pytest.approx(wpos.sum()) and bmass[0] == pytest.approx(mass.sum())


@settings(max_examples=60, deadline=None)
@given(
    p=st.lists(st.floats(0, 1), min_size=1, max_size=200),
    seed=st.integers(0, 2**32 - 1),
)
def test_isotonic_curve_is_a_monotone_step_function(p: list[float], seed: int) -> None:
    pa = np.asarray(p)
    y = (np.random.default_rng(seed).random(pa.size) < 0.4).astype(np.float64)
    h = BinaryStats().update(pa, y).histogram()
    c = isotonic_curve(h["wpos"], h["wneg"], h["edges"], h["wp"])
    assert c.edges[0] == 0.0 and c.edges[-1] == 1.0
    assert np.all(np.diff(c.edges) > 0) and c.edges.size == c.values.size + 1
    assert np.all(np.diff(c.values) > 0) and np.all((c.values >= 0) & (c.values <= 1))
    assert c.mass.sum() == pytest.approx(pa.size)
    assert np.all((c.mean_pred >= c.edges[:-1]) | np.isclose(c.mean_pred, c.edges[:-1]))


def test_empty_state_raises() -> None:
    with pytest.raises(EmptyReductionError, match="decompose_stats"):
        decompose_stats(BinaryStats())
    with pytest.raises(EmptyReductionError, match="decompose_binned"):
        decompose_binned(np.zeros(3), np.zeros(3), score_log_loss=0.0, score_brier=0.0)
    with pytest.raises(ShapeError, match="one length"):
        decompose_binned(np.ones(3), np.ones(4), score_log_loss=0.0, score_brier=0.0)
    s = BinaryStats().update(np.array([0.5, np.nan]), np.array([np.nan, 1.0]))
    with pytest.raises(EmptyReductionError):
        decompose_stats(s)


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_one_class_has_zero_uncertainty_and_no_nan(label: float) -> None:
    p = np.random.default_rng(0).random(1000)
    d = decompose_stats(BinaryStats().update(p, np.full(1000, label)))
    for part in (d.log_loss, d.brier):
        assert part.uncertainty == 0.0 and part.discrimination == 0.0
        assert part.miscalibration == part.score > 0
        assert part.bound == pytest.approx(0.0, abs=1e-15)


def test_all_rows_in_one_bin() -> None:
    rng = np.random.default_rng(1)
    p = 0.3 + rng.random(500) * 1e-4  # one fine bin
    y = (rng.random(500) < 0.3).astype(np.float64)
    d = decompose_stats(BinaryStats().update(p, y))
    assert d.log_loss.discrimination == 0.0
    assert d.log_loss.miscalibration == pytest.approx(d.log_loss.score - d.log_loss.uncertainty)
    ll_exact, _ = exact_miscalibration(p, y)
    assert ll_exact - d.log_loss.miscalibration <= d.log_loss.bound


def test_predictions_of_exactly_zero_and_one() -> None:
    p = np.array([0.0, 0.0, 0.2, 0.7, 1.0, 1.0, 1.0])
    y = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    d = decompose_stats(BinaryStats().update(p, y))
    ll_exact, bs_exact = exact_miscalibration(p, y)
    assert d.log_loss.bound < 1e-12  # every bin holds one distinct score
    assert d.log_loss.miscalibration == pytest.approx(ll_exact, abs=1e-12)
    assert d.brier.miscalibration == pytest.approx(bs_exact, abs=1e-12)


def test_infinite_log_loss_stays_finite_elsewhere() -> None:
    d = decompose_stats(BinaryStats().update(np.array([0.0, 0.4, 0.9]), np.array([1.0, 0, 1])))
    assert math.isinf(d.log_loss.score) and math.isinf(d.log_loss.miscalibration)
    assert math.isfinite(d.log_loss.discrimination) and math.isfinite(d.log_loss.bound)
    out = d.to_dict()
    assert out["log_loss"]["miscalibration"] is None and out["brier"]["score"] is not None
    # the line names what recalibrating would bring it down to: the isotonic map's loss
    from bcelab.metrics import fit_isotonic

    stats = BinaryStats().update(np.array([0.0, 0.4, 0.9]), np.array([1.0, 0, 1]))
    after = BinaryStats().update(fit_isotonic(stats).apply(np.array([0.0, 0.4, 0.9])), [1.0, 0, 1])
    ranking = d.log_loss.uncertainty - d.log_loss.discrimination
    assert ranking == pytest.approx(after.compute().log_loss, abs=1e-12)
    assert d.summary_line().startswith("the log loss is infinite")
    assert d.summary_line().endswith(
        f"would bring it down to the ranking's uncertainty "
        f"{d.log_loss.uncertainty:.4g} − discrimination "
        f"{d.log_loss.discrimination:.4g} = {ranking:.4g}"
    )


def test_without_bound_gives_the_same_values() -> None:
    p, y, _ = _population("under-confident", 5000, seed=2)
    h = BinaryStats().update(p, y).histogram()
    kw = {"score_log_loss": 0.6, "score_brier": 0.2}
    a = decompose_binned(h["wpos"], h["wneg"], **kw)
    b = decompose_binned(h["wpos"], h["wneg"], with_bound=False, **kw)
    assert math.isnan(b.log_loss.bound) and a.log_loss.bound > 0
    assert a.log_loss.miscalibration == b.log_loss.miscalibration
    assert a.brier.discrimination == b.brier.discrimination


def test_text_outputs() -> None:
    p, y, _ = _population("over-confident", 5000, seed=5)
    d = decompose_stats(BinaryStats().update(p, y))
    line = d.summary_line()
    assert line.startswith("recalibrating would remove ")
    assert f"{d.log_loss.miscalibration:.4g}" in line and "ranking" in line
    assert "<table>" in d._repr_html_() and "miscalibration" in str(d)
    assert set(d.to_dict()) == {"log_loss", "brier"}
    assert set(d.to_dict()["brier"]) == {
        "score",
        "uncertainty",
        "discrimination",
        "miscalibration",
        "bound",
    }


def test_the_docs_example_prints_what_the_docs_show(tmp_path, monkeypatch, capsys) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "which-model.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```python\n(.*?)```", doc, re.S))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "which-model.md", "exec"), {})
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(printed) == 8
    for line in printed:
        assert line in doc
    assert (tmp_path / "platt.json").exists()


def test_with_bound_must_be_a_bool() -> None:
    s = BinaryStats().update(np.array([0.1, 0.3, 0.6, 0.9]), np.array([0.0, 1.0, 0.0, 1.0]))
    h = s.histogram()
    scores = {"score_log_loss": 0.5, "score_brier": 0.2}
    for v in ("False", 0, None):
        with pytest.raises(OptionError, match="with_bound must be True or False"):
            decompose_stats(s, with_bound=v)  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="with_bound must be True or False"):
            decompose_binned(h["wpos"], h["wneg"], with_bound=v, **scores)  # type: ignore[arg-type]
    assert math.isnan(decompose_stats(s, with_bound=np.False_).log_loss.bound)


@pytest.mark.parametrize(
    "kw",
    [
        {"label_variance": "x"},  # a TypeError from float + str
        {"label_variance": math.nan},  # a NaN uncertainty
        {"label_variance": -0.01},
        {"label_variance": 0.3},  # y (1 - y) <= 0.25
        {"label_variance": True},
        {"label_variance_error": math.inf},
        {"label_variance_error": -1e-3},
        {"label_variance_error": None},
    ],
)
def test_label_variance_must_be_a_variance(kw: dict) -> None:
    scores = {"score_log_loss": 0.6, "score_brier": 0.2}
    with pytest.raises(OptionError, match=r"label_variance in \[0, 0\.25\]"):
        decompose_binned([1.0, 2.0], [1.0, 2.0], **scores, **kw)
    ok = decompose_binned([1.0, 2.0], [1.0, 2.0], **scores, label_variance=0.25)
    assert ok.brier.uncertainty == 0.0


def test_log_loss_terms_are_the_unbounded_decomposition_bit_for_bit() -> None:
    # the paired bootstrap calls log_loss_terms once per replicate, on column views of
    # its histograms: the same numbers as decompose_binned's, to the last bit
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, cols = int(rng.integers(1, 60)), int(rng.integers(1, 4))
        h = rng.exponential(size=(n, 2, cols)) * (rng.random((n, 2, cols)) < 0.7)
        if rng.random() < 0.3:
            h = np.round(h * 10)  # whole counts, with ties and empty bins
        for c in range(cols):
            pos, neg = h[:, 0, c], h[:, 1, c]
            if not pos.sum() + neg.sum() > 0:
                continue
            score = float(rng.random() * 2)
            d = decompose_binned(pos, neg, score_log_loss=score, score_brier=0.0, with_bound=False)
            want = (d.log_loss.uncertainty, d.log_loss.discrimination, d.log_loss.miscalibration)
            assert log_loss_terms(pos, neg, score) == want
