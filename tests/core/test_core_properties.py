"""Hypothesis properties of the core (issue 2, "Done when")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bcelab
from bcelab import DomainError, OptionError
from bcelab._core.reducing import MEAN_WEIGHT_FLOOR

unit = st.floats(0.0, 1.0, allow_nan=False)
open_unit = st.floats(1e-12, 1 - 1e-12, allow_nan=False)
logit = st.floats(-1e3, 1e3, allow_nan=False)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6)


@given(y=open_unit, p=open_unit)
def test_minimum_is_at_the_target(y: float, p: float) -> None:
    at_y = float(bcelab.bce([y], [y])[0])
    elsewhere = float(bcelab.bce([p], [y])[0])
    assert elsewhere >= at_y - 4 * np.spacing(at_y)
    assert at_y == pytest.approx(float(bcelab.binary_entropy([y])[0]), rel=1e-15, abs=1e-300)


@given(y=unit, x=logit)
def test_kl_is_nonnegative_and_floor_plus_excess_is_bce(y: float, x: float) -> None:
    kl = float(bcelab.binary_kl([x], [y], logits=True)[0])
    h = float(bcelab.binary_entropy([y])[0])
    b = float(bcelab.bce_with_logits([x], [y])[0])
    assert kl >= 0.0
    # the identity holds to rounding of the larger of the terms
    assert h + kl == pytest.approx(b, rel=1e-12, abs=1e-13)


@given(y=unit)
def test_kl_is_exactly_zero_at_the_target(y: float) -> None:
    assert float(bcelab.binary_kl([y], [y])[0]) == 0.0
    assert bcelab.decompose([y], [y]).excess == 0.0


@given(y=unit, x=st.floats(-30, 30, allow_nan=False))
def test_logits_path_equals_probability_path_where_both_are_exact(y: float, x: float) -> None:
    # In float64 sigmoid(x) is accurate to an ulp for |x| <= 30, so both paths agree to
    # about the conditioning of log(p) at that p.
    p = float(bcelab.sigmoid(np.array([x]))[0])
    assume(0.0 < p < 1.0)
    a = float(bcelab.bce_with_logits([x], [y])[0])
    b = float(bcelab.bce([p], [y])[0])
    # p carries up to an ulp of rounding; log p and log(1 - p) amplify it by 1/p and 1/(1-p)
    cond = 4 * np.spacing(p) / min(p, 1 - p)
    assert a == pytest.approx(b, rel=1e-12, abs=cond)
    ga = float(bcelab.bce_with_logits_grad([x], [y])[0])
    gb = float(bcelab.bce_grad([p], [y])[0]) * p * (1 - p)  # chain rule dp/dx = p (1 - p)
    assert ga == pytest.approx(gb, rel=1e-9, abs=1e-12 + cond)


@given(data=st.data(), shape=shapes)
def test_batched_mean_equals_mean_of_concatenation(data: st.DataObject, shape: tuple) -> None:
    x = data.draw(hnp.arrays(np.float64, shape, elements=logit))
    y = data.draw(hnp.arrays(np.float64, shape, elements=unit))
    w = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 10)))
    assume(w.sum() > 0)
    k = data.draw(st.integers(0, x.size))
    xf, yf, wf = x.ravel(), y.ravel(), w.ravel()
    whole = float(bcelab.bce_with_logits(xf, yf, weights=wf, reduction="sum"))
    halves = float(bcelab.bce_with_logits(xf[:k], yf[:k], weights=wf[:k], reduction="sum")) + float(
        bcelab.bce_with_logits(xf[k:], yf[k:], weights=wf[k:], reduction="sum")
    )
    assert halves == pytest.approx(whole, rel=1e-12, abs=1e-12)
    if wf.sum() < wf.size * MEAN_WEIGHT_FLOOR:  # products of tiny weights lose digits
        with pytest.raises(DomainError, match="weights whose mean is at least"):
            bcelab.bce_with_logits(x, y, weights=w, reduction="weighted_mean")
        return
    wm = float(bcelab.bce_with_logits(x, y, weights=w, reduction="weighted_mean"))
    assert wm == pytest.approx(whole / wf.sum(), rel=1e-12, abs=1e-12)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5))
def test_per_sample_matches_keras_shape(data: st.DataObject, shape: tuple) -> None:
    x = data.draw(hnp.arrays(np.float64, shape, elements=logit))
    y = data.draw(hnp.arrays(np.float64, shape, elements=unit))
    per = bcelab.bce_with_logits(x, y, reduction="per_sample")
    assert per.shape == shape[:-1]
    np.testing.assert_allclose(
        per, bcelab.bce_with_logits(x, y).mean(axis=-1), rtol=1e-12, atol=1e-12
    )
    none = bcelab.bce_with_logits(x, y, reduction="none")
    assert none.shape == shape  # truly element-wise: no last-axis mean


@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
    reduction=st.sampled_from(["mean", "sum", "weighted_mean", "per_sample"]),
)
def test_axis_reduces_those_axes_like_numpy(
    data: st.DataObject, shape: tuple, reduction: str
) -> None:
    x = data.draw(hnp.arrays(np.float64, shape, elements=logit))
    y = data.draw(hnp.arrays(np.float64, shape, elements=unit))
    w = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.5, 10)))
    nd = len(shape)
    axis = data.draw(
        st.none()
        | st.integers(-nd, nd - 1)
        | st.lists(
            st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda a: a % nd
        ).map(tuple)
    )
    ell = bcelab.bce_with_logits(x, y)
    ax = -1 if (axis is None and reduction == "per_sample") else axis
    want = {
        "mean": lambda: (w * ell).mean(axis=_np_axis(ax, nd)),
        "per_sample": lambda: (w * ell).mean(axis=_np_axis(ax, nd)),
        "sum": lambda: (w * ell).sum(axis=_np_axis(ax, nd)),
        "weighted_mean": lambda: (
            (w * ell).sum(axis=_np_axis(ax, nd)) / w.sum(axis=_np_axis(ax, nd))
        ),
    }[reduction]()
    got = bcelab.bce_with_logits(x, y, weights=w, reduction=reduction, axis=axis)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    assert np.shape(bcelab.reduce(ell, weights=w, reduction=reduction, axis=axis)) == np.shape(want)


def _np_axis(axis: int | tuple[int, ...] | None, nd: int) -> int | tuple[int, ...] | None:
    return axis if not isinstance(axis, tuple) else tuple(sorted(a % nd for a in axis))


@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3),
    data=st.data(),
    reduction=st.sampled_from(["mean", "sum", "weighted_mean", "per_sample"]),
)
def test_a_repeated_axis_is_refused_like_numpy(
    shape: tuple, data: st.DataObject, reduction: str
) -> None:
    nd = len(shape)
    a = data.draw(st.integers(-nd, nd - 1))
    axis = (a, a - nd if a >= 0 else a + nd)  # the same dimension, counted from both ends
    ell = np.full(shape, 0.5)
    with pytest.raises(ValueError, match="axis"):
        np.sum(ell, axis=axis)
    with pytest.raises(OptionError, match=r"name each dimension once.*drop the repeat"):
        bcelab.reduce(ell, reduction=reduction, axis=axis)


@given(y=unit, x=logit, ls=st.floats(0, 1))
def test_label_smoothing_equals_smoothed_targets(y: float, x: float, ls: float) -> None:
    ys = y * (1 - ls) + 0.5 * ls
    a = float(bcelab.bce_with_logits([x], [y], label_smoothing=ls)[0])
    assert a == pytest.approx(float(bcelab.bce_with_logits([x], [ys])[0]), rel=1e-14, abs=1e-300)


@given(y=unit, x=logit, gamma=st.floats(0, 5), alpha=st.none() | unit)
def test_focal_is_bounded_by_bce_and_reduces_to_it(
    y: float, x: float, gamma: float, alpha: float | None
) -> None:
    f = float(bcelab.focal_with_logits([x], [y], gamma=gamma, alpha=alpha)[0])
    b = float(bcelab.bce_with_logits([x], [y])[0])
    assert 0.0 <= f <= b * (1 + 1e-12) + 1e-300
    if gamma == 0 and alpha is None:
        assert f == pytest.approx(b, rel=1e-15)
    g = float(bcelab.focal_with_logits_grad([x], [y], gamma=gamma, alpha=alpha)[0])
    assert np.isfinite(g)


def test_float32_mean_of_1e8_like_values_is_accurate() -> None:
    # pitfalls.md 17: naive float32 accumulation stalls at 2**24.  1e7 copies keep the test fast;
    # a float32 running sum would be off by > 50% here.
    v = np.full(10_000_000, 0.1, dtype=np.float32)
    m = float(bcelab.reduce(v, reduction="mean"))
    assert m == pytest.approx(float(np.float32(0.1)), rel=1e-12)
    assert float(bcelab.reduce(v, reduction="sum")) == pytest.approx(
        1e7 * float(np.float32(0.1)), rel=1e-12
    )
