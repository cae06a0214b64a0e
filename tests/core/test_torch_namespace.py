"""The torch namespace bcelab uses: array_api_compat's results, traceable by torch.compile.

``minimum``, ``maximum``, ``where`` and ``pow`` give array_api_compat's values and dtypes
for every mix of floating tensors, integer and boolean tensors, 0-d tensors and Python
numbers; ties split the gradient as torch's own functions do; and a Python number no
longer breaks a ``torch.compile`` graph.
"""

from __future__ import annotations

import itertools
import warnings

import pytest

torch = pytest.importorskip("torch")
compat_torch = pytest.importorskip("array_api_compat.torch")

from bcelab._core.arrays import namespace_of  # noqa: E402
from bcelab._core.torch_namespace import TORCH_NAMESPACE as xp  # noqa: E402


def _operands() -> list[object]:
    base = torch.tensor([-2.0, -0.0, 0.0, 0.5, float("inf"), float("nan")])
    return [
        base,
        base.double(),
        torch.tensor(0.25),  # 0-d float32
        torch.tensor(0.25, dtype=torch.float64),
        torch.tensor([-1, 0, 3, 2, 5, 1]),
        torch.tensor([True, False, True, True, False, False]),
        0.0,
        -1.5,
        2,
    ]


@pytest.mark.parametrize("name", ["minimum", "maximum", "pow"])
def test_two_argument_functions_equal_array_api_compat(name: str) -> None:
    ours, theirs = getattr(xp, name), getattr(compat_torch, name)
    for a, b in itertools.product(_operands(), repeat=2):
        if not (isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor)):
            continue
        try:
            want = theirs(a, b)
        except (RuntimeError, TypeError):
            continue  # array_api_compat refuses it too (e.g. pow of a bool tensor)
        got = ours(a, b)
        assert got.dtype == want.dtype, (name, a, b)
        torch.testing.assert_close(got, want, equal_nan=True, rtol=0, atol=0)


def test_where_equals_array_api_compat() -> None:
    cond = torch.tensor([True, False, True, False, True, False])
    for a, b in itertools.product(_operands(), repeat=2):
        if not (isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor)):
            continue
        want = compat_torch.where(cond, a, b)
        got = xp.where(cond, a, b)
        assert got.dtype == want.dtype, (a, b)
        torch.testing.assert_close(got, want, equal_nan=True, rtol=0, atol=0)


def test_ties_split_the_gradient_as_torch_does() -> None:
    x = torch.zeros(3, requires_grad=True)
    (xp.minimum(x, 0.0) + xp.maximum(x, 0.0) * 2).sum().backward()
    assert x.grad.tolist() == [1.5, 1.5, 1.5]  # 1/2 from each side of each tie


def test_every_other_name_is_array_api_compat_s() -> None:
    assert xp.log1p is compat_torch.log1p and xp.astype is compat_torch.astype
    assert namespace_of(torch.zeros(2)) is xp


def test_a_python_number_does_not_break_the_graph() -> None:
    def f(x: object) -> object:
        return xp.where(x > 0, 0.0, xp.minimum(x, 0.0)) + xp.pow(xp.maximum(x, 1.0), 2)

    x = torch.randn(16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = torch.compile(f, backend="eager", fullgraph=True)(x)
    torch.testing.assert_close(got, f(x))


def test_compiling_a_core_loss_raises_no_dynamo_warning() -> None:
    # array_api_compat's type tests go through functools.lru_cache helpers, over each of
    # which torch.compile warns while it traces; bcelab asks isinstance for tensors
    import bcelab

    torch._dynamo.reset()
    x = torch.randn(64, requires_grad=True)
    y = (torch.rand(64) < 0.5).float()
    w = torch.rand(64)

    def loss(z: object) -> object:
        return bcelab.bce_with_logits(z, y, weights=w, mask=w > 0.5, reduction="mean")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = torch.compile(loss, backend="eager")(x)
        out.backward()
    dynamo = [str(c.message) for c in caught if "Dynamo" in str(c.message)]
    assert dynamo == [], dynamo[:2]
    torch.testing.assert_close(out, loss(x.detach()))  # the compiled value is the eager one
    assert torch.isfinite(x.grad).all()
