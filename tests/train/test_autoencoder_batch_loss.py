"""The autoencoder's fast per-step BCE and per-epoch sums give the reference path's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bcelab import bce_with_logits, decompose
from bcelab.errors import DomainError
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loss", ["bce", "kl"])
def test_value_and_gradient_are_the_reference_bits(dtype: torch.dtype, loss: str) -> None:
    for z, y in _cases(dtype):
        value, grad = _reference(z, y, loss)
        pair = training_loss_and_grad(loss, z, y)
        assert pair is not None
        assert pair[0] == value  # the same float64, not merely close
        assert pair[1].dtype == grad.dtype and pair[1].shape == grad.shape
        assert torch.equal(pair[1], grad)
        assert torch.equal(torch.signbit(pair[1]), torch.signbit(grad))


def test_other_inputs_are_left_to_the_reference_path() -> None:
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
    assert pair is not None and pair[0] == float(bce_with_logits(z, y, reduction="mean"))


@pytest.fixture(scope="module")
def small() -> ImageSet:
    d = load_digits()
    return ImageSet(d.train[:160], d.test[:64], d.source, d.scaling)


def _run(small: ImageSet, loss: str) -> dict[str, np.ndarray]:
    r = fit_autoencoder(small, AutoencoderSpec(), epochs=2, seed=5, loss=loss, threads=1)
    out = {f"h_{k}": v for k, v in r.history.metrics.items()}
    return {**out, **{k: v.numpy() for k, v in r.model.state_dict().items()}}


@pytest.mark.parametrize("loss", ["bce", "kl"])
def test_training_is_bit_identical_to_the_reference_path(
    small: ImageSet, loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(small, loss)
    monkeypatch.setattr(trainer_module, "training_loss_and_grad", lambda *a: None)
    slow = _run(small, loss)
    np.testing.assert_array_equal(fast["h_loss"], slow["h_loss"])
    for k in fast:
        if not k.startswith("h_"):
            np.testing.assert_array_equal(fast[k], slow[k], err_msg=k)


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
