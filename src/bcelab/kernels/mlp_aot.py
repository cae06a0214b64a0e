"""The many-seed MLP kernels without numba: the precompiled ones when they can be had.

:func:`mlp_kernels` returns an object with the functions of :mod:`bcelab.kernels.mlp`
(``sgd_epoch``, ``mlp_logits``): the ahead-of-time compiled twins from
:mod:`bcelab.kernels.aot` (same numba front end, LLVM and options: the same results bit
for bit, tested), else the numba JIT module itself, else None when numba is not
installed.  This module does not import numba, so a process with the precompiled
kernels never pays for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import aot
from .aot import array_fits

__all__ = ["AotMLP", "mlp_kernels"]


def _jit() -> Any:
    from . import mlp  # numba, imported only when a call needs the JIT kernels

    return mlp


class AotMLP:
    """The precompiled kernels, with the functions of :mod:`bcelab.kernels.mlp`.

    The generated wrappers trust their arguments' dtypes and layouts, so each call
    checks them first and hands anything unexpected to the JIT kernels instead.
    """

    def __init__(self, mod: Any) -> None:
        self.mod = mod

    def sgd_epoch(
        self, w: Any, vel: Any, x: Any, y: Any, sgn: Any, perm: Any, batch: int, lr: float,
        mom: float, z_out: Any, y_out: Any,
    ) -> None:  # fmt: skip
        f4 = np.float32
        ok = (
            all(array_fits(a, f4, 2, write=True) for a in (w, vel, z_out, y_out))
            and array_fits(x, f4, 2)
            and array_fits(y, f4, 1)
            and array_fits(sgn, f4, 1)
            and array_fits(perm, np.int64, 2)
        )
        args = (w, vel, x, y, sgn, perm, int(batch), float(lr), float(mom), z_out, y_out)
        (self.mod if ok else _jit()).sgd_epoch(*args)

    def mlp_logits(self, w: Any, xt: Any, z: Any) -> None:
        f4 = np.float32
        ok = array_fits(w, f4, 2) and array_fits(xt, f4, 2) and array_fits(z, f4, 2, write=True)
        (self.mod if ok else _jit()).mlp_logits(w, xt, z)


def mlp_kernels() -> Any:
    """The precompiled kernels (no numba import) when they can be had, else
    :mod:`bcelab.kernels.mlp` (numba's JIT), else None (numba is not installed)."""
    return aot.precompiled_or_jit(AotMLP, _jit)
