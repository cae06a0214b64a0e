"""What every framework adapter shares: core errors re-raised with the adapter's name.

The adapters (``bcelab.torch``, ``bcelab.keras``, ``bcelab.jax``) run the core's checks
before any framework code, so the user gets the core's message prefixed with where it
came from, e.g. ``bcelab.torch.BCELoss (PyTorch): targets must lie in [0, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import BCELabError, NaNError
from .validate import LOGITS_ADVICE

__all__ = ["call_as", "renamed"]


def renamed(
    err: BCELabError, where: str, framework: str, /, logits_hint: str | None = None
) -> BCELabError:
    """The same error class and message, prefixed with the adapter and framework name.

    The adapters take no ``nan_policy`` or ``strict`` (they behave as the framework's
    own losses and metrics), so a NaN error points to the bcelab function that takes
    one, instead of to that option.  ``logits_hint``: how this adapter takes logits (its
    logits class, or its option), in place of the core's advice for probabilities
    outside [0, 1].
    """
    expected, fix = err.expected, err.fix
    if logits_hint is not None and fix.startswith(LOGITS_ADVICE):
        fix = f"{LOGITS_ADVICE} {logits_hint}; otherwise apply a sigmoid first"
    if isinstance(err, NaNError) and "nan_policy=" in fix:
        core = expected.split(":", 1)[0]
        expected = expected.replace(" when nan_policy='raise'", "")
        fix = (
            f"clean the data; to leave the NaN elements out of the loss instead, call "
            f"bcelab.{core}(..., nan_policy='omit') on the same arrays (prediction first)"
        )
    elif isinstance(err, NaNError) and "strict=False" in fix:  # the metrics' updates
        expected = expected.replace(" when strict=True", "")
        fix = (
            "clean the data; to exclude and count those rows instead, update a "
            "bcelab.metrics.BinaryStats (strict=False, its default) with the same arrays"
        )
    return type(err)(f"{where} ({framework}): {expected}", err.received, fix)


def call_as(
    where: str,
    framework: str,
    fn: Callable[..., Any],
    /,
    *args: Any,
    logits_hint: str | None = None,
    **kwargs: Any,
) -> Any:
    """``fn(*args, **kwargs)``, re-raising a :class:`BCELabError` as :func:`renamed`."""
    try:
        return fn(*args, **kwargs)
    except BCELabError as e:
        raise renamed(e, where, framework, logits_hint) from None
