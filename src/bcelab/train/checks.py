"""The training options that :mod:`bcelab._core.options` has no checker for, one message each.

Seeds, learning rates, momentum and label smoothing are checked here, at the door of
:func:`~bcelab.train.fit` and :func:`~bcelab.train.fit_autoencoder` (``fname`` names the
function), in the words of the Python arguments.  Integers >= 1, choices and thread
counts use the core's checkers.
"""

from __future__ import annotations

import math
import numbers

from .._core.display import count_of
from ..errors import OptionError

__all__ = [
    "check_checkpoint_every",
    "check_device",
    "check_label_smoothing",
    "check_lr",
    "check_momentum",
    "check_seed",
]


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan
    return float(value)


def check_device(device: object, *, fname: str) -> object:
    """A ``torch.device`` that torch can train on here (``None``: the CPU).

    Returns the ``torch.device``; a GPU that is missing or out of range is an error at
    the door, not a failure inside the first epoch.
    """
    import torch  # optional dependency (bcelab[train])

    if device is None:
        return torch.device("cpu")
    example = "pass device='cuda' (the current GPU), device='cuda:1', or device='cpu'"
    try:
        dev = torch.device(device)  # type: ignore[call-overload]
    except (RuntimeError, TypeError):
        raise OptionError(
            f"{fname}: device must name a torch device", f"received device={device!r}", example
        ) from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise OptionError(
            f"{fname}: device must be the CPU or a CUDA GPU",
            f"received device={device!r}",
            example,
        )
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = torch.cuda.current_device() if count and dev.index is None else dev.index
    if count == 0 or index is None or not 0 <= index < count:
        gpus = count_of(count, "CUDA GPU")
        raise OptionError(
            f"{fname}: device={device!r} needs a CUDA GPU that torch can use",
            f"found {gpus} visible to torch {torch.__version__}",
            "drop device= to train on the CPU, or install a CUDA build of torch on a GPU machine",
        )
    return torch.device("cuda", index)


def check_seed(seed: object, *, fname: str) -> int:
    """An integer in [0, 2**63) (Python or NumPy, not a bool)."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= int(seed) < 2**63:
        return int(seed)
    raise OptionError(
        f"{fname}: seed must be an integer >= 0", f"received seed={seed!r}", "pass e.g. seed=0"
    )


def check_lr(lr: object, *, fname: str, example: float) -> float:
    """A finite learning rate > 0."""
    v = _number(lr)
    if math.isfinite(v) and v > 0:
        return v
    raise OptionError(
        f"{fname}: lr (the learning rate) must be a finite number > 0",
        f"received lr={lr!r}",
        f"pass e.g. lr={example:g}",
    )


def check_momentum(momentum: object, *, fname: str) -> float:
    """SGD momentum in [0, 1)."""
    v = _number(momentum)
    if 0.0 <= v < 1.0:
        return v
    raise OptionError(
        f"{fname}: momentum must lie in [0, 1)",
        f"received momentum={momentum!r}",
        "pass e.g. momentum=0.9, or momentum=0 for plain SGD",
    )


def check_label_smoothing(label_smoothing: object, *, fname: str) -> float:
    """Label smoothing s in [0, 1): targets become ``y (1 - s) + s / 2``."""
    v = _number(label_smoothing)
    if 0.0 <= v < 1.0:
        return v
    raise OptionError(
        f"{fname}: label_smoothing must lie in [0, 1)",
        f"received label_smoothing={label_smoothing!r}",
        "pass e.g. label_smoothing=0.1, or 0 for none",
    )


def check_checkpoint_every(value: object, *, fname: str) -> int | None:
    """``checkpoint_every``: None (by time), or an integer >= 0 (epochs; 0: only at the end)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0:
        return int(value)
    raise OptionError(
        f"{fname}: checkpoint_every must be None (a checkpoint every 30 seconds) or an "
        "integer >= 0 (every that many epochs; 0: only at the end)",
        f"received checkpoint_every={value!r}",
        "pass e.g. checkpoint_every=50",
    )
