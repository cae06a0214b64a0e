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


def test_segmented_eval_benchmark_runs_its_three_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench_eval.py --segments`` on a small file: bcelab with and without ``--by`` and
    DuckDB's ``GROUP BY`` all run, and the ratio is printed."""
    pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    if not Path(sys.executable).with_name("bcelab").exists():
        pytest.skip("the bcelab command is not installed next to this interpreter")
    sys.path.insert(0, str(BENCH))
    try:
        import eval_segments
    finally:
        sys.path.remove(str(BENCH))
    eval_segments.segmented_whole_process(tmp_path, rounds=1, rows=5000)
    out = capsys.readouterr().out
    assert "5e+03 rows in 250 segments" in out
    assert "DuckDB GROUP BY / bcelab --by time" in out and "ms per segment" in out
