"""The built-in multilayer perceptron: its spec and initialisers (:mod:`.models`), many
seeds trained as one computation (:mod:`.batched`), the per-epoch data plans
(:mod:`.plans`) and the hand-written minibatch steps (:mod:`.steps`).

Names load lazily: importing this package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BatchedMLP", "MLPSpec", "module_from_state"]

_WHERE = {"BatchedMLP": "batched", "MLPSpec": "models", "module_from_state": "models"}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{mod}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
