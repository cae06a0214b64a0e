"""The kernel's jax.jit ratios on one core, for ``bench_kernel.py``.

On two cores the ratio depends on how much the second core gives at that moment (on a
shared virtual machine: from nothing to nearly 2x), so the kernel benchmark also runs
the same comparison pinned to one CPU: a child process that pins itself to CPU 0
(``sched_setaffinity``, before it imports anything that starts threads), ``BCELAB_THREADS=1`` and XLA's single-thread flags, timing the mean BCE of bcelab and
of jax.jit's fastest forms (``bench_kernel.jax_cases``) on ``bench_kernel.data`` in turns.

Usage (by ``bench_kernel.py``): ``python bench/kernel_one_core.py N ROUNDS`` prints one
JSON line of median seconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PAIRS = (("logits", "bcelab logits", "jax.jit logits"), ("probs", "bcelab probs", "jax.jit probs"))


def _child(n: int, rounds: int) -> dict[str, float]:
    import bcelab
    from _common import interleaved_times
    from bench_kernel import data, jax_cases

    d = data(n)
    x, p, y = d["x"], d["p"], d["y"]
    cases: dict[str, Any] = {
        "bcelab logits": lambda: bcelab.bce_with_logits(x, y, reduction="mean"),
        "bcelab probs": lambda: bcelab.bce(p, y, reduction="mean"),
    }
    cases |= {k: f for k, f in jax_cases(d, grad=False) if k in ("jax.jit logits", "jax.jit probs")}
    return interleaved_times(cases, repeat=rounds, min_time=0.1)


def one_core_rows(sizes: list[int], rounds: int) -> list[list[str]]:
    """``[target, ratio per size]`` rows: jax.jit / bcelab time, both on CPU 0 only."""
    env = dict(os.environ, BCELAB_THREADS="1", XLA_FLAGS=XLA_ONE_THREAD, OMP_NUM_THREADS="1")
    cols: list[dict[str, float]] = []
    for n in sizes:
        # the child pins itself: a preexec_fn would make this process fork with JAX's
        # threads running (and JAX warn about it)
        out = subprocess.run(
            [sys.executable, str(Path(__file__)), str(n), str(rounds)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        cols.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return [
        [f"{name} on one core: jax.jit / bcelab time"]
        + [f"{c[peer] / c[mine]:.2f}" if mine in c and peer in c else "n/a" for c in cols]
        for name, mine, peer in PAIRS
    ]


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="bench/kernel_one_core.py",
        description="Time the mean BCE of bcelab and jax.jit pinned to CPU 0 and print one "
        "JSON line of median seconds per call (run by bench_kernel.py).",
    )
    ap.add_argument("n", type=int, metavar="N", help="float32 elements per call")
    ap.add_argument("rounds", type=int, metavar="ROUNDS", help="timed rounds, in turns")
    return ap.parse_args(argv)


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    os.sched_setaffinity(0, {0})  # threads started from here on inherit it
    sys.path.insert(0, str(HERE))
    print(json.dumps(_child(args.n, args.rounds)))
