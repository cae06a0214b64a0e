"""Derivatives of the information-theoretic functions (bcelab.information): KL(y || p)
is differentiated as KL, in the targets too (a distillation teacher that is not detached)."""

from __future__ import annotations

import numpy as np
import pytest

import bcelab


def test_torch_kl_gradients_in_both_arguments_are_kls() -> None:
    torch = pytest.importorskip("torch")
    import bcelab.torch as bt

    rng = np.random.default_rng(3)
    p = torch.tensor(rng.uniform(0.05, 0.95, 6), dtype=torch.float64, requires_grad=True)
    z = torch.tensor(rng.normal(0, 2, 6), dtype=torch.float64, requires_grad=True)
    y = torch.tensor(rng.uniform(0.05, 0.95, 6), dtype=torch.float64, requires_grad=True)
    for reduction in ("sum", "mean", "none"):
        kl = bt.BinaryKLLoss(reduction=reduction)
        klz = bt.BinaryKLWithLogitsLoss(reduction=reduction)
        assert torch.autograd.gradcheck(lambda a, t, f=kl: f(a, t), (p, y))
        assert torch.autograd.gradcheck(lambda a, t, f=klz: f(a, t), (z, y))
    bt.BinaryKLLoss(reduction="sum")(p, y).backward()
    want = torch.logit(y.detach()) - torch.logit(p.detach())
    torch.testing.assert_close(y.grad, want, rtol=1e-12, atol=0)
    y.grad = None
    bcelab.binary_kl(z, y, logits=True, reduction="sum").backward()
    want = torch.logit(y.detach()) - z.detach()
    torch.testing.assert_close(y.grad, want, rtol=1e-12, atol=1e-15)


def test_jax_kl_gradient_in_the_targets_is_logit_y_minus_logit_p() -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    p = jnp.array([0.2, 0.5, 0.93], dtype=jnp.float32)  # JAX without x64: float32
    y = jnp.array([0.7, 0.1, 0.93], dtype=jnp.float32)
    got = jax.grad(lambda t: bcelab.binary_kl(p, t, reduction="sum"))(y)
    p64, y64 = np.asarray(p, np.float64), np.asarray(y, np.float64)
    want = np.log(y64 / (1 - y64)) - np.log(p64 / (1 - p64))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    # the predictions' gradient is still the cross-entropy's
    gp = jax.grad(lambda a: bcelab.binary_kl(a, y, reduction="sum"))(p)
    np.testing.assert_allclose(np.asarray(gp), (p64 - y64) / (p64 * (1 - p64)), rtol=1e-5)


@pytest.mark.parametrize("flag", [np.array([0.5, -1.0]), "no", np.array([True]), 1])
def test_the_logits_flag_is_a_bool(flag: object) -> None:
    z, y = np.array([0.5, -1.0]), np.array([0.2, 0.7])
    for fn in (bcelab.binary_kl, bcelab.decompose):
        with pytest.raises(bcelab.OptionError, match="logits must be True or False") as e:
            fn(z, y, logits=flag)
        assert "logits=True" in e.value.fix
    assert bcelab.decompose(z, y, logits=np.True_).bce == bcelab.decompose(z, y, logits=True).bce
