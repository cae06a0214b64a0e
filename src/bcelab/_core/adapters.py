"""What every framework adapter shares: core errors re-raised with the adapter's name.

The adapters (``bcelab.torch``, ``bcelab.keras``, ``bcelab.jax``) run the core's checks
before any framework code, so the user gets the core's message prefixed with where it
came from, e.g. ``bcelab.torch.BCELoss (PyTorch): targets must lie in [0, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import BCELabError

__all__ = ["call_as", "renamed"]


def renamed(err: BCELabError, where: str, framework: str, /) -> BCELabError:
    """The same error class and message, prefixed with the adapter and framework name."""
    return type(err)(f"{where} ({framework}): {err.expected}", err.received, err.fix)


def call_as(
    where: str, framework: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """``fn(*args, **kwargs)``, re-raising a :class:`BCELabError` as :func:`renamed`."""
    try:
        return fn(*args, **kwargs)
    except BCELabError as e:
        raise renamed(e, where, framework) from None
