"""Array-library plumbing: which namespace and dtypes a call computes in.

There are no formulas here (they live in :mod:`bcelab._core.formulas`) and no value
checks (:mod:`bcelab._core.validate`).

Dtype policy (documented in the README):

* float16 and bfloat16 inputs (PyTorch, JAX, and NumPy's ``ml_dtypes.bfloat16``) are
  computed in float32 and the result is float32;
* float32 inputs are computed in float64 when the array library can hold float64 on
  that device, then rounded back to float32, so each float32 result is within about
  half an ulp of the correctly rounded value;
* float64 inputs are computed in float64.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import array_api_compat
import numpy as np

from ..errors import BackendMismatchError, DataError, DTypeError, OptionError, ShapeError

__all__ = [
    "accum_dtype",
    "asarray",
    "device_of",
    "dtypes_for",
    "is_array",
    "is_floating",
    "is_tensor",
    "is_traced",
    "keep_array",
    "may_need_gradient",
    "namespace",
    "nan_mask",
    "numpy_namespace",
    "numpy_views_on_cpu",
    "quiet",
    "refuse_meta",
    "size",
    "stop_gradient",
    "supports_float64",
    "unmasked",
]

Array = Any
F = TypeVar("F", bound=Callable[..., Any])


def is_tensor(x: object) -> bool:
    """A torch tensor, asked of ``isinstance`` alone when torch is imported: array_api_compat's
    own tests go through ``functools.lru_cache`` helpers, over which ``torch.compile``
    warns once per helper while it traces a loss."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_array(x: object) -> bool:
    """An array of some array library (not a Python or NumPy scalar)."""
    if is_tensor(x):
        return True
    return bool(array_api_compat.is_array_api_obj(x)) and not isinstance(x, (int, float, bool))


def numpy_namespace() -> Any:
    """The Array-API namespace of NumPy (lists and scalars are computed with it)."""
    return array_api_compat.array_namespace(np.empty(0))


def numpy_views_on_cpu(xp: Any, *arrays: Array) -> tuple[Any, tuple[Array, ...]]:
    """NumPy's namespace and NumPy views of ``arrays`` when they are concrete JAX arrays in
    host memory; else ``xp`` and the arrays as they are.

    A value check of such arrays then runs as NumPy reductions over the same memory
    instead of JAX's eager operations, each of which compiles once per shape and dtype
    (about 30 ms a time on a CPU): the first call of a loss on a new shape checks its
    inputs without a compile.  Arrays on an accelerator stay where they are.
    """
    if not array_api_compat.is_jax_namespace(xp) or any(is_traced(a) for a in arrays):
        return xp, arrays
    if any(d.platform != "cpu" for a in arrays for d in a.devices()):
        return xp, arrays
    return numpy_namespace(), tuple(np.asarray(a) for a in arrays)


def namespace_of(*arrays: Array) -> Any:
    """``array_api_compat.array_namespace(*arrays)``; for torch tensors, the namespace of
    :mod:`bcelab._core.torch_namespace` (array_api_compat's, traceable by ``torch.compile``)."""
    if all(is_tensor(a) for a in arrays) or array_api_compat.is_torch_namespace(
        xp := array_api_compat.array_namespace(*arrays)
    ):
        from .torch_namespace import TORCH_NAMESPACE  # imports torch: only with tensors in hand

        return TORCH_NAMESPACE
    return xp


def namespace(*args: object, fname: str) -> Any:
    """The array namespace shared by ``args`` (lists and scalars count as NumPy).

    Raises :class:`BackendMismatchError` when two different array libraries are mixed.
    """
    arrays = [a for a in args if a is not None and is_array(a)]
    if not arrays:
        return numpy_namespace()
    try:
        return namespace_of(*arrays)
    except TypeError:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in arrays})
        torch_in = any(is_tensor(a) for a in arrays)
        ways = ["torch.as_tensor(x)"] if torch_in else []
        if any(array_api_compat.is_jax_array(a) for a in arrays):
            ways.append("jax.numpy.asarray(x)")
        ways.append("np.asarray(t.cpu())" if torch_in else "np.asarray(x)")
        raise BackendMismatchError(
            f"{fname}: all arrays in one call must come from the same array library",
            f"received {', '.join(kinds)}",
            f"convert them to one library first, e.g. {' or '.join(ways)}",
        ) from None


def _is_numpy_bfloat16(x: object) -> bool:
    dt = getattr(x, "dtype", None)
    return isinstance(x, (np.ndarray, np.generic)) and str(dt) == "bfloat16"


def unmasked(x: Any, *, name: str, fname: str) -> Any:
    """``x`` itself, or the data of a NumPy masked array that has no masked value.

    A masked array with masked values is refused: NumPy's functions skip its masked
    values in sums but not in counts, and a plain view of it reads the values under the
    mask, so any mean computed from it would be silently wrong.
    """
    if type(x) is np.ndarray or not isinstance(x, np.ndarray):
        return x  # np.ma loads only for ndarray subclasses
    if not isinstance(x, np.ma.MaskedArray):
        return x
    masked = int(np.ma.count_masked(x))
    if masked == 0:
        return x.data
    raise DTypeError(
        f"{fname}: {name} must be a plain array; bcelab does not read NumPy masks",
        f"received a masked array with {masked} of {x.size} values masked",
        "pass only the rows to use, e.g. keep = ~np.ma.getmaskarray(a), then the same "
        "rows of every argument (a.data[keep]); where the function takes weights, "
        "weights=keep keeps the shape",
    )


def asarray(xp: Any, x: object, *, name: str, fname: str, like: Array | None = None) -> Array:
    """Lists, tuples, scalars and other objects NumPy converts (a pandas or polars Series)
    as an array of ``xp``; arrays are returned unchanged.

    NumPy ``bfloat16`` arrays (``ml_dtypes``, as JAX hands them out) become float32,
    the dtype bcelab computes half-precision inputs in: NumPy itself cannot classify
    that dtype.  A NumPy masked array is refused unless nothing is masked
    (:func:`unmasked`).
    """
    x = unmasked(x, name=name, fname=fname)
    if _is_numpy_bfloat16(x):
        return np.asarray(x, dtype=np.float32)
    if is_array(x):
        if like is not None and _library(x) != _library(like):
            namespace(x, like, fname=fname)  # a NumPy mask with torch values: a mix refused
        return x
    if x is None:
        raise OptionError(f"{fname}: {name} is required", "received None", f"pass {name}")
    if isinstance(x, (list, tuple, int, float, np.generic)) or hasattr(x, "__array__"):
        try:
            arr = np.asarray(x)
        except ValueError as e:  # ragged lists
            raise ShapeError(
                f"{fname}: {name} must be a rectangular array",
                f"received a ragged sequence ({e})",
                "make every row the same length",
            ) from None
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise DTypeError(
                f"{fname}: {name} must be numeric",
                f"received values of dtype {arr.dtype}",
                "convert strings to numbers first; missing values (pandas' NA) to NaN, "
                "e.g. s.to_numpy(dtype=float, na_value=np.nan)",
            )
        if not arr.flags.writeable and not array_api_compat.is_numpy_namespace(xp):
            arr = arr.copy()  # torch warns on read-only memory (pandas hands it out)
        device = device_of(like) if like is not None else None
        return xp.asarray(arr, device=device) if device is not None else xp.asarray(arr)
    raise DTypeError(
        f"{fname}: {name} must be an array (NumPy, PyTorch, JAX, ...) or a list of numbers",
        f"received {type(x).__name__}",
        "pass np.asarray(...) or a torch/jax array",
    )


def _library(x: object) -> str:
    """The top-level module of ``x``'s type (numpy, torch, jaxlib, ...)."""
    return type(x).__module__.partition(".")[0]


def keep_array(x: Array) -> Array:
    """A NumPy scalar (what NumPy arithmetic on 0-d arrays returns) as a 0-d array.

    Element-wise results keep their input's shape and type on every path: a 0-d
    input gives a 0-d ``ndarray``, whether the compiled kernel or NumPy computed it.
    """
    return np.asarray(x) if isinstance(x, np.generic) else x


def device_of(x: Array) -> Any:
    return x.device if is_tensor(x) else array_api_compat.device(x)


def is_floating(xp: Any, dtype: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, "real floating"))
    except Exception:  # extension dtypes some namespaces don't classify
        return "float" in str(dtype)


_F64_CACHE: dict[tuple[str, str], bool] = {}


def supports_float64(xp: Any, like: Array) -> bool:
    """Whether ``xp`` can hold float64 on ``like``'s device (JAX without x64 and MPS cannot)."""
    device = device_of(like)
    key = (xp.__name__, str(device))
    hit = _F64_CACHE.get(key)
    if hit is None:
        try:
            if _torch_compiling():  # warnings' state would break the graph; torch has none here
                probe = xp.asarray(0.0, dtype=xp.float64, device=device)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    probe = xp.asarray(0.0, dtype=xp.float64, device=device)
            hit = probe.dtype == xp.float64
        except Exception:
            hit = False
        _F64_CACHE[key] = hit
    return hit


def dtypes_for(xp: Any, preds: Array) -> tuple[Any, Any]:
    """``(compute_dtype, output_dtype)`` for a floating prediction array."""
    bits = int(xp.finfo(preds.dtype).bits)
    out = xp.float32 if bits < 32 else preds.dtype
    if bits <= 32:
        compute = xp.float64 if supports_float64(xp, preds) else xp.float32
    else:
        compute = preds.dtype
    return compute, out


def accum_dtype(xp: Any, like: Array) -> Any:
    """float64 where the library supports it on this device, else float32."""
    return xp.float64 if supports_float64(xp, like) else xp.float32


def is_traced(x: Array) -> bool:
    """True when ``x`` has no concrete values (jax tracers, torch.compile, torch.func transforms)."""
    if is_tensor(x):
        return _torch_traced(x)
    if array_api_compat.is_jax_array(x):
        # is_lazy_array() is True for *every* JAX array; only tracers lack values.  Inside
        # jax.jit even a concrete array the function closes over gives traced results,
        # as a new array made here shows
        import jax  # optional dependency: only reached with a JAX array in hand

        return isinstance(x, jax.core.Tracer) or isinstance(jax.numpy.zeros(()), jax.core.Tracer)
    if array_api_compat.is_lazy_array(x):  # dask and other lazy libraries
        return True
    return False


def refuse_meta(*arrays: object) -> None:
    """Refuse torch tensors on the meta device: a shape and a dtype, but no values to check
    or read.  (Keras's torch backend tries a call on meta tensors first and, when the call
    raises, runs it on real ones: a loss or metric state must not be built from meta.)"""
    for a in arrays:  # on every call: the module's name before any attribute
        if type(a).__module__.startswith("torch") and a.device.type == "meta":  # type: ignore[attr-defined]
            raise DataError(
                "tensors with values (bcelab checks and reads them)",
                "a tensor on the meta device, which holds a shape and a dtype but no values",
                "pass the tensor on the CPU or a GPU",
            )


def _torch_traced(x: Array) -> bool:
    import torch  # optional dependency: only reached with a torch tensor in hand

    if _torch_compiling():
        return True
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return bool(wrapped(x)) if wrapped is not None else False


def has_autograd(x: Array) -> bool:
    """Whether ``x``'s library can differentiate expressions of it (PyTorch, JAX).

    The formulas choose between forms with the same values by this: on NumPy (no
    derivatives to keep) ``minimum``/``maximum`` cost several times less than a
    ``where`` on a data-dependent condition.
    """
    return is_tensor(x) or bool(array_api_compat.is_jax_array(x))


def is_jax_float64(x: Array) -> bool:
    """Whether ``x`` is a float64 JAX array (``jax_enable_x64``): XLA's own ``log1p`` is
    not accurate there (:func:`bcelab._core.formulas.log1p`)."""
    return bool(array_api_compat.is_jax_array(x)) and str(x.dtype) == "float64"


def may_need_gradient(x: Array) -> bool:
    """Whether autograd may ask for a derivative in ``x``: a torch tensor that requires
    grad, or any JAX array (under ``jax.grad`` a traced value cannot tell)."""
    if is_tensor(x):
        return bool(x.requires_grad)
    return bool(array_api_compat.is_jax_array(x))


def stop_gradient(x: Array) -> Array:
    """``x`` as a constant for autograd (torch ``detach``, JAX ``lax.stop_gradient``).

    Lets a function return an accurately computed value with the derivative of a
    simpler expression (:func:`bcelab.binary_kl` has exactly the gradient of BCE).
    NumPy and other libraries without autograd get ``x`` unchanged.
    """
    if is_tensor(x):
        return x.detach()
    if array_api_compat.is_jax_array(x):
        import jax  # optional dependency: only reached with a JAX array in hand

        return jax.lax.stop_gradient(x)
    return x


def nan_mask(xp: Any, *arrays: Array) -> Array | None:
    """Elementwise OR of isnan over floating arrays, or None if no array is floating."""
    m = None
    for a in arrays:
        if is_floating(xp, a.dtype):
            isn = xp.isnan(a)
            m = isn if m is None else (m | isn)
    return m


def size(shape: Sequence[int]) -> int:
    """Number of elements of ``shape`` (torch.Size or a tuple of ints)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n


def quiet(fn: F) -> F:
    """Silence NumPy floating-point warnings: bcelab's formulas produce inf and 0 on purpose.

    The results are exact limits (e.g. ``-log(0) = inf``), not accidents, so the
    warnings would only be noise.  Other libraries do not warn in the first place.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with quiet_numpy():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def quiet_numpy() -> Any:
    """``np.errstate(all="ignore")``, or no context at all while ``torch.compile`` traces
    (NumPy's state is no part of a torch graph, and the context would break the graph)."""
    if _torch_compiling():
        return contextlib.nullcontext()
    return np.errstate(all="ignore")


def _torch_compiling() -> bool:
    """Whether ``torch.compile`` is tracing (torch is never imported here, only asked when
    the process already has it; a torch without ``torch.compiler.is_compiling`` never is)."""
    compiler = getattr(sys.modules.get("torch"), "compiler", None)
    is_compiling = getattr(compiler, "is_compiling", None)
    return is_compiling is not None and bool(is_compiling())
