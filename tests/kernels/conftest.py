"""The precompiled module, built once per test run into a temporary cache folder that the
test processes (pytest-xdist workers) share."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from bcelab.kernels import aot

from .aot_helpers import use_aot


@pytest.fixture(scope="session")
def aot_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder with the module built from scratch (20-45 s, once per run): the
    first worker builds it under a file lock, the others wait and load it."""
    pytest.importorskip("numba")
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the run's folder, above each worker's own
    d = root / "aot-cache"
    with FileLock(str(root / "aot-cache.lock")), pytest.MonkeyPatch.context() as mp:
        d.mkdir(exist_ok=True)
        use_aot(mp, d)
        if aot.module() is None:
            why = aot._STATE.get("why")
            if shutil.which("cc") or shutil.which("gcc"):  # a compiler: the build is ours to fix
                pytest.fail(f"a C compiler is here, but the precompiled module failed: {why}")
            pytest.skip(f"no precompiled module here (no C compiler): {why}")
        assert list(d.glob("*.so")) or list(d.glob("*.pyd")), "built, but where?"
    aot.reset()
    yield d
    aot.reset()
