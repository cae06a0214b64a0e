"""Runs the paired bootstrap kernels over blocks of rows and threads (or the NumPy twin).

A block of up to :data:`BLOCK` rows goes through three steps:

1. per-row values, bins and mixed keys (:func:`bcelab.kernels.bootstrap.row_values`)
   and every replicate weight (:func:`~bcelab.kernels.bootstrap.draw_block`), one
   contiguous range of rows per thread;
2. the valid rows sorted by each model's coarse bin (a counting sort);
3. independent work items on the threads: the point estimate, and each model's pass
   over the replicate columns (with more than two threads, each model's columns are
   split in ranges).  Items write disjoint parts of the state.

Every sum is an integer sum, so the state is the same for any number of threads.
Threads come from the metrics thread pool (:mod:`bcelab.kernels.threads`); the kernels
release the GIL.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..kernels import bootstrap_reference as reference
from ..kernels.bootstrap_aot import paired_kernels
from ..kernels.bootstrap_rng import mix, thresholds
from ..kernels.threads import run_threads
from .histogram import NOCT, SIDE, K, fine_index, layout
from .paired_inputs import Batch
from .paired_layout import coarse_layout

__all__ = ["BLOCK", "accumulate", "column_chunks", "kernel_module"]

#: rows per block: the block's weights (R + 1 bytes per row) stay in the caches while
#: both models' passes read them in bin order (65536-row blocks run ~2x slower)
BLOCK = 1 << 13
#: fewest replicate columns per work item (shorter vector loops lose speed)
_MIN_COLS = 32
#: per model: the value rows of its histogram (w y, w (1 - y), w p) ...
_HQ = (np.array([1, 2, 3], dtype=np.int64), np.array([1, 2, 4], dtype=np.int64))
#: ... and (value row, replicate sums row) of its sums (w BCE, w (p - y)^2)
_SQ = (np.array([[5, 0], [7, 2]], dtype=np.int64), np.array([[6, 1], [8, 3]], dtype=np.int64))


def _moment_index() -> tuple[np.ndarray, np.ndarray]:
    pairs = np.asarray(reference.MOMENT_PAIRS, dtype=np.int64)
    return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])


def kernel_module() -> Any:
    """The compiled paired kernels (:func:`bcelab.kernels.bootstrap_aot.paired_kernels`:
    precompiled, else numba's JIT), or None when numba is not installed."""
    return paired_kernels()


def column_chunks(n_cols: int, parts: int) -> list[tuple[int, int]]:
    """Split replicate columns ``0 .. n_cols`` into about ``parts`` ranges with even starts."""
    n = max(1, min(parts, n_cols // _MIN_COLS))
    step = -(-n_cols // n)
    step += step & 1
    return [(s, min(s + step, n_cols)) for s in range(0, n_cols, step)]


def _run_items(items: list[Callable[[], None]], threads: int) -> None:
    """Run independent work items on ``threads`` threads (each takes the next item)."""
    nt = max(1, min(threads, len(items)))
    counter = itertools.count()

    def worker(_: int) -> None:
        while (i := next(counter)) < len(items):  # next() is atomic under the GIL
            items[i]()

    run_threads(nt, worker)


def _prep(
    k: Any, b: Batch, s: int, e: int, *, seed_mixed: np.uint64, n_rep: int, logits: bool,
    eps: float, threads: int,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Per-row values, bins, keys, validity and every replicate weight of rows ``s .. e``."""
    n = e - s
    vals = np.empty((9, n))  # column-major: one row per value
    bins = np.empty((n, 4), dtype=np.int64)
    kk = np.empty(n, dtype=np.uint64)
    valid = np.empty(n, dtype=np.uint8)
    cmat = np.empty((n, n_rep + 1 + ((n_rep + 1) & 1)), dtype=np.int8)
    lay, co = layout(), coarse_layout()
    kb = K.bit_length() - 1  # K = 2**kb sub-bins per octave
    consts = np.array([52 - kb, (1022 - NOCT) << kb, SIDE, NOCT * K], dtype=np.int64)
    lo_c, hi_c = (eps, 1.0 - eps) if eps > 0 else (0.0, 1.0)
    w = b.w if b.w is not None else b.y
    thr = (thresholds() - (1 << 31)).astype(np.int32)

    def part(t: int, nt: int) -> Callable[[], None]:
        a, z = t * n // nt, (t + 1) * n // nt
        rows = slice(s + a, s + z)

        def go() -> None:
            k.row_values(
                b.y[rows], b.pa[rows], b.pb[rows], w[rows], b.w is not None, b.keys[rows],
                seed_mixed, logits, lo_c, hi_c, consts, lay.cut_val, lay.cut_off, co.of_fine,
                vals[:, a:z], bins[a:z], kk[a:z], valid[a:z],
            )  # fmt: skip
            k.draw_block(kk[a:z], valid[a:z], 0, n_rep, thr, cmat[a:z])

        return go

    nt = max(1, min(threads, n // 2048))
    _run_items([part(t, nt) for t in range(nt)], nt)
    return vals, bins, kk, valid, cmat


def _block_kernel(
    k: Any, a: dict[str, np.ndarray], b: Batch, s: int, e: int, *, seed_mixed: np.uint64,
    n_rep: int, logits: bool, eps: float, threads: int,
) -> int:  # fmt: skip
    vals, bins, _, valid, cmat = _prep(
        k, b, s, e, seed_mixed=seed_mixed, n_rep=n_rep, logits=logits, eps=eps, threads=threads
    )
    nc = coarse_layout().n
    orders = [np.empty(e - s, dtype=np.int64) for _ in range(2)]
    skeys = [np.empty(e - s, dtype=np.int64) for _ in range(2)]
    counts = [
        k.sort_by_bin(bins, 2 + m, vals, valid, nc, orders[m], skeys[m], a["rep_bin_rows"][m])
        for m in range(2)
    ]
    ma, mb = _moment_index()

    def point() -> None:
        k.point_add(
            vals, bins, valid, a["pt_hist"], a["pt_bin_rows"], a["pt_sums"], a["pt_mom"], ma, mb
        )

    def model_pass(m: int, r0: int, r1: int) -> Callable[[], None]:
        return lambda: k.replicate_pass(
            orders[m], skeys[m], counts[m], cmat, vals, _HQ[m], _SQ[m], a["rep_hist_lo"][m],
            a["rep_hist_hi"][m], a["rep_sums_lo"], a["rep_sums_hi"], r0, r1,
        )  # fmt: skip

    # each model's pass is a work item (two threads: one each); more threads split the columns
    chunks = column_chunks(n_rep + 1, -(-threads // 2))
    items = [model_pass(m, r0, r1) for r0, r1 in chunks for m in range(2)] + [point]
    _run_items(items, threads)
    return int(counts[0])


def _block_numpy(
    a: dict[str, np.ndarray],
    b: Batch,
    s: int,
    e: int,
    *,
    seed_mixed: np.uint64,
    n_rep: int,
    logits: bool,
    eps: float,
) -> int:
    lo_c, hi_c = (eps, 1.0 - eps) if eps > 0 else (0.0, 1.0)
    vals, bins, valid = reference.row_values(
        b.y[s:e],
        b.pa[s:e],
        b.pb[s:e],
        None if b.w is None else b.w[s:e],
        logits=logits,
        lo_c=lo_c,
        hi_c=hi_c,
        fine_index=fine_index,
        of_fine=coarse_layout().of_fine,
    )
    kk = mix(b.keys[s:e] ^ seed_mixed)
    ma, mb = _moment_index()
    reference.point_add(
        vals, bins, valid, a["pt_hist"], a["pt_bin_rows"], a["pt_sums"], a["pt_mom"], ma, mb
    )
    reference.replicate_add(
        vals,
        bins,
        valid,
        kk,
        a["rep_hist_lo"],
        a["rep_hist_hi"],
        a["rep_sums_lo"],
        a["rep_sums_hi"],
        a["rep_bin_rows"],
        n_rep=n_rep,
    )
    return int(valid.sum())


def accumulate(
    a: dict[str, np.ndarray],
    b: Batch,
    *,
    kernel: Any,
    seed_mixed: int,
    n_rep: int,
    logits: bool,
    eps: float,
    threads: int,
    on_block: Callable[[int], None],
) -> int:
    """Add the batch's rows to the state arrays ``a``; returns the rows with weight > 0.

    ``on_block(rows)`` runs before each block (the state uses it to carry its sums in
    time); ``kernel`` is :func:`kernel_module` or None for the NumPy path.
    """
    n = b.y.shape[0]
    sm = np.uint64(seed_mixed)
    step = BLOCK
    used = 0
    for s in range(0, n, step):
        e = min(s + step, n)
        on_block(e - s)
        if kernel is not None:
            used += _block_kernel(
                kernel,
                a,
                b,
                s,
                e,
                seed_mixed=sm,
                n_rep=n_rep,
                logits=logits,
                eps=eps,
                threads=threads,
            )
        else:
            used += _block_numpy(a, b, s, e, seed_mixed=sm, n_rep=n_rep, logits=logits, eps=eps)
    return used
