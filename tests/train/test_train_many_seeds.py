"""Many seeds of the built-in MLP: the compiled epochs against the torch steps, the same
history on one core (evaluation inline) as on two (on the helper thread)."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bcelab.train import MLPSpec, alloc, builtin, fit  # noqa: E402
from bcelab.train.mlp import batched  # noqa: E402


@pytest.fixture(scope="module")
def circles():
    return builtin("circles")


def _one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)


def test_spare_core_follows_the_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert alloc.spare_core()
    _one_core(monkeypatch)
    assert not alloc.spare_core()


def test_one_core_evaluates_inline_with_the_same_history(
    circles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one core no work goes to the helper thread (neither the evaluation nor the
    torch path's shuffles), and the history is the pipelined one bit for bit."""
    handed: list[object] = []
    real = alloc.helper_pool
    monkeypatch.setattr(alloc, "helper_pool", lambda: handed.append(1) or real())
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    kw = dict(seeds=10, seed=2, epochs=5)
    hidden = ((50,), (6, 4))  # the compiled epochs, and the torch steps with prefetch
    piped = {h: fit(MLPSpec(hidden=h), circles, **kw) for h in hidden}
    assert handed  # the spy sees the helper's work on two cores
    handed.clear()
    _one_core(monkeypatch)
    inline = {h: fit(MLPSpec(hidden=h), circles, **kw) for h in hidden}
    assert not handed
    for h, got in inline.items():
        want = piped[h]
        for name in want.metrics:
            np.testing.assert_array_equal(got.metrics[name], want.metrics[name], err_msg=name)
        for k in want.model_state:
            assert torch.equal(got.model_state[k], want.model_state[k])


def test_compiled_epochs_equal_the_torch_steps_up_to_rounding(
    circles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled path (numba) against the factored torch steps it replaces: the same
    shuffles and targets; losses to float32 rounding, an accuracy at most one example
    apart."""
    kw = dict(seeds=6, seed=1, epochs=15)
    compiled = fit(MLPSpec(), circles, **kw)
    monkeypatch.setattr(batched, "compiled_kernels", lambda: None)
    plain = fit(MLPSpec(), circles, **kw)
    for name in ("train_loss", "test_loss"):
        np.testing.assert_allclose(compiled.metrics[name], plain.metrics[name], rtol=1e-4)
    for name in ("train_acc", "test_acc"):
        assert np.abs(compiled.metrics[name] - plain.metrics[name]).max() <= 1 / 500 + 1e-12
    for k, v in plain.model_state.items():
        np.testing.assert_allclose(compiled.model_state[k], v, rtol=1e-3, atol=1e-4)


def test_compiled_epochs_same_seed_same_result(circles) -> None:
    a = fit(MLPSpec(), circles, seeds=4, seed=9, epochs=4)
    b = fit(MLPSpec(), circles, seeds=4, seed=9, epochs=4)
    for name in a.metrics:
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name])
    for k in a.model_state:
        assert torch.equal(a.model_state[k], b.model_state[k])


def test_a_slow_first_compile_says_so_once(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import time

    monkeypatch.setattr(batched, "mlp_kernels", lambda: time.sleep(1.3) or "kernels")
    with caplog.at_level("WARNING", logger="bcelab"):
        assert batched.compiled_kernels() == "kernels"
    assert [r.getMessage() for r in caplog.records] == [batched.COMPILE_NOTICE]
    caplog.clear()
    monkeypatch.setattr(batched, "mlp_kernels", lambda: "kernels")
    with caplog.at_level("WARNING", logger="bcelab"):
        batched.compiled_kernels()
    assert not caplog.records
