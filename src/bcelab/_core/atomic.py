"""Atomic output: a file written to a temporary sibling and renamed, a folder built aside and swapped in.

A reader never sees a half-written file, and an interrupted run leaves either the
old file or none, never a truncated one.

:func:`replace_dir` does the same for a folder of outputs (a report, a training run):
it yields a new temporary folder beside the target (``.bcelab-tmp-<name>.<pid>.<random>``).
When the caller has written everything, the old folder is renamed aside
(``.bcelab-old-...``), the new one renamed in, and the old one removed; when anything
fails, the temporary folder is removed and the target is as it was.  A run killed
half-way leaves such folders behind: the next run in the same place removes those of
processes that no longer run (and puts a folder renamed aside back if the kill came
between the two renames).  Only a folder that holds nothing but the expected files is
replaced, so a mistyped path (``--report .``) never removes anything else.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import OptionError

# shutil and tempfile (3 ms of a process's start-up) are imported by the functions that
# create or remove something, not with this module.

__all__ = [
    "OLD_PREFIX",
    "TMP_PREFIX",
    "atomic_open",
    "check_replaceable",
    "plain_json",
    "remove_stale",
    "remove_stale_files",
    "replace_dir",
    "save_figure",
    "write_json",
    "write_text",
]

TMP_PREFIX = ".bcelab-tmp-"
OLD_PREFIX = ".bcelab-old-"
_STARTED = time.time()  # this process's outputs are never stale


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb'; received {mode!r}")
    import tempfile

    target = Path(path)
    if target.is_dir():  # the rename would fail after the whole write, naming the temp file
        raise IsADirectoryError(errno.EISDIR, "a folder is there, not a file", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.filename is None:  # a failed write names no file: name the one being written
            raise OSError(e.errno, e.strerror, str(target)) from e
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def plain_json(obj: Any) -> Any:
    """``obj`` as plain JSON values (dicts, lists, str, numbers, bools, None), as
    :func:`write_json` would write it; ``TypeError`` names a value JSON cannot hold."""
    return json.loads(json.dumps(obj, default=_jsonable))


def _jsonable(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically (format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    fmt = Path(path).suffix.lstrip(".") or "png"
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def check_replaceable(target: Path, allowed: Collection[str], *, fname: str, name: str) -> None:
    """``target`` is absent, or a folder holding only ``allowed`` names (a previous output).

    The errors say ``"<fname>: <name> must ..."`` (no prefix when ``fname`` is empty).
    """
    if not target.exists():
        return
    prefix = f"{fname}: " if fname else ""
    if not target.is_dir():
        raise OptionError(
            f"{prefix}{name} must name a folder",
            f"{target} is a file",
            f"pass a new folder path for {name}",
        )
    other = sorted(p.name for p in target.iterdir() if p.name not in allowed)
    if other:
        shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
        raise OptionError(
            f"{prefix}{name} must be a new folder or a previous output folder (it is "
            "replaced as a whole)",
            f"{target} holds other files: {shown}",
            f"pass a new folder path for {name}",
        )


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: leave it alone
    return True


def _stale(path: Path) -> bool:
    """Left by a process that no longer runs and older than this process."""
    try:
        pid = int(path.name.rsplit(".", 2)[-2])
        older = path.lstat().st_mtime < _STARTED
    except (ValueError, IndexError, OSError):
        return False
    return older and pid != os.getpid() and not _pid_running(pid)


def remove_stale_files(folder: Path, names: Collection[str]) -> None:
    """Remove the temporary files (``.<name>.<random>.tmp``) that a killed writer left
    in ``folder`` for the given file names, if older than this process."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        stem = p.name[1:].rsplit(".", 2)[0] if p.name.endswith(".tmp") else ""
        if p.name.startswith(".") and stem in names:
            with contextlib.suppress(OSError):
                if p.lstat().st_mtime < _STARTED:
                    p.unlink()


def remove_stale(parent: Path) -> None:
    """Remove the temporary folders that killed runs left in ``parent``."""
    import shutil

    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    for p in entries:
        if p.name.startswith(OLD_PREFIX) and _stale(p):
            original = parent / p.name[len(OLD_PREFIX) :].rsplit(".", 2)[0]
            if not original.exists():  # killed between the two renames: put it back
                with contextlib.suppress(OSError):
                    os.rename(p, original)
                    continue
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(TMP_PREFIX) and _stale(p):
            shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap(tmp: Path, target: Path) -> None:
    import shutil
    import tempfile

    if not target.exists():
        os.rename(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f"{OLD_PREFIX}{target.name}.{os.getpid()}.", dir=tmp.parent))
    os.rmdir(old)  # a unique free name: rename needs it absent
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    try:
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:  # interrupted while removing: the swap is done, finish the removal
        shutil.rmtree(old, ignore_errors=True)
        raise


@contextlib.contextmanager
def replace_dir(
    target: str | os.PathLike[str], allowed: Collection[str], *, fname: str, name: str
) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target`` whole."""
    import shutil
    import tempfile

    out = Path(target).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent)
    check_replaceable(out, allowed, fname=fname, name=name)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{out.name}.{os.getpid()}.", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual permissions
        yield tmp
        _fsync_dir(tmp)
        _swap(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
