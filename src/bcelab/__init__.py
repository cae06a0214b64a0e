"""bcelab: binary cross-entropy done right.

Exact and stable BCE on NumPy, PyTorch and JAX arrays; every framework's convention
on request; and every loss explained as floor + excess, ``BCE = H(y) + KL(y || p)``.
"""

from __future__ import annotations

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


def __getattr__(name: str) -> object:
    # Heavier entry points load on first use so that `import bcelab` stays fast.
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    if name in ("metrics", "train", "evaluation", "kernels"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'bcelab' has no attribute {name!r}")


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
