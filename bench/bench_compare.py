"""Benchmark: ``bcelab compare`` (paired bootstrap of two models) against ``bcelab eval``.

Usage::

    python bench/bench_compare.py [--quick] [--rows 2e6] [--repeat 5] [--big-rows 1e8]
                                  [--dask-rows 2e7] [--skip-big] [--skip-dask]

``--quick`` (``make bench`` with ``--quick``): 3 rounds, 1e7 rows for the RSS, 4e6 for
Dask, a few minutes in all.

Three measurements, each on seeded float32 Parquet files written once under
``bench/data/`` (gitignored) by :mod:`bcelab.evaluation.example_data` (columns ``id``,
``segment``, ``y``, ``a``, ``b``):

1. **Whole process** on ``--rows`` rows: ``bcelab compare FILE --target y --pred a --pred b
   --json`` (200 replicates; also with ``--id id``) against ``bcelab eval FILE --target y
   --pred a --json``, run in turns (``--repeat`` rounds), medians and their ratio.  A
   child process also splits one compare into its phases (imports, the first call's
   kernel load, the pass, the statistics) and says whether it imported numba (not when
   the precompiled kernels are there).
2. **Peak RSS** of one whole-process ``bcelab compare`` on ``--big-rows`` rows (the
   child's own ``ru_maxrss``, from ``wait4``).
3. **Dask overhead** on a running two-worker ``LocalCluster``: ``compare`` in this
   process with ``engine="dask"`` against ``engine="local", threads=2`` on
   ``--dask-rows`` rows, after one warm-up run each, in turns, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _common import machine_line  # noqa: E402

_CHUNK = 5_000_000


def make_file(rows: int) -> Path:
    """``compare_<rows>.parquet`` (written once, in chunks of 5e6 rows, row groups of 2**20)."""
    import pyarrow.parquet as pq

    from bcelab.evaluation.example_data import two_models

    path = DATA / f"compare_{rows}.parquet"
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    for i, start in enumerate(range(0, rows, _CHUNK)):
        t = two_models(min(_CHUNK, rows - start), seed=i)
        writer = writer or pq.ParquetWriter(tmp, t.schema)
        writer.write_table(t, row_group_size=1 << 20)
    assert writer is not None
    writer.close()
    tmp.rename(path)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``python -m bcelab ARGS`` (its own ru_maxrss)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bcelab", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"bcelab {' '.join(args)} failed: {err}")
    return wall, usage.ru_maxrss / 1024.0


def whole_process(path: Path, repeat: int) -> dict[str, list[float]]:
    cmds = {
        "eval (one model)": ["eval", str(path), "--target", "y", "--pred", "a", "--json"],
        "compare": ["compare", str(path), "--target", "y", "--pred", "a", "--pred", "b", "--json"],
        "compare --id": [
            "compare", str(path), "--target", "y", "--pred", "a", "--pred", "b", "--id", "id",
            "--json",
        ],
    }  # fmt: skip
    for args in cmds.values():  # warm the file cache and the kernels' caches
        run_child(args)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for name, args in cmds.items():
            times[name].append(run_child(args)[0])
    return times


_PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from bcelab.evaluation import compare
t1 = time.perf_counter()
from bcelab.metrics import PairedBootstrapStats
PairedBootstrapStats(replicates=200).update(np.array([0.2]), np.array([0.4]), np.array([1.0]))
t2 = time.perf_counter()
res = compare(sys.argv[1], target="y", preds=("a", "b"))
t3 = time.perf_counter()
res.stats.compute()
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "kernel load": t2 - t1, "compare": t3 - t2,
                  "statistics (compute)": t4 - t3, "numba imported": "numba" in sys.modules}))
"""


def phases(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _PHASES, str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    d: dict[str, Any] = json.loads(out.stdout)
    d["pass (compare - statistics)"] = d["compare"] - d["statistics (compute)"]
    return d


def dask_overhead(path: Path, repeat: int) -> dict[str, Any]:
    import dask
    from distributed import Client, LocalCluster

    from bcelab.evaluation import compare
    from bcelab.evaluation.dask_engine import local_cluster_config

    with dask.config.set(local_cluster_config()):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = Client(cluster)
    opts: dict[str, Any] = {"target": "y", "preds": ("a", "b"), "id": "id"}
    try:
        runs = {
            "local, 2 threads": lambda: compare(path, threads=2, **opts),
            "dask, running cluster": lambda: compare(path, engine="dask", scheduler=client, **opts),
        }
        results = {name: fn() for name, fn in runs.items()}  # warm-up: workers load kernels
        same = json.dumps(results["local, 2 threads"].to_dict()) == json.dumps(
            results["dask, running cluster"].to_dict()
        )
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(repeat):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    finally:
        client.close()
        cluster.close()
    return {"times": times, "identical": same}


def _median_line(name: str, runs: list[float]) -> str:
    spread = ", ".join(f"{t:.2f}" for t in runs)
    return f"| {name} | {statistics.median(runs):.2f} | {min(runs):.2f} | {spread} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rows", type=float, default=2e6, help="rows of the whole-process runs (default 2e6)"
    )
    ap.add_argument("--repeat", type=int, default=5, help="rounds in turns (default 5)")
    ap.add_argument(
        "--big-rows", type=float, default=1e8, help="rows of the peak-RSS run (default 1e8)"
    )
    ap.add_argument(
        "--dask-rows", type=float, default=2e7, help="rows of the Dask comparison (default 2e7)"
    )
    ap.add_argument("--skip-big", action="store_true", help="leave out the peak-RSS run")
    ap.add_argument("--skip-dask", action="store_true", help="leave out the Dask comparison")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds, 1e7 rows for the RSS, 4e6 for Dask (a few minutes)",
    )
    a = ap.parse_args()
    if a.quick:
        a.repeat, a.big_rows, a.dask_rows = 3, 1e7, 4e6
    print(machine_line())
    print(f"load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")

    path = make_file(int(a.rows))
    times = whole_process(path, a.repeat)
    print(f"## Whole process, {int(a.rows):,} rows, 200 replicates ({a.repeat} rounds in turns)\n")
    print("| command | median s | fastest s | runs s |\n|---|---|---|---|")
    for name, runs in times.items():
        print(_median_line(name, runs))
    ev = times["eval (one model)"]
    for name in ("compare", "compare --id"):
        ratio = statistics.median(times[name]) / statistics.median(ev)
        print(
            f"\n{name} / eval: {ratio:.2f}x (medians), {min(times[name]) / min(ev):.2f}x (fastest)"
        )
    print("\nphases of one compare in a fresh process (s):")
    print(
        json.dumps({k: v if isinstance(v, bool) else round(v, 3) for k, v in phases(path).items()})
    )

    if not a.skip_big:
        big = make_file(int(a.big_rows))
        args = ["compare", str(big), "--target", "y", "--pred", "a", "--pred", "b", "--id", "id"]
        wall, rss = run_child([*args, "--json"])
        print(f"\n## Peak RSS, {int(a.big_rows):,} rows\n")
        print(f"bcelab compare --id id: peak RSS {rss:.0f} MB, {wall:.1f} s wall")

    if not a.skip_dask:
        res = dask_overhead(make_file(int(a.dask_rows)), a.repeat)
        print(f"\n## Dask overhead, {int(a.dask_rows):,} rows, running LocalCluster (2 workers)\n")
        print("| engine | median s | fastest s | runs s |\n|---|---|---|---|")
        for name, runs in res["times"].items():
            print(_median_line(name, runs))
        loc = statistics.median(res["times"]["local, 2 threads"])
        dsk = statistics.median(res["times"]["dask, running cluster"])
        fast = min(res["times"]["dask, running cluster"]) / min(res["times"]["local, 2 threads"])
        print(
            f"\nDask overhead: {100 * (dsk / loc - 1):+.0f}% (medians), {100 * (fast - 1):+.0f}% "
            f"(fastest); identical JSON: {res['identical']}"
        )
    print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
