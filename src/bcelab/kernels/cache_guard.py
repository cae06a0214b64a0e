"""Keep numba's on-disk cache of the kernels in step with their sources.

numba keys a cached kernel by the modification time and size of the file that defines
it, not by the files it calls into: after an edit or an upgrade that changes
``scalar.py`` or ``fastmath.py`` alone, the cached ``loss.py`` kernels would still be
loaded, with the old formulas inlined.  :func:`clear_stale` hashes every kernel source
once per process and, when the hash differs from the one recorded beside the cache,
removes this package's cached kernels so that numba compiles them again.  It only
looks after the default cache (this package's ``__pycache__``); a custom
``NUMBA_CACHE_DIR`` is the caller's to manage.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["clear_stale"]

_HERE = Path(__file__).resolve().parent
_STAMP = "bcelab-kernel-sources.sha256"
_DONE: list[bool] = []


def _sources_hash() -> str:
    h = hashlib.sha256()
    for src in sorted(_HERE.glob("*.py")):
        h.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return h.hexdigest()


def clear_stale() -> None:
    """Remove cached kernels compiled from other sources than these (once per process)."""
    if _DONE or os.environ.get("NUMBA_CACHE_DIR"):
        return
    _DONE.append(True)
    cache = _HERE / "__pycache__"
    stamp = cache / _STAMP
    try:
        now = _sources_hash()
        if stamp.is_file() and stamp.read_text() == now:
            return
        for path in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        tmp = cache / f".{_STAMP}.{os.getpid()}.tmp"
        tmp.write_text(now)
        os.replace(tmp, stamp)
    except OSError:  # a read-only install: numba cannot write its cache there either
        return
