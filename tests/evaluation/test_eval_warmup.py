"""The warm-up before an evaluation's clock starts: what it runs on each kernel path."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from bcelab.evaluation import warmup
from bcelab.kernels import aot
from bcelab.metrics import BinaryStats


class _CountingStats(BinaryStats):
    calls: ClassVar[list[str]] = []

    def update(self, *args: Any, **kwargs: Any) -> BinaryStats:
        _CountingStats.calls.append(str(getattr(args[0], "dtype", "?")))
        return super().update(*args, **kwargs)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(warmup, "BinaryStats", _CountingStats)
    monkeypatch.setattr(_CountingStats, "calls", [])
    return _CountingStats.calls


def test_precompiled_loops_need_no_warm_calls(counting: list[str]) -> None:
    if aot.loops() is None:
        pytest.skip("the precompiled loops cannot be built here (no C compiler)")
    warmup._metric_calls()
    assert counting == []


def test_jit_loops_are_called_once_per_dtype_and_variant(
    counting: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numba")
    monkeypatch.setattr(aot, "loops", lambda: None)
    warmup._metric_calls()
    assert counting == ["float32", "float32", "float64", "float64"]
