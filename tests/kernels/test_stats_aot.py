"""The precompiled metric loops (bcelab.kernels.aot): bit-identical to the numba JIT
kernels, no numba import in a process that has them, and a safe fallback to the JIT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
stats_update = pytest.importorskip("bcelab.kernels.stats_update")

from bcelab.kernels import aot, stats_driver  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402
from bcelab.metrics.histogram import layout  # noqa: E402

from .aot_helpers import use_aot as _use  # noqa: E402


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    """Each test finds the loops afresh, and leaves nothing found for the next one."""
    aot.reset()
    yield
    aot.reset()


def _cases() -> Iterator[tuple[str, dict[str, object]]]:
    rng = np.random.default_rng(7)
    for n in (1, 1000, 1025, 70_001, 300_000):
        for dt in (np.float32, np.float64):
            y = (rng.random(n) < 0.3).astype(dt)
            p = rng.random(n).astype(dt)
            yield f"hard-{n}-{dt.__name__}", {"targets": y, "preds": p}
            if n < 1000:
                continue
            soft = rng.random(n).astype(dt)
            w = rng.exponential(size=n).astype(dt)
            w[::97] = 0.0
            yield f"soft-w-{n}-{dt.__name__}", {"targets": soft, "preds": p, "weights": w}
            z = (rng.standard_normal(n) * 4).astype(dt)
            z[::113] = np.nan
            yb = y.copy()
            yb[::131] = 2.0
            yield f"logits-{n}-{dt.__name__}", {"targets": yb, "preds": z, "logits": True}
            pc = p.copy()
            pc[::7] = 0.0
            pc[::11] = 1.0
            yield f"clip-{n}-{dt.__name__}", {"targets": y, "preds": pc, "clip": 1e-7}


CASES = list(_cases())


def _no_fallback() -> None:
    raise AssertionError("the precompiled loops handed a call to the JIT")


def test_aot_states_equal_jit(aot_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one test for both thread counts: two tests in two workers compiled the same JIT
    # kernels side by side on a cold cache
    real_jit = aot._jit
    for threads, (name, kw) in ((t, case) for t in (1, 2) for case in CASES):
        states = []
        for enabled in (True, False):
            _use(monkeypatch, aot_dir, enabled=enabled)
            assert (aot.loops() is not None) == enabled
            # every call must run the precompiled loops: none may fall back to the JIT
            monkeypatch.setattr(aot, "_jit", _no_fallback if enabled else real_jit)
            args = dict(kw)
            y, p = args.pop("targets"), args.pop("preds")
            s = BinaryStats(kernel="compiled", threads=threads)
            s.update(p, y, **args)  # type: ignore[arg-type]
            s.update(p, y, **args)  # type: ignore[arg-type]
            states.append(s)
        assert states[0] == states[1], name
        assert states[0].to_bytes() == states[1].to_bytes(), name


def test_aot_counts_and_first_bad_equal_jit(aot_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, aot_dir)
    loops = aot.loops()
    assert loops is not None
    rng = np.random.default_rng(3)
    for dt in (np.float32, np.float64):
        y = rng.random(5000).astype(dt)
        y[::17] = -1.0
        p = (rng.random(5000) * 1.2 - 0.1).astype(dt)
        p[::23] = np.nan
        w = rng.standard_normal(5000).astype(dt)
        for ww in (None, w):
            for logits in (False, True):
                for eps in (0.0, 1e-3):
                    kw = {"logits": logits, "eps": 0.0 if logits else eps}
                    got = stats_driver.scan(loops, y, p, ww, threads=1, **kw)
                    want = stats_driver.scan(stats_update.LOOPS, y, p, ww, threads=1, **kw)
                    assert got == want, (dt, ww is None, logits, eps)


def test_unexpected_arrays_go_to_the_jit(aot_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated wrappers trust dtypes and layouts; anything else must take the JIT
    path, with the caller's own arrays (a spy stands in for the JIT loops: compiling them
    for layouts no other call uses would cost this test half a minute on a cold cache)."""
    _use(monkeypatch, aot_dir)
    loops = aot.loops()
    assert loops is not None
    handed: list[tuple[object, ...]] = []

    class Spy:
        def accum_range(self, *args: object) -> bool:
            handed.append(args)
            return False

    monkeypatch.setattr(aot, "_jit", Spy)
    lay = layout()
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.5).astype(np.float64)
    p64 = rng.random(8000)[::2]  # float64 and not contiguous: not an exported signature
    p32 = rng.random(4000).astype(np.float32)  # contiguous, but not the targets' dtype

    def state() -> list[np.ndarray]:
        return [
            np.zeros((lay.n_fine, 3)),
            np.zeros(lay.n_fine, np.int64),
            np.zeros(7),
            np.zeros(7),
            np.array([np.inf, -np.inf]),
            np.zeros((lay.n_fine, 2)),
        ]

    args = (False, False, 0.0, lay.cut_val, lay.cut_off, 0, 4000)
    for preds in (p64, p32):
        handed.clear()
        st_ = state()
        loops.accum_range(y, preds, preds, *args, *st_, False)
        assert len(handed) == 1
        want = (y, preds, preds, *args, *st_, False)
        assert all(a is b for a, b in zip(handed[0], want, strict=True))
    handed.clear()
    fitting = state()
    loops.accum_range(y, np.ascontiguousarray(p64), y, *args, *fitting, False)
    assert handed == [] and fitting[1].sum() == 4000  # the precompiled loop counted them


_CHILD = """
import json, sys, hashlib
import bcelab
r = bcelab.evaluate(sys.argv[1], preds="p", target="y", threads=2)
print(json.dumps({"numba": "numba" in sys.modules, "ll": r.metrics.log_loss.hex(),
                  "state": hashlib.sha256(r.stats.to_bytes()).hexdigest()}))
"""


def test_fresh_process_evaluates_without_numba(
    aot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fresh process's state is this process's, bit for bit; that the precompiled
    loops equal the JIT's is :func:`test_aot_states_equal_jit`'s (a second process with
    the JIT loops would compile them again when that test has not cached them yet)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import hashlib

    import bcelab

    rng = np.random.default_rng(5)
    n = 600_000
    p = rng.random(n).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"y": y, "p": p}), path, row_group_size=1 << 17)
    env = dict(os.environ, BCELAB_CACHE_DIR=str(aot_dir), BCELAB_AOT="1")
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    child = json.loads(res.stdout.strip().splitlines()[-1])
    assert child["numba"] is False  # the point: no numba import, no JIT start-up
    _use(monkeypatch, aot_dir)
    monkeypatch.setattr(aot, "_jit", _no_fallback)
    here = bcelab.evaluate(str(path), preds="p", target="y", threads=2)
    assert child["ll"] == here.metrics.log_loss.hex()
    assert child["state"] == hashlib.sha256(here.stats.to_bytes()).hexdigest()


def test_no_writable_cache_falls_back_to_jit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _use(monkeypatch, blocker / "cache")
    assert aot.loops() is None
    assert "no writable cache folder" in aot._STATE["why"]
    s = BinaryStats().update(np.array([0.9, 0.2, 0.6]), [1, 0, 1])
    want = -(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3
    assert s.compute().log_loss == pytest.approx(want, rel=1e-12)


def test_failed_build_is_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fail(path: Path, target: str) -> str:
        calls.append(path)
        return "build failed (exit 1): no compiler"

    monkeypatch.setattr(aot, "_build", fail)
    _use(monkeypatch, tmp_path)
    assert aot.loops() is None
    aot.reset()
    assert aot.loops() is None  # the marker file: not built again
    assert len(calls) == 1
    (marker,) = tmp_path.glob("*.failed")
    old = marker.stat().st_mtime - 2 * 86400
    os.utime(marker, (old, old))  # a failure two days old is tried again
    aot.reset()
    assert aot.loops() is None
    assert len(calls) == 2
    s = BinaryStats().update(np.array([0.5, 0.5]), [1, 0])
    assert s.rows == 2


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, None, enabled=False)
    assert aot.loops() is None


def test_prune_removes_only_old_builds_of_this_module(tmp_path: Path) -> None:
    import importlib.machinery

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    keep = tmp_path / f"{aot.MODULE}-new{suffix}"
    old = tmp_path / f"{aot.MODULE}-old{suffix}"
    recent = tmp_path / f"{aot.MODULE}-recent{suffix}"
    other = tmp_path / f"something-else{suffix}"
    for f in (keep, old, recent, other):
        f.write_bytes(b"")
    t = old.stat().st_mtime - 3 * 86400
    for f in (old, other):
        os.utime(f, (t, t))
    aot._prune(keep)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        f.name for f in (keep, recent, other)
    )
