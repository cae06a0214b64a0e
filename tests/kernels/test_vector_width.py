"""The per-function vector-width hint of the loss kernel (bcelab.kernels.vector_width)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from llvmlite import ir
from numba import njit

from bcelab.kernels.vector_width import WIDE, mark_wide, prefer_wide_vectors


@njit(cache=False)
def _wide_sum(a: np.ndarray) -> float:
    prefer_wide_vectors()
    s = 0.0
    for v in a:
        s += v
    return s


@njit(cache=False)
def _plain_sum(a: np.ndarray) -> float:
    s = 0.0
    for v in a:
        s += v
    return s


def test_the_function_that_calls_it_carries_the_attribute_and_the_same_results() -> None:
    a = np.arange(1000, dtype=np.float64) / 7
    assert _wide_sum(a) == _plain_sum(a)  # a strict-order sum: the width cannot change it
    assert WIDE in next(iter(_wide_sum.inspect_llvm().values()))
    assert WIDE not in next(iter(_plain_sum.inspect_llvm().values()))


def test_an_unknown_attribute_store_is_skipped() -> None:
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "f")
    assert mark_wide(fn) and WIDE in str(module)

    class Other:
        attributes = ("not", "a", "set")

    assert not mark_wide(Other()) and not mark_wide(object())
