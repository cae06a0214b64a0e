"""Benchmark: ``BinaryStats.update`` throughput, and the exactness of its sums at scale.

Usage::

    python bench/bench_metrics_update.py [--quick] [--rows N] [--exact-rows N] [--out FILE]

1. **Throughput** on ``--rows`` in-memory float32 rows (default 1e7; ``--quick`` 2e6):
   y ~ Bernoulli(p), p = sigmoid(z), z ~ N(-1, 1.5).  Compared in one process:

   * ``BinaryStats.update`` (numba kernel; every metric's state: 7 compensated sums,
     counts, min/max, the 20 588-bin histogram) with all threads and with 1 thread;
   * the NumPy reference path (same state);
   * DuckDB SQL over the same arrays (count, mean prediction, log loss only);
   * Polars (same three aggregates);
   * scikit-learn ``log_loss`` + ``roc_auc_score`` + ``brier_score_loss`` (in memory).

   It prints rows per second, ratios to DuckDB, and the fraction of the memory-bandwidth
   limit (reading y and p once, measured in the same run with ``bandwidth_probe``).

2. **Exactness** on ``--exact-rows`` streamed rows (default 1e8;
   ``--quick`` 1e7; ``--exact-rows 1e9`` for the full check): p is float32 in [0.5, 1),
   i.e. p = k 2**-24 with k an integer in [2**23, 2**24), so the exact log loss is
   ``sum_k count_k * loss(k)`` (math.fsum over at most 2**24 terms) and sum(p) is an
   integer sum.  Prints the relative errors; the target is <= 1e-12.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
from _common import bandwidth_probe, machine_line, skip_peer, table  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402


def make_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 1.5, n)
    p = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    return y, p


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median (wall seconds, CPU seconds of this process) of one call, after a warm-up.

    On a shared machine the wall time depends on the other jobs; the CPU time (every
    thread of this process, DuckDB's and Polars' included) does much less so.
    """
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def throughput(n: int, repeat: int) -> tuple[str, dict[str, float]]:
    y, p = make_rows(n)
    cores = len(os.sched_getaffinity(0))
    res: dict[str, tuple[float, float]] = {}

    def upd(**kw: object) -> None:
        BinaryStats(**kw).update(p, y)  # type: ignore[arg-type]

    res["bcelab update (numba, all threads)"] = timed(upd, repeat=repeat)
    res["bcelab update (numba, 1 thread)"] = timed(lambda: upd(threads=1), repeat=repeat)
    m = min(n, 2_000_000)  # the reference path is slow: time it on a slice, scale per row
    y2, p2 = y[:m], p[:m]
    t = timed(lambda: BinaryStats(kernel="numpy").update(p2, y2), repeat=3)
    res["bcelab update (NumPy reference)"] = (t[0] * n / m, t[1] * n / m)
    try:
        import duckdb
        import pyarrow as pa

        tbl = pa.table({"y": y, "p": p})
        con = duckdb.connect()
        con.execute(f"SET threads={cores}")
        con.register("t", tbl)
        q = "SELECT count(*), avg(p), -avg(CASE WHEN y = 1 THEN ln(p) ELSE ln(1 - p) END) FROM t"
        res["DuckDB SQL (count, mean, log loss)"] = timed(
            lambda: con.execute(q).fetchall(), repeat=repeat
        )
    except ImportError as e:  # the ratios to DuckDB are then NaN
        skip_peer(getattr(e, "name", None) or "duckdb", e)
    try:
        import polars as pl

        df = pl.DataFrame({"y": y, "p": p})
        pf = pl.col("p").cast(pl.Float64)
        expr = [
            pl.len(),
            pf.mean().alias("mean"),
            -(pl.when(pl.col("y") == 1).then(pf.log()).otherwise((1 - pf).log())).mean(),
        ]
        res["Polars (count, mean, log loss)"] = timed(lambda: df.select(expr), repeat=repeat)
    except ImportError as e:
        skip_peer(getattr(e, "name", None) or "polars", e)
    try:
        from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

        ms = min(n, 2_000_000)
        ys, ps = y[:ms], p[:ms]

        def sk() -> None:
            log_loss(ys, ps)
            roc_auc_score(ys, ps)
            brier_score_loss(ys, ps)

        t = timed(sk, repeat=3)
        res["scikit-learn in memory (3 metrics)"] = (t[0] * n / ms, t[1] * n / ms)
    except ImportError:
        pass
    bw = bandwidth_probe([y, p], threads=cores)
    duck = res.get("DuckDB SQL (count, mean, log loss)", (math.nan, math.nan))
    rows = [
        [k, n / w / 1e6, duck[0] / w, c / n * 1e9, duck[1] / c, bw / w] for k, (w, c) in res.items()
    ]
    text = table(
        [
            "engine",
            "M rows/s (wall)",
            "speed vs DuckDB (wall)",
            "CPU ns/row",
            "speed vs DuckDB (CPU time)",
            "fraction of bandwidth limit",
        ],
        rows,
    )
    text += (
        f"\n\nmemory-bandwidth limit (read y and p once, {cores} threads): "
        f"{n / bw / 1e6:,.0f} M rows/s"
    )
    return text, res


def _naive_sums() -> Callable[..., tuple[float, float]]:
    """A running sum of the per-row losses in float64 and in float32, row by row (numba)."""
    from numba import njit

    @njit(cache=False)
    def run(y: np.ndarray, p: np.ndarray, s64: float, s32: np.float32) -> tuple[float, float]:
        for i in range(y.shape[0]):
            pi = np.float64(p[i])
            v = -math.log(pi) if y[i] == 1 else -math.log1p(-pi)
            s64 += v
            s32 = np.float32(s32 + np.float32(v))
        return s64, s32

    return run  # type: ignore[no-any-return]


def exactness(n: int, chunk: int = 10_000_000) -> str:
    rng = np.random.default_rng(2024)
    s = BinaryStats()
    c1 = np.zeros(1 << 23, dtype=np.int64)
    c0 = np.zeros(1 << 23, dtype=np.int64)
    t0 = time.perf_counter()
    t_upd = 0.0
    done = 0
    naive = _naive_sums()
    n64, n32 = 0.0, np.float32(0.0)
    while done < n:
        m = min(chunk, n - done)
        k = rng.integers(1 << 23, 1 << 24, m, dtype=np.int64)
        p = k.astype(np.float32) * np.float32(2.0**-24)
        y = (rng.random(m) < 0.5).astype(np.float32)
        t = time.perf_counter()
        s.update(p, y)
        t_upd += time.perf_counter() - t
        n64, n32 = naive(y, p, n64, np.float32(n32))
        c1 += np.bincount(k[y == 1] - (1 << 23), minlength=1 << 23)
        c0 += np.bincount(k[y == 0] - (1 << 23), minlength=1 << 23)
        done += m
    pk = (np.arange(1 << 23) + (1 << 23)) * 2.0**-24
    ref_loss = math.fsum((c1 * -np.log(pk))[c1 > 0]) + math.fsum((c0 * -np.log1p(-pk))[c0 > 0])
    ref_p = int(np.sum((c0 + c1) * (np.arange(1 << 23) + (1 << 23)))) * 2.0**-24
    rel_loss = abs(s.total("wbce") - ref_loss) / ref_loss
    rel_p = abs(s.total("wp") - ref_p) / ref_p
    rows = [
        ["sum of losses (BinaryStats)", f"{rel_loss:.2e}"],
        [
            "sum of losses, naive float64 running sum (for comparison)",
            f"{abs(n64 - ref_loss) / ref_loss:.2e}",
        ],
        [
            "sum of losses, naive float32 running sum (for comparison)",
            f"{abs(float(n32) - ref_loss) / ref_loss:.2e}",
        ],
        ["sum of predictions", f"{rel_p:.2e}"],
        ["count", "exact" if s.rows == n else f"WRONG ({s.rows})"],
    ]
    return (
        table(["quantity", "relative error vs exact reference"], rows)
        + f"\n\n{n:,} rows in chunks of {chunk:,}; update time {t_upd:.1f} s "
        f"({n / t_upd / 1e6:.1f} M rows/s), total {time.perf_counter() - t0:.1f} s; "
        f"target <= 1e-12: {'PASS' if max(rel_loss, rel_p) <= 1e-12 else 'FAIL'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2e6 rows, 1e7 for exactness, 3 repeats")
    ap.add_argument(
        "--rows", type=float, default=None, help="in-memory rows for the throughput (default 1e7)"
    )
    ap.add_argument(
        "--exact-rows",
        type=float,
        default=None,
        help="streamed rows for the exactness check (default 1e8; 1e9 for the full check)",
    )
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    a = ap.parse_args()
    n = int(a.rows or (2e6 if a.quick else 1e7))
    ne = int(a.exact_rows or (1e7 if a.quick else 1e8))
    repeat = 3 if a.quick else 7
    cmd = "python bench/bench_metrics_update.py " + " ".join(sys.argv[1:])
    parts = [
        f"# BinaryStats.update\n\n`{cmd.strip()}`\n\n{machine_line()}\n",
        f"## Throughput, {n:,} float32 rows in memory (median of {repeat})\n",
    ]
    text, _ = throughput(n, repeat)
    parts.append(text + "\n")
    print("\n".join(parts), flush=True)
    ex = exactness(ne)
    parts.append(f"## Exact sums at scale\n\n{ex}\n")
    print(parts[-1])
    if a.out is not None:
        from bcelab._core.atomic import write_text

        write_text(a.out, "\n".join(parts))


if __name__ == "__main__":
    main()
