"""Errors shared by the PyTorch adapter's modules: bcelab's errors, naming PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .errors import BCELabError, DTypeError

__all__ = ["FRAMEWORK"]

FRAMEWORK = "PyTorch"


def _renamed(err: BCELabError, where: str) -> BCELabError:
    """The same error class and message, prefixed with the adapter (and framework) name."""
    return type(err)(f"{where} ({FRAMEWORK}): {err.expected}", err.received, err.fix)


def _call(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except BCELabError as e:
        raise _renamed(e, where) from None


def _check_tensors(where: str, *tensors: object) -> None:
    for t in tensors:
        if t is not None and not isinstance(t, torch.Tensor):
            raise DTypeError(
                f"{where} ({FRAMEWORK}): inputs must be torch tensors",
                f"received {type(t).__name__}",
                "wrap them with torch.as_tensor(...)",
            )
