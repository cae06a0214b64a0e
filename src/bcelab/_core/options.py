"""Every keyword option bcelab accepts, checked once, at the door, with one message each.

Each vocabulary (reductions, NaN policies, conventions, ...) has one tuple of allowed
values and one checker here.  Public functions call the checkers before they look at
the data, so a misspelt option fails at once, never after a scan of a billion rows.
Messages name the option as the caller typed it (``fname`` says which function).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import OptionError
from .arrays import is_traced

__all__ = [
    "CONVENTIONS",
    "KERNELS",
    "NAN_POLICIES",
    "RECALIBRATION_METHODS",
    "REDUCTIONS",
    "AxisArg",
    "check_axis",
    "check_bool",
    "check_choice",
    "check_clip",
    "check_convention",
    "check_focal",
    "check_instance",
    "check_items",
    "check_kernel",
    "check_nan_policy",
    "check_negative_rate",
    "check_negative_weight",
    "check_path",
    "check_positive_int",
    "check_recalibration",
    "check_reduction",
    "check_seed",
    "check_threads",
    "check_unit_interval",
    "real_number",
    "reject_with_convention",
]

REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum", "weighted_mean", "per_sample")
#: ``axis=`` of the losses and :func:`bcelab.reduce`: None, one axis or several
AxisArg = int | tuple[int, ...] | None
NAN_POLICIES: tuple[str, ...] = ("raise", "propagate", "omit")
CONVENTIONS: tuple[str, ...] = ("exact", "keras", "tf_keras", "torch", "sklearn")
#: which code computes a metric state: the compiled loops when they can run, or NumPy
KERNELS: tuple[str, ...] = ("auto", "compiled", "numpy")
#: the recalibration maps (:mod:`bcelab.metrics.recalibration`)
RECALIBRATION_METHODS: tuple[str, ...] = ("platt", "temperature", "isotonic", "downsampling")
NP_BOOLS = ("numpybool", "numpybool_")  # NumPy 2 and NumPy 1 names of numpy.bool_


def check_choice(value: object, allowed: Sequence[str], *, name: str, fname: str, hint: str) -> str:
    """``value`` if it is one of ``allowed``; else the one message for that vocabulary."""
    if isinstance(value, str) and value in allowed:
        return value
    raise OptionError(
        f"{fname}: {name} must be one of {tuple(allowed)}",
        f"received {name}={value!r}",
        hint,
    )


def check_reduction(reduction: object, *, fname: str, allowed: Sequence[str] = REDUCTIONS) -> str:
    """One reduction name out of ``allowed`` (a subset of :data:`REDUCTIONS`)."""
    default = "mean" if "mean" in allowed else allowed[0]
    return check_choice(
        reduction,
        allowed,
        name="reduction",
        fname=fname,
        hint=f"use reduction={default!r}",
    )


def check_axis(axis: object, reduction: str, *, fname: str) -> tuple[int, ...] | None:
    """``axis`` as a tuple of ints (None stays None); refused with ``reduction='none'``,
    which keeps every element."""
    if axis is None:
        return None
    items = axis if isinstance(axis, tuple | list) else (axis,)
    if isinstance(axis, bool) or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in items
    ):
        raise OptionError(
            f"{fname}: axis must be None (every axis), an int or a tuple of ints",
            f"received axis={axis!r}",
            "pass e.g. axis=-1 for the last axis, or axis=(1, 2)",
        )
    if reduction == "none":
        raise OptionError(
            f"{fname}: axis applies to reduction='mean', 'sum', 'weighted_mean' or "
            "'per_sample'; reduction='none' keeps every element",
            f"received axis={axis!r} with reduction='none'",
            f"drop axis=, or pass reduction='mean' to average over axis={axis!r}",
        )
    return tuple(int(a) for a in items)


def check_nan_policy(nan_policy: object, *, fname: str) -> str:
    return check_choice(
        nan_policy,
        NAN_POLICIES,
        name="nan_policy",
        fname=fname,
        hint="use nan_policy='raise' (the default), 'propagate' or 'omit'",
    )


def check_convention(convention: object, *, fname: str) -> str:
    return check_choice(
        convention,
        CONVENTIONS,
        name="convention",
        fname=fname,
        hint="use convention='exact' (the default) unless you need another library's number",
    )


def check_kernel(kernel: object, *, fname: str) -> str:
    return check_choice(
        kernel,
        KERNELS,
        name="kernel",
        fname=fname,
        hint="use kernel='auto' (the default): compiled loops when they can run, else NumPy",
    )


def check_recalibration(method: object, *, fname: str, name: str = "method") -> str:
    """One of :data:`RECALIBRATION_METHODS` (``name``: the option as the caller spells it)."""
    return check_choice(
        method,
        RECALIBRATION_METHODS,
        name=name,
        fname=fname,
        hint=f"use {name}='platt' (two parameters, fitted by Newton's method) or "
        f"{name}='isotonic' (a monotone step function)",
    )


def real_number(value: object) -> float:
    """``float(value)`` for a real number (Python, NumPy, a 0-d array); NaN for anything
    else, so that the caller's range check refuses it.  Text and bools are not numbers
    here, though ``float`` takes ``"0.5"`` and ``True``."""
    if isinstance(value, (bool, str, bytes)) or type(value).__name__ in ("bool", "bool_"):
        return math.nan
    if getattr(value, "ndim", 0) != 0 or "bool" in str(getattr(value, "dtype", "")):
        return math.nan  # an array of one element, or a boolean 0-d array
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return math.nan


def check_bool(value: object, *, name: str, fname: str, hint: str) -> bool:
    """True or False (Python or NumPy bool); never text such as ``"False"``, nor a number."""
    if isinstance(value, bool) or type(value).__module__ + type(value).__name__ in NP_BOOLS:
        return bool(value)
    raise OptionError(
        f"{fname}: {name} must be True or False",
        f"received {name}={value!r} ({type(value).__name__})",
        hint,
    )


def check_unit_interval(value: object, *, name: str, fname: str) -> float:
    """A number in [0, 1] (label smoothing, alpha, a threshold, ...); not a bool."""
    v = real_number(value)
    if not 0.0 <= v <= 1.0:
        raise OptionError(
            f"{fname}: {name} must be a number in [0, 1]",
            f"received {name}={value!r}",
            f"pass e.g. {name}=0.1",
        )
    return v


def check_finite(
    value: object, *, name: str, fname: str, fix: str, positive: bool = False
) -> float:
    """A finite number (``positive``: above 0), such as a recalibration map's parameter."""
    v = real_number(value)
    if not math.isfinite(v) or (positive and not v > 0):
        need = "a finite number > 0" if positive else "a finite number"
        raise OptionError(f"{fname}: {name} must be {need}", f"received {name}={value!r}", fix)
    return v


def check_negative_rate(value: object, *, fname: str) -> float:
    """The kept share of negatives W of negative downsampling, a number in (0, 1]."""
    try:
        w = check_unit_interval(value, name="negative_rate", fname=fname)
    except OptionError as e:  # the same refusal, with this option's interval
        raise OptionError(e.expected.replace("[0, 1]", "(0, 1]"), e.received, e.fix) from None
    if w == 0.0:
        raise OptionError(
            f"{fname}: negative_rate must be a number in (0, 1]",
            "received negative_rate=0",
            "pass the share of negatives that was kept, e.g. negative_rate=0.1",
        )
    return w


def check_negative_weight(value: object, *, fname: str) -> float:
    """:func:`check_negative_rate` for a rate that weighs each negative ``1 / rate`` times:
    that weight must be finite (the rate at least 5.6e-309)."""
    w = check_negative_rate(value, fname=fname)
    if math.isinf(1.0 / w):
        raise OptionError(
            f"{fname}: negative_rate must be a number in (0, 1] whose inverse, the weight "
            "of each negative, is finite (at least 5.6e-309)",
            f"received negative_rate={value!r}",
            "pass the share of negatives that was kept, e.g. negative_rate=0.1",
        )
    return w


def check_clip(clip: object, *, fname: str) -> float | None:
    """The ``clip=eps`` option: None (no clipping) or a number in (0, 0.5)."""
    if clip is None:
        return None
    eps = real_number(clip)
    if not 0.0 < eps < 0.5:
        raise OptionError(
            f"{fname}: clip must be a number in (0, 0.5)",
            f"received clip={clip!r}",
            "use e.g. clip=1e-7, or clip=None for the exact (unclipped) loss",
        )
    return eps


def check_focal(gamma: object, alpha: object, *, fname: str) -> tuple[float, Any]:
    """The focal loss's ``gamma`` (finite, >= 0) and ``alpha`` (None or in [0, 1]).

    ``alpha`` may also be a traced 0-d number (an argument of a ``jax.jit`` function, as
    optax takes it): it only scales the loss, with no branch on its value, so it is
    returned as it is; a traced value cannot be read, so its range is not checked (as the
    inputs' values are not under ``jax.jit``).  ``gamma`` chooses formulas: a number only.
    """
    g = real_number(gamma)
    if getattr(gamma, "shape", None) is not None and not g == g:  # an array, traced or not
        raise OptionError(
            f"{fname}: gamma must be a number (a Python float, not an array)",
            f"received gamma as {type(gamma).__name__}",
            "pass e.g. gamma=2.0; under jax.jit make it static "
            "(jax.jit(f, static_argnames='gamma')) or close over it",
        )
    if not 0.0 <= g < math.inf:
        raise OptionError(
            f"{fname}: gamma must be a finite number >= 0",
            f"received gamma={gamma!r}",
            "gamma=2 is the value from Lin et al. 2017",
        )
    if alpha is None or _traced_number(alpha):
        return g, alpha
    return g, check_unit_interval(alpha, name="alpha", fname=fname)


def _traced_number(value: object) -> bool:
    """A 0-d integer or floating array without concrete values (under ``jax.jit``)."""
    kind = str(getattr(value, "dtype", ""))
    return (
        getattr(value, "ndim", None) == 0
        and ("float" in kind or "int" in kind)
        and is_traced(value)
    )


def check_positive_int(
    value: object, *, name: str, fname: str, example: int, minimum: int = 1
) -> int:
    """An integer >= ``minimum`` (1, or 0 for a count; Python or NumPy, not a bool)."""
    if (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and int(value) >= minimum
    ):
        return int(value)
    raise OptionError(
        f"{fname}: {name} must be an integer >= {minimum}",
        f"received {name}={value!r}",
        f"pass e.g. {name}={example}",
    )


def check_instance(
    value: Any, kind: type | tuple[type, ...], *, name: str, fname: str, what: str, hint: str
) -> Any:
    """``value`` if it is a ``kind``; else ``"<fname>: <name> must be <what>"``."""
    if isinstance(value, kind):
        return value
    raise OptionError(f"{fname}: {name} must be {what}", f"received {type(value).__name__}", hint)


def check_items(value: object, kind: type, *, name: str, fname: str) -> Iterator[Any]:
    """The items of the iterable ``value`` (a list, a tuple, a generator, ...), each
    checked to be a ``kind`` as it comes."""
    if not isinstance(value, Iterable) or isinstance(value, str | bytes | Mapping):
        raise OptionError(
            f"{fname}: {name} must be a list (or another iterable) of {kind.__name__} objects",
            f"received {type(value).__name__}",
            f"pass e.g. {name}=[state_1, state_2]",
        )
    for item in value:
        if not isinstance(item, kind):
            raise OptionError(
                f"{fname}: every item of {name} must be a {kind.__name__}",
                f"received {type(item).__name__}",
                f"pass {kind.__name__} objects",
            )
        yield item


def check_path(value: object, *, name: str, fname: str, hint: str) -> Path:
    """A file or folder path given as ``str`` or ``os.PathLike`` (not bytes)."""
    if isinstance(value, str | os.PathLike) and not isinstance(value, bytes):
        return Path(value)
    raise OptionError(
        f"{fname}: {name} must be a path (a str or a pathlib.Path)",
        f"received {type(value).__name__}",
        hint,
    )


def check_threads(threads: object, *, fname: str) -> int | None:
    """``threads``: None (every core this process may use) or an integer >= 1."""
    if threads is None:
        return None
    return check_positive_int(threads, name="threads", fname=fname, example=1)


def reject_with_convention(convention: str, option: str, *, fname: str) -> None:
    """An option that the chosen framework ``convention`` does not have."""
    raise OptionError(
        f"{fname}: {option} is not part of convention={convention!r}",
        f"received {option} together with convention={convention!r}",
        f"drop {option}, or use convention='exact'",
    )


def check_seed(seed: object, *, fname: str) -> int:
    """A random seed: an integer in [0, 2**63) (Python or NumPy, not a bool)."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= int(seed) < 2**63:
        return int(seed)
    raise OptionError(
        f"{fname}: seed must be an integer in [0, 2**63)",
        f"received seed={seed!r}",
        "pass e.g. seed=0",
    )
