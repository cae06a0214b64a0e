"""The many-seed MLP kernels (bcelab.kernels.mlp): the torch steps' results up to float32
rounding, every input width and batch split, and the precompiled twins bit for bit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
torch = pytest.importorskip("torch")
mlp = pytest.importorskip("bcelab.kernels.mlp")

from bcelab.kernels import aot, mlp_aot  # noqa: E402
from bcelab.train import MLPSpec, rng  # noqa: E402
from bcelab.train.mlp import steps  # noqa: E402
from bcelab.train.mlp.batched import BatchedMLP  # noqa: E402
from bcelab.train.objectives import Objective  # noqa: E402
from bcelab.train.optim import Optimizer  # noqa: E402

from .aot_helpers import use_aot  # noqa: E402


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    aot.reset()
    yield
    aot.reset()


def _data(n: int, d_in: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, d_in)).astype(np.float32)
    y = (x.sum(axis=1) + 0.5 * g.standard_normal(n) > 0).astype(np.float32)[:, None]
    return torch.from_numpy(x), torch.from_numpy(y)


def _engine(x, y, seeds, batch, momentum=0.9, lr=0.05) -> BatchedMLP:
    return BatchedMLP(
        MLPSpec(hidden=(7,)),
        seeds,
        x,
        y,
        batch_size=batch,
        objective=Objective("bce"),
        optimizer=Optimizer("sgd", lr=lr, momentum=momentum),
    )


def _torch_epoch(m: BatchedMLP, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The factored torch steps of the same epoch (what the kernel replaces)."""
    plan = m.plans.fill(epoch, m.plans.build(0))
    with torch.no_grad():
        steps.factored_epoch(m, plan["steps"], m.objective.grad_signed)
    z = torch.cat([st["z"] for st in plan["steps"]], dim=2)[:, 0, :]
    return z.numpy().copy(), plan["ys"][:, :, 0].numpy().copy()


def _kernel_epoch(m: BatchedMLP, epoch: int, kernels=mlp) -> tuple[np.ndarray, np.ndarray]:
    n = m.x.shape[0]
    z = np.empty((m.n_seeds, n), np.float32)
    ys = np.empty((m.n_seeds, n), np.float32)
    y = m.y[:, 0].contiguous().numpy()
    kernels.sgd_epoch(
        m.flat.numpy(),
        m.opt_state["velocity"][0].numpy(),
        m.x.numpy(),
        y,
        (1.0 - 2.0 * y).astype(np.float32),
        rng.permutations(m.seeds, epoch=epoch, n=n),
        m.batch_size,
        m.optimizer.lr,
        m.optimizer.momentum,
        z,
        ys,
    )
    return z, ys


@pytest.mark.parametrize(
    ("n", "d_in", "batch", "momentum"),
    [(100, 2, 32, 0.9), (97, 2, 10, 0.0), (60, 1, 16, 0.9), (50, 3, 64, 0.5), (40, 2, 40, 0.9)],
)
def test_epochs_equal_the_torch_steps_up_to_rounding(n, d_in, batch, momentum) -> None:
    """Two inputs take the one-pass loops, other widths the general ones; the last batch
    is partial or the only one.  Weights, velocities, logits and targets agree."""
    x, y = _data(n, d_in)
    a, b = _engine(x, y, [3, 4, 5], batch, momentum), _engine(x, y, [3, 4, 5], batch, momentum)
    for epoch in range(4):
        za, ya = _torch_epoch(a, epoch)
        zb, yb = _kernel_epoch(b, epoch)
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(zb, za, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.flat.numpy(), a.flat.numpy(), rtol=1e-4, atol=1e-5)
    vel_a, vel_b = a.opt_state["velocity"][0], b.opt_state["velocity"][0]
    np.testing.assert_allclose(vel_b.numpy(), vel_a.numpy(), rtol=1e-3, atol=1e-6)


def test_the_loss_gradient_is_the_cores_sigmoid() -> None:
    """One step with lr 1 on one example from zero velocities leaves -g in the output
    bias's velocity: the core's s * sigmoid(s z) (its exponential rounded once from
    float64, so within an ulp of torch's float32 one), exact 0 and 1 in the tails."""
    x, y = _data(1, 2)
    s = 1.0 - 2.0 * y[0, 0]
    for scale in (0.0, 1.0, 50.0, 200.0):
        m = _engine(x, y, [0, 1], 1, lr=1.0)
        m.flat[:, -1] = scale * torch.tensor([1.0, -1.0])
        z, _ = _kernel_epoch(m, 0)
        got = -m.opt_state["velocity"][0][:, -1]
        want = Objective("bce").grad_signed(torch.from_numpy(z[:, 0]), s)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2.5e-7, atol=0)
        if scale == 200.0:  # one seed far on the right side, one far on the wrong side
            assert sorted(got.abs().tolist()) == [0.0, 1.0]


@pytest.mark.parametrize(("d_in", "n"), [(2, 500), (1, 33), (4, 7)])
def test_logits_equal_the_torch_forward_up_to_rounding(d_in, n) -> None:
    x, y = _data(n, d_in, seed=2)
    m = _engine(x, y, list(range(6)), 32)
    m.kernels = None  # the torch forward pass
    want = m.predict(x)[:, :, 0].numpy()
    got = np.empty((6, n), np.float32)
    mlp.mlp_logits(m.flat.numpy(), x.T.contiguous().numpy(), got)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_precompiled_kernels_equal_the_jit_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, aot_dir: Path
) -> None:
    use_aot(monkeypatch, aot_dir)
    kernels = mlp_aot.mlp_kernels()
    assert isinstance(kernels, mlp_aot.AotMLP)
    x, y = _data(200, 2, seed=4)
    a, b = _engine(x, y, [0, 1, 2, 3], 32), _engine(x, y, [0, 1, 2, 3], 32)
    for epoch in range(3):
        za, ya = _kernel_epoch(a, epoch)
        zb, yb = _kernel_epoch(b, epoch, kernels)
        np.testing.assert_array_equal(za, zb)
        np.testing.assert_array_equal(ya, yb)
    assert torch.equal(a.flat, b.flat)
    xt = x.T.contiguous().numpy()
    la, lb = np.empty((4, 200), np.float32), np.empty((4, 200), np.float32)
    mlp.mlp_logits(a.flat.numpy(), xt, la)
    kernels.mlp_logits(b.flat.numpy(), xt, lb)
    np.testing.assert_array_equal(la, lb)
    # anything the generated wrapper cannot take goes to the JIT (same results)
    strided = np.empty((4, 400), np.float32)[:, ::2]
    kernels.mlp_logits(a.flat.numpy(), xt, strided)
    np.testing.assert_array_equal(strided, la)


def test_without_the_precompiled_module_the_jit_kernels_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_aot(monkeypatch, None, enabled=False)
    assert mlp_aot.mlp_kernels() is mlp
