"""The torch adapter and ``BinaryStats.update`` on CUDA tensors (skipped without a GPU).

On a GPU the losses run the generic path (the core's formulas as torch operations on
the device): the loss stays on the device, equals the CPU's to float32 rounding and
torch's own loss to its accuracy, and its gradient reaches the inputs.  Under CUDA
autocast the probabilities' loss runs in float32 (``torch.nn.BCELoss`` refuses to).
``BinaryStats.update`` copies CUDA tensors to the host and gives the state that the
same values as NumPy arrays give, bit for bit; the distributed metric does the same.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bcelab.torch as bt  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU and a CUDA build of torch"
)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(n) * 4).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    return z, y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_logits_loss_on_cuda_equals_the_cpu_and_torch(reduction: str) -> None:
    z, y = _data(100_003, 1)
    out = {}
    for dev in ("cpu", "cuda"):
        x = torch.tensor(z, device=dev, requires_grad=True)
        loss = bt.BCEWithLogitsLoss(reduction=reduction)(x, torch.tensor(y, device=dev))
        assert loss.device.type == dev and loss.dtype == torch.float32
        loss.sum().backward()
        out[dev] = (loss.detach().cpu().numpy(), x.grad.cpu().numpy())
    np.testing.assert_allclose(out["cuda"][0], out["cpu"][0], rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(out["cuda"][1], out["cpu"][1], rtol=2e-6, atol=1e-12)
    xt = torch.tensor(z, device="cuda", requires_grad=True)
    ref = torch.nn.BCEWithLogitsLoss(reduction=reduction)(xt, torch.tensor(y, device="cuda"))
    np.testing.assert_allclose(out["cuda"][0], ref.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_probabilities_loss_on_cuda_equals_the_cpu_and_torch() -> None:
    z, y = _data(50_001, 2)
    p = (1 / (1 + np.exp(-z.astype(np.float64)))).clip(1e-6, 1 - 1e-6).astype(np.float32)
    vals = {}
    for dev in ("cpu", "cuda"):
        x = torch.tensor(p, device=dev, requires_grad=True)
        loss = bt.BCELoss()(x, torch.tensor(y, device=dev))
        loss.backward()
        vals[dev] = (float(loss.detach()), x.grad.cpu().numpy())
    assert vals["cuda"][0] == pytest.approx(vals["cpu"][0], rel=2e-6)
    np.testing.assert_allclose(vals["cuda"][1], vals["cpu"][1], rtol=2e-6, atol=1e-12)
    ref = torch.nn.BCELoss()(torch.tensor(p, device="cuda"), torch.tensor(y, device="cuda"))
    assert vals["cuda"][0] == pytest.approx(float(ref), rel=1e-5)


def test_cuda_autocast_runs_the_probabilities_loss_in_float32() -> None:
    p = torch.rand(1000, device="cuda").clamp(1e-4, 1 - 1e-4)
    y = (torch.rand(1000, device="cuda") < p).float()
    w = torch.randn(1000, 1000, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        h = torch.sigmoid(p @ w / 1000)  # bfloat16 under autocast
        loss = bt.BCELoss()(h, y)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()


@pytest.mark.parametrize("logits", [False, True])
def test_binary_stats_from_cuda_tensors_equal_those_from_numpy(logits: bool) -> None:
    z, y = _data(300_007, 3)
    pred = z if logits else 1 / (1 + np.exp(-z))
    w = np.random.default_rng(4).random(z.size).astype(np.float32)
    host = BinaryStats().update(pred, y, weights=w, logits=logits)
    dev = BinaryStats().update(
        torch.tensor(pred, device="cuda"),
        torch.tensor(y, device="cuda"),
        weights=torch.tensor(w, device="cuda"),
        logits=logits,
    )
    assert dev.to_bytes() == host.to_bytes()


def test_the_torch_metric_takes_cuda_tensors() -> None:
    z, y = _data(10_000, 5)
    m = bt.StreamingBinaryMetrics()
    m.update(torch.tensor(z, device="cuda").sigmoid(), torch.tensor(y, device="cuda"))
    host = BinaryStats().update(torch.tensor(z).sigmoid().numpy(), y).compute()
    got = m.compute()
    assert got.log_loss == pytest.approx(host.log_loss, rel=1e-6)
