"""The first fused-kernel call says in one line that it compiles; a cached one says nothing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("numba")

from bcelab.kernels import loss_driver

CALL = (
    "import numpy as np, bcelab; "
    "print(bcelab.bce(np.array([0.1, 0.3, 0.5, 0.8]), np.array([0.0, 1.0, 1.0, 1.0])))"
)


def _fresh_process(cache_dir: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    return subprocess.run(
        [sys.executable, "-c", CALL], capture_output=True, text=True, env=env, timeout=600
    )


def test_a_cold_cache_logs_the_notice_once_and_a_warm_one_does_not(tmp_path) -> None:
    cold = _fresh_process(str(tmp_path))
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count("compiling the fused loss kernel once") == 1, cold.stderr
    warm = _fresh_process(str(tmp_path))
    assert warm.returncode == 0, warm.stderr
    assert "compiling" not in warm.stderr
    assert warm.stdout == cold.stdout  # the same number either way


def test_the_notice_waits_for_the_threshold(caplog, monkeypatch) -> None:
    monkeypatch.setattr(loss_driver, "_NOTICED", type(loss_driver._NOTICED)())
    with caplog.at_level(logging.WARNING, logger="bcelab"):
        with loss_driver.compile_notice(after=0.5):
            pass  # quick: no notice
        assert not caplog.records
        with loss_driver.compile_notice(after=0.01):
            time.sleep(0.3)
        with loss_driver.compile_notice(after=0.01):
            time.sleep(0.3)  # once per process
    assert [r.getMessage() for r in caplog.records] == [loss_driver.COMPILE_NOTICE]


def test_kernels_capture_only_plain_constants() -> None:
    # numba keys a cached closure by its captured values; a captured compiled function
    # pickles differently in every process, which would recompile the kernel each time.
    from bcelab.kernels.loss import get_kernel

    for logits in (False, True):
        for write in (0, 1, 2):
            kernel = get_kernel(logits=logits, fast=True, weighted=False, decomp=False, write=write)
            cells = [c.cell_contents for c in kernel.py_func.__closure__ or ()]
            assert all(isinstance(v, bool | int | float | tuple) for v in cells), cells


def test_the_notice_times_the_compile_not_the_pass(monkeypatch) -> None:
    # A first call on a large input must not report "compiling" because the pass itself
    # is long: inside the notice the kernel is only called over no chunk.
    import numpy as np

    from bcelab.kernels import loss

    calls: list[tuple[bool, int, int]] = []
    noticing = [False]
    key = (True, True, False, False, 0)
    real = loss.get_kernel(logits=True, fast=True, weighted=False, decomp=False, write=0)

    def spy(*args):  # type: ignore[no-untyped-def]
        calls.append((noticing[0], args[5], args[6]))
        return real(*args)

    class Notice:
        def __enter__(self) -> None:
            noticing[0] = True

        def __exit__(self, *exc: object) -> None:
            noticing[0] = False

    monkeypatch.setattr(loss_driver, "compile_notice", Notice)
    monkeypatch.setattr(loss_driver, "get_kernel", lambda **kw: loss.KERNELS.setdefault(key, spy))
    monkeypatch.delitem(loss.KERNELS, key, raising=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=300_000).astype(np.float32)
    y = (rng.random(x.size) < 0.5).astype(np.float32)
    kw = dict(logits=True, decomp=False, write=0, pos_weight=1.0, label_smoothing=0.0, den=1.0)
    first = loss_driver.run(x, y, None, None, threads=1, **kw)
    assert [c for c in calls if c[0]] == [(True, 0, 0)]  # the compile, over no chunk
    assert any(not c[0] and c[2] > c[1] for c in calls)  # the pass, after the notice
    monkeypatch.setitem(loss.KERNELS, key, real)
    assert loss_driver.run(x, y, None, None, threads=1, **kw) == first
