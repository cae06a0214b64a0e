"""The training options that :mod:`bcelab._core.options` has no checker for, one message each.

Seeds, learning rates, momentum and label smoothing are checked here, at the door of
:func:`~bcelab.train.fit` and :func:`~bcelab.train.fit_autoencoder` (``fname`` names the
function), in the words of the Python arguments.  Integers >= 1, choices and thread
counts use the core's checkers.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._core.atomic import plain_json
from .._core.display import count_of
from .._core.options import real_number
from ..errors import OptionError

__all__ = [
    "MAX_LR",
    "check_callbacks",
    "check_checkpoint_every",
    "check_device",
    "check_function",
    "check_label_smoothing",
    "check_lr",
    "check_mlp_memory",
    "check_momentum",
    "check_resume",
    "check_run_info",
    "check_split",
    "check_test_fraction",
]

#: the largest learning rate accepted: far above any rate that trains, and small enough
#: that every step size derived from it (``lr * scale``, Adam's ``lr_t``) is a float32
MAX_LR = 1e6


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


def check_lr(lr: object, *, fname: str, example: float) -> float:
    """A learning rate in (0, :data:`MAX_LR`]."""
    v = real_number(lr)
    if 0 < v <= MAX_LR:
        return v
    raise OptionError(
        f"{fname}: lr (the learning rate) must be a number > 0 and <= {MAX_LR:g}",
        f"received lr={lr!r}",
        f"pass e.g. lr={example:g}",
    )


def check_momentum(momentum: object, *, fname: str) -> float:
    """SGD momentum in [0, 1)."""
    v = real_number(momentum)
    if 0.0 <= v < 1.0:
        return v
    raise OptionError(
        f"{fname}: momentum must lie in [0, 1)",
        f"received momentum={momentum!r}",
        "pass e.g. momentum=0.9, or momentum=0 for plain SGD",
    )


def check_label_smoothing(label_smoothing: object, *, fname: str) -> float:
    """Label smoothing s in [0, 1): targets become ``y (1 - s) + s / 2``."""
    v = real_number(label_smoothing)
    if 0.0 <= v < 1.0:
        return v
    raise OptionError(
        f"{fname}: label_smoothing must lie in [0, 1)",
        f"received label_smoothing={label_smoothing!r}",
        "pass e.g. label_smoothing=0.1, or 0 for none",
    )


def check_function(value: object, *, name: str, fname: str, example: str) -> Any:
    """None or a callable (a function called during training)."""
    if value is None or callable(value):
        return value
    raise OptionError(
        f"{fname}: {name} must be None or a function",
        f"received {type(value).__name__}",
        f"pass e.g. {name}={example}",
    )


def check_test_fraction(value: object, *, fname: str, hint: str) -> float:
    """The share of the rows (or images) held out for testing, strictly between 0 and 1."""
    v = real_number(value)
    if 0.0 < v < 1.0:
        return v
    raise OptionError(
        f"{fname}: test_fraction must lie strictly between 0 and 1",
        f"received test_fraction={value!r}",
        hint,
    )


def check_split(test: object, test_fraction: object, *, fname: str) -> float | None:
    """``test_fraction`` checked (None: 0.5) when there is no ``test`` table; with one,
    None (a ``test_fraction`` too is refused: it would be ignored)."""
    if test is None:
        hint = "pass e.g. test_fraction=0.5, or a separate test table with test="
        fraction = 0.5 if test_fraction is None else test_fraction
        return check_test_fraction(fraction, fname=fname, hint=hint)
    if test_fraction is None:
        return None
    raise OptionError(
        f"{fname}: either test= (a separate test table) or test_fraction= (a share of "
        "the rows held out), not both",
        f"received test={str(test)!r} and test_fraction={test_fraction!r}",
        "leave out test_fraction= to test on the test table, or leave out test= to hold "
        "out that share of the rows",
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


# Floors of what training holds, measured in every path (bench/results/train.md): per
# weight, the weight, its gradient and the optimiser's state (float32 each) with the
# initialisation's temporaries (a 64-bit key and a float64 draw); per training row and
# output, the epoch's logits and shuffled targets (float32 each)
_BYTES_PER_WEIGHT = 24
_BYTES_PER_ROW_OUTPUT = 8
# per batch column and hidden unit, a step's activation and the gradient with respect to
# it (float32 each), kept for a full batch and for the last, partial one; the
# evaluation's chunks hold at least 32 columns
_BYTES_PER_COLUMN_UNIT = 8
_EVAL_COLUMNS = 32


def _batch_columns(batch_size: int, rows: int) -> int:
    """Columns of the activation buffers training keeps: a full batch and the partial one."""
    full = min(batch_size, rows)
    partial = rows % batch_size if rows > batch_size else 0
    return max(full + partial, min(_EVAL_COLUMNS, rows))


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def memory_limit(device: Any = None) -> int | None:
    """Bytes of memory training can use at most: the GPU's for a CUDA ``device``, else
    the machine's physical memory, or a container's limit (cgroup) when lower; None
    where the system does not say."""
    if device is not None and getattr(device, "type", "cpu") == "cuda":
        import torch  # optional dependency (bcelab[train])

        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # not a POSIX system
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total) if total > 0 else None


def check_mlp_memory(
    n_params: int,
    hidden: Sequence[int],
    seeds: int,
    rows: int,
    outputs: int,
    *,
    batch_size: int,
    device: Any,
    fname: str,
) -> None:
    """Refuse a built-in MLP whose training cannot fit in memory, before allocating it.

    The estimate is a floor (a run takes more): the weights with their gradients and
    optimiser state, the logits and targets of every training row, and the hidden
    activations of a batch (or of an evaluation chunk) with their gradients, for every
    seed.  A model above the machine's memory (or the GPU's) would otherwise fail deep
    inside NumPy or torch, or be killed by the operating system, after a long wait.
    """
    have = memory_limit(device)
    columns = _batch_columns(batch_size, rows)
    per_seed = (
        _BYTES_PER_WEIGHT * n_params
        + _BYTES_PER_ROW_OUTPUT * rows * outputs
        + _BYTES_PER_COLUMN_UNIT * columns * sum(hidden)
    )
    need = seeds * per_seed
    if have is None or need <= have:
        return
    layers = " and ".join(f"{h:,}" for h in hidden)
    where = "the GPU has" if getattr(device, "type", "cpu") == "cuda" else "this machine has"
    raise OptionError(
        f"{fname}: a model that fits in memory: training needs at least {_gib(need)} for "
        f"{seeds:,} seed{'s' if seeds != 1 else ''} of {n_params:,} weights (with their "
        f"gradients and optimiser state), {rows:,} training rows and the activations of "
        f"{columns:,} rows at a time (a full and the last, partial batch)",
        f"received hidden layers of {layers} units, seeds={seeds}; {where} {_gib(have)}",
        "use smaller hidden= layers, fewer seeds= or a smaller batch_size=",
    )


def check_callbacks(callbacks: object, *, fname: str) -> list[Any]:
    """``callbacks``: a sequence of callables, each called with the History after every
    epoch (None: none)."""
    if callbacks is None:
        return []
    listed = isinstance(callbacks, Sequence | set | frozenset) and not isinstance(
        callbacks, str | bytes
    )
    items = list(callbacks) if listed else []  # type: ignore[call-overload]
    bad = [c for c in items if not callable(c)]
    if listed and not bad:
        return items
    raise OptionError(
        f"{fname}: callbacks must be a list of functions, each called with the History "
        "after every epoch",
        f"received {type(bad[0]).__name__} in the list"
        if bad
        else f"received {type(callbacks).__name__}",
        "pass e.g. callbacks=[lambda history: print(history.epochs)]",
    )


def check_run_info(run_info: object, *, fname: str) -> dict[str, Any]:
    """``run_info``: a mapping of JSON values (it goes into summary.json and checkpoint.pt,
    which loads only plain values), as plain JSON values."""
    hint = "pass e.g. run_info={'command': 'my_script.py --lr 0.01', 'note': 'baseline'}"
    if run_info is None:
        return {}
    if not isinstance(run_info, Mapping):
        raise OptionError(
            f"{fname}: run_info must be a dict of JSON values",
            f"received {type(run_info).__name__}",
            hint,
        )
    try:
        return dict(plain_json(dict(run_info)))
    except (TypeError, ValueError) as e:  # a value JSON cannot hold, a circular reference
        raise OptionError(
            f"{fname}: run_info must be a dict of JSON values (text, numbers, lists, dicts)",
            f"received one that JSON cannot hold ({e})",
            hint,
        ) from None


def _shown(key: str, value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


_KIND_NAMES = {"mlp": "an MLP", "autoencoder": "an autoencoder"}


def check_resume(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Refuse to continue a checkpoint whose config differs from this call's (but ``epochs``),
    naming each difference (or only the kind of model, when that differs)."""
    kinds = [str((c.get("model") or {}).get("kind")) for c in (old, new)]
    if kinds[0] != kinds[1]:
        made_by = "fit_autoencoder" if kinds[0] == "autoencoder" else "fit"
        raise OptionError(
            "resume= continues a run of the same kind of model",
            f"the run trained {_KIND_NAMES.get(kinds[0], kinds[0])}, this call trains "
            f"{_KIND_NAMES.get(kinds[1], kinds[1])}",
            f"resume it with {made_by}, or start a new run without resume=",
        )
    diff = [k for k in new if k not in ("epochs", "notes") and old.get(k) != new.get(k)]
    if diff:
        words = []
        for k in diff:
            if k == "data_fingerprint":
                words.append("the data differ from the run's (another file, or changed rows)")
            else:
                words.append(f"{k}={_shown(k, old.get(k))} in the run, {_shown(k, new.get(k))} now")
        raise OptionError(
            "resume= continues the same run: same data, model and options (only epochs may change)",
            "; ".join(words),
            "repeat the run's options, or start a new run without resume=",
        )
