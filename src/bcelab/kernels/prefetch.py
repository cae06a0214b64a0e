"""Software prefetch for the compiled loops that stream large arrays.

A loop that does a lot of arithmetic per cache line (an ``exp`` per element, say) keeps
few loads in flight: the processor's reorder window fills with arithmetic, so the next
lines are requested late, and on a CPU whose hardware prefetcher does not run far enough
ahead (as on some virtual machines) the loop then waits on memory for most of its time.
On such a machine the fused loss kernel's forward pass from logits took 2.2 ns per
element on one thread at 1e7 elements, against 0.8 ns for data already in cache; asking
for a block's cache lines at the start of an earlier block brought it to 1.0 ns, and
asking at the start of each block for the lines from a quarter of a block ahead (the
rest of this block and the start of the next, requested together just before their
use) to 0.87 (``bench/results/kernel.md``; farther ahead was slower there).  Where the
hardware prefetcher keeps up, it costs one instruction per 64 bytes.

:func:`prefetch` is one ``llvm.prefetch`` (``prefetcht0`` on x86, ``prfm`` on
aarch64); :func:`prefetch_range` asks for every cache line of a range of an array.
Neither reads the data into a register nor can fault, so results never change.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .constants import INLINE

__all__ = ["LINE", "prefetch", "prefetch_range"]

#: bytes per cache line assumed for the stride of :func:`prefetch_range`
LINE = 64


def _prefetch(typingctx: Any, arr: Any, index: Any) -> Any:
    if not (isinstance(arr, types.Array) and isinstance(index, types.Integer)):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(arr)(context, builder, value=args[0]).data
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", fnty=fnty)
        address = builder.bitcast(builder.gep(data, [args[1]]), byte_ptr)
        # for reading (0), kept in every cache level (locality 3), data cache (1)
        flags = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        builder.call(fn, [address, *flags])
        return context.get_dummy_value()

    return types.void(arr, index), codegen


#: ``prefetch(arr, i)``: bring the cache line of ``arr[i]`` (a contiguous array; ``i``
#: is not checked) into the caches ahead of its use.
prefetch: Any = intrinsic(_prefetch)


@njit(**INLINE)
def prefetch_range(arr: Any, lo: int, hi: int) -> None:
    """Prefetch every cache line of ``arr[lo:hi]`` (clipped to the array's end)."""
    hi = min(hi, arr.size)
    step = max(1, LINE // arr.itemsize)
    for i in range(lo, hi, step):
        prefetch(arr, i)
