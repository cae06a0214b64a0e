"""``make bench`` runs every ``bench/bench_*.py`` through ``bench/run.py``, passing
``--quick`` when asked (``make bench BENCH_ARGS=--quick``): each script must accept it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def test_the_benchmarks_are_found() -> None:
    assert len(SCRIPTS) >= 8


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_benchmark_takes_quick(script: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--quick" in out.stdout


def test_eval_exit_probe_reports_the_end_of_the_command(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import time

    data = tmp_path / "e.parquet"
    pq.write_table(pa.table({"p": [0.2, 0.7, 0.9], "y": [0.0, 1.0, 1.0]}), data)
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, str(BENCH / "eval_process.py"), "--exit", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    t1 = time.time()
    assert out.returncode == 0, out.stderr[-2000:]
    ended = float(out.stderr.strip().splitlines()[-1])
    assert t0 < ended <= t1
