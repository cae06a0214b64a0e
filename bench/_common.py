"""Shared helpers for the benchmarks: robust timing, a memory-bandwidth probe, tables.

Import from a benchmark script with ``from _common import ...`` (the scripts run as
``python bench/bench_<topic>.py``, so ``bench/`` is on ``sys.path``).
"""

from __future__ import annotations

import functools
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = [
    "bandwidth_probe",
    "bandwidth_reader",
    "interleaved_times",
    "machine_line",
    "median_time",
    "peer_available",
    "read_probes",
    "read_write_probes",
    "skip_peer",
    "table",
]

# how to install the optional peers that the benchmarks compare bcelab with
INSTALL = {
    "duckdb": "pip install 'bcelab[bench]' (or pip install duckdb)",
    "polars": "pip install 'bcelab[bench]' (or pip install polars)",
    "jax": "pip install 'bcelab[jax]' (or pip install jax)",
    "keras": "pip install 'bcelab[keras]' (or pip install keras)",
}
_SKIPPED: set[str] = set()


def skip_peer(module: str, reason: object = None) -> None:
    """Print, once per process, the line that says the comparisons with ``module`` are
    skipped: why it does not import (``reason``, the exception) and how to install it."""
    if module in _SKIPPED:
        return
    _SKIPPED.add(module)
    why = f" ({reason})" if reason else ""
    how = INSTALL.get(module, f"pip install {module}")
    print(f"{module} is missing{why}: skipping its comparisons; install it with {how}", flush=True)


@functools.cache
def peer_available(module: str) -> bool:
    """Whether ``module`` imports in a fresh interpreter with this environment (as the
    benchmarks' child processes start); if not, :func:`skip_peer` prints the line."""
    out = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        skip_peer(module, lines[-1] if lines else f"exit {out.returncode}")
    return out.returncode == 0


def median_time(
    fn: Callable[[], Any], *, repeat: int = 7, min_time: float = 0.02, max_inner: int = 10_000
) -> float:
    """Median over ``repeat`` runs of the mean time of one call, in seconds.

    Each run calls ``fn`` enough times (at least ``min_time`` seconds in total, at most
    ``max_inner`` calls) to make the clock's resolution irrelevant.  One warm-up call first.
    """
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, min(max_inner, int(min_time / one)))
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - t0) / inner)
    return statistics.median(runs)


def interleaved_times(
    fns: dict[str, Callable[[], Any]],
    *,
    repeat: int = 7,
    min_time: float = 0.02,
    max_inner: int = 10_000,
    settle: float = 0.03,
    seed: int = 0,
) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin.

    On a shared, noisy machine the load changes from second to second; timing the
    functions in turns (one batch of each per round) exposes them all to the same load,
    so the same-run ratios stay meaningful.  Functions that raise are left out.

    Each round takes the functions in a new order (a permutation drawn from ``seed``): a
    function that leaves the machine busy after it returns slows whichever one follows
    it, and with a fixed order that would always be the same one.  At 1e8 elements
    NumPy's naive loss frees gigabytes of temporaries, and for the next 0.3 s the kernel
    ran up to 1.5x slower (measured; the cause is not pinned down, most likely the
    operating system reclaiming that memory on the same two cores); in a fixed order the forward + gradient pass that came next lost
    20% in every round (``bench/results/kernel.md``).  Shuffled, such a penalty falls on
    a few rounds of a few functions, and the median leaves it out.

    Each batch starts after an untimed pause of ``settle`` seconds: torch's OpenMP
    workers (and XLA's) keep spinning for 5-10 ms after a parallel operation, and on
    two cores the batch that follows one would run up to twice as slow
    (``bench/results/adapters.md``), whichever library it times.
    """
    inner: dict[str, int] = {}
    for name, fn in fns.items():
        try:
            fn()
            t0 = time.perf_counter()
            fn()
            one = max(time.perf_counter() - t0, 1e-9)
        except Exception as e:  # a peer that cannot run here is reported, not fatal
            print(f"  {name}: skipped ({type(e).__name__}: {e})")
            continue
        inner[name] = max(1, min(max_inner, int(min_time / one)))
    runs: dict[str, list[float]] = {name: [] for name in inner}
    order = list(inner)
    rng = random.Random(seed)
    for _ in range(repeat):
        rng.shuffle(order)
        for name in order:
            fn, k = fns[name], inner[name]
            if settle > 0.0:
                time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            runs[name].append((time.perf_counter() - t0) / k)
    return {name: statistics.median(r) for name, r in runs.items()}


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _read_sum(arrays: Sequence[np.ndarray], lo: int, hi: int) -> float:
    # np.add.reduce releases the GIL, so threads read their slices in parallel.
    return float(sum(float(np.add.reduce(a[lo:hi])) for a in arrays))


def bandwidth_reader(arrays: Sequence[np.ndarray], *, threads: int = 1) -> Callable[[], float]:
    """A function that reads every byte of ``arrays`` once (a plain sum) with ``threads`` threads.

    Its time is the memory-bandwidth limit of a streaming kernel that reads the same bytes
    (divide by the element count for the limit in ns per element): NumPy's float sum is
    SIMD and memory-bound for arrays larger than the caches.
    """
    n = arrays[0].size
    flat = [a.reshape(-1) for a in arrays]
    if threads <= 1:
        return lambda: _read_sum(flat, 0, n)
    pool = _POOLS.setdefault(threads, ThreadPoolExecutor(max_workers=threads))
    bounds = [n * k // threads for k in range(threads + 1)]

    def run() -> float:
        futs = [pool.submit(_read_sum, flat, bounds[k], bounds[k + 1]) for k in range(threads)]
        return sum(f.result() for f in futs)

    return run


def read_probes(arrays: Sequence[np.ndarray]) -> list[tuple[str, Callable[[], Any]]]:
    """Passes that read every byte of ``arrays`` once: their fastest time is the read limit.

    NumPy's sum (``bandwidth_reader``, 1 and 2 threads) and ``torch.sum`` on 1 and 2
    threads (if torch imports): NumPy's pairwise float32 sum is not memory-bound on every
    machine (here it took twice torch's time), so it alone would understate the limit.
    """
    probes = [(f"read numpy {t}t", bandwidth_reader(arrays, threads=t)) for t in (1, 2)]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return probes
    tensors = [torch.from_numpy(a.reshape(-1)) for a in arrays]

    def torch_sum(nt: int) -> Callable[[], Any]:
        def run() -> float:
            if torch.get_num_threads() != nt:  # switching the pool is slow: only when needed
                torch.set_num_threads(nt)
            return sum(float(torch.sum(t)) for t in tensors)

        return run

    return probes + [(f"read torch {nt}t", torch_sum(nt)) for nt in (1, 2)]


def read_write_probes(
    a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> list[tuple[str, Callable[[], Any]]]:
    """Passes that read ``a`` and ``b`` and write ``out`` once (``out = a + b``).

    For float32 data that is 8 bytes read and 4 written per element, what a loss with its
    gradient moves: their fastest time is that pass's memory limit.  ``torch.add(a, b,
    out=out)`` on 1 and 2 threads (if torch imports) and ``np.add(a, b, out=out)`` on 1
    thread and on 2 (two halves on two threads: NumPy releases the GIL).
    """
    probes: list[tuple[str, Callable[[], Any]]] = [
        ("add numpy 1t", lambda: np.add(a, b, out=out)),
    ]
    pool = _POOLS.setdefault(2, ThreadPoolExecutor(max_workers=2))
    half = a.size // 2
    fa, fb, fo = a.reshape(-1), b.reshape(-1), out.reshape(-1)

    def numpy_2t() -> None:
        futs = [
            pool.submit(np.add, fa[lo:hi], fb[lo:hi], out=fo[lo:hi])
            for lo, hi in ((0, half), (half, fa.size))
        ]
        for f in futs:
            f.result()

    probes.append(("add numpy 2t", numpy_2t))
    try:
        import torch
    except ImportError:  # pragma: no cover
        return probes
    ta, tb, to = torch.from_numpy(fa), torch.from_numpy(fb), torch.from_numpy(fo)

    def torch_add(nt: int) -> Callable[[], Any]:
        def run() -> Any:
            if torch.get_num_threads() != nt:  # switching the pool is slow: only when needed
                torch.set_num_threads(nt)
            return torch.add(ta, tb, out=to)

        return run

    return probes + [(f"add torch {nt}t", torch_add(nt)) for nt in (1, 2)]


def bandwidth_probe(arrays: Sequence[np.ndarray], *, threads: int = 1, repeat: int = 7) -> float:
    """Median seconds of :func:`bandwidth_reader` (read ``arrays`` once)."""
    return median_time(bandwidth_reader(arrays, threads=threads), repeat=repeat)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable in a terminal)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def machine_line() -> str:
    """One line naming the machine: CPU model, cores available, load average."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {cores} cores, load average {load:.1f} at start"
