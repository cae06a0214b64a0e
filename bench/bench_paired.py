"""Benchmark: the paired bootstrap update (``PairedBootstrapStats``), speed and memory.

Usage::

    python bench/bench_paired.py [--rows N] [--replicates R] [--repeat K] [--rss-rows N]

1. **Speed** on ``--rows`` in-memory float32 rows (default 2e6): y ~ Bernoulli(sigmoid(s)),
   s ~ N(-1, 1.5), model A = sigmoid(1.3 s + 0.2 + noise), model B = sigmoid(0.8 s + noise).
   Timed in turns in one process (so both see the same machine load):

   * ``PairedBootstrapStats(replicates=R).update(a, b, y)`` on a fresh state, with every
     thread and with one thread;
   * ``BinaryStats().update(a, y)``: one model, no bootstrap (the ``bcelab eval`` state);
   * ``PairedBootstrapStats.compute()`` of the filled state.

   It prints the median wall and CPU seconds, the cost per (row x replicate) and the
   ratio to the one-model update.
2. **Memory**: a child process streams ``--rss-rows`` rows (default 1e7) in batches of
   1e6 through one state with R replicates (then computes it) and reports its peak RSS
   (``VmHWM``), next to a child that only makes the same batches.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
from _common import machine_line, table  # noqa: E402
from bcelab.metrics import BinaryStats, PairedBootstrapStats  # noqa: E402


def make_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = rng.normal(-1.0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-s))).astype(np.float32)
    a = 1 / (1 + np.exp(-(1.3 * (s + rng.normal(0, 0.5, n)) + 0.2)))
    b = 1 / (1 + np.exp(-(0.8 * (s + rng.normal(0, 0.5, n)))))
    return a.astype(np.float32), b.astype(np.float32), y


def interleaved(
    fns: dict[str, Callable[[], object]], repeat: int
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per call of each function, timed in turns after a warm-up."""
    for fn in fns.values():
        fn()
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            runs[name].append((time.perf_counter() - t, time.process_time() - c))
    return {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in runs.items()
    }


def speed(n: int, n_rep: int, repeat: int) -> str:
    a, b, y = make_rows(n)
    filled = PairedBootstrapStats(replicates=n_rep).update(a, b, y)
    fns: dict[str, Callable[[], object]] = {
        "BinaryStats.update (one model)": lambda: BinaryStats().update(a, y),
        f"paired update, R={n_rep}, all threads": lambda: PairedBootstrapStats(
            replicates=n_rep
        ).update(a, b, y),
        f"paired update, R={n_rep}, 1 thread": lambda: PairedBootstrapStats(
            replicates=n_rep, threads=1
        ).update(a, b, y),
        "paired compute (every metric)": filled.compute,
    }
    res = interleaved(fns, repeat)
    base_wall, base_cpu = res["BinaryStats.update (one model)"]
    rows = []
    for name, (wall, cpu) in res.items():
        per = (
            f"{wall / (n * n_rep) * 1e9:.2f} / {cpu / (n * n_rep) * 1e9:.2f}"
            if "update, R" in name
            else ""
        )
        rows.append(
            [
                name,
                f"{wall:.3f}",
                f"{cpu:.3f}",
                per,
                f"{wall / base_wall:.1f}x / {cpu / base_cpu:.1f}x",
            ]
        )
    head = [
        "step",
        "wall s",
        "CPU s",
        "ns per (row x replicate), wall / CPU",
        "vs one model, wall / CPU",
    ]
    return table(head, rows)


_CHILD = """
import sys
import numpy as np
sys.path.insert(0, {src!r})
from bcelab.metrics import PairedBootstrapStats
rows, n_rep, paired = {rows}, {n_rep}, {paired}
st = PairedBootstrapStats(replicates=n_rep) if paired else None
rng = np.random.default_rng(0)
for s in range(0, rows, 1_000_000):
    k = min(1_000_000, rows - s)
    z = rng.normal(-1.0, 1.5, k)
    y = (rng.random(k) < 1 / (1 + np.exp(-z))).astype(np.float32)
    a = (1 / (1 + np.exp(-1.3 * z))).astype(np.float32)
    b = (1 / (1 + np.exp(-0.8 * z))).astype(np.float32)
    if st is not None:
        st.update(a, b, y, source_key="stream", row_offset=s)
if st is not None:
    st.compute()
# VmHWM: this process's peak RSS (ru_maxrss would include the parent's before exec)
print(next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM")) / 1024)
"""


def peak_rss(rows: int, n_rep: int) -> str:
    out = []
    for paired in (False, True):
        code = _CHILD.format(src=str(HERE.parent / "src"), rows=rows, n_rep=n_rep, paired=paired)
        t = time.perf_counter()
        mb = float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
        )
        what = (
            f"stream {rows:.0e} rows through a state, R={n_rep}"
            if paired
            else "make the batches only"
        )
        out.append([what, f"{mb:.0f}", f"{time.perf_counter() - t:.1f}"])
    return table(["child process", "peak RSS MB", "wall s"], out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rows", type=float, default=2e6, help="in-memory rows for the speed (default 2e6)"
    )
    ap.add_argument(
        "--replicates", type=int, default=200, help="bootstrap replicates (default 200)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument(
        "--rss-rows",
        type=float,
        default=1e7,
        help="rows streamed by the peak-RSS child (default 1e7; 0 leaves it out)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="2e5 rows, 100 replicates, RSS at 1e6 (make bench --quick)",
    )
    args = ap.parse_args()
    if args.quick:
        args.rows, args.replicates, args.repeat, args.rss_rows = 2e5, 100, 1, 1e6
    print(machine_line())
    print(
        f"threads available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.2f}"
    )
    print(speed(int(args.rows), args.replicates, args.repeat))
    if args.rss_rows > 0:
        print(peak_rss(int(args.rss_rows), args.replicates))
    print(
        f"this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
