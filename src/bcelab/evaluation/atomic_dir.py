"""A folder of outputs that is complete or untouched: built aside, then swapped in.

:func:`replace_dir` yields a new temporary folder beside the target
(``.bcelab-tmp-<name>.<pid>.<random>``).  When the caller has written everything, the
old folder is renamed aside (``.bcelab-old-...``), the new one renamed in, and the old
one removed; when anything fails, the temporary folder is removed and the target is as it
was.  A run killed half-way leaves such folders behind: the next run in the same place
removes those of processes that no longer run (and puts a folder renamed aside back if
the kill came between the two renames).

Only a folder that holds nothing but the expected files is replaced, so a mistyped
path (``--report .``) never removes anything else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator
from pathlib import Path

from ..errors import OptionError

__all__ = ["OLD_PREFIX", "TMP_PREFIX", "check_replaceable", "remove_stale", "replace_dir"]

TMP_PREFIX = ".bcelab-tmp-"
OLD_PREFIX = ".bcelab-old-"
_STARTED = time.time()  # this process's outputs are never stale


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


def remove_stale(parent: Path) -> None:
    """Remove the temporary folders that killed runs left in ``parent``."""
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
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def replace_dir(
    target: str | os.PathLike[str], allowed: Collection[str], *, fname: str, name: str
) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target`` whole."""
    out = Path(target).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent)
    check_replaceable(out, allowed, fname=fname, name=name)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{out.name}.{os.getpid()}.", dir=out.parent))
    try:
        yield tmp
        _fsync_dir(tmp)
        _swap(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
