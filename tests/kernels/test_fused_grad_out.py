"""``fused_bce(grad_out=)``: which arrays it takes, and that a refused or failed call leaves it alone.

The kernel writes each element's gradient while it reads the inputs, so ``grad_out`` must
not share memory with any of them; its dtype is the gradient's (the predictions' dtype in
native byte order); and the kernel path and the reference path refuse the same calls.
"""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.errors import OptionError
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
