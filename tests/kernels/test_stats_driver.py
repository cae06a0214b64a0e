"""The metric update's one-pass path (``stats_driver.accumulate(clean_only=True)``): rows
that need no counting are added without the validation pass, with the same bits as the
validated path; any other call adds nothing and leaves the state as it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("numba")

from bcelab.errors import DomainError
from bcelab.kernels import aot, stats_driver
from bcelab.kernels.constants import COUNTS_FROM, STATS_BLOCK
from bcelab.metrics import BinaryStats

from .aot_helpers import use_aot


@pytest.fixture(params=["aot", "jit"])
def loops_kind(request: pytest.FixtureRequest, aot_dir, monkeypatch) -> Iterator[str]:
    """Both sets of compiled loops: the precompiled module and numba's JIT."""
    aot.reset()
    use_aot(monkeypatch, aot_dir, enabled=request.param == "aot")
    assert (aot.loops() is not None) == (request.param == "aot")
    yield request.param
    aot.reset()


def _validated_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every update validates its rows first (the one-pass path never applies)."""
    monkeypatch.setattr(stats_driver, "_clean_may_hold", lambda *a: False)


def _data(n: int, dtype: type, seed: int, logits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(dtype)
    p = z if logits else 1 / (1 + np.exp(-z))
    return p.astype(np.float32).astype(dtype), y


def _states(preds, targets, monkeypatch, threads, **kw) -> tuple[BinaryStats, BinaryStats]:
    fast = BinaryStats(threads=threads)
    for p, y in zip(preds, targets, strict=True):
        fast.update(p, y, **kw)
    with monkeypatch.context() as m:
        _validated_only(m)
        slow = BinaryStats(threads=threads)
        for p, y in zip(preds, targets, strict=True):
            slow.update(p, y, **kw)
    return fast, slow


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("logits", [False, True])
def test_clean_rows_give_the_validated_paths_state(loops_kind, monkeypatch, threads, dtype, logits):
    batches = [_data(n, dtype, s, logits) for s, n in enumerate((COUNTS_FROM, 70_001, 300_000))]
    fast, slow = _states(*zip(*batches, strict=True), monkeypatch, threads, logits=logits)
    assert fast.to_bytes() == slow.to_bytes()
    assert fast.rows == sum(len(p) for p, _ in batches) == fast.rows_used


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "spoil",
    ["nan_pred", "invalid_target", "soft_target", "float64_value"],
)
def test_rows_that_need_counting_give_the_validated_paths_state(
    loops_kind, monkeypatch, threads, spoil
):
    """One row in a late block needs counting (or a float64 value no float32 can hold):
    the one-pass attempt stops there and the rows are validated and added as before."""
    dtype = np.float64 if spoil == "float64_value" else np.float32
    batches = [_data(200_000, dtype, s) for s in range(4)]
    at = 150 * STATS_BLOCK + 7
    for p, y in batches[1:3]:  # two batches in a row, then a clean one
        if spoil == "nan_pred":
            p[at] = np.nan
        elif spoil == "invalid_target":
            y[at] = 2.0
        elif spoil == "soft_target":
            y[at] = 0.25
        else:
            p[at] = 0.1
    fast, slow = _states(*zip(*batches, strict=True), monkeypatch, threads)
    assert fast.to_bytes() == slow.to_bytes()
    if spoil in ("nan_pred", "invalid_target"):
        assert fast.rows - fast.rows_used == 2


def test_an_error_leaves_the_state_as_it_was(loops_kind):
    p, y = _data(300_000, np.float32, 3)
    s = BinaryStats(threads=1).update(p, y)
    before = s.to_bytes()
    bad = p.copy()
    bad[250_000] = 1.5
    with pytest.raises(DomainError, match="row 250000"):
        s.update(bad, y)
    assert s.to_bytes() == before
    with pytest.raises(DomainError):
        s.update(p, y, strict=True, weights=-np.ones_like(p))
    assert s.to_bytes() == before


def test_a_call_after_rows_that_needed_counting_is_validated_then_one_pass_again(
    loops_kind, monkeypatch
):
    """After a call whose rows needed counting, this thread validates the next call's
    rows first, then tries the one pass again (the same state either way); after k such
    calls in a row, the next 2**k - 1."""
    calls: list[bool] = []
    real = stats_driver.accumulate

    def spy(*args, **kw):
        added = real(*args, **kw)
        if kw.get("clean_only"):
            calls.append(added)
        return added

    monkeypatch.setattr(stats_driver, "accumulate", spy)
    monkeypatch.setattr(stats_driver, "_SCRATCH", threading.local())  # no earlier calls
    p, y = _data(100_000, np.float32, 5)
    dirty = p.copy()
    dirty[10] = np.nan
    s = BinaryStats(threads=1)
    for q in (p, dirty, p, p):
        s.update(q, y)
    # clean: one pass; dirty: tried, stopped; next: not tried (validated); one pass again
    assert calls == [True, False, False, True]
    assert s.rows - s.rows_used == 1
    calls.clear()
    for q in (dirty, dirty, dirty, dirty, dirty, dirty, p, p):
        s.update(q, y)
    # tried, 1 not tried, tried, 3 not tried, then the clean rows in one pass
    assert calls == [False, False, False, False, False, False, True, True]
