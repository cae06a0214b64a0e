"""The vectorisable exp/log/log1p of bcelab.kernels.fastmath against a 40-digit mpmath reference.

Reference values: mpmath (arbitrary precision, mp.dps = 40), rounded to float64.
"""

from __future__ import annotations

import numpy as np
import pytest

mpmath = pytest.importorskip("mpmath")
numba = pytest.importorskip("numba")

from bcelab.kernels.fastmath import (  # noqa: E402
    exp_nonpos,
    exp_nonpos_f32in,
    log1p_any,
    log1p_unit,
    log1p_unit_f32in,
    log_f32in,
    log_pos,
)

mpmath.mp.dps = 40


@numba.njit(cache=True, error_model="numpy")
def _apply(a: np.ndarray, which: int) -> np.ndarray:
    out = np.empty_like(a)
    for i in range(a.size):
        if which == 0:
            out[i] = exp_nonpos(a[i])
        elif which == 1:
            out[i] = log_pos(a[i])
        elif which == 2:
            out[i] = log1p_any(a[i])
        else:
            out[i] = log1p_unit(a[i])
    return out


def _ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(got - ref) / np.spacing(np.abs(ref))


def _check(name: str, xs: np.ndarray, which: int, fn: object) -> None:
    got = _apply(xs, which)
    ref = np.array([float(fn(mpmath.mpf(float(x)))) for x in xs])  # type: ignore[operator]
    err = _ulps(got, ref)
    i = int(np.argmax(err))
    print(f"\n{name}: worst {err[i]:.2f} ulp at {xs[i]!r}")
    assert err[i] <= 1.0, (name, xs[i], got[i], ref[i])


def test_exp_nonpos_accuracy() -> None:
    rng = np.random.default_rng(1)
    t = -np.concatenate([np.geomspace(1e-20, 708.0, 1500), rng.uniform(0, 708.0, 1500)])
    _check("exp", t, 0, mpmath.exp)


def test_log_pos_accuracy() -> None:
    rng = np.random.default_rng(2)
    z = np.concatenate(
        [np.geomspace(5e-324, 1e308, 1500), 1 + rng.uniform(-0.3, 0.5, 1500), [1.0, 2.0, 0.5]]
    )
    _check("log", z, 1, mpmath.log)


def test_log1p_any_accuracy() -> None:
    rng = np.random.default_rng(3)
    v = np.concatenate(
        [
            np.geomspace(1e-300, 1e10, 1000),
            -np.geomspace(1e-300, 0.999, 1000),
            rng.uniform(-1, 1, 1000),
        ]
    )
    _check("log1p", v, 2, mpmath.log1p)


def test_log1p_unit_accuracy() -> None:
    rng = np.random.default_rng(4)
    v = np.concatenate([np.geomspace(1e-300, 1.0, 1500), rng.uniform(0, 1, 1500), [np.sqrt(2) - 1]])
    _check("log1p_unit", v, 3, mpmath.log1p)


def test_special_values() -> None:
    # IEEE limits: e^-inf = 0, log 0 = -inf, log inf = inf, log1p(-1) = -inf; NaN propagates.
    np.testing.assert_array_equal(_apply(np.array([0.0, -np.inf, -800.0]), 0), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(_apply(np.array([0.0, 1.0, np.inf]), 1), [-np.inf, 0.0, np.inf])
    np.testing.assert_array_equal(_apply(np.array([-1.0, 0.0, np.inf]), 2), [-np.inf, 0.0, np.inf])
    np.testing.assert_array_equal(_apply(np.array([0.0, 1.0]), 3), [0.0, np.log(2.0)])
    for which in (0, 1, 2, 3):
        assert np.isnan(_apply(np.array([np.nan]), which)[0])


# --- the shorter *_f32in variants of the fused loss kernel: relative error < 2e-15 ---------------


@numba.njit(cache=True, error_model="numpy")
def _apply_f32in(a: np.ndarray, which: int) -> np.ndarray:
    out = np.empty_like(a)
    for i in range(a.size):
        if which == 0:
            out[i] = exp_nonpos_f32in(a[i])
        elif which == 1:
            out[i] = log_f32in(a[i])
        else:
            out[i] = log1p_unit_f32in(a[i])
    return out


def _check_rel(name: str, xs: np.ndarray, which: int, fn: object) -> None:
    got = _apply_f32in(xs, which)
    ref = np.array([float(fn(mpmath.mpf(float(x)))) for x in xs])  # type: ignore[operator]
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    i = int(np.argmax(rel))
    print(f"\n{name}: worst relative error {rel[i]:.2e} at {xs[i]!r}")
    assert rel[i] < 2e-15, (name, xs[i], got[i], ref[i])


def test_f32in_variants_accuracy() -> None:
    rng = np.random.default_rng(5)
    # exp of -|x| for float32 x
    t = -np.concatenate([np.geomspace(1e-30, 700.0, 1500), rng.uniform(0, 90.0, 1500)])
    _check_rel("exp_f32in", t.astype(np.float32).astype(np.float64), 0, mpmath.exp)
    # log of float32 values (subnormals included) and of 1 - p for float32 p
    p = np.concatenate([np.geomspace(2.0**-149, 1.0, 1500), rng.random(1500)]).astype(np.float32)
    z = np.concatenate([p.astype(np.float64), 1.0 - p.astype(np.float64)])
    _check_rel("log_f32in", z[(z > 0) & (z != 1.0)], 1, mpmath.log)
    v = np.concatenate([np.geomspace(1e-300, 1.0, 1500), rng.uniform(0, 1, 1500)])
    _check_rel("log1p_unit_f32in", v, 2, mpmath.log1p)


def test_f32in_special_values() -> None:
    np.testing.assert_array_equal(_apply_f32in(np.array([0.0, -np.inf]), 0), [1.0, 0.0])
    np.testing.assert_array_equal(
        _apply_f32in(np.array([0.0, 1.0, np.inf]), 1), [-np.inf, 0.0, np.inf]
    )
    np.testing.assert_array_equal(_apply_f32in(np.array([0.0, 1.0]), 2), [0.0, np.log(2.0)])
    for which in (0, 1, 2):
        assert np.isnan(_apply_f32in(np.array([np.nan]), which)[0])


def test_exp_nonpos_sum_accuracy() -> None:
    # the summed-terms variant: one-FMA reduction, relative error < 2.5e-14 (< 5e-15 for
    # the float32 range of useful arguments, t >= -104)
    from bcelab.kernels.fastmath import exp_nonpos_sum

    @numba.njit(cache=False, error_model="numpy")
    def apply(a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = exp_nonpos_sum(a[i])
        return out

    rng = np.random.default_rng(6)
    t = -np.concatenate([np.geomspace(1e-30, 708.0, 1500), rng.uniform(0, 104.0, 1500)])
    t = t.astype(np.float32).astype(np.float64)
    got = apply(t)
    ref = np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in t])
    rel = np.abs(got - ref) / ref
    assert rel.max() < 2.5e-14, (rel.max(), t[np.argmax(rel)])
    assert rel[t >= -104.0].max() < 5e-15
    np.testing.assert_array_equal(apply(np.array([0.0, -np.inf, -800.0])), [1.0, 0.0, 0.0])
    assert np.isnan(apply(np.array([np.nan]))[0])


def test_exp_factor_is_exp_nonpos_sum_above_minus_708_and_its_floor_below() -> None:
    # the plain logits pass's exponential: the same bits down to -708, then e^-708, which
    # gives the same factor 1 + t (and the same float32 gradient) as 0; NaN propagates
    from bcelab.kernels.fastmath import exp_factor, exp_nonpos_sum

    @numba.njit(cache=False, error_model="numpy")
    def both(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, s = np.empty_like(a), np.empty_like(a)
        for i in range(a.size):
            f[i] = exp_factor(a[i])
            s[i] = exp_nonpos_sum(a[i])
        return f, s

    rng = np.random.default_rng(7)
    t = -np.concatenate([np.geomspace(1e-30, 708.0, 2000), rng.uniform(0, 708.0, 2000)])
    t = np.concatenate([t, t.astype(np.float32).astype(np.float64)])
    f, s = both(t)
    np.testing.assert_array_equal(f, s)
    floor = both(np.array([-708.0]))[0][0]
    assert 3.0e-308 < floor < 3.5e-308 and 1.0 + floor == 1.0
    low = np.array([-708.0001, -708.3, -800.0, -3.4e38, -np.inf])
    f, s = both(low)
    np.testing.assert_array_equal(f, floor)
    assert (s <= floor).all() and (s[2:] == 0.0).all()  # 0 below -708.3
    f, s = both(np.array([np.nan]))
    assert np.isnan(f[0]) and np.isnan(s[0])
