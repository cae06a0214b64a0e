"""bcelab: binary cross-entropy done right.

Exact and stable BCE on NumPy, PyTorch and JAX arrays; every framework's convention
on request; and every loss explained as floor + excess, ``BCE = H(y) + KL(y || p)``.
"""

from __future__ import annotations

import importlib

from .conventions import CONVENTIONS
from .errors import (
    BackendMismatchError,
    BCELabError,
    DataError,
    DomainError,
    DTypeError,
    EmptyReductionError,
    NaNError,
    OptionError,
    ShapeError,
)
from .gradients import bce_grad, bce_with_logits_grad, focal_with_logits_grad
from .information import Decomposition, binary_entropy, binary_kl, decompose
from .losses import bce, bce_with_logits, focal, focal_with_logits, sigmoid
from .reduction import REDUCTIONS, reduce

__version__ = "0.1.0"


# Heavier parts load on first use, so that `import bcelab` stays fast (start-up time:
# pyarrow, matplotlib and the training code load only with them).
_SUBPACKAGES = frozenset({"evaluation", "kernels", "metrics", "train"})


def __getattr__(name: str) -> object:
    if name == "evaluate":
        from .evaluation import evaluate  # start-up time, see above

        globals()["evaluate"] = evaluate
        return evaluate
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"evaluate"} | _SUBPACKAGES)


__all__ = [
    "CONVENTIONS",
    "REDUCTIONS",
    "BCELabError",
    "BackendMismatchError",
    "DTypeError",
    "DataError",
    "Decomposition",
    "DomainError",
    "EmptyReductionError",
    "NaNError",
    "OptionError",
    "ShapeError",
    "__version__",
    "bce",
    "bce_grad",
    "bce_with_logits",
    "bce_with_logits_grad",
    "binary_entropy",
    "binary_kl",
    "decompose",
    "evaluate",
    "focal",
    "focal_with_logits",
    "focal_with_logits_grad",
    "reduce",
    "sigmoid",
]
