"""The metric state loops and the paired bootstrap kernels compiled ahead of time, so
that a fresh process need not import numba.

Loading the numba JIT kernels costs a fresh process about half a second (``import
numba``, numba's target initialisation, which also imports SciPy, and loading the
cached machine code), longer than evaluating 1e8 rows.  So the first time they are
needed, :func:`module` builds the same numba functions ahead of time into a small
extension module (:mod:`bcelab.kernels.aot_build`, once) and later processes load it
in well under a millisecond.  :func:`loops` wraps its metric loops;
:mod:`bcelab.kernels.bootstrap_aot` its paired bootstrap kernels.  Same numba front end, same LLVM, same
options: the results are bit-identical to the JIT's (the tests check it).

The module lives in ``$BCELAB_CACHE_DIR``, else this package's ``__pycache__`` when
writable, else ``~/.cache/bcelab`` (the variables are read through
:mod:`bcelab._core.config`).  Its name holds a hash of the kernel sources and of
the Python, NumPy, numba and llvmlite versions and the CPU, so any change rebuilds it.
When there is no writable folder, no C compiler or the build fails (the reason is kept
in ``<name>.failed`` and not retried for a day), the JIT kernels are used, as before.
``BCELAB_AOT=0`` turns the precompiled loops off.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._core import config

__all__ = ["AotLoops", "array_fits", "loops", "module", "precompiled_or_jit", "reset"]

MODULE = "bcelab_metrics_aot"
_HERE = Path(__file__).resolve().parent
# every source that the compiled loops are made of
_SOURCES = tuple(
    _HERE / name
    for name in (
        "stats_update.py",
        "stats_scatter.py",
        "histogram_loops.py",
        "stats_rows.py",
        "stats_scan.py",
        "logfactor.py",
        "stats_loss.py",
        "scalar.py",
        "fastmath.py",
        "constants.py",
        "bootstrap.py",
        "bootstrap_point.py",
        "bootstrap_rng.py",
        "mlp.py",
        "aot_build.py",
    )
)
_STALE_LOCK_S = 900.0
_RETRY_FAILED_S = 86400.0  # a failed build is tried again a day later
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _cpu() -> tuple[str, str]:
    """(fingerprint, target): the CPU's model and flags on Linux (build for this CPU),
    else only the architecture (build for a generic CPU of it)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.read(1 << 16).splitlines()
        keep = [ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags")]
        if keep:
            return "\n".join(sorted(set(keep))), "host"
    except OSError:
        pass
    return f"{platform.system()}-{platform.machine()}", "generic"


def _version_file(package: str) -> bytes:
    """The text of a package's ``_version.py`` / ``__init__.py`` (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return b"-"
    root = Path(spec.origin).parent
    for name in ("_version.py", "__init__.py"):
        try:
            return (root / name).read_bytes()
        except OSError:
            continue
    return b"-"


def _key() -> tuple[str, str]:
    """(hash of everything the compiled loops depend on, build target)."""
    fp, target = _cpu()
    h = hashlib.sha256()
    numba_env = [os.environ.get(f"NUMBA_{k}", "") for k in ("CPU_NAME", "CPU_FEATURES", "OPT")]
    for part in (sys.version, np.__version__, fp, target, sys.platform, *numba_env):
        h.update(part.encode() + b"\0")
    for pkg in ("numba", "llvmlite"):
        h.update(_version_file(pkg) + b"\0")
    for src in _SOURCES:
        try:
            h.update(src.read_bytes() + b"\0")
        except OSError:  # then the build fails (and says why); evaluation goes on
            h.update(b"missing\0")
    return h.hexdigest()[:20], target


def _writable(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".bcelab-probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True


def _cache_dir() -> Path | None:
    env = config.cache_dir()
    if env is not None:
        return env if _writable(env) else None
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for d in (_HERE / "__pycache__", Path(xdg) / "bcelab"):
        if _writable(d):
            return d
    return None


def _load(path: Path) -> Any:
    loader = importlib.machinery.ExtensionFileLoader(MODULE, str(path))
    spec = importlib.machinery.ModuleSpec(MODULE, loader, origin=str(path))
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _build(path: Path, target: str) -> str | None:
    """Build the module at ``path`` in a subprocess; returns None, or why it failed."""
    import shutil  # here, not at the top: a process that only loads the module needs none
    import subprocess
    import tempfile

    lock = path.with_suffix(".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime < _STALE_LOCK_S:
                return "another process is building it"  # use the JIT meanwhile
            lock.unlink()  # left by a killed build
        except OSError:
            pass
        return "a stale build lock was removed; the next call builds"
    os.close(fd)
    tmp: Path | None = None
    try:
        if path.exists():  # built by another process meanwhile
            return None
        tmp = Path(tempfile.mkdtemp(prefix=f".{MODULE}-", dir=path.parent))
        paths = [str(_HERE.parent.parent), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
        proc = subprocess.run(
            [sys.executable, "-m", "bcelab.kernels.aot_build", str(tmp), MODULE, target],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
        built = list(tmp.glob(f"{MODULE}*"))
        if proc.returncode != 0 or len(built) != 1:
            return f"build failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
        os.replace(built[0], path)  # atomic: other processes see all of it or nothing
        _prune(path)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"build failed: {type(e).__name__}: {e}"
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        lock.unlink(missing_ok=True)


def _prune(keep: Path) -> None:
    """Remove this module's older builds (other keys) unused for a day: every kernel
    source change builds a new one, and a shared cache folder may serve other CPUs."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for old in keep.parent.glob(f"{MODULE}-*"):
        if old == keep or not old.name.endswith((suffix, ".failed")):
            continue
        try:
            if time.time() - max(old.stat().st_mtime, old.stat().st_atime) > _RETRY_FAILED_S:
                old.unlink()
        except OSError:
            pass


def _find() -> Any:
    """The compiled module, built if needed; None when it cannot be had (see the docstring)."""
    d = _cache_dir()
    if d is None:
        _STATE["why"] = "no writable cache folder"
        return None
    key, target = _key()
    path = d / f"{MODULE}-{key}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    failed = path.with_suffix(".failed")
    try:
        if time.time() - failed.stat().st_mtime < _RETRY_FAILED_S:
            _STATE["why"] = failed.read_text(errors="replace")
            return None
        failed.unlink()  # an old failure (perhaps a passing one): try again
    except OSError:
        pass  # no marker
    if not path.exists():
        why = _build(path, target)
        if why is not None:
            _STATE["why"] = why
            if why.startswith("build failed"):
                failed.write_text(why)  # not retried for a day (or until a source changes)
            return None
    try:
        return _load(path)
    except ImportError as e:  # a damaged file: remove it, the next process rebuilds
        path.unlink(missing_ok=True)
        _STATE["why"] = f"could not load {path}: {e}"
        return None


def module() -> Any:
    """The precompiled extension module (built on first use), or None: then use the JIT
    kernels (``BCELAB_AOT=0``, or it cannot be had: see the module docstring)."""
    if not config.aot_enabled():
        return None
    if "module" not in _STATE:
        with _LOCK:
            if "module" not in _STATE:
                _STATE["module"] = _find()
    return _STATE["module"]


def loops() -> AotLoops | None:
    """The precompiled metric loops (built on first use), or None: then use the JIT kernels."""
    mod = module()
    if mod is None:
        return None
    if _STATE.get("loops") is None or _STATE["loops"].mod is not mod:
        _STATE["loops"] = AotLoops(mod)
    out: AotLoops = _STATE["loops"]
    return out


def precompiled_or_jit(wrap: Callable[[Any], Any], jit: Callable[[], Any]) -> Any:
    """``wrap(module)`` around the precompiled module when it can be had (no numba
    import), else ``jit()`` (numba's JIT kernels), else None (numba is not installed)."""
    mod = module()
    if mod is not None:
        return wrap(mod)
    try:
        return jit()
    except ImportError:  # pragma: no cover - numba is an optional extra
        return None


def reset() -> None:
    """Forget what :func:`module` found (for tests, after changing the environment)."""
    with _LOCK:
        _STATE.clear()


def array_fits(a: Any, dtype: Any, ndim: int = 1, *, write: bool = False) -> bool:
    """Whether ``a`` is what a precompiled wrapper trusts: a C-contiguous, aligned NumPy
    array of ``dtype`` and ``ndim`` (writable if ``write``)."""
    if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim == ndim):
        return False
    flags = a.flags  # one flags object (each access makes a new one)
    return bool(flags.c_contiguous and flags.aligned and (flags.writeable or not write))


def _jit() -> Any:
    from . import stats_update  # numba, imported only when a call needs the JIT loops

    return stats_update.LOOPS


class AotLoops:
    """The precompiled loops, with the attributes of :data:`bcelab.kernels.stats_update.LOOPS`.

    The generated wrappers trust their arguments' dtypes and layouts, so each call
    checks them first and hands anything unexpected to the JIT loops instead.
    """

    def __init__(self, mod: Any) -> None:
        self.mod = mod

    def _tag(self, *arrays: np.ndarray) -> str | None:
        dt = arrays[0].dtype
        if dt not in (np.float32, np.float64) or not all(array_fits(a, dt) for a in arrays):
            return None
        return "f4" if dt == np.float32 else "f8"

    def count_range(self, y: Any, p: Any, w: Any, *rest: Any) -> None:
        tag = self._tag(y, p, w)
        out = rest[-1]
        if tag is None or not array_fits(out, np.int64, write=True):
            _jit().count_range(y, p, w, *rest)
            return None
        getattr(self.mod, f"count_{tag}")(y, p, w, *rest)
        return None

    def first_bad(self, y: Any, p: Any, w: Any, has_w: bool, logits: bool, out: Any) -> None:
        tag = self._tag(y, p, w)
        if tag is None or not array_fits(out, np.int64, write=True):
            _jit().first_bad(y, p, w, has_w, logits, out)
            return None
        getattr(self.mod, f"first_bad_{tag}")(y, p, w, has_w, logits, out)
        return None

    def accum_range(
        self,
        y: Any,
        p: Any,
        w: Any,
        has_w: bool,
        logits: bool,
        eps: float,
        cut_val: Any,
        cut_off: Any,
        start: int,
        stop: int,
        *state: Any,
    ) -> bool:
        tag = self._tag(y, p, w)
        hist, hist_n, hi, lo, mm, counts, _clean_only = state
        args = (y, p, w, has_w, logits, eps, cut_val, cut_off, start, stop, *state)
        ok = (
            tag is not None
            and array_fits(cut_val, np.float64)
            and array_fits(cut_off, np.int64)
            and array_fits(hist, np.float64, 2, write=True)
            and array_fits(counts, np.float64, 2, write=True)
            and array_fits(hist_n, np.int64, write=True)
            and all(array_fits(a, np.float64, write=True) for a in (hi, lo, mm))
        )
        if not ok:
            return bool(_jit().accum_range(*args))
        return bool(getattr(self.mod, f"accum_{tag}")(*args))

    def into(self, *arrays: Any) -> None:
        dims = (2, 1, 1, 1, 1, 3, 2, 2, 2, 2)
        ints = (1, 6)
        ok = all(
            array_fits(a, np.int64 if i in ints else np.float64, d)
            for i, (a, d) in enumerate(zip(arrays, dims, strict=True))
        ) and all(a.flags.writeable for a in arrays[:5])
        if not ok:
            _jit().into(*arrays)
            return None
        self.mod.into(*arrays)
        return None

    def pav_blocks(self, first: Any, pos: Any, mass: Any, min_shrink: float) -> int:
        ok = array_fits(first, np.int64, write=True) and all(
            array_fits(a, np.float64, write=True) for a in (pos, mass)
        )
        if not ok:
            return int(_jit().pav_blocks(first, pos, mass, min_shrink))
        return int(self.mod.pav_blocks(first, pos, mass, min_shrink))

    def coarse_sums(self, coarse: Any, pos: Any, neg: Any, wp: Any, out: Any) -> None:
        cols = (pos, neg, wp)  # any strides (columns of a histogram), but float64, aligned
        ok = (
            array_fits(coarse, np.int64)
            and array_fits(out, np.float64, 2, write=True)
            and all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in cols)
            and all(a.ndim == 1 and a.flags.aligned for a in cols)
        )
        if not ok:
            _jit().coarse_sums(coarse, pos, neg, wp, out)
            return None
        self.mod.coarse_sums(coarse, pos, neg, wp, out)
        return None
