"""``fused_bce(grad_scale=)``: the gradient times a factor in one pass, the bits of multiplying after.

A backward pass multiplies the gradient by its incoming gradient (``(loss / k).backward()``
for gradient accumulation, loss scaling).  The kernel does it as it writes each element,
after the element's rounding, so the result must equal ``g * dtype(s)`` bit for bit on
every path: the plain block loops, the per-element path (soft targets, weights, label
smoothing, tiny losses), both dtypes, and the reference path that flagged inputs take.
"""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.errors import OptionError
from bcelab.kernels import fused_bce

pytest.importorskip("numba")

FACTORS = [0.25, -3.0, 1 / 3, 0.0, 1e-30, 65536.0]


def _case(kind: str, dtype: type, logits: bool, n: int = 3000) -> tuple:
    rng = np.random.default_rng(len(kind))
    x = rng.normal(0, 3, n) * (30 if kind == "tiny" else 1)
    y = (x > 0 if kind == "tiny" else rng.random(n) < 0.5).astype(dtype)
    if kind == "soft":
        y = rng.random(n).astype(dtype)
    pred = (x if logits else 1 / (1 + np.exp(-x))).astype(dtype)
    w = rng.exponential(1.0, n).astype(dtype) if kind == "weights" else None
    if kind == "nan":
        pred[7] = np.nan
    return pred, y, w


# every path of the float32 kernel from logits, the block paths from probabilities, and
# float64 (each kernel variant compiles once, a few seconds: the suite keeps to these)
CASES = [(kind, np.float32, True) for kind in ("hard", "soft", "weights", "tiny", "smooth", "nan")]
CASES += [(kind, np.float32, False) for kind in ("hard", "soft", "nan")]
CASES += [("hard", np.float64, True), ("soft", np.float64, True)]


@pytest.mark.parametrize(("kind", "dtype", "logits"), CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_scaled_gradient_has_the_bits_of_scaling_afterwards(
    kind: str, dtype: type, logits: bool, reduction: str
) -> None:
    pred, y, w = _case(kind, dtype, logits)
    kw = dict(
        logits=logits,
        weights=w,
        reduction=reduction,
        label_smoothing=0.1 if kind == "smooth" else 0.0,
        nan_policy="omit" if kind == "nan" else "raise",
    )
    ref = fused_bce(pred, y, grad=True, **kw)
    assert ref.fused == (kind != "nan")
    for s in FACTORS:
        out = np.empty_like(pred)
        got = fused_bce(pred, y, grad_out=out, grad_scale=s, **kw)
        want = ref.grad * ref.grad.dtype.type(s)
        assert got.value == ref.value and got.grad is out
        assert np.array_equal(out.view(np.uint8), want.view(np.uint8)), s  # -0.0 too


def test_a_large_input_on_threads_is_scaled_the_same() -> None:
    pred, y, _ = _case("hard", np.float32, True, n=3 << 18)
    ref = fused_bce(pred, y, logits=True, grad=True, threads=2).grad
    got = fused_bce(pred, y, logits=True, grad=True, grad_scale=0.1, threads=2).grad
    assert np.array_equal(got, ref * np.float32(0.1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, True, "0.5", None])
def test_grad_scale_must_be_a_finite_number(bad: object) -> None:
    x = np.zeros(4, np.float32)
    with pytest.raises(OptionError, match="grad_scale must be a finite number"):
        fused_bce(x, x, logits=True, grad=True, grad_scale=bad)  # type: ignore[arg-type]
