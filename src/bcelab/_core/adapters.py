"""What every framework adapter shares: core errors re-raised with the adapter's name.

The adapters (``bcelab.torch``, ``bcelab.keras``, ``bcelab.jax``) run the core's checks
before any framework code, so the user gets the core's message prefixed with where it
came from, e.g. ``bcelab.torch.BCELoss (PyTorch): targets must lie in [0, 1]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BCELabError, NaNError
from .validate import LOGITS_ADVICE

__all__ = ["STRICT_ADVICE", "STRICT_CLAUSE", "call_as", "renamed"]


#: the metrics' advice for rows they can exclude, which the adapters' metrics cannot
STRICT_CLAUSE = "pass strict=False to exclude and count those rows"
#: where the adapters' metrics can: a BinaryStats, which excludes and counts by default
STRICT_ADVICE = (
    "to exclude and count those rows instead, update a bcelab.metrics.BinaryStats "
    "(strict=False, its default) with the same arrays"
)
#: the core's example of a cast, e.g. ``logits.astype(float32)``
_CAST = re.compile(r"(?<![\w.])(\w+)\.astype\(float32\)")


def _in_callers_names(expected: str, fix: str, names: Mapping[str, str]) -> tuple[str, str]:
    """The core's argument names (``preds``, ``logits``, ``targets``) as the caller's.

    Renamed where they are names: the subject of ``expected`` (``bce: preds and targets
    must ...``) and code in ``fix`` (``preds.reshape(targets.shape)``), not in prose.
    """
    words = "|".join(map(re.escape, names))
    head, must, rest = expected.partition(" must ")
    if must:
        where, colon, subject = head.rpartition(": ")
        subject = re.sub(rf"\b({words})\b", lambda m: names[m[1]], subject)
        expected = f"{where}{colon}{subject}{must}{rest}"
    fix = re.sub(rf"(?<![\w.])({words})(?=\.)", lambda m: names[m[1]], fix)
    return expected, fix


def renamed(
    err: BCELabError,
    where: str,
    framework: str,
    /,
    logits_hint: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    cast: str | None = None,
) -> BCELabError:
    """The same error class and message, prefixed with the adapter and framework name.

    The adapters take no ``nan_policy`` or ``strict`` (they behave as the framework's
    own losses and metrics), so advice to pass one points to the bcelab function or
    class that takes it, instead of to that option.  ``logits_hint``: how this adapter
    takes logits (its logits class, or its option), in place of the core's advice for
    probabilities outside [0, 1].  ``names``: the core's argument names (``preds``,
    ``logits``, ``targets``) -> the adapter's (Keras's ``y_pred``, ``y_true``).
    ``cast``: the framework's cast to float32 of ``{}``, e.g. ``"{}.float()"``, in place
    of NumPy's ``.astype(float32)``.
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
    elif STRICT_CLAUSE in fix:  # the metrics' updates: NaN, or targets outside [0, 1]
        expected = expected.replace(" when strict=True", "")
        fix = fix.replace(f", or {STRICT_CLAUSE}", f"; {STRICT_ADVICE}")
        fix = fix.replace(STRICT_CLAUSE, STRICT_ADVICE)
    if names:
        expected, fix = _in_callers_names(expected, fix, names)
    if cast is not None:
        fix = _CAST.sub(lambda m: cast.format(m[1]), fix)
    return type(err)(f"{where} ({framework}): {expected}", err.received, fix, row=err.row)


def call_as(
    where: str,
    framework: str,
    fn: Callable[..., Any],
    /,
    *args: Any,
    logits_hint: str | None = None,
    names: Mapping[str, str] | None = None,
    cast: str | None = None,
    **kwargs: Any,
) -> Any:
    """``fn(*args, **kwargs)``, re-raising a :class:`BCELabError` as :func:`renamed`."""
    try:
        return fn(*args, **kwargs)
    except BCELabError as e:
        raise renamed(e, where, framework, logits_hint, names=names, cast=cast) from None
