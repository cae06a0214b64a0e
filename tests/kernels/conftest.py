"""The precompiled module, built once per test process into a temporary cache folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bcelab.kernels import aot

from .aot_helpers import use_aot


@pytest.fixture(scope="session")
def aot_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder with the module built from scratch (about 20 s, once)."""
    pytest.importorskip("numba")
    d = tmp_path_factory.mktemp("aot-cache")
    with pytest.MonkeyPatch.context() as mp:
        use_aot(mp, d)
        if aot.module() is None:
            pytest.skip(f"no precompiled module here: {aot._STATE.get('why')}")
        assert list(d.glob("*.so")) or list(d.glob("*.pyd")), "built, but where?"
    aot.reset()
    yield d
    aot.reset()
