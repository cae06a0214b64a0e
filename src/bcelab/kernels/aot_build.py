"""Build the precompiled metric loops (run by :mod:`bcelab.kernels.aot` in a subprocess).

``python -m bcelab.kernels.aot_build OUT_DIR MODULE_NAME TARGET`` compiles the numba
functions of :mod:`bcelab.kernels.stats_update` and :mod:`bcelab.kernels.stats_scan`
(the metric loops), of :mod:`bcelab.kernels.histogram_loops` (the isotonic fit of the
decomposition, the calibration errors' sums), of :mod:`bcelab.kernels.bootstrap` (the paired bootstrap kernels) and
of :mod:`bcelab.kernels.mlp` (the many-seed MLP of training)
ahead of time with ``numba.pycc`` into the extension module ``OUT_DIR/MODULE_NAME<suffix>``.
It is the same numba front end and LLVM as the JIT, with the JIT's options: the loops
release the GIL (``nogil=True``) and use ``error_model="numpy"``.  ``TARGET`` is
``host`` (this machine's CPU name and features, chosen as the JIT chooses them) or
``generic``.

Every array is a C-contiguous array of the given dtype (but for the value matrix of
``row_values_*``, any layout): the generated wrappers do not check dtypes
(:mod:`bcelab.kernels.aot` and :mod:`bcelab.kernels.bootstrap_aot` do before each call).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

__all__ = ["build"]


def _signatures(types: Any) -> dict[str, Any]:
    """The exported loops and their signatures: ``count``, ``first_bad`` and ``accum``
    per input dtype (``*_f4``, ``*_f8``), ``into``, ``pav_blocks`` and ``coarse_sums``."""
    f8, i8, b1 = types.float64, types.int64, types.boolean
    a8, ai8 = types.Array(f8, 1, "C"), types.Array(i8, 1, "C")
    m2, m3 = types.Array(f8, 2, "C"), types.Array(f8, 3, "C")
    ai2 = types.Array(i8, 2, "C")
    void = types.void
    out: dict[str, Any] = {}
    for tag, dt in (("f4", types.float32), ("f8", f8)):
        a = types.Array(dt, 1, "C")
        out[f"count_{tag}"] = void(a, a, a, b1, b1, f8, i8, i8, ai8)
        out[f"first_bad_{tag}"] = void(a, a, a, b1, b1, ai8)
        out[f"accum_{tag}"] = b1(a, a, a, b1, b1, f8, a8, ai8, i8, i8, m2, ai8, a8, a8, a8, m2, b1)
    out["into"] = void(m2, ai8, a8, a8, a8, m3, ai2, m2, m2, m2)
    out["pav_blocks"] = i8(ai8, a8, a8, f8)
    strided = types.Array(f8, 1, "A")  # a column of a state's (bins, 3) histogram
    out["coarse_sums"] = void(ai8, strided, strided, strided, m2)
    out.update(_bootstrap_signatures(types))
    out.update(_mlp_signatures(types))
    return out


def _mlp_signatures(types: Any) -> dict[str, Any]:
    """The many-seed MLP of training: ``sgd_epoch`` and ``mlp_logits`` (float32)."""
    f4, f8, i8 = types.float32, types.float64, types.int64
    v4, m4 = types.Array(f4, 1, "C"), types.Array(f4, 2, "C")
    perm = types.Array(i8, 2, "C")
    return {
        "sgd_epoch": types.void(m4, m4, m4, v4, v4, perm, i8, f8, f8, m4, m4),
        "mlp_logits": types.void(m4, m4, m4),
    }


def _bootstrap_signatures(types: Any) -> dict[str, Any]:
    """The paired bootstrap kernels: ``row_values_f4`` / ``row_values_f8`` (by the
    dtype of the input columns), ``draw_block``, ``sort_by_bin``, ``point_add`` and
    ``replicate_pass``."""
    f8, i8, u8, b1 = types.float64, types.int64, types.uint64, types.boolean
    ai8, au8 = types.Array(i8, 1, "C"), types.Array(u8, 1, "C")
    ab = types.Array(types.uint8, 1, "C")
    ai2, ai3, ai4 = (types.Array(i8, d, "C") for d in (2, 3, 4))
    m2, c2 = types.Array(f8, 2, "C"), types.Array(types.int8, 2, "C")
    void = types.void
    out: dict[str, Any] = {}
    # the bin layout's tables are read-only arrays (typed so, as the JIT types them)
    cut_val = types.Array(f8, 1, "C", readonly=True)
    cut_off = types.Array(i8, 1, "C", readonly=True)
    of_fine = types.Array(types.int32, 1, "C", readonly=True)
    vals = types.Array(f8, 2, "A")  # a block of columns of the value matrix
    for tag, dt in (("f4", types.float32), ("f8", f8)):
        a = types.Array(dt, 1, "C")
        out[f"row_values_{tag}"] = void(
            a, a, a, a, b1, au8, u8, b1, f8, f8, ai8, cut_val, cut_off, of_fine, vals, ai2, au8, ab
        )
    out["draw_block"] = void(au8, ab, i8, i8, types.Array(types.int32, 1, "C"), c2)
    out["sort_by_bin"] = i8(ai2, i8, m2, ab, i8, ai8, ai8, ai8)
    out["point_add"] = void(m2, ai2, ab, ai4, ai2, ai2, ai2, ai8, ai8)
    out["replicate_pass"] = void(ai8, ai8, i8, c2, m2, ai8, ai2, ai3, ai3, ai2, ai2, i8, i8)
    return out


def build(out_dir: str, module_name: str, target: str) -> None:
    """Compile the loops into ``out_dir`` (``target``: ``host`` or ``generic``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc is "pending deprecation"
        from numba.pycc import CC
        from numba.pycc import compiler as pycc_compiler
    import llvmlite.binding as llvm
    from numba.core import types as numba_types
    from numba.core.compiler import Flags

    class JitLikeFlags(Flags):
        """pycc's flags with the options the JIT kernels are declared with."""

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)  # flags.copy() passes the flags to copy
            me: Any = self
            me.release_gil = True
            me.error_model = "numpy"

    # pycc makes its Flags() in this module; this subprocess only builds, nothing else
    setattr(pycc_compiler, "Flags", JitLikeFlags)  # noqa: B010
    # numba, like the imports above: an optional extra
    from . import bootstrap, histogram_loops, mlp, stats_scan, stats_update

    funcs = {
        "count": stats_scan.count_range,
        "first_bad": stats_scan.first_bad,
        "accum": stats_update.accum_range,
        "into": stats_update.into,
        "pav_blocks": histogram_loops.pav_blocks,
        "coarse_sums": histogram_loops.coarse_sums,
        "row_values": bootstrap.row_values,
        "draw_block": bootstrap.draw_block,
        "sort_by_bin": bootstrap.sort_by_bin,
        "point_add": bootstrap.point_add,
        "replicate_pass": bootstrap.replicate_pass,
        "sgd_epoch": mlp.sgd_epoch,
        "mlp_logits": mlp.mlp_logits,
    }
    cc = CC(module_name)
    cc.output_dir = out_dir
    cc.verbose = False
    if target == "host":
        # the JIT's CPU and features (numba.core.codegen.JITCPUCodegen), not only the CPU
        # name: a virtual machine may hide features that its CPU model implies
        from numba.core import codegen
        from numba.core import config as numba_config

        settings: Any = numba_config  # its settings are set at run time
        cc.target_cpu = settings.CPU_NAME or llvm.get_host_cpu_name()
        feats = (
            settings.CPU_FEATURES
            if settings.CPU_FEATURES is not None
            else codegen.get_host_cpu_features()
        )
        setattr(codegen.AOTCPUCodegen, "_customize_tm_features", lambda self: feats)  # noqa: B010
    else:
        cc.target_cpu = ""
    for name, sig in _signatures(numba_types).items():
        base = name.rsplit("_", 1)[0] if name.endswith(("_f4", "_f8")) else name
        cc.export(name, sig)(funcs[base].py_func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc.compile()


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2], sys.argv[3])
