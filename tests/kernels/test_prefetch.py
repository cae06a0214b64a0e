"""The software prefetch of the loss kernel's loops (bcelab.kernels.prefetch)."""

from __future__ import annotations

import platform

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit

from bcelab.kernels.prefetch import LINE, prefetch, prefetch_range


@njit(cache=False)
def _sum_with_prefetch(a: np.ndarray, ahead: int) -> float:
    s = 0.0
    for b0 in range(0, a.size, 64):
        prefetch_range(a, b0 + ahead, b0 + ahead + 64)  # past the end near the end
        for j in range(b0, min(b0 + 64, a.size)):
            s += a[j]
    return s


@njit(cache=False)
def _one(a: np.ndarray, i: int) -> None:
    prefetch(a, i)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
@pytest.mark.parametrize("n", [0, 1, 63, 64, 1000, 4097])
def test_prefetch_changes_nothing(dtype: type, n: int) -> None:
    a = np.arange(n).astype(dtype)
    for ahead in (0, 64, 1024, 10**9):
        assert _sum_with_prefetch(a, ahead) == float(np.sum(a, dtype=np.float64))


def test_prefetch_is_one_llvm_prefetch_per_line() -> None:
    a = np.zeros(10, dtype=np.float32)
    _one(a, 3)
    assert "llvm.prefetch" in next(iter(_one.inspect_llvm().values()))
    if platform.machine() in ("x86_64", "AMD64"):
        assert "prefetcht0" in next(iter(_one.inspect_asm().values()))


def test_prefetch_range_covers_a_line_per_step() -> None:
    assert LINE == 64  # the stride of prefetch_range: 16 float32 or 8 float64 per line
