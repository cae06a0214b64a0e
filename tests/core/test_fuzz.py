"""Fuzzing of every public element-wise entry point with hypothesis.

Any input gives a result or a ``bcelab.BCELabError``, never another exception.  Valid
input (targets in [0, 1], probabilities in [0, 1], logits not NaN; infinities allowed)
gives no NaN and no -0.0, the documented dtype, non-negative losses, and the same
result type and values (to the documented accuracy) on the compiled kernel and the
generic path.  Inputs include float16, NumPy's bfloat16 (ml_dtypes), float32 and
float64, 0-d and empty arrays, +-inf, zero weights next to infinite losses (0 * inf)
and ``pos_weight=0``.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per entry point;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/core/test_fuzz.py`` runs the larger check.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bcelab
from bcelab import kernels
from bcelab.errors import BCELabError

ml_dtypes = pytest.importorskip("ml_dtypes")
EXAMPLES = int(os.environ.get("BCELAB_FUZZ_EXAMPLES", "1000"))
fuzz = settings(max_examples=EXAMPLES, deadline=None)
# hypothesis itself warns when it casts a huge float into float16; that is not bcelab
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

DTYPES = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16), np.dtype(np.float32)]
DTYPES.append(np.dtype(np.float64))
SPECIAL = [0.0, -0.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 5e-324, 1e-45, 1 - 1e-16, 2.0, -1.0]
any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(SPECIAL)
valid_y = st.floats(0, 1) | st.sampled_from([0.0, 1.0, 0.5, 5e-324, 1e-45, 1 - 1e-16])
valid_p = st.floats(0, 1) | st.sampled_from([0.0, 1.0, 5e-324, 1e-45, 1 - 1e-16])
valid_x = st.floats(allow_nan=False) | st.sampled_from([np.inf, -np.inf, 0.0, -0.0, 5e-324, 800.0])
weight = st.sampled_from([0.0, 1.0, 2.5]) | st.floats(0, 1e6)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5)


def _array(data: st.DataObject, dtype: np.dtype, shape: tuple, elements: Any) -> np.ndarray:
    """An array of ``dtype`` (bfloat16 is drawn in float32 and converted)."""
    draw_dtype = np.float32 if dtype == np.dtype(ml_dtypes.bfloat16) else dtype
    with np.errstate(over="ignore"):
        a = data.draw(hnp.arrays(draw_dtype, shape, elements=elements.map(float)))
        return a.astype(dtype)


def _out_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.dtype(np.float64) else np.dtype(np.float32)


# name -> (function of (pred, y, options), takes probabilities, is a gradient, has a kernel)
Entry = tuple[Callable[..., Any], bool, bool, bool]
ENTRIES: dict[str, Entry] = {
    "bce": (lambda p, y, **kw: bcelab.bce(p, y, **kw), True, False, True),
    "bce_with_logits": (lambda x, y, **kw: bcelab.bce_with_logits(x, y, **kw), False, False, True),
    "focal": (
        lambda p, y, **kw: bcelab.focal(p, y, gamma=0.5, alpha=0.25, **kw),
        True,
        False,
        False,
    ),
    "focal_with_logits": (
        lambda x, y, **kw: bcelab.focal_with_logits(x, y, gamma=1.0, alpha=0.0, **kw),
        False,
        False,
        False,
    ),
    "binary_kl": (lambda p, y, **kw: bcelab.binary_kl(p, y, **kw), True, False, False),
    "binary_kl(logits)": (
        lambda x, y, **kw: bcelab.binary_kl(x, y, logits=True, **kw),
        False,
        False,
        False,
    ),
    "binary_entropy": (lambda p, y, **kw: bcelab.binary_entropy(y, **kw), True, False, False),
    "bce_grad": (lambda p, y, **kw: bcelab.bce_grad(p, y, **kw), True, True, True),
    "bce_with_logits_grad": (
        lambda x, y, **kw: bcelab.bce_with_logits_grad(x, y, **kw),
        False,
        True,
        True,
    ),
    "focal_with_logits_grad": (
        lambda x, y, **kw: bcelab.focal_with_logits_grad(x, y, gamma=1.0, **kw),
        False,
        True,
        False,
    ),
}
NAMES = sorted(ENTRIES)


def _options(data: st.DataObject, name: str, shape: tuple) -> dict[str, Any]:
    grad = ENTRIES[name][2]
    reductions = ["none", "mean", "sum", "weighted_mean"] + ([] if grad else ["per_sample"])
    kw: dict[str, Any] = {"reduction": data.draw(st.sampled_from(reductions))}
    if data.draw(st.booleans()):
        kw["nan_policy"] = data.draw(st.sampled_from(["raise", "propagate", "omit"]))
    if name.startswith("bce") and data.draw(st.booleans()):
        kw["pos_weight"] = data.draw(st.sampled_from([0.0, 1.0, 3.0]))
    if data.draw(st.booleans()):
        kw["weights"] = _array(data, np.dtype(np.float64), shape, weight)
    if data.draw(st.booleans()):
        kw["mask"] = data.draw(hnp.arrays(np.bool_, shape))
    if not grad and kw["reduction"] != "none" and shape and data.draw(st.booleans()):
        kw["axis"] = data.draw(st.integers(-len(shape), len(shape) - 1))
    return kw


@fuzz
@given(name=st.sampled_from(NAMES), data=st.data())
def test_any_input_gives_a_result_or_a_bcelab_error(name: str, data: st.DataObject) -> None:
    shape = data.draw(shapes)
    dtype = data.draw(st.sampled_from(DTYPES))
    a = _array(data, dtype, shape, any_float)
    b = _array(data, np.dtype(np.float64), shape, any_float)
    try:
        ENTRIES[name][0](a, b, **_options(data, name, shape))
    except BCELabError:
        pass


def _check_valid(out: Any, name: str, dtype: np.dtype, reduction: str) -> np.ndarray:
    vals = np.asarray(out, dtype=np.float64)
    assert not np.isnan(vals).any(), (name, vals)
    assert not (np.signbit(vals) & (vals == 0)).any(), f"{name} returned -0.0"
    if reduction == "none":
        assert np.asarray(out).dtype == _out_dtype(dtype), (name, np.asarray(out).dtype)
    if not ENTRIES[name][2]:
        assert (vals >= 0).all(), (name, vals)
    return vals


def _same(a: np.ndarray, b: np.ndarray, dtype: np.dtype, terms: float = 0.0) -> bool:
    """Equal to the documented accuracy: a few ulp, or, where a gradient's two terms
    cancel (``terms``: a bound on their size), a few ulp of the larger term."""
    eps = float(np.finfo(np.float64 if dtype == np.dtype(np.float64) else np.float32).eps)
    rtol = 1e-13 if dtype == np.dtype(np.float64) else 2e-7
    both_inf = np.isinf(a) & (a == b)
    close = np.isclose(a, b, rtol=rtol, atol=max(1e-300, 8 * eps * terms))
    return bool(np.all(both_inf | close))


@fuzz
@given(name=st.sampled_from(NAMES), data=st.data())
def test_valid_input_gives_no_nan_and_both_paths_agree(name: str, data: st.DataObject) -> None:
    fn, probs, _, has_kernel = ENTRIES[name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=5))
    dtype = data.draw(st.sampled_from(DTYPES))
    a = _array(data, dtype, shape, valid_p if probs else valid_x)
    y = _array(data, np.dtype(np.float64), shape, valid_y)
    kw = _options(data, name, shape)
    kw.pop("nan_policy", None)
    if kw["reduction"] == "per_sample" and not shape:
        kw["reduction"] = "mean"  # per_sample needs an axis (an OptionError otherwise)
    if "weights" in kw and kw["reduction"] == "weighted_mean":
        totals = kw["weights"].sum(axis=kw.get("axis"))
        if not np.all(totals > 0):
            kw["reduction"] = "sum"  # a weighted mean over a total weight of 0 is an error
    try:
        got = fn(a, y, **kw)
    except bcelab.DomainError as e:
        # a weight times a loss near 1.8e308 overflows float64, and a weighted mean of
        # weights averaging below 1e-292 loses digits: both refused by design
        assert "float64's range" in str(e) or "weights whose mean is at least" in str(e), e
        reject()
    except bcelab.EmptyReductionError:
        assert "mask" in kw, kw  # a mean over no element (the mask left every one out)
        reject()
    in_dtype = y.dtype if name == "binary_entropy" else dtype  # the floor is of the targets
    vals = _check_valid(got, name, in_dtype, kw["reduction"])
    if has_kernel and kernels.available():
        kernels.set_enabled(False)
        try:
            generic = fn(a, y, **kw)
        except bcelab.DomainError as e:
            # the formulas scale a gradient by its weight before dividing by the count:
            # where that product passes 1.8e308 (a subnormal p), they refuse, by design;
            # the kernel divides first and returns the finite mean
            assert "float64's range" in str(e) and ENTRIES[name][2], e
            reject()
        finally:
            kernels.set_enabled(True)
        assert type(generic) is type(got), (name, type(generic), type(got))
        # a gradient's terms: at most (1 + pos_weight) times the largest weight
        terms = 0.0
        if ENTRIES[name][2]:
            w_max = float(kw["weights"].max()) if "weights" in kw else 1.0
            terms = (1.0 + kw.get("pos_weight", 1.0)) * w_max
        generic_vals = np.asarray(generic, dtype=np.float64)
        assert _same(vals, generic_vals, dtype, terms), (name, got, generic)


@fuzz
@given(data=st.data(), logits=st.booleans())
def test_decompose_valid_input(data: st.DataObject, logits: bool) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=5))
    dtype = data.draw(st.sampled_from(DTYPES))
    a = _array(data, dtype, shape, valid_x if logits else valid_p)
    y = _array(data, np.dtype(np.float64), shape, valid_y)
    d = bcelab.decompose(a, y, logits=logits)
    assert not any(np.isnan([d.bce, d.floor, d.excess]))
    assert d.floor >= 0 and d.excess >= 0
    if np.isfinite(d.bce):
        assert d.bce == pytest.approx(d.floor + d.excess, rel=1e-6, abs=1e-12)


@fuzz
@given(data=st.data(), convention=st.sampled_from(["keras", "tf_keras", "torch", "sklearn"]))
def test_conventions_of_valid_probabilities_give_no_nan_nor_minus_zero(
    data: st.DataObject, convention: str
) -> None:
    # tf_keras and keras scored a perfect 0/1 prediction -0.0
    shape = data.draw(shapes)
    dtype = data.draw(st.sampled_from(DTYPES))
    p, y = _array(data, dtype, shape, valid_p), _array(data, dtype, shape, valid_y)
    vals = np.asarray(bcelab.bce(p, y, convention=convention), dtype=np.float64)
    assert not np.isnan(vals).any() and (vals >= 0).all(), (convention, vals)
    assert not (np.signbit(vals) & (vals == 0)).any(), f"{convention} returned -0.0"


def test_zero_weight_or_pos_weight_times_an_infinite_loss_is_zero() -> None:
    inf_logit, inf_prob = np.array([-np.inf, 0.0]), np.array([0.0, 0.5])
    y = np.array([1.0, 1.0])
    w = np.array([0.0, 1.0])
    assert bcelab.bce_with_logits(np.array([-np.inf]), np.array([1.0]), pos_weight=0)[0] == 0
    assert bcelab.bce(np.array([0.0]), np.array([1.0]), pos_weight=0)[0] == 0
    for fn, x in ((bcelab.bce_with_logits, inf_logit), (bcelab.bce, inf_prob)):
        for reduction in ("none", "sum", "mean", "weighted_mean"):
            out = np.asarray(fn(x, y, weights=w, reduction=reduction))
            assert not np.isnan(out).any(), (fn.__name__, reduction, out)
    assert bcelab.focal(np.array([0.0]), np.array([1.0]), alpha=0.0)[0] == 0
    assert bcelab.focal_with_logits(np.array([np.inf]), np.array([0.0]), alpha=1.0)[0] == 0
    g = bcelab.focal_with_logits_grad(np.array([np.inf]), np.array([1.0]), gamma=1.0)
    assert g[0] == 0 and not np.signbit(g[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zero_d_input_has_one_result_type_on_both_paths(dtype: str) -> None:
    x, y = np.array(0.3, dtype=dtype), np.array(1.0, dtype=dtype)
    for fn in (bcelab.bce, bcelab.bce_with_logits, bcelab.bce_grad, bcelab.bce_with_logits_grad):
        fast = fn(x, y)
        kernels.set_enabled(False)
        try:
            slow = fn(x, y)
        finally:
            kernels.set_enabled(True)
        assert type(fast) is type(slow) and np.asarray(fast).shape == ()


@fuzz
@given(data=st.data())
def test_sigmoid_of_any_logits_is_a_probability_within_a_few_ulp(data: st.DataObject) -> None:
    shape = data.draw(shapes)
    dtype = data.draw(st.sampled_from(DTYPES))
    x = _array(data, dtype, shape, any_float)
    out = np.asarray(bcelab.sigmoid(x))
    assert out.dtype == _out_dtype(dtype) and out.shape == x.shape
    x64 = x.astype(np.float64)
    assert np.array_equal(np.isnan(out), np.isnan(x64))
    ok = ~np.isnan(x64)
    assert ((out[ok] >= 0) & (out[ok] <= 1)).all()
    with np.errstate(all="ignore"):  # the branch np.where drops may overflow
        want = np.where(x64 >= 0, 1 / (1 + np.exp(-x64)), np.exp(x64) / (1 + np.exp(x64)))
    want = want.astype(out.dtype)  # the reference, rounded to the result's dtype
    ulp = np.spacing(np.abs(want).astype(out.dtype))
    assert (np.abs(out[ok] - want[ok]) <= 4 * ulp[ok]).all(), (x, out, want)


def _reference_reduce(v: np.ndarray, w: np.ndarray, m: np.ndarray, reduction: str) -> Any:
    """The documented reductions in float64, with ``w`` and ``m`` broadcast to ``v``."""
    keep = np.where(m, w, 0.0)
    with np.errstate(invalid="ignore"):
        prod = np.where(keep == 0, 0.0, keep * v)  # a zero weight times inf is 0
    if reduction == "none":
        return prod
    if reduction == "sum":
        return prod.sum()
    if reduction == "mean":
        return prod.sum() / m.sum() if m.sum() else None
    if reduction == "weighted_mean":
        return prod.sum() / keep.sum() if keep.sum() else None
    return prod.sum(axis=-1) / m.sum(axis=-1) if m.sum(axis=-1).all() else None


@fuzz
@given(data=st.data())
def test_reduce_of_any_values_matches_the_documented_formulas(data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=5))
    dtype = data.draw(st.sampled_from(DTYPES))
    valid = data.draw(st.booleans())
    v = _array(data, dtype, shape, st.floats(0, 1e6) | st.just(np.inf) if valid else any_float)
    lead = shape[: data.draw(st.integers(1, len(shape)))]
    kw: dict[str, Any] = {"reduction": data.draw(st.sampled_from(sorted(bcelab.REDUCTIONS)))}
    w = m = None
    if data.draw(st.booleans()):
        w = _array(data, np.dtype(np.float64), lead, weight if valid else any_float)
        kw["weights"] = w
    if data.draw(st.booleans()):
        m = data.draw(hnp.arrays(np.bool_, lead))
        kw["mask"] = m
    try:
        out = bcelab.reduce(v, **kw)
    except BCELabError as e:
        # only a mean over nothing (no element, or zero total weight) is refused, and a
        # weighted mean whose weights average below the floor where products lose digits
        tiny = "weights whose mean is at least" in str(e) and kw["reduction"] == "weighted_mean"
        if valid:
            assert isinstance(e, bcelab.EmptyReductionError) or tiny, e
        return
    if not valid:
        return
    extra = (1,) * (len(shape) - len(lead))
    full = lead + extra
    wb = np.broadcast_to(np.ones(full) if w is None else w.reshape(full), shape)
    mb = np.broadcast_to(np.ones(full, bool) if m is None else m.reshape(full), shape)
    want = _reference_reduce(v.astype(np.float64), wb, mb, kw["reduction"])
    assert want is not None, (kw, out)
    if kw["reduction"] == "none":  # the values' dtype and shape, rounded once
        # (NumPy's bfloat16 is read as float32)
        out_dtype = np.dtype(np.float32) if dtype == np.dtype(ml_dtypes.bfloat16) else dtype
        assert np.asarray(out).dtype == out_dtype and np.shape(out) == shape
        if w is not None:
            np.testing.assert_array_equal(np.asarray(out, np.float64), want.astype(out_dtype))
            return
    np.testing.assert_allclose(np.asarray(out, np.float64), want, rtol=1e-12, atol=1e-300)
