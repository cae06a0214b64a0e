"""One argument order: the prediction first, the target second, and a swap is caught or documented.

For every public function and method that takes a prediction and a target:

* the signature names the prediction first and the target second;
* the same numbers come out whether the data are passed by position or by keyword;
* a swap that can be detected raises: integer or boolean targets in the prediction's
  place (a ``DTypeError`` that says "swapped"), a probability above 1 (a ``DomainError``),
  logits outside [0, 1] in the target's place;
* a swap that cannot be detected (two float arrays in [0, 1]) is documented: the
  docstring says that the prediction comes first.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import bcelab
from bcelab.errors import DomainError, DTypeError
from bcelab.kernels import fused_bce
from bcelab.metrics import BinaryStats

P_OR_K = inspect.Parameter.POSITIONAL_OR_KEYWORD
KW_ONLY = inspect.Parameter.KEYWORD_ONLY

# name -> (function, the prediction's keyword)
CORE: dict[str, tuple[Callable[..., Any], str]] = {
    "bce": (bcelab.bce, "preds"),
    "bce_with_logits": (bcelab.bce_with_logits, "logits"),
    "focal": (bcelab.focal, "preds"),
    "focal_with_logits": (bcelab.focal_with_logits, "logits"),
    "binary_kl": (bcelab.binary_kl, "preds"),
    "decompose": (bcelab.decompose, "preds"),
    "bce_grad": (bcelab.bce_grad, "preds"),
    "bce_with_logits_grad": (bcelab.bce_with_logits_grad, "logits"),
    "focal_with_logits_grad": (bcelab.focal_with_logits_grad, "logits"),
}


def _update(preds: Any, targets: Any, **kw: Any) -> BinaryStats:
    return BinaryStats().update(preds, targets, **kw)


def _fused(preds: Any, targets: Any, **kw: Any) -> Any:
    return fused_bce(preds, targets, logits=False, **kw)


def _fused_logits(preds: Any, targets: Any, **kw: Any) -> Any:
    return fused_bce(preds, targets, logits=True, **kw)


# every callable of the table above, plus the method and the kernel: (call, takes logits)
SWAPPABLE: dict[str, tuple[Callable[..., Any], bool]] = {
    **{name: (fn, kw == "logits") for name, (fn, kw) in CORE.items()},
    "BinaryStats.update": (_update, False),
    "kernels.fused_bce": (_fused, False),
    "kernels.fused_bce(logits=True)": (_fused_logits, True),
}
DOCUMENTED: dict[str, Callable[..., Any]] = {
    **{name: fn for name, (fn, _) in CORE.items()},
    "BinaryStats.update": BinaryStats.update,
    "kernels.fused_bce": fused_bce,
}
ORDER_STATED = re.compile(r"prediction,?\s+(comes\s+)?first", re.IGNORECASE)


def _data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    y = rng.uniform(0.0, 1.0, n)
    z = rng.normal(0.0, 3.0, n)
    return p, y, z


def _same(a: Any, b: Any) -> None:
    if isinstance(a, bcelab.Decomposition):
        assert a == b
    elif isinstance(a, BinaryStats):
        assert a == b
    elif hasattr(a, "loss") and hasattr(a, "fused"):  # a FusedResult
        assert a.loss == b.loss and a.fused == b.fused
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", list(CORE))
def test_signature_names_the_prediction_first(name: str) -> None:
    fn, pred_kw = CORE[name]
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:2]] == [pred_kw, "targets"], name
    assert params[0].kind is P_OR_K and params[1].kind is P_OR_K, name
    assert all(p.kind is KW_ONLY for p in params[2:]), name


def test_method_and_kernel_signatures_name_the_prediction_first() -> None:
    params = list(inspect.signature(BinaryStats.update).parameters.values())
    assert [p.name for p in params[:3]] == ["self", "preds", "targets"]
    assert all(p.kind is KW_ONLY for p in params[3:])
    params = list(inspect.signature(fused_bce).parameters.values())
    assert [p.name for p in params[:2]] == ["preds", "targets"]
    assert all(p.kind is KW_ONLY for p in params[2:])
    assert params[2].name == "logits" and params[2].default is inspect.Parameter.empty


def test_decompose_bce_and_binary_stats_agree() -> None:
    y = [0.5, 0.3, 0.5, 0.9]
    p = [0.1, 0.3, 0.5, 0.8]
    d = bcelab.decompose(p, y)
    assert d.bce == float(bcelab.bce(np.array(p), np.array(y), reduction="mean"))
    assert BinaryStats().update(p, y).compute().log_loss == d.bce
    for n, seed in ((7, 1), (1000, 2), (50_000, 3)):
        p, y, z = _data(n, seed)
        for targets in (y, np.round(y)):  # soft and hard labels
            d = bcelab.decompose(p, targets)
            assert d.bce == pytest.approx(
                float(bcelab.bce(p, targets, reduction="mean")), rel=1e-14
            )
            ll = BinaryStats().update(p, targets).compute().log_loss
            assert ll == pytest.approx(d.bce, rel=1e-14)
        d = bcelab.decompose(z, y, logits=True)
        mean = float(bcelab.bce_with_logits(z, y, reduction="mean"))
        assert d.bce == pytest.approx(mean, rel=1e-14)
        ll = BinaryStats().update(z, y, logits=True).compute().log_loss
        assert ll == pytest.approx(d.bce, rel=1e-14)


@pytest.mark.parametrize("name", list(CORE))
def test_keywords_give_the_positional_result(name: str) -> None:
    fn, pred_kw = CORE[name]
    p, y, z = _data()
    x = z if pred_kw == "logits" else p
    _same(fn(x, y), fn(**{pred_kw: x, "targets": y}))
    _same(fn(x, y), fn(x, targets=y))


def test_method_and_kernel_keywords_give_the_positional_result() -> None:
    p, y, z = _data(5000)
    _same(BinaryStats().update(p, y), BinaryStats().update(preds=p, targets=y))
    _same(fused_bce(p, y, logits=False), fused_bce(preds=p, targets=y, logits=False))
    _same(fused_bce(z, y, logits=True), fused_bce(preds=z, targets=y, logits=True))


@pytest.mark.parametrize("name", list(SWAPPABLE))
@pytest.mark.parametrize("label_dtype", [np.int64, np.bool_])
def test_integer_or_boolean_labels_in_the_prediction_slot_say_swapped(
    name: str, label_dtype: type
) -> None:
    fn, _ = SWAPPABLE[name]
    labels = np.array([1, 0, 1, 1], dtype=label_dtype)
    scores = np.array([0.8, 0.3, 0.6, 0.9])
    with pytest.raises(DTypeError, match="swapped"):
        fn(labels, scores)  # what a target-first caller writes


@pytest.mark.parametrize("name", [n for n, (_, logits) in SWAPPABLE.items() if not logits])
def test_a_probability_above_one_raises(name: str) -> None:
    fn, _ = SWAPPABLE[name]
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\]"):
        fn(np.array([0.5, 2.0, 0.1]), np.array([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("name", [n for n, (_, logits) in SWAPPABLE.items() if logits])
def test_logits_in_the_target_slot_raise(name: str) -> None:
    fn, _ = SWAPPABLE[name]
    logits = np.array([2.5, -1.0, 0.3])
    with pytest.raises(DomainError, match=r"targets must lie in \[0, 1\]"):
        fn(np.array([1.0, 0.0, 1.0]), logits)  # targets first, logits second


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_an_undetectable_swap_is_documented(name: str) -> None:
    # Two float arrays in [0, 1] look the same either way round: no check can catch the
    # swap, so the docstring must say which comes first.
    p, y, _ = _data()
    fn = DOCUMENTED[name]
    if name in CORE:
        kw = CORE[name][1]
        if kw == "preds":  # really undetectable: both orders run without an error
            fn(p, y)
            fn(y, p)
    doc = inspect.getdoc(fn) or ""
    assert ORDER_STATED.search(doc), f"{name}: the docstring does not say the prediction is first"


def test_torch_adapters_take_the_prediction_first() -> None:
    """The torch adapters keep torch's ``(input, target)``: prediction first, like torch.nn.

    ``BCELoss``, ``BinaryKLLoss`` and ``FocalLoss`` take probabilities, their
    ``...WithLogitsLoss`` twins logits, and ``StreamingBinaryMetrics.update(preds, target)``.
    """
    torch = pytest.importorskip("torch")
    import bcelab.torch as bt

    torch_names = list(inspect.signature(torch.nn.BCEWithLogitsLoss.forward).parameters)[:3]
    assert torch_names == ["self", "input", "target"]
    p, y, z = (torch.from_numpy(a) for a in _data())
    labels = torch.tensor([1, 0, 1, 1])
    scores = torch.tensor([0.8, 0.3, 0.6, 0.9], dtype=torch.float64)
    classes = (bt.BCELoss, bt.BCEWithLogitsLoss, bt.BinaryKLLoss, bt.BinaryKLWithLogitsLoss)
    for cls in (*classes, bt.FocalLoss, bt.FocalWithLogitsLoss):
        names = list(inspect.signature(cls.forward).parameters)[:3]
        assert names == torch_names, cls.__name__
        with pytest.raises(DTypeError, match="swapped"):
            cls()(labels, scores)
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\]"):
        bt.BCELoss()(torch.tensor([0.5, 2.0]), torch.tensor([1.0, 0.0]))
    loss = bt.BCELoss()(p, y)
    assert float(loss) == pytest.approx(bcelab.decompose(p.numpy(), y.numpy()).bce, rel=1e-14)
    loss = bt.BCEWithLogitsLoss()(z, y)
    assert float(loss) == pytest.approx(bcelab.decompose(z.numpy(), y.numpy(), logits=True).bce)

    names = list(inspect.signature(bt.StreamingBinaryMetrics.update).parameters)[:3]
    assert names == ["self", "preds", "target"]
    with pytest.raises(DTypeError, match="swapped"):
        bt.StreamingBinaryMetrics().update(labels, scores)
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\]"):
        bt.StreamingBinaryMetrics().update(torch.tensor([0.5, 2.0]), torch.tensor([1.0, 0.0]))
    metric = bt.StreamingBinaryMetrics()
    metric.update(p, y)
    ll = metric.compute().log_loss
    assert ll == pytest.approx(bcelab.decompose(p.numpy(), y.numpy()).bce, rel=1e-14)


def test_jax_takes_the_prediction_first() -> None:
    """The core functions on JAX arrays, and ``bcelab.jax`` with optax's ``(logits, labels)``."""
    jnp = pytest.importorskip("jax.numpy")
    import bcelab.jax as bj

    params = list(inspect.signature(bj.sigmoid_binary_cross_entropy).parameters.values())
    assert [p.name for p in params] == ["logits", "labels"]
    labels = jnp.array([1, 0, 1, 1])
    scores = jnp.array([0.8, 0.3, 0.6, 0.9])
    with pytest.raises(DTypeError, match="swapped"):
        bj.sigmoid_binary_cross_entropy(labels, scores)
    with pytest.raises(DTypeError, match="swapped"):
        bcelab.bce(labels, scores)
    p, y, z = (jnp.asarray(a, dtype=jnp.float32) for a in _data())
    np.testing.assert_array_equal(bcelab.bce(p, y), bcelab.bce(preds=p, targets=y))
    np.testing.assert_array_equal(
        bcelab.bce_with_logits(z, y), bcelab.bce_with_logits(logits=z, targets=y)
    )
    np.testing.assert_array_equal(
        bj.sigmoid_binary_cross_entropy(z, y), bcelab.bce_with_logits(z, y)
    )
