"""The one thread pool of the compiled kernels: its size rule, and a new pool after fork()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bcelab._core.config import default_threads
from bcelab.kernels import threads
from bcelab.kernels.constants import STATS_SERIAL_BELOW
from bcelab.kernels.stats_driver import split_threads


def test_thread_count_follows_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCELAB_THREADS", "3")
    assert default_threads() == 3
    assert threads.thread_count(None) == 3
    assert threads.thread_count(5) == 5
    # the metric kernel: one thread for small updates, at most `threads` for large ones
    assert split_threads(STATS_SERIAL_BELOW - 1, None) == 1
    assert split_threads(10 * STATS_SERIAL_BELOW, None) == 3
    assert split_threads(10 * STATS_SERIAL_BELOW, 2) == 2
    assert split_threads(STATS_SERIAL_BELOW, 8) == 2  # one thread per 32768 rows


def test_run_threads_runs_every_index_once() -> None:
    seen: list[int] = []
    threads.run_threads(5, seen.append)
    assert sorted(seen) == [0, 1, 2, 3, 4]
    one: list[int] = []
    threads.run_threads(1, one.append)
    assert one == [0]


_FORK_SCRIPT = """
import multiprocessing as mp
import os

import numpy as np
from bcelab.kernels import fused_bce, threads
from bcelab.metrics import BinaryStats


def work(x, y):
    loss = fused_bce(x, y, logits=True, threads=2).value
    state = BinaryStats(threads=2).update(x, y, logits=True).to_bytes()
    return loss, state


def child(q, x, y):
    q.put((work(x, y), threads._Shared.pid == os.getpid()))


if __name__ == "__main__":
    r = np.random.default_rng(7)
    x = r.normal(size=1 << 19)
    y = (r.random(1 << 19) < 0.5).astype(np.float64)
    ref = work(x, y)  # multi-threaded: creates the thread pool here
    assert threads._Shared.pid == os.getpid()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=child, args=(q, x, y))
    proc.start()
    got, new_pool = q.get(timeout=120)  # a pool inherited through fork() would hang here
    proc.join(timeout=10)
    assert new_pool, "the child did not make its own pool"
    assert got == ref
    print("fork ok")
"""


def test_kernels_work_after_fork(tmp_path: Path) -> None:
    pytest.importorskip("numba")
    # in a fresh interpreter: forking a pytest worker that has imported JAX (multithreaded)
    # could itself deadlock, which is not what this test is about
    script = tmp_path / "fork_kernels.py"
    script.write_text(_FORK_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "fork ok" in out.stdout, out.stderr[-2000:]
