"""The precompiled module, built once per test run into a temporary cache folder that the
test processes (pytest-xdist workers) share."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from bcelab.kernels import aot

from .aot_helpers import use_aot


def _installed_build(into: Path) -> None:
    """Copy the newest build of the module in the package's own cache into ``into``:
    ``bcelab warmup`` (run by ``make install``) builds the current sources' module there,
    which is then loaded rather than built a second time (20-45 s of the test run).  A
    build of other sources has another name, and the current one is built as before."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    cache = Path(aot.__file__).parent / "__pycache__"
    builds = sorted(cache.glob(f"{aot.MODULE}-*{suffix}"), key=lambda f: f.stat().st_mtime)
    if builds and not (into / builds[-1].name).exists():
        shutil.copy2(builds[-1], into / builds[-1].name)


@pytest.fixture(scope="session")
def aot_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder with the module of the current sources: the installed build when
    there is one (see :func:`_installed_build`), else built from scratch (20-45 s, once
    per run); the first worker makes it under a file lock, the others wait and load it."""
    pytest.importorskip("numba")
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the run's folder, above each worker's own
    d = root / "aot-cache"
    with FileLock(str(root / "aot-cache.lock")), pytest.MonkeyPatch.context() as mp:
        d.mkdir(exist_ok=True)
        _installed_build(d)
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
