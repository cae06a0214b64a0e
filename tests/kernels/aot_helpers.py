"""Shared by the tests of the precompiled kernels (bcelab.kernels.aot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcelab.kernels import aot


def use_aot(monkeypatch: pytest.MonkeyPatch, cache: Path | None, *, enabled: bool = True) -> None:
    """Point the precompiled module's cache at ``cache``, turn it on or off, forget what was found."""
    if cache is not None:
        monkeypatch.setenv("BCELAB_CACHE_DIR", str(cache))
    monkeypatch.setenv("BCELAB_AOT", "1" if enabled else "0")
    aot.reset()
