"""The paired bootstrap kernels without numba: the precompiled ones when they can be had.

:func:`paired_kernels` returns an object with the attributes of
:mod:`bcelab.kernels.bootstrap` (``row_values``, ``draw_block``, ``sort_by_bin``,
``point_add``, ``replicate_pass``): the ahead-of-time compiled twins from
:mod:`bcelab.kernels.aot` (same numba front end, LLVM and options: the same state bit
for bit, tested), else the numba JIT module itself, else None when numba is not
installed.  This module does not import numba, so a process with the precompiled
kernels never pays for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import aot
from .aot import array_fits

__all__ = ["AotBootstrap", "paired_kernels"]


def _jit() -> Any:
    from . import bootstrap  # numba, imported only when a call needs the JIT kernels

    return bootstrap


class AotBootstrap:
    """The precompiled paired kernels, with the attributes of :mod:`bcelab.kernels.bootstrap`.

    The generated wrappers trust their arguments' dtypes and layouts, so each call
    checks them first and hands anything unexpected to the JIT kernels instead.
    """

    def __init__(self, mod: Any) -> None:
        self.mod = mod

    def row_values(
        self, y: Any, pa: Any, pb: Any, w: Any, has_w: bool, keys: Any, seed_mixed: Any,
        logits: bool, lo_c: float, hi_c: float, consts: Any, cut_val: Any, cut_off: Any,
        of_fine: Any, vals: Any, bins: Any, kk: Any, valid: Any,
    ) -> None:  # fmt: skip
        args = (
            y, pa, pb, w, has_w, keys, seed_mixed, logits, lo_c, hi_c, consts, cut_val,
            cut_off, of_fine, vals, bins, kk, valid,
        )  # fmt: skip
        dt = getattr(y, "dtype", None)
        ok = (
            dt in (np.float32, np.float64)
            and all(array_fits(a, dt) for a in (y, pa, pb, w))
            and array_fits(keys, np.uint64)
            and array_fits(consts, np.int64)
            and array_fits(cut_val, np.float64)
            and array_fits(cut_off, np.int64)
            and array_fits(of_fine, np.int32)
            and isinstance(vals, np.ndarray)  # any layout: a block of the matrix's columns
            and vals.dtype == np.float64
            and vals.ndim == 2
            and vals.flags.aligned
            and vals.flags.writeable
            and array_fits(bins, np.int64, 2, write=True)
            and array_fits(kk, np.uint64, write=True)
            and array_fits(valid, np.uint8, write=True)
        )
        if not ok:
            _jit().row_values(*args)
            return None
        tag = "f4" if dt == np.float32 else "f8"
        getattr(self.mod, f"row_values_{tag}")(*args)
        return None

    def draw_block(self, kk: Any, valid: Any, r0: int, n_rep: int, thr: Any, cmat: Any) -> None:
        ok = (
            array_fits(kk, np.uint64)
            and array_fits(valid, np.uint8)
            and array_fits(thr, np.int32)
            and array_fits(cmat, np.int8, 2, write=True)
        )
        (self.mod if ok else _jit()).draw_block(kk, valid, r0, n_rep, thr, cmat)

    def sort_by_bin(
        self, bins: Any, col: int, vals: Any, valid: Any, n_bins: int, *out: Any
    ) -> int:
        ok = (
            array_fits(bins, np.int64, 2)
            and array_fits(vals, np.float64, 2)
            and array_fits(valid, np.uint8)
            and all(array_fits(a, np.int64, write=True) for a in out)
        )
        return int((self.mod if ok else _jit()).sort_by_bin(bins, col, vals, valid, n_bins, *out))

    def point_add(self, vals: Any, bins: Any, valid: Any, *rest: Any) -> None:
        hist, bin_rows, sums, moments, ma, mb = rest
        ok = (
            array_fits(vals, np.float64, 2)
            and array_fits(bins, np.int64, 2)
            and array_fits(valid, np.uint8)
            and array_fits(hist, np.int64, 4, write=True)
            and all(array_fits(a, np.int64, 2, write=True) for a in (bin_rows, sums, moments))
            and array_fits(ma, np.int64)
            and array_fits(mb, np.int64)
        )
        (self.mod if ok else _jit()).point_add(vals, bins, valid, *rest)

    def replicate_pass(
        self, order: Any, skey: Any, count: int, cmat: Any, vals: Any, hq: Any, sq: Any,
        hist_lo: Any, hist_hi: Any, sums_lo: Any, sums_hi: Any, r0: int, r1: int,
    ) -> None:  # fmt: skip
        args = (order, skey, count, cmat, vals, hq, sq, hist_lo, hist_hi, sums_lo, sums_hi, r0, r1)
        ok = (
            all(array_fits(a, np.int64) for a in (order, skey, hq))
            and array_fits(cmat, np.int8, 2)
            and array_fits(vals, np.float64, 2)
            and array_fits(sq, np.int64, 2)
            and all(array_fits(a, np.int64, 3, write=True) for a in (hist_lo, hist_hi))
            and all(array_fits(a, np.int64, 2, write=True) for a in (sums_lo, sums_hi))
        )
        (self.mod if ok else _jit()).replicate_pass(*args)


def paired_kernels() -> Any:
    """The precompiled kernels (no numba import) when they can be had, else
    :mod:`bcelab.kernels.bootstrap` (numba's JIT), else None (numba is not installed)."""
    return aot.precompiled_or_jit(AotBootstrap, _jit)
