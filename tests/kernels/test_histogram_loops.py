"""The compiled loops over a state's histogram (bcelab.kernels.histogram_loops), from the
JIT and from the precompiled module: pool adjacent violators gives the blocks and pooled
sums of the NumPy and Python steps of bcelab.metrics.isotonic, and the coarse-bin sums of
the calibration errors those of ``np.bincount``, bit for bit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")
stats_update = pytest.importorskip("bcelab.kernels.stats_update")

from bcelab.kernels import aot, stats_driver  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402
from bcelab.metrics.calibration import (  # noqa: E402
    coarse_sums,
    equal_mass_assignment,
    uniform_assignment,
)
from bcelab.metrics.decomposition import decompose_stats  # noqa: E402
from bcelab.metrics.histogram import layout  # noqa: E402
from bcelab.metrics.isotonic import pool_adjacent_violators  # noqa: E402

from .aot_helpers import use_aot  # noqa: E402

_FUZZ = settings(max_examples=200, deadline=None)


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    aot.reset()
    yield
    aot.reset()


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y), (x, y)


def _sequences() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Sequences that end in the rounds, in the stack after a few rounds, and in the stack
    at once; with empty bins, ties and one element."""
    rng = np.random.default_rng(11)
    for n in (0, 1, 2, 3, 50, 1000, 20_588):
        mass = rng.integers(0, 4, n).astype(float) * rng.random(n) * 3
        yield mass * rng.random(n), mass  # random rates: rounds then the stack
        rate = np.sort(rng.random(n))
        rate[rng.random(n) < 0.02] *= 0.5  # a few violators in an increasing sequence
        yield rate * mass, mass
        yield np.linspace(1, 0, n) * mass, mass  # one decreasing run
    yield np.array([2.0, 1.0, 1.0, 3.0]), np.array([4.0, 2.0, 2.0, 4.0])  # equal rates


@pytest.mark.parametrize("precompiled", [False, True])
def test_compiled_equals_the_numpy_steps(
    precompiled: bool, aot_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_aot(monkeypatch, aot_dir, enabled=precompiled)
    loops = stats_driver.compiled_loops()
    assert (loops is not stats_update.LOOPS) == precompiled
    for pos, mass in _sequences():
        _same(
            pool_adjacent_violators(pos, mass),
            pool_adjacent_violators(pos, mass, compiled=False),
        )


@_FUZZ
@given(
    pos=st.lists(st.floats(0, 1e6, allow_subnormal=True), max_size=300),
    # shares of at least 1e-9 (or 0): masses up to 1e15, whose products stay finite, as a
    # histogram's bin weights do (the rate comparison multiplies a position by a mass)
    share=st.lists(st.just(0.0) | st.floats(1e-9, 1), min_size=300, max_size=300),
    zeros=st.lists(st.booleans(), min_size=300, max_size=300),
)
def test_compiled_equals_the_numpy_steps_fuzzed(
    pos: list[float], share: list[float], zeros: list[bool]
) -> None:
    """Any finite masses (a positive mass ``pos / share``: a bin's weight, a finite sum of
    validated weights), with empty elements anywhere."""
    n = len(pos)
    p = np.asarray(pos)
    s = np.asarray(share[:n])
    with np.errstate(divide="ignore", invalid="ignore"):  # where s is 0: not taken
        mass = np.where(s > 0, p / s, p + 1.0)
    mass[np.asarray(zeros[:n], dtype=bool)] = 0.0
    p = np.minimum(p, mass)
    _same(pool_adjacent_violators(p, mass), pool_adjacent_violators(p, mass, compiled=False))


def test_decomposition_of_a_state_is_unchanged() -> None:
    """A state's whole decomposition: the same numbers with and without the compiled loop."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal(20_000) * 1.5 - 1
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(z.size) < np.clip(p * 1.1, 0, 1)).astype(np.float64)
    st_ = BinaryStats().update(p, y)
    fast = decompose_stats(st_)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats_driver, "compiled_loops", lambda: None)
        slow = decompose_stats(st_)
    assert fast == slow


def test_arrays_the_wrapper_does_not_trust_go_to_the_jit(
    aot_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strided array is not handed to the precompiled module (its wrapper trusts the
    layout), but to the JIT loop, with the same blocks."""
    use_aot(monkeypatch, aot_dir)
    loops = aot.loops()
    assert loops is not None
    pos = np.array([3.0, 1.0, 2.0, 0.5, 4.0])
    mass = np.full(5, 4.0)
    want = pool_adjacent_violators(pos, mass, compiled=False)
    calls: list[int] = []
    monkeypatch.setattr(aot, "_jit", lambda: calls.append(1) or stats_update.LOOPS)
    buf = np.zeros(10)
    buf[::2] = pos
    first, strided, m = np.arange(5), buf[::2], mass.copy()
    k = loops.pav_blocks(first, strided, m, 0.05)
    assert calls == [1]
    _same((first[:k], strided[:k], m[:k]), want)
    first, p, m = np.arange(5), pos.copy(), mass.copy()
    k = loops.pav_blocks(first, p, m, 0.05)
    assert calls == [1]  # contiguous arrays: the precompiled module
    _same((first[:k], p[:k], m[:k]), want)


def _bincounts(pos: np.ndarray, neg: np.ndarray, wp: np.ndarray, coarse: np.ndarray, n: int):
    return tuple(np.bincount(coarse, weights=v, minlength=n) for v in (pos, pos + neg, wp))


@pytest.mark.parametrize("precompiled", [False, True])
def test_coarse_sums_equal_bincount(
    precompiled: bool, aot_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns of a (bins, 3) histogram (strided views, as the metrics pass them), for
    uniform and equal-mass assignments: the sums of ``np.bincount``, bit for bit."""
    use_aot(monkeypatch, aot_dir, enabled=precompiled)
    calls: list[int] = []
    monkeypatch.setattr(aot, "_jit", lambda: calls.append(1) or stats_update.LOOPS)
    rng = np.random.default_rng(2)
    nb = layout().edges.size - 1
    hist = rng.random((nb, 3)) * (rng.random((nb, 1)) < 0.4) * 1e3
    pos, neg, wp = hist[:, 0], hist[:, 1], hist[:, 2]
    for n in (1, 7, 15, 100):
        for coarse in (uniform_assignment(n), equal_mass_assignment(pos + neg, n)):
            _same(coarse_sums(pos, neg, wp, coarse, n), _bincounts(pos, neg, wp, coarse, n))
    assert calls == []  # strided float64 columns go to the precompiled module as they are


@_FUZZ
@given(
    values=st.lists(st.floats(0, 1e300), min_size=3, max_size=600),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_coarse_sums_equal_bincount_fuzzed(values: list[float], n: int, seed: int) -> None:
    """Any non-negative sums (up to overflow to inf) and any assignment, in or out of
    order; an assignment outside ``[0, n)`` falls back to ``np.bincount`` itself."""
    m = len(values) // 3
    v = np.asarray(values[: 3 * m]).reshape(m, 3)
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, n, m)
    args = (v[:, 0], v[:, 1], v[:, 2])
    with np.errstate(over="ignore"):
        _same(coarse_sums(*args, coarse, n), _bincounts(*args, coarse, n))
        if m:
            coarse[-1] = n  # out of range: bincount's longer arrays, as before
            _same(coarse_sums(*args, coarse, n), _bincounts(*args, coarse, n))
