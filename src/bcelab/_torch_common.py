"""Errors shared by the PyTorch adapter's modules: bcelab's errors, naming PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._adapters import call_as, renamed
from .errors import BCELabError, DTypeError

__all__ = ["FRAMEWORK"]

FRAMEWORK = "PyTorch"


def _renamed(err: BCELabError, where: str) -> BCELabError:
    return renamed(err, where, FRAMEWORK)


def _call(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return call_as(where, FRAMEWORK, fn, *args, **kwargs)


def _check_tensors(where: str, *tensors: object) -> None:
    for t in tensors:
        if t is not None and not isinstance(t, torch.Tensor):
            raise DTypeError(
                f"{where} ({FRAMEWORK}): inputs must be torch tensors",
                f"received {type(t).__name__}",
                "wrap them with torch.as_tensor(...)",
            )
