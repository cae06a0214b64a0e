"""The Array-API namespace of torch tensors as bcelab uses it: array_api_compat's, with
the two-argument functions that meet a Python number done by torch itself.

array_api_compat wraps ``torch.minimum``, ``maximum``, ``where`` and ``pow`` to promote
0-d tensors and Python numbers as the standard says (a number takes the array's dtype).
The promotion asks ``torch.result_type`` for a dtype, which ``torch.compile`` cannot
put in a graph: every such call split the compiled loss into separate graphs (a dozen
for one BCE), so that Inductor could not fuse it.  Here a Python number becomes a 0-d
tensor of the other argument's dtype and device (the standard's rule, and what
array_api_compat computes), and two tensors of one dtype go straight to torch; every
other case, and every other function, is array_api_compat's.  The values and the
gradients are torch's own ``minimum``/``maximum``/``where``/``pow`` in both cases
(``minimum`` and ``maximum`` split the gradient evenly at a tie; under autograd the
formulas take the kink at a logit of 0 with ``where`` instead, for exact higher
derivatives).
"""

from __future__ import annotations

import types
from typing import Any

import array_api_compat.torch as compat_torch
import torch

__all__ = ["TORCH_NAMESPACE"]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _floating(v: Any) -> bool:
    return isinstance(v, torch.Tensor) and bool(v.dtype.is_floating_point)


def _pair(x1: Any, x2: Any) -> tuple[Any, Any] | None:
    """Both arguments as floating tensors of one dtype, or ``None`` when array_api_compat
    must promote (integer or boolean tensors, two dtypes, other objects)."""
    if _floating(x1) and _number(x2):
        return x1, torch.as_tensor(x2, dtype=x1.dtype, device=x1.device)
    if _number(x1) and _floating(x2):
        return torch.as_tensor(x1, dtype=x2.dtype, device=x2.device), x2
    if _floating(x1) and _floating(x2) and x1.dtype == x2.dtype:
        return x1, x2
    return None


def minimum(x1: Any, x2: Any, /) -> Any:
    pair = _pair(x1, x2)
    return compat_torch.minimum(x1, x2) if pair is None else torch.minimum(*pair)


def maximum(x1: Any, x2: Any, /) -> Any:
    pair = _pair(x1, x2)
    return compat_torch.maximum(x1, x2) if pair is None else torch.maximum(*pair)


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    pair = _pair(x1, x2)
    return compat_torch.where(condition, x1, x2) if pair is None else torch.where(condition, *pair)


def pow(x1: Any, x2: Any, /) -> Any:
    if _floating(x1) and _number(x2):
        return torch.pow(x1, float(x2))
    return compat_torch.pow(x1, x2)


class _Namespace(types.ModuleType):
    """array_api_compat's torch namespace with the functions above in front of it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(compat_torch, name)


TORCH_NAMESPACE = _Namespace(compat_torch.__name__, __doc__)
for _fn in (minimum, maximum, where, pow):
    setattr(TORCH_NAMESPACE, _fn.__name__, _fn)
