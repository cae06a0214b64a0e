"""The autoencoder's fast per-step BCE and per-epoch sums give the reference path's numbers.

The per-step loss has two paths: the fused kernel (numba installed) and, without it,
NumPy and torch repeating the reference path's operations.  The second gives the
reference bits; the first the same numbers to rounding.  ``kernel`` runs a test on each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from bcelab import bce_with_logits, decompose
from bcelab.errors import DomainError
from bcelab.kernels import available, set_enabled
from bcelab.train.autoencoder import trainer as trainer_module
from bcelab.train.autoencoder.batch_loss import mean_bce_and_grad
from bcelab.train.autoencoder.image_metrics import evaluate_images, prepare_images
from bcelab.train.autoencoder.images import ImageSet, load_digits
from bcelab.train.autoencoder.spec import AutoencoderSpec, training_loss, training_loss_and_grad
from bcelab.train.autoencoder.training import fit_autoencoder


def _reference(z: torch.Tensor, y: torch.Tensor, loss: str = "bce") -> tuple[float, torch.Tensor]:
    leaf = z.clone().requires_grad_()
    value = training_loss(loss, leaf, y)
    value.backward()
    assert leaf.grad is not None
    return float(value.detach()), leaf.grad


def _cases(dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for seed, scale in enumerate((1e-3, 1.0, 4.0, 40.0, 300.0)):
        g = torch.Generator().manual_seed(seed)
        z = (torch.randn(48, 1, 8, 8, generator=g, dtype=torch.float64) * scale).to(dtype)
        y = torch.rand(48, 1, 8, 8, generator=g, dtype=torch.float64).to(dtype)
        flat_z, flat_y = z.view(-1), y.view(-1)
        flat_z[:40] = 0.0  # ties of torch's minimum and maximum
        flat_z[40:45] = -0.0
        flat_y[:20] = 0.0
        flat_y[60:90] = 1.0
        flat_y[100:140] = torch.sigmoid(flat_z[100:140])  # p == y: the gradient is ~0
        flat_y[200:230] = 0.5
        out.append((z, y))
    return out


@pytest.fixture(params=["kernel", "numpy"])
def kernel(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Whether the fused kernel computes the per-step loss (else the NumPy/torch path)."""
    on = request.param == "kernel"
    if on and not available():
        pytest.skip("numba is not installed")
    set_enabled(on)
    try:
        yield on
    finally:
        set_enabled(True)


def _assert_reference(
    pair: tuple[float, torch.Tensor] | None,
    value: float,
    grad: torch.Tensor,
    z: torch.Tensor,
    kernel: bool,
) -> None:
    assert pair is not None
    assert pair[1].dtype == grad.dtype and pair[1].shape == grad.shape
    if not kernel:  # the reference path's operations: the same bits
        assert pair[0] == value  # the same float64, not merely close
        assert torch.equal(pair[1], grad)
        assert torch.equal(torch.signbit(pair[1]), torch.signbit(grad))
        return
    # The kernel: the float64 mean to rounding; the gradient (sigmoid(x) - y) / N rounded
    # once to the dtype, up to the float64 rounding of its two terms (each at most 1 / N)
    # where they nearly cancel, as the reference's own rounding is.
    assert pair[0] == pytest.approx(value, rel=4e-16, abs=0.0)
    eps64 = torch.finfo(torch.float64).eps
    torch.testing.assert_close(
        pair[1], grad, rtol=2 * torch.finfo(grad.dtype).eps, atol=8 * eps64 / z.numel()
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loss", ["bce", "kl"])
def test_value_and_gradient_are_the_reference_numbers(
    dtype: torch.dtype, loss: str, kernel: bool
) -> None:
    for z, y in _cases(dtype):
        value, grad = _reference(z, y, loss)
        _assert_reference(training_loss_and_grad(loss, z, y), value, grad, z, kernel)


def test_other_inputs_are_left_to_the_reference_path(kernel: bool) -> None:
    y = torch.full((4, 1, 2, 2), 0.25)
    z = torch.zeros(4, 1, 2, 2)
    for bad in (float("nan"), float("inf"), -float("inf")):
        zb = z.clone()
        zb[0, 0, 0, 0] = bad
        assert mean_bce_and_grad(zb, y) is None
    assert mean_bce_and_grad(z.half(), y) is None
    assert mean_bce_and_grad(z.transpose(2, 3), y.transpose(2, 3)) is None  # not contiguous
    assert mean_bce_and_grad(z[:0], y[:0]) is None
    assert training_loss_and_grad("mse", z, y) is None
    pair = mean_bce_and_grad(z, y)
    assert pair is not None
    assert pair[0] == pytest.approx(float(bce_with_logits(z, y, reduction="mean")), rel=4e-16)


def test_mixed_dtypes_take_the_numpy_path() -> None:
    # float64 pixels and float32 logits: the kernel wants one dtype; the other path
    # converts both to float64, as the reference path does
    g = torch.Generator().manual_seed(3)
    z = torch.randn(8, 1, 4, 4, generator=g)
    y = torch.rand(8, 1, 4, 4, generator=g, dtype=torch.float64)
    value, grad = _reference(z, y)
    _assert_reference(mean_bce_and_grad(z, y), value, grad, z, kernel=False)


@pytest.fixture(scope="module")
def small() -> ImageSet:
    d = load_digits()
    return ImageSet(d.train[:160], d.test[:64], d.source, d.scaling)


def _run(small: ImageSet, loss: str) -> dict[str, np.ndarray]:
    r = fit_autoencoder(small, AutoencoderSpec(), epochs=2, seed=5, loss=loss, threads=1)
    out = {f"h_{k}": v for k, v in r.history.metrics.items()}
    return {**out, **{k: v.numpy() for k, v in r.model.state_dict().items()}}


@pytest.mark.parametrize("loss", ["bce", "kl"])
def test_training_matches_the_reference_path(
    small: ImageSet, loss: str, kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(small, loss)
    monkeypatch.setattr(trainer_module, "training_loss_and_grad", lambda *a: None)
    slow = _run(small, loss)
    if not kernel:  # bit for bit
        np.testing.assert_array_equal(fast["h_loss"], slow["h_loss"])
        for k in fast:
            if not k.startswith("h_"):
                np.testing.assert_array_equal(fast[k], slow[k], err_msg=k)
        return
    # the kernel's per-step numbers agree to rounding, so the runs stay together
    np.testing.assert_allclose(fast["h_loss"], slow["h_loss"], rtol=1e-12)
    for k in fast:
        if not k.startswith("h_"):
            np.testing.assert_allclose(fast[k], slow[k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_epoch_sums_agree_with_decompose(small: ImageSet) -> None:
    net = AutoencoderSpec().build(small.image_shape)
    images = torch.as_tensor(small.test)
    prepared = prepare_images(images, batch_size=10)
    assert prepared.checked
    assert prepared.floor == pytest.approx(decompose(images, images).floor, rel=1e-14)
    fast, _ = evaluate_images(net, prepared, batch_size=25)
    with torch.no_grad():
        z = net(images)
    d = decompose(z, images, logits=True)
    mse = float(torch.mean((torch.sigmoid(z.double()) - images.double()) ** 2))
    assert fast.bce == pytest.approx(d.bce, rel=1e-14)
    assert fast.floor == pytest.approx(d.floor, rel=1e-14)
    assert fast.excess == pytest.approx(d.excess, rel=1e-13)
    assert fast.mse == pytest.approx(mse, rel=1e-7)  # sigmoid rounded to float32, as reported
    assert fast.count == images.numel()


class _Exact(torch.nn.Module):
    """Reconstructs every pixel to float32 rounding: the excess is ~1e-16 of the BCE."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logit(x.double()).float() * self.w


def test_a_tiny_excess_is_summed_per_element(small: ImageSet) -> None:
    # BCE minus floor would cancel here; the per-element KL of the core is summed instead
    images = torch.as_tensor(small.test) * 0.8 + 0.1  # soft pixels, finite logits
    got, _ = evaluate_images(_Exact(), images)
    with torch.no_grad():
        d = decompose(_Exact()(images), images, logits=True)
    assert 0.0 < got.excess < 1e-12 * got.bce
    assert got.excess == pytest.approx(d.excess, rel=1e-9)


def test_unchecked_pixels_still_raise_the_loss_error(small: ImageSet) -> None:
    bad = small.train.copy()
    bad[0, 0, 0, 0] = 1.5  # an ImageSet built directly is not validated
    data = ImageSet(bad, small.test, small.source, small.scaling)
    assert not prepare_images(torch.as_tensor(bad)).checked
    with pytest.raises(DomainError, match="targets must lie in"):
        fit_autoencoder(data, AutoencoderSpec(), epochs=1, threads=1)
