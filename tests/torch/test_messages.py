"""bcelab.torch's errors in the caller's words: its argument names and torch's idioms."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import bcelab.torch as bt  # noqa: E402
from bcelab.errors import DomainError, DTypeError, ShapeError  # noqa: E402


def test_integer_input_is_cast_the_torch_way():
    with pytest.raises(DTypeError) as err:
        bt.BCEWithLogitsLoss()(torch.tensor([1, 2]), torch.tensor([0.0, 1.0]))
    assert "input.float()" in err.value.fix and "astype" not in err.value.fix


def test_a_weight_that_is_no_tensor_is_named():
    with pytest.raises(DTypeError, match=r"weight must be a torch tensor") as err:
        bt.BCEWithLogitsLoss(weight=[1.0, 2.0])
    assert "weight=[1.0, 2.0]" in err.value.received
    assert err.value.fix == "wrap it with torch.as_tensor(weight)"
    with pytest.raises(DTypeError, match=r"input must be a torch tensor"):
        bt.BCELoss()([0.5], torch.tensor([1.0]))


def test_a_reduction_passed_by_position_says_weight_comes_first():
    # torch.nn.BCELoss(weight, size_average, reduce, reduction): reduction by keyword
    with pytest.raises(DTypeError, match=r"weight, the first positional argument of BCELoss"):
        bt.BCELoss("mean")
    with pytest.raises(DTypeError) as err:
        bt.BCELoss("sum")
    assert "BCELoss(reduction='sum')" in err.value.fix


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_a_negative_weight_is_described_as_passed_before_broadcasting(name):
    loss = bt.BCEWithLogitsLoss(**{name: torch.tensor([1.0, -2.0, 3.0])})
    with pytest.raises(DomainError) as err:
        loss(torch.zeros(4, 3), torch.zeros(4, 3))
    assert err.value.expected.endswith(f"(PyTorch): {name} must be finite and >= 0")
    assert err.value.received == (
        f"received {name} of shape (3,): 1 value is negative, infinite or NaN "
        "(first: -2.0 at index 1)"
    )


def test_loss_modules_name_input_and_target_as_torch_does() -> None:
    with pytest.raises(ShapeError) as err:
        bt.BCEWithLogitsLoss()(torch.zeros(4, 3), torch.zeros(4, 2))
    assert "input and target must have the same shape" in str(err.value)
    assert "input.reshape(target.shape)" in err.value.fix
    with pytest.raises(DomainError, match="target must lie in"):
        bt.BCELoss()(torch.tensor([0.5]), torch.tensor([2.0]))


def test_the_streaming_metric_names_target_and_weight_as_its_update_does() -> None:
    # StreamingBinaryMetrics.update(preds, target, weight): the core's "targets"/"weights"
    # were named in its errors
    m = bt.StreamingBinaryMetrics()
    p, y = torch.tensor([0.2, 0.7]), torch.tensor([0.0, 1.0])
    with pytest.raises(DomainError, match=r"BinaryStats.update: weight must be finite"):
        m.update(p, y, weight=torch.tensor([1.0, -1.0]))
    with pytest.raises(ShapeError, match=r"BinaryStats.update: weight must have the shape"):
        m.update(p, y, weight=torch.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(DomainError, match=r"BinaryStats.update: target must lie in \[0, 1\]"):
        m.update(p, torch.tensor([0.0, 3.0]))
