"""``make bench`` runs every ``bench/bench_*.py`` through ``bench/run.py``, passing
``--quick`` when asked (``make bench BENCH_ARGS=--quick``): each script must accept it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
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


def test_interleaved_times_shuffles_each_round_and_leaves_out_what_raises() -> None:
    """Each round takes the functions in a new order drawn from the seed (so no function
    always runs right after the same one), the same order for the same seed; every
    function is timed once per round; one that raises is reported and left out."""
    sys.path.insert(0, str(BENCH))
    try:
        import _common
    finally:
        sys.path.remove(str(BENCH))
    calls: list[str] = []

    def record(name: str) -> Callable[[], None]:
        return lambda: calls.append(name)

    def broken() -> None:
        raise RuntimeError("not here")

    fns = {name: record(name) for name in "abcdef"} | {"broken": broken}

    def rounds(seed: int) -> list[list[str]]:
        calls.clear()
        times = _common.interleaved_times(
            fns, repeat=6, min_time=0.0, max_inner=1, settle=0.0, seed=seed
        )
        assert sorted(times) == list("abcdef") and all(t >= 0.0 for t in times.values())
        timed = calls[2 * 6 :]  # two untimed calls per function first, then one per round
        assert len(timed) == 6 * 6
        return [timed[6 * r : 6 * r + 6] for r in range(6)]

    first = rounds(0)
    assert all(sorted(r) == list("abcdef") for r in first)
    assert len({tuple(r) for r in first}) > 1  # not the same order every round
    # what runs right before "a" (None: "a" came first) changes from round to round
    assert len({r[r.index("a") - 1] if r.index("a") else None for r in first}) > 1
    assert rounds(0) == first
    assert rounds(1) != first
