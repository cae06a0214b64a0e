"""Benchmark: ``bcelab eval`` on a large Parquet file against DuckDB, Polars and scikit-learn.

Usage::

    python bench/bench_eval.py [--quick] [--rows N] [--big-rows N] [--sklearn-rows N] [--write]

Generates (once, under ``bench/data/``, gitignored) snappy Parquet files of float32
``y`` (hard labels) and ``p`` (probabilities), then runs every engine in its own
subprocess and reports rows per second and peak RSS:

* bcelab ``evaluate`` (every metric: log loss, NE, calibration, ECE/MCE, ROC/PR-AUC, ...),
  local engine with 2 and 1 worker threads, and on a Dask ``LocalCluster`` (2 processes);
  ``bcelab-jit`` is the local engine without the precompiled loops (``BCELAB_AOT=0``:
  numba's JIT start-up in every fresh process, the fallback where they cannot be built);
* DuckDB SQL and Polars (streaming), computing count, mean prediction and log loss only;
* scikit-learn in memory (``log_loss`` + ``roc_auc_score`` + ``brier_score_loss``);
* pyarrow reading the two columns and summing them (the decode limit of any reader);
* then, whole processes in turns: ``bcelab eval`` against DuckDB at 3e7 and 1e8 rows
  (``eval_process.py``), and ``bcelab eval --by`` in 250 segments against DuckDB's
  ``GROUP BY`` (``eval_segments.py``); ``--whole-process`` or ``--segments`` runs only those.

Peak RSS is measured two ways: the child's own ``ru_maxrss`` (its largest process) and
the sum of the RSS of its whole process tree sampled every 20 ms (Dask workers included).
The full mode uses 1e8 rows (and 3e8 for bcelab's constant-memory check); ``--quick``
uses 1e7 and finishes in about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
from _common import bandwidth_probe, machine_line, peer_available, table  # noqa: E402
from eval_process import whole_process_targets  # noqa: E402
from eval_segments import segmented_whole_process  # noqa: E402

ROW_GROUP = 1 << 20


# --- data ------------------------------------------------------------------------------


def make_file(rows: int, seed: int = 0) -> Path:
    """``eval_<rows>.parquet``: y ~ Bernoulli(p), p = sigmoid(z), z ~ N(-1, 1.5) (float32)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"eval_{rows}.parquet"
    if path.exists():
        try:
            if pq.ParquetFile(path).metadata.num_rows == rows:
                return path
        except Exception:  # a broken cache file is simply rebuilt
            pass
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    rng = np.random.default_rng(seed)
    schema = pa.schema([("y", pa.float32()), ("p", pa.float32())])
    t0 = time.perf_counter()
    with pq.ParquetWriter(tmp, schema, compression="snappy") as w:
        for lo in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - lo)
            z = rng.standard_normal(n, dtype=np.float32) * np.float32(1.5) - np.float32(1)
            p = (1 / (1 + np.exp(-z))).astype(np.float32)
            y = (rng.random(n, dtype=np.float32) < p).astype(np.float32)
            w.write_table(pa.table({"y": y, "p": p}, schema=schema), row_group_size=ROW_GROUP)
    os.replace(tmp, path)
    print(
        f"generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return path


# --- engines (run in a child process) -----------------------------------------------------

LOSS_SQL = "avg(-(y * ln(p) + (1 - y) * ln(1 - p)))"


def _bcelab(path: str, *, warm: bool = False, **kw: Any) -> dict[str, Any]:
    """``evaluate`` timed after ``import bcelab`` only: the first call pays the import of
    pyarrow and the load of the precompiled metric loops (with ``BCELAB_AOT=0``: numba's
    import and JIT start-up instead, ~0.5 s).  ``warm=True`` times a second call in the
    same process too (``warm_seconds``)."""
    import bcelab

    t0 = time.perf_counter()
    res = bcelab.evaluate(path, preds="p", target="y", **kw)
    dt = time.perf_counter() - t0
    m = res.metrics
    out = {
        "seconds": dt,
        "rows": res.rows,
        "log_loss": m.log_loss,
        "mean": m.mean_prediction,
        "roc_auc": m.roc_auc,
    }
    if warm:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        again = bcelab.evaluate(path, preds="p", target="y", **kw)
        out["warm_seconds"] = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        # CPU of the second call, taken out of the child's CPU column (first call only);
        # a Dask second call's CPU is in the workers and is not split out
        out["cpu_warm"] = sum(getattr(r1, f) - getattr(r0, f) for f in ("ru_utime", "ru_stime"))
        assert again.metrics.log_loss == m.log_loss
    return out


def _dask(path: str) -> dict[str, Any]:
    import dask
    import distributed

    from bcelab.evaluation.dask_engine import local_cluster_config

    # 1. what `bcelab eval --engine dask --workers 2` does: start a LocalCluster, evaluate
    total = _bcelab(path, engine="dask", workers=2)["seconds"]
    # 2. the same cluster (same settings) started separately, to split start-up and work
    t0 = time.perf_counter()
    with dask.config.set(local_cluster_config()):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        )
    client = distributed.Client(cluster)
    start = time.perf_counter() - t0
    out = _bcelab(path, engine="dask", scheduler=client, warm=True)
    client.close()
    cluster.close()
    out["startup"] = start
    out["total"] = total
    return out


def _duckdb(path: str) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    t0 = time.perf_counter()
    n, mean, ll = con.execute(
        f"SELECT count(*), avg(p), {LOSS_SQL} FROM read_parquet('{path}')"
    ).fetchone()
    return {"seconds": time.perf_counter() - t0, "rows": n, "log_loss": ll, "mean": mean}


def _polars(path: str) -> dict[str, Any]:
    import polars as pl

    y, p = pl.col("y").cast(pl.Float64), pl.col("p").cast(pl.Float64)
    t0 = time.perf_counter()
    df = (
        pl.scan_parquet(path)
        .select(
            pl.len().alias("n"),
            p.mean().alias("mean"),
            (-(y * p.log() + (1 - y) * (1 - p).log())).mean().alias("ll"),
        )
        .collect(engine="streaming")
    )
    return {
        "seconds": time.perf_counter() - t0,
        "rows": int(df["n"][0]),
        "log_loss": float(df["ll"][0]),
        "mean": float(df["mean"][0]),
    }


def _sklearn(path: str, rows: int) -> dict[str, Any]:
    import pyarrow.parquet as pq
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    pf = pq.ParquetFile(path)
    groups = []
    n = 0
    for g in range(pf.metadata.num_row_groups):
        if n >= rows:
            break
        groups.append(g)
        n += pf.metadata.row_group(g).num_rows
    t0 = time.perf_counter()
    t = pf.read_row_groups(groups, columns=["y", "p"]).slice(0, rows)
    y = t["y"].to_numpy().astype(np.float64)
    p = t["p"].to_numpy().astype(np.float64)
    del t
    t1 = time.perf_counter()
    ll = log_loss(y, p)
    auc = roc_auc_score(y, p)
    brier_score_loss(y, p)
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "read": t1 - t0,
        "rows": int(y.size),
        "log_loss": ll,
        "mean": float(p.mean()),
        "roc_auc": auc,
    }


def _read_only(path: str) -> dict[str, Any]:
    import pyarrow.dataset as ds

    t0 = time.perf_counter()
    n, s = 0, 0.0
    for b in ds.dataset(path).to_batches(columns=["y", "p"], use_threads=True):
        s += float(np.add.reduce(b.column(0).to_numpy())) + float(
            np.add.reduce(b.column(1).to_numpy())
        )
        n += b.num_rows
    return {"seconds": time.perf_counter() - t0, "rows": n}


def child(engine: str, path: str, rows: int) -> None:
    fn = {
        "bcelab": lambda: _bcelab(path, threads=2, warm=True),
        "bcelab-1": lambda: _bcelab(path, threads=1),
        "bcelab-jit": lambda: _bcelab(path, threads=2),
        "dask": lambda: _dask(path),
        "duckdb": lambda: _duckdb(path),
        "polars": lambda: _polars(path),
        "sklearn": lambda: _sklearn(path, rows),
        "read-only": lambda: _read_only(path),
    }[engine]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the whole call (threads and waited-for child processes included):
    # unlike wall time, this hardly depends on what else the shared machine is running.
    out["cpu"] = sum(
        getattr(b, f) - getattr(a, f)
        for a, b in ((r0, r1), (c0, c1))
        for f in ("ru_utime", "ru_stime")
    )
    out["cpu"] -= out.get("cpu_warm", 0.0)
    out["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["maxrss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("RESULT " + json.dumps(out), flush=True)


# --- parent ----------------------------------------------------------------------------


def _tree_rss(pid: int) -> float:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def run(engine: str, path: Path, rows: int = 0) -> dict[str, Any]:
    """Run one engine in a fresh interpreter; sample its process tree's RSS meanwhile."""
    env = dict(os.environ, POLARS_MAX_THREADS="2", PYTHONWARNINGS="ignore")
    if engine == "bcelab-jit":
        env["BCELAB_AOT"] = "0"  # numba's JIT kernels (loaded from numba's cache)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", engine, str(path), str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    done.set()
    th.join()
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{engine} failed (exit {proc.returncode}):\n{err[-3000:]}")
    res: dict[str, Any] = json.loads(lines[-1][7:])
    res["process_s"] = time.perf_counter() - t0
    res["tree_rss_mb"] = peak[0]
    res["engine"] = engine
    return res


def _rate(r: dict[str, Any], key: str = "seconds") -> float:
    return float(r["rows"] / r[key])


def _cpu(r: dict[str, Any]) -> float:
    """CPU nanoseconds per row (all threads and child processes)."""
    return float(r["cpu"] / r["rows"] * 1e9)


def paired(path: Path, rounds: int) -> None:
    """Fresh-process first calls of bcelab, DuckDB and bcelab-jit, one of each per round.

    On a shared machine a neighbour's job slows whichever engine runs at that moment;
    the per-round ratio compares runs seconds apart, so it is the robust figure.
    Without DuckDB, bcelab's two modes run alone and the ratios are left out.
    """
    engines = [e for e in ("bcelab", "duckdb", "bcelab-jit") if e != "duckdb" or peer_available(e)]
    res: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    print(f"paired check, {rounds} rounds, load average {os.getloadavg()[0]:.2f}", flush=True)
    for i in range(rounds):
        for e in engines:
            res[e].append(run(e, path))
        line = ", ".join(
            f"{e} {res[e][-1]['seconds']:.3f} s (CPU {res[e][-1]['cpu']:.2f} s)" for e in engines
        )
        print(f"  round {i}: {line}; load average {os.getloadavg()[0]:.2f}", flush=True)
    for e in engines:
        print(
            f"{e}: median {statistics.median(r['seconds'] for r in res[e]):.3f} s, "
            f"median CPU {statistics.median(r['cpu'] for r in res[e]):.2f} s"
        )
    for e in ("bcelab", "bcelab-jit") if "duckdb" in res else ():
        ratio = [d["seconds"] / b["seconds"] for b, d in zip(res[e], res["duckdb"], strict=True)]
        print(
            f"{e} rows/s over DuckDB's, per round: median {statistics.median(ratio):.2f}x "
            f"(min {min(ratio):.2f}x, max {max(ratio):.2f}x)"
        )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1e7 rows, about a minute")
    ap.add_argument("--rows", type=float, help="rows of the main comparison (default 1e8)")
    ap.add_argument("--big-rows", type=float, help="rows of the RSS check (default 3e8)")
    ap.add_argument(
        "--sklearn-rows",
        type=float,
        help="rows for scikit-learn in memory (default: all, if RAM allows)",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="rounds over the engines (median reported)"
    )
    ap.add_argument(
        "--paired",
        type=int,
        metavar="ROUNDS",
        help="only the interleaved first-call check of bcelab, DuckDB and bcelab-jit",
    )
    ap.add_argument(
        "--whole-process",
        action="store_true",
        help="only the whole-process comparison with DuckDB and where bcelab's time goes",
    )
    ap.add_argument(
        "--segments",
        action="store_true",
        help="only the whole-process `--by` comparison with DuckDB's GROUP BY (250 segments)",
    )
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "PATH", "ROWS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]))
        return 0
    rows = int(a.rows or (1e7 if a.quick else 1e8))
    sizes = (10**7, 3 * 10**7) if a.quick else (3 * 10**7, 10**8)
    # the whole-process rounds: --repeat when given, else 3 (quick) or 5
    wp_rounds = a.repeat if a.repeat > 1 else (3 if a.quick else 5)
    # --by: 2e6 rows, and 2e7 (each segment then gets many batches' rows) in a full run
    segment_sizes = (2 * 10**6,) if a.quick else (2 * 10**6, 2 * 10**7)
    if a.whole_process or a.segments:
        if a.whole_process:
            whole_process_targets(
                {n: make_file(n) for n in sizes}, rounds=wp_rounds, small=make_file(10**5, seed=2)
            )
        for n in segment_sizes:
            segmented_whole_process(DATA, rounds=wp_rounds, rows=n)
        return 0
    if a.paired:
        paired(make_file(rows), a.paired)
        return 0
    big = int(a.big_rows or (3e7 if a.quick else 3e8))
    print(machine_line(), flush=True)
    load0 = os.getloadavg()
    path = make_file(rows)
    big_path = make_file(big, seed=1) if big != rows else path

    import psutil

    avail = psutil.virtual_memory().available
    # scikit-learn needs ~140 bytes a row in memory (1.4 GB at 1e7 rows): at 1e8 rows that
    # is ~14 GB, too much for a shared 24 GB machine, so by default it runs on 1e7 rows.
    sk_rows = int(a.sklearn_rows or min(rows, 10**7))
    if sk_rows * 150 > avail:
        sk_rows = min(sk_rows, 10**7)
        print(
            f"scikit-learn: only {avail / 2**30:.1f} GiB available, running it on "
            f"{sk_rows:.0e} rows",
            flush=True,
        )

    # Byte-compile bcelab as an install would: with PYTHONDONTWRITEBYTECODE set (as on the
    # shared benchmark machine) a module edited since its last .pyc is compiled again from
    # source by every fresh process, a cost no installed package has.
    import compileall

    import bcelab

    compileall.compile_dir(str(Path(bcelab.__file__).parent), quiet=2)
    # Warm-up: build the precompiled loops and compile (or load from numba's cache) the JIT
    # kernel once, so that no timed run pays a one-off compilation after a source change.
    run("bcelab", make_file(10**5, seed=2))
    run("bcelab-jit", make_file(10**5, seed=2))
    engines = ["read-only", "bcelab", "bcelab-1", "bcelab-jit", "dask", "duckdb", "polars"]
    engines = [e for e in engines if e not in ("duckdb", "polars") or peer_available(e)]
    results: dict[str, dict[str, Any]] = {}
    # round-robin (every engine once, then again): a neighbour's job on the shared
    # machine then slows every engine alike instead of whichever ran at that moment
    all_runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(a.repeat):
        for e in engines:
            all_runs[e].append(run(e, path))
    for e in engines:
        runs = sorted(all_runs[e], key=lambda r: r["seconds"])
        results[e] = runs[len(runs) // 2]
        r = results[e]
        print(
            f"  {e:10s} {r['seconds']:7.2f} s  {_rate(r) / 1e6:7.1f} M rows/s  "
            f"{_cpu(r):6.1f} CPU ns/row  tree RSS {r['tree_rss_mb']:6.0f} MB",
            flush=True,
        )
    results["sklearn"] = run("sklearn", path, sk_rows)
    print(f"  sklearn    {results['sklearn']['seconds']:7.2f} s on {sk_rows:.0e} rows", flush=True)
    big_res = [run("bcelab", path), run("bcelab", big_path)] if big != rows else []

    # memory bandwidth measured now: what reading the decoded columns once would cost
    n_probe = min(rows, 5 * 10**7)
    arrays = [np.ones(n_probe, np.float32), np.ones(n_probe, np.float32)]
    bw_s = bandwidth_probe(arrays, threads=2, repeat=5) / n_probe  # seconds per row
    del arrays

    ref = results["bcelab"]
    head = [
        "engine",
        "computes",
        "rows",
        "seconds",
        "M rows/s",
        "vs bcelab",
        "CPU ns/row",
        "peak RSS MB (largest process)",
        "peak RSS MB (process tree)",
        "log loss",
    ]
    what = {
        "read-only": "pyarrow: decode y, p and sum them",
        "bcelab": "all metrics, 2 threads",
        "bcelab-1": "all metrics, 1 thread",
        "bcelab-jit": "all metrics, 2 threads, JIT kernels (BCELAB_AOT=0)",
        "dask": "all metrics, LocalCluster 2 procs (running cluster)",
        "duckdb": "count, mean, log loss",
        "polars": "count, mean, log loss (streaming)",
        "sklearn": "log_loss + roc_auc + brier, in memory (incl. read)",
    }
    rows_out = []
    for e, r in results.items():
        rows_out.append(
            [
                e,
                what[e],
                f"{r['rows']:.0e}",
                r["seconds"],
                _rate(r) / 1e6,
                f"{r['seconds'] / ref['seconds']:.2f}x",
                _cpu(r),
                r["maxrss_self_mb"],
                r["tree_rss_mb"],
                f"{r['log_loss']:.12f}" if "log_loss" in r else "-",
            ]
        )
    print()
    print(table(head, rows_out))
    d = results["dask"]
    print()
    print(
        f"Dask LocalCluster: `--engine dask --workers 2` {d['total']:.2f} s in all (cluster "
        f"start-up {d['startup']:.2f} s); on a running cluster: first evaluation "
        f"{d['seconds']:.2f} s (workers import bcelab and load the kernel), second "
        f"{d['warm_seconds']:.2f} s.\nLocal engine: first evaluation in a process "
        f"{ref['seconds']:.2f} s, second {ref['warm_seconds']:.2f} s.\nDask overhead over "
        f"the local engine: {d['total'] / ref['seconds'] - 1:+.0%} with the cluster start, "
        f"{d['seconds'] / ref['seconds'] - 1:+.0%} first run on a running cluster (both "
        f"cold), {d['warm_seconds'] / ref['warm_seconds'] - 1:+.0%} second run (both warm)"
    )
    print(
        "whole child process (interpreter start, imports, work, exit), seconds: "
        + ", ".join(f"{e} {r['process_s']:.2f}" for e, r in results.items())
    )
    duck = results.get("duckdb")  # None without DuckDB: its ratios are left out
    if duck:
        print(
            f"bcelab warm / DuckDB rows per second: {_rate(ref, 'warm_seconds') / _rate(duck):.2f}"
        )
    rel = abs(duck["log_loss"] - ref["log_loss"]) / ref["log_loss"] if duck else 0.0
    print(
        f"log loss: {f'bcelab vs DuckDB relative difference {rel:.1e}; ' if duck else ''}"
        "bcelab local vs Dask "
        f"{'identical' if d['log_loss'] == ref['log_loss'] else d['log_loss'] - ref['log_loss']}"
    )
    if duck:
        print(f"bcelab / DuckDB CPU time per row: {_cpu(ref) / _cpu(duck):.2f}")
    jit = results["bcelab-jit"]
    print(
        "first call without the precompiled loops (BCELAB_AOT=0, numba JIT start-up): "
        f"{jit['seconds']:.2f} s"
        + (f", {_rate(jit) / _rate(duck):.2f}x DuckDB's rows per second" if duck else "")
    )
    print(
        (f"bcelab / DuckDB rows per second: {_rate(ref) / _rate(duck):.2f}; " if duck else "")
        + f"bcelab / pyarrow read-only: {_rate(ref) / _rate(results['read-only']):.2f}"
    )
    print(
        f"memory bandwidth (2 threads, this run): {bw_s * 1e9:.2f} ns/row for 8 bytes/row; "
        f"bcelab runs at {bw_s * _rate(ref):.1%} of it (the file decode, not memory, is the "
        "limit)"
    )
    print(
        "load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{x:.2f}" for x in load0)
        + "; at the end: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    if big_res:
        print()
        print(
            table(
                [
                    "rows",
                    "seconds",
                    "M rows/s",
                    "CPU ns/row",
                    "peak RSS MB (process)",
                    "peak RSS MB (tree)",
                ],
                [
                    [
                        f"{r['rows']:.0e}",
                        r["seconds"],
                        _rate(r) / 1e6,
                        _cpu(r),
                        r["maxrss_self_mb"],
                        r["tree_rss_mb"],
                    ]
                    for r in big_res
                ],
            )
        )
    whole_process_targets(
        {n: make_file(n) for n in sizes}, rounds=wp_rounds, small=make_file(10**5, seed=2)
    )
    for n in segment_sizes:
        segmented_whole_process(DATA, rounds=wp_rounds, rows=n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
