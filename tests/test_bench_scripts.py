"""``make bench`` runs every ``bench/bench_*.py`` through ``bench/run.py``, passing
``--quick`` when asked (``make bench BENCH_ARGS=--quick``): each script must accept it."""

from __future__ import annotations

import os
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


def _run_py(*args: str, cwd: Path = BENCH, hide: str = "") -> subprocess.CompletedProcess[str]:
    """This interpreter on ``args`` in ``cwd``; ``hide``: a folder put first on PYTHONPATH."""
    env = dict(os.environ)
    if hide:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (hide, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


@pytest.fixture
def hidden(tmp_path: Path) -> str:
    """A folder whose duckdb, polars, jax and keras modules raise ImportError on import."""
    for name in ("duckdb", "polars", "jax", "keras"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('{name} hidden')\n")
    return str(tmp_path)


def test_run_help_lists_the_options_and_benchmarks_and_starts_none() -> None:
    out = _run_py(str(BENCH / "run.py"), "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--quick" in out.stdout and "metrics_update" in out.stdout
    assert "=====" not in out.stdout  # no benchmark started


@pytest.mark.parametrize("argv", [["--quik"], ["nosuchbench"], ["kernel", "--bogus"]])
def test_run_refuses_an_unknown_flag_or_name(argv: list[str]) -> None:
    out = _run_py(str(BENCH / "run.py"), *argv)
    assert out.returncode == 2
    assert "=====" not in out.stdout
    last = out.stderr.strip().splitlines()[-1]
    assert argv[-1] in last and "kernel, metrics_update, paired, train" in last


def test_run_takes_quick_and_names_in_any_order() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import run
    finally:
        sys.path.remove(str(BENCH))
    a = run.parse(["kernel", "--quick", "eval"])
    assert a.quick and a.names == ["kernel", "eval"]
    assert run.parse([]).names == [] and not run.parse([]).quick


@pytest.mark.parametrize("script", ["kernel_one_core.py", "fit_fastmath.py"])
def test_helper_scripts_take_help(script: str) -> None:
    out = _run_py(str(BENCH / script), "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("usage:")


def test_missing_duckdb_is_skipped_with_one_line(hidden: str) -> None:
    """Without DuckDB the whole-process and segment commands are bcelab's only, and the
    paired check runs bcelab's two modes without ratios; one line says what is missing."""
    code = (
        "from pathlib import Path\n"
        "import bench_eval, eval_process, eval_segments\n"
        "bench_eval.run = lambda e, path, rows=0: {'seconds': 1.0, 'cpu': 0.5}\n"
        "print(sorted(eval_process._commands(Path('a'), Path('b'))))\n"
        "print(sorted(eval_segments._commands(Path('a'))))\n"
        "bench_eval.paired(Path('a'), 1)\n"
    )
    out = _run_py("-c", code, hide=hidden)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    skip = [ln for ln in lines if "duckdb is missing" in ln]
    assert len(skip) == 1 and "pip install 'bcelab[bench]'" in skip[0]
    assert lines[1] == "['bcelab', 'bcelab small', 'python']"
    assert lines[2] == "['bcelab', 'bcelab --by']"
    assert "bcelab-jit: median" in out.stdout and "DuckDB" not in out.stdout


def test_missing_jax_and_keras_are_skipped_with_one_line(hidden: str) -> None:
    code = (
        "import bench_adapters, bench_kernel\n"
        "d = bench_kernel.data(16)\n"
        "print(bench_adapters.bench_jax(16, 1), bench_kernel.jax_cases(d, grad=True))\n"
        "print(bench_kernel.keras_cases(d))\n"
    )
    out = _run_py("-c", code, hide=hidden)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert [ln for ln in lines if "jax is missing" in ln] == [lines[0]]
    assert "pip install 'bcelab[jax]'" in lines[0]
    assert lines[1] == "[] []"
    assert "keras is missing" in lines[2] and lines[3] == "[]"
    # the Keras child of bench_adapters gives no rows and says why
    out = _run_py("bench_adapters.py", "--keras-backend", "torch", "--n", "16", hide=hidden)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "keras is missing" in out.stdout and out.stdout.strip().endswith("[]")
