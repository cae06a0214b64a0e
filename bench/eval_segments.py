"""Whole-process ``bcelab eval --by`` against DuckDB's ``GROUP BY``, for ``bench_eval.py``.

A file of 2e6 float32 rows in 250 segments (an int32 column ``seg``; the data generator
of ``bench_eval.make_file``, cached under ``bench/data/``).  Three commands run in turns,
each timed by the parent from start to exit:

* ``bcelab eval FILE --pred p --target y --by seg``: every metric and the decomposition
  of log loss, for the whole file and for each segment;
* ``bcelab eval FILE --pred p --target y``: the same without segments;
* DuckDB (``python -c``): count, mean and log loss per segment with ``GROUP BY``,
  2 threads.

It prints the medians, the DuckDB / bcelab ratio and what the segments add to bcelab's
run (per segment, in milliseconds).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peer_available
from eval_process import run_timed

HERE = Path(__file__).resolve().parent
ROWS = 2_000_000
SEGMENTS = 250

DUCKDB_BY = (
    "import sys, duckdb\n"
    "con = duckdb.connect()\n"
    "con.execute('SET threads = 2')\n"
    'print(con.execute("SELECT seg, count(*), avg(p), avg(-(y * ln(p) + (1 - y) * ln(1 - p))) '
    'FROM read_parquet(\'" + sys.argv[1] + "\') GROUP BY seg ORDER BY seg").fetchall()[:3])\n'
)


def segment_file(data: Path, rows: int = ROWS) -> Path:
    """``eval_segments_<rows>.parquet``: y, p as in ``bench_eval.make_file`` (seed 2),
    and ``seg`` uniform on 0..249 (row groups of 2**20 rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = data / f"eval_segments_{rows}.parquet"
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    z = rng.standard_normal(rows, dtype=np.float32) * np.float32(1.5) - np.float32(1)
    p = (1 / (1 + np.exp(-z))).astype(np.float32)
    y = (rng.random(rows, dtype=np.float32) < p).astype(np.float32)
    seg = rng.integers(0, SEGMENTS, rows).astype(np.int32)
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.table({"y": y, "p": p, "seg": seg}), tmp, row_group_size=1 << 20)
    os.replace(tmp, path)
    return path


def _commands(path: Path) -> dict[str, list[str]]:
    """The timed commands; without DuckDB (see ``_common.peer_available``) bcelab's only."""
    cli = str(Path(sys.executable).with_name("bcelab"))
    plain = [cli, "eval", str(path), "--pred", "p", "--target", "y"]
    cmds = {"bcelab --by": [*plain, "--by", "seg"], "bcelab": plain}
    if peer_available("duckdb"):
        cmds["duckdb GROUP BY"] = [sys.executable, "-c", DUCKDB_BY, str(path)]
    return cmds


def segmented_whole_process(data: Path, rounds: int, rows: int = ROWS) -> None:
    """Print the medians of the three commands and the ratios."""
    path = segment_file(data, rows)
    cmds = _commands(path)
    for cmd in cmds.values():  # untimed: bytecode caches and the page cache
        run_timed(cmd)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    t0 = time.perf_counter()
    for _ in range(rounds):
        for k, cmd in cmds.items():
            times[k].append(run_timed(cmd)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    print()
    print(
        f"segments, whole process: {rows:.0e} rows in {SEGMENTS} segments, medians of "
        f"{rounds} rounds in turns ({time.perf_counter() - t0:.0f} s):"
    )
    duck = med.get("duckdb GROUP BY")  # None without DuckDB: no ratio
    print(
        "  "
        + ", ".join(f"{k} {v:.3f} s" for k, v in med.items())
        + (f"; DuckDB GROUP BY / bcelab --by time {duck / med['bcelab --by']:.2f}" if duck else "")
    )
    extra = (med["bcelab --by"] - med["bcelab"]) / SEGMENTS * 1e3
    print(
        f"  the segments add {med['bcelab --by'] - med['bcelab']:.3f} s to bcelab's run, "
        f"{extra:.2f} ms per segment (every metric, the decomposition, its own state)"
    )
