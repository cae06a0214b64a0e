"""bcelab: binary cross-entropy done right.

Exact and stable BCE on NumPy, PyTorch and JAX arrays; every framework's convention
on request; and every loss explained as floor + excess, ``BCE = H(y) + KL(y || p)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._core.lazy import lazy_getattr
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

if TYPE_CHECKING:  # the names below load on first use (see _LAZY)
    from .conventions import CONVENTIONS
    from .evaluation import evaluate
    from .gradients import bce_grad, bce_with_logits_grad, focal_with_logits_grad
    from .information import Decomposition, binary_entropy, binary_kl, decompose
    from .losses import bce, bce_with_logits, focal, focal_with_logits, sigmoid
    from .reduction import REDUCTIONS, reduce

__version__ = "0.1.0"

# Everything but the errors loads on first use, so that `import bcelab` imports
# neither NumPy nor the array libraries: the command line decides how NumPy's BLAS
# threads start before NumPy loads (bcelab.cli.console), and `import bcelab` stays fast
# (pyarrow, matplotlib and the training code load only with the parts that need them).
_LAZY = {
    "CONVENTIONS": ".conventions",
    "evaluate": ".evaluation",
    **dict.fromkeys(("bce_grad", "bce_with_logits_grad", "focal_with_logits_grad"), ".gradients"),
    **dict.fromkeys(("Decomposition", "binary_entropy", "binary_kl", "decompose"), ".information"),
    **dict.fromkeys(("bce", "bce_with_logits", "focal", "focal_with_logits", "sigmoid"), ".losses"),
    **dict.fromkeys(("REDUCTIONS", "reduce"), ".reduction"),
}
_SUBPACKAGES = frozenset({"evaluation", "kernels", "metrics", "train"})
_lazy_name = lazy_getattr(__name__, _LAZY)


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    return _lazy_name(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBPACKAGES)


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
