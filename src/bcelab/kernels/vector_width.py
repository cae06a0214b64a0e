"""Ask LLVM for the widest SIMD vectors in one compiled function.

LLVM's tuning for many Intel CPUs with AVX-512 prefers 256-bit vectors (512-bit
instructions once lowered the clock of some older parts), so numba compiles the loss
kernel's loops there with 4 float64 lanes where the hardware has 8.  For these loops,
all arithmetic, 512-bit vectors are faster: on an Intel Xeon (AVX-512) the forward pass
from logits went from 0.60 to 0.48 ns/elem on 2 threads at 1e7 (``bench/results/kernel.md``).
numba can set the vector width only for the whole process (``NUMBA_CPU_FEATURES``), which
would change every other library's compiled code as well; :func:`prefer_wide_vectors`
instead marks the one function that calls it with LLVM's ``"prefer-vector-width"="512"``
attribute.  On a CPU without AVX-512, or one whose tuning already uses the widest
vectors, the attribute changes nothing.

The attribute is written into the function's IR through llvmlite's attribute set, which
has no API for string attributes; if a future llvmlite stores them differently, the mark
is skipped and the function compiles as before (it only affects speed, never results:
the loss kernel's sums reassociate only where they already may).
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic

__all__ = ["WIDE", "mark_wide", "prefer_wide_vectors"]

#: the LLVM function attribute written by :func:`prefer_wide_vectors`
WIDE = '"prefer-vector-width"="512"'


def mark_wide(function: Any) -> bool:
    """Add :data:`WIDE` to an llvmlite function's attributes; False if that is not possible."""
    attributes = getattr(function, "attributes", None)
    if not isinstance(attributes, set):
        return False
    set.add(attributes, WIDE)  # the plain set's add: llvmlite's own accepts only known names
    return True


def _prefer_wide_vectors(typingctx: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        mark_wide(builder.function)
        return context.get_dummy_value()

    return types.void(), codegen


#: ``prefer_wide_vectors()``, called anywhere in a compiled function: LLVM vectorises that
#: function's loops with the widest vectors the CPU has (no code is emitted for the call).
prefer_wide_vectors: Any = intrinsic(_prefer_wide_vectors)
