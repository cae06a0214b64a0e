"""``fused_bce(grad_out=)``: which arrays it takes, and that a refused or failed call leaves it alone.

The kernel writes each element's gradient while it reads the inputs, so ``grad_out`` must
not share memory with any of them; its dtype is the gradient's (the predictions' dtype in
native byte order); and the kernel path and the reference path refuse the same calls.
"""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.errors import DTypeError, OptionError
from bcelab.kernels import fused_bce, reference_path

pytest.importorskip("numba")


def _soft32(n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, n).astype(np.float32)
    y = rng.uniform(0, 1, n).astype(np.float32)
    return x, y


@pytest.mark.parametrize("kernel", [True, False])
def test_grad_out_overlapping_targets_or_weights_is_refused(kernel: bool) -> None:
    x, y = _soft32()
    buf = np.ones(2 * x.size, dtype=np.float32)
    w = buf[: x.size]
    cases = [
        ("targets", dict(targets=y, grad_out=y)),
        ("targets", dict(targets=buf[: x.size], grad_out=buf[x.size // 2 : x.size // 2 + x.size])),
        ("weights", dict(targets=y, weights=w, grad_out=buf[x.size // 2 : x.size // 2 + x.size])),
    ]
    for name, kw in cases:
        before = kw["grad_out"].copy()
        with pytest.raises(OptionError, match=f"overlap.*sharing memory with {name}="):
            if kernel:
                fused_bce(x, logits=True, **kw)
            else:
                with reference_path():
                    fused_bce(x, logits=True, **kw)
        np.testing.assert_array_equal(kw["grad_out"], before)
    # a separate array is still taken, and gives the gradient of grad=True
    g = np.empty_like(x)
    r = fused_bce(x, y, logits=True, weights=w, grad_out=g)
    assert r.grad is g
    np.testing.assert_array_equal(g, fused_bce(x, y, logits=True, weights=w, grad=True).grad)


@pytest.mark.parametrize("dt", [">f8", ">f4", "<f2", "f4", "f8"])
def test_grad_out_has_the_dtype_of_grad_true(dt: str) -> None:
    # the gradient's dtype: the predictions' in native byte order, float32 for float16
    rng = np.random.default_rng(8)
    x = rng.normal(size=100).astype(dt)
    y = (rng.random(100) < 0.5).astype(dt)
    want = fused_bce(x, y, logits=True, grad=True).grad
    assert want is not None and want.dtype.isnative
    g = np.empty(100, dtype=want.dtype)
    assert fused_bce(x, y, logits=True, grad_out=g).grad is g
    np.testing.assert_array_equal(g, want)
    for bad in {np.dtype(dt), want.dtype.newbyteorder(">"), np.dtype(np.float32), np.dtype("f8")}:
        if bad == want.dtype:
            continue
        with pytest.raises(DTypeError, match="native byte order") as info:
            fused_bce(x, y, logits=True, grad_out=np.empty(100, dtype=bad))
        # the fix the message names is taken
        plain = np.dtype(dt) == want.dtype
        fix = "np.empty_like(preds)" if plain else f"np.empty_like(preds, dtype=np.{want.dtype})"
        assert str(info.value).endswith(f"pass {fix}")
        g = np.empty_like(x) if plain else np.empty_like(x, dtype=want.dtype)
        assert fused_bce(x, y, logits=True, grad_out=g).grad is g


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), "0.1", 1.5, -0.1, np.nan])
def test_label_smoothing_is_checked_alike_on_both_paths(bad: object) -> None:
    # a bool is not a number here: the kernel took True as 1.0, the reference path refused it
    x = np.random.default_rng(0).normal(size=50)
    y = np.ones(50)
    for kernel in (True, False):
        with pytest.raises(OptionError, match="fused_bce: label_smoothing must be a number"):
            if kernel:
                fused_bce(x, y, logits=True, label_smoothing=bad)
            else:
                with reference_path():
                    fused_bce(x, y, logits=True, label_smoothing=bad)
    # numbers of any type are taken, with the same value on both paths
    for ok in (0, 0.1, np.float32(0.25), np.float64(1.0)):
        got = fused_bce(x, y, logits=True, label_smoothing=ok)
        with reference_path():
            ref = fused_bce(x, y, logits=True, label_smoothing=ok)
        assert got.fused and not ref.fused and abs(got.value - ref.value) <= 1e-15
