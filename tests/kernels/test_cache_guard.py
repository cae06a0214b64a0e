"""The kernels' numba cache is cleared when any kernel source changes (numba alone would
keep a stale loss kernel after an edit of the scalar formulas it inlines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcelab.kernels import cache_guard


def _package(tmp_path: Path) -> Path:
    (tmp_path / "loss.py").write_text("x = 1\n")
    (tmp_path / "scalar.py").write_text("y = 2\n")
    (tmp_path / "__pycache__").mkdir()
    return tmp_path


def _run(monkeypatch: pytest.MonkeyPatch, here: Path) -> None:
    monkeypatch.setattr(cache_guard, "_HERE", here)
    monkeypatch.setattr(cache_guard, "_DONE", [])
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    cache_guard.clear_stale()


def test_a_changed_source_clears_the_cache_once(tmp_path: Path, monkeypatch) -> None:
    here = _package(tmp_path)
    cached = [here / "__pycache__" / "loss.kernel-1.py311.nbi", here / "__pycache__" / "x.nbc"]
    _run(monkeypatch, here)  # no stamp yet: whatever is cached is of unknown sources
    for p in cached:
        p.write_bytes(b"compiled")
    _run(monkeypatch, here)  # same sources: the cache stays
    assert all(p.exists() for p in cached)
    (here / "scalar.py").write_text("y = 3\n")  # an edit of a file the kernels inline
    _run(monkeypatch, here)
    assert not any(p.exists() for p in cached)


def test_a_custom_numba_cache_dir_is_left_alone(tmp_path: Path, monkeypatch) -> None:
    here = _package(tmp_path)
    monkeypatch.setattr(cache_guard, "_HERE", here)
    monkeypatch.setattr(cache_guard, "_DONE", [])
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    cache_guard.clear_stale()
    assert list((here / "__pycache__").iterdir()) == []
