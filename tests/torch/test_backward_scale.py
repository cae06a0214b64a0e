"""A loss module guesses its backward pass's ``grad_output`` (``(loss / k).backward()``).

When the same factor comes twice, the next forward pass has the fused kernel write the
gradient already times it (``fused_bce(grad_scale=)``), sparing the backward pass a pass
over the gradient.  The gradient's bits never depend on the guess: any sequence of
factors gives, at every step, the kernel's gradient multiplied afterwards, as before.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

import bcelab.torch as bt  # noqa: E402
from bcelab.kernels import fused_bce  # noqa: E402
from bcelab.torch import fused  # noqa: E402

FACTORS = [1.0, 0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 2.0, 0.25, 0.25, 1.0, -1.0, -1.0, 0.0, 0.0]


def _reference(pred: torch.Tensor, y: torch.Tensor, s: float, logits: bool) -> torch.Tensor:
    g = torch.from_numpy(fused_bce(pred.numpy(), y.numpy(), logits=logits, grad=True).grad)
    return g.mul_(s)


@pytest.mark.parametrize("logits", [True, False])
@pytest.mark.parametrize("n", [1000, fused.POOL_MIN + 5])
def test_any_sequence_of_factors_gives_the_bits_of_scaling_afterwards(
    logits: bool, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = torch.Generator().manual_seed(3)
    x = 3 * torch.randn(n, generator=gen)
    pred = x if logits else torch.sigmoid(x)
    y = (torch.rand(n, generator=gen) < 0.4).float()
    loss = bt.BCEWithLogitsLoss() if logits else bt.BCELoss()
    written: list[float] = []
    kernel = fused.fused_bce

    def spy(*args: object, **kw: object) -> object:
        written.append(float(kw.get("grad_scale", 1.0)))  # type: ignore[arg-type]
        return kernel(*args, **kw)

    monkeypatch.setattr(fused, "fused_bce", spy)
    for step, s in enumerate(FACTORS):
        xi = pred.clone().requires_grad_(True)
        (loss(xi, y) * s).backward()
        want = _reference(pred, y, s, logits)
        assert torch.equal(xi.grad.view(torch.int32), want.view(torch.int32)), (step, s)
    # the forward passes' guesses: a factor is used once it came twice in a row
    assert written[:5] == [1.0, 1.0, 1.0, 0.25, 0.25]
    assert 0.5 in written and -1.0 not in written[:12]
