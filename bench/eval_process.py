"""Whole-process ``bcelab eval`` against DuckDB's, and where bcelab's process spends its time.

``bench_eval.py`` calls :func:`whole_process_targets`.  Each engine runs as its own
command, timed by the parent from start to exit, in turns (each round in a new, seeded
order, so that no command always runs right after the same other one):

* bcelab: the CLI as a user runs it, ``bcelab eval FILE --pred p --target y`` (every
  metric, the default 2 threads, the text report on stdout);
* DuckDB: ``python -c`` that imports duckdb and runs count, mean and log loss over
  ``read_parquet`` with 2 threads;
* both again on a file of 1e5 rows, in the same turns: each process's start-up and exit
  (interpreter, imports, planning, output), so that the line after the ratio splits each
  time into that fixed part and the rest (the work that grows with the rows).

Both run with bytecode caches allowed (``PYTHONDONTWRITEBYTECODE`` is removed) and after
one untimed run, as after an install.  The breakdown child (``--phases``) measures the
CPU time of each part on one thread: the imports ``bcelab eval`` makes, the load of the
metric kernels, a first (cold) evaluation as the CLI runs it, the text output, a second
(warm) evaluation, and, alone, the Parquet decode to NumPy and the metric kernel.  The
exit probe (``--exit``) runs the command's entry point and prints the wall clock when it
returns: the parent's clock when the process has ended, minus that, is the exit
(interpreter shutdown).
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import peer_available

DUCKDB_CODE = (
    "import sys, duckdb\n"
    "con = duckdb.connect()\n"
    "con.execute('SET threads = 2')\n"
    'print(con.execute("SELECT count(*), avg(p), avg(-(y * ln(p) + (1 - y) * ln(1 - p))) '
    'FROM read_parquet(\'" + sys.argv[1] + "\')").fetchone())\n'
)


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _commands(path: Path, small: Path) -> dict[str, list[str]]:
    """The timed commands; without DuckDB (see ``_common.peer_available``) bcelab's only."""
    cli = str(Path(sys.executable).with_name("bcelab"))
    cmds = {
        "bcelab": [cli, "eval", str(path), "--pred", "p", "--target", "y"],
        "duckdb": [sys.executable, "-c", DUCKDB_CODE, str(path)],
        "python": [sys.executable, "-c", "pass"],
        "bcelab small": [cli, "eval", str(small), "--pred", "p", "--target", "y"],
        "duckdb small": [sys.executable, "-c", DUCKDB_CODE, str(small)],
    }
    if not peer_available("duckdb"):
        del cmds["duckdb"], cmds["duckdb small"]
    return cmds


def _seconds(cmd: list[str]) -> float:
    return run_timed(cmd)[0]


def run_timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, the child's user + system CPU seconds)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=_env())
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def phases(path: str) -> dict[str, float]:
    """The parts of ``bcelab eval`` in this (fresh) process on one thread: CPU seconds
    (``time.process_time``, so that another job on the machine hardly moves them)."""
    clock = time.process_time
    t0 = clock()
    import bcelab.cli.eval  # noqa: F401
    from bcelab.evaluation import evaluate
    from bcelab.evaluation.columns import Columns
    from bcelab.evaluation.reader import iter_unit
    from bcelab.evaluation.sources import plan_source
    from bcelab.evaluation.text import render
    from bcelab.evaluation.warmup import compile_metric_kernels
    from bcelab.metrics import BinaryStats

    t1 = clock()
    compile_metric_kernels(notice=None)
    t2 = clock()
    res = evaluate(path, preds="p", target="y", threads=1)
    t3 = clock()
    render(res)
    t4 = clock()
    evaluate(path, preds="p", target="y", threads=1)
    t5 = clock()

    cols = Columns(target="y", pred="p")

    def batches():  # the evaluation's own reader: its units, batches and conversion
        for unit in plan_source(path, "parquet", cols, None).units:
            yield from iter_unit(unit, cols)

    for _ in batches():
        pass
    t6 = clock()
    stats = BinaryStats(threads=1)
    for b in batches():
        stats.update(b.pred, b.target)
    t7 = clock()
    return {
        "imports": t1 - t0,
        "kernel load": t2 - t1,
        "first evaluate": t3 - t2,
        "text output": t4 - t3,
        "second evaluate": t5 - t4,
        "of which Parquet decode": t6 - t5,
        "metric kernel": (t7 - t6) - (t6 - t5),
    }


def exit_probe(path: str) -> int:
    """``bcelab eval`` as the command runs it (:func:`bcelab.cli.console`), then the wall
    clock on stderr: the parent's clock at the process's end, minus this, is the exit."""
    import io
    from contextlib import redirect_stdout

    from bcelab.cli import console

    sys.argv = ["bcelab", "eval", path, "--pred", "p", "--target", "y"]
    with redirect_stdout(io.StringIO()):
        rc = console()
    print(f"{time.time():.6f}", file=sys.stderr)
    return rc


def _child(flag: str, path: Path) -> subprocess.CompletedProcess[str]:
    """This script in a child process, with ``--phases`` or ``--exit``."""
    # NumPy's BLAS on one thread and pyarrow's jemalloc, as the `bcelab eval` command
    # starts them (bcelab.cli.console)
    env = {"OPENBLAS_NUM_THREADS": "1", "ARROW_DEFAULT_MEMORY_POOL": "jemalloc", **_env()}
    return subprocess.run(
        [sys.executable, __file__, flag, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )


def _exit_seconds(path: Path) -> float:
    out = _child("--exit", path)
    return time.time() - float(out.stderr.strip().splitlines()[-1])


def _print_rounds(times: dict[str, list[float]], cpu: list[float]) -> None:
    """Each round's DuckDB / bcelab ratio with bcelab's CPU time, and how many rounds
    used over 15% more CPU than the least: on a shared machine the two threads are
    sometimes both slower (see bench/results/eval.md), and a median over both modes
    hides that."""
    least = min(cpu)
    slow = sum(c > 1.15 * least for c in cpu)
    shown = ", ".join(
        f"{d / b:.2f} ({c:.2f})"
        for b, d, c in zip(times["bcelab"], times["duckdb"], cpu, strict=True)
    )
    print(
        f"    per round, DuckDB / bcelab (bcelab CPU s): {shown}; {slow} of {len(cpu)} "
        "rounds used over 15% more CPU than the least"
    )


def _print_fixed_part(med: dict[str, float]) -> None:
    """Each engine's time on the 1e5-row file (start-up, planning, output and exit) and
    the rest of its time on the large file, with their DuckDB / bcelab ratios."""
    fixed = {e: med[f"{e} small"] for e in ("bcelab", "duckdb")}
    rest = {e: med[e] - fixed[e] for e in fixed}
    print(
        f"    fixed part (the same command on 1e5 rows): bcelab {fixed['bcelab']:.3f} s, "
        f"DuckDB {fixed['duckdb']:.3f} s (DuckDB / bcelab {fixed['duckdb'] / fixed['bcelab']:.2f}); "
        f"the rest: bcelab {rest['bcelab']:.3f} s, DuckDB {rest['duckdb']:.3f} s "
        f"(DuckDB / bcelab {rest['duckdb'] / max(rest['bcelab'], 1e-9):.2f})"
    )


def whole_process_targets(paths: dict[int, Path], rounds: int, small: Path) -> None:
    """Print the DuckDB / bcelab whole-process time ratio (target >= 1.5) per size, each
    time's fixed part (the same command on ``small``, a file of 1e5 rows) and the rest,
    and where bcelab's process spends its time."""
    print()
    print(
        "whole process: `bcelab eval FILE --pred p --target y` (every metric, 2 threads) vs "
        "DuckDB (python -c, count, mean and log loss, 2 threads); medians, in turns:"
    )
    for n, path in paths.items():
        cmds = _commands(path, small)
        for cmd in cmds.values():  # untimed: bytecode caches and the page cache
            _seconds(cmd)
        times: dict[str, list[float]] = {e: [] for e in cmds}
        cpu: list[float] = []  # bcelab's CPU seconds per round
        order = list(cmds)
        rng = random.Random(0)
        for _ in range(rounds):
            # as in _common.interleaved_times: no command always follows the same one
            rng.shuffle(order)
            for e in order:
                wall, used = run_timed(cmds[e])
                times[e].append(wall)
                if e == "bcelab":
                    cpu.append(used)
        med = {e: statistics.median(v) for e, v in times.items()}
        if "duckdb" not in med:  # DuckDB missing: bcelab's time alone, no ratios
            print(f"  {n:.0e} rows: bcelab {med['bcelab']:.3f} s (of {rounds})")
        else:
            print(
                f"  {n:.0e} rows: bcelab {med['bcelab']:.3f} s, DuckDB {med['duckdb']:.3f} s "
                f"(of {rounds}); DuckDB / bcelab time {med['duckdb'] / med['bcelab']:.2f} "
                "(target >= 1.5)"
            )
            _print_rounds(times, cpu)
            _print_fixed_part(med)
        parts = json.loads(_child("--phases", path).stdout.strip().splitlines()[-1])
        parts["exit (wall)"] = statistics.median(_exit_seconds(path) for _ in range(rounds))
        shown = ", ".join(f"{k} {v:.3f}" for k, v in parts.items())
        print(
            f"    bcelab on one thread, CPU s: {shown} (the second pass, decode and kernel "
            f"measured alone, warm); interpreter start {med['python']:.3f} s wall"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--phases":
        print(json.dumps(phases(sys.argv[2])))
    elif len(sys.argv) == 3 and sys.argv[1] == "--exit":
        sys.exit(exit_probe(sys.argv[2]))
    else:
        sys.exit("usage: eval_process.py --phases FILE | --exit FILE (run by bench_eval.py)")
