"""Output paths of the commands, checked before any work, and write failures as clear errors.

Every command checks its output flags (``--report DIR``, ``--plot FILE``, ``--out``) in
``config_from_args``, before any data is read or any model trained: the path must not be
a file where a folder is expected (or the reverse), its nearest existing folder must be
writable, and a figure needs a file extension matplotlib can write on this machine
(``.pgf`` only where TeX is installed).  An ``OSError`` while writing (a full disk, a
read-only file system) becomes an :class:`OutputError` naming the path and the cause.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import BCELabError, MissingDependencyError

__all__ = [
    "OutputError",
    "check_dir",
    "check_figure",
    "check_file",
    "figure_formats",
    "from_os_error",
    "missing_program",
]


class OutputError(BCELabError):
    """An output path that cannot be written (named by its flag), or a write that failed."""


_CAUSES = {
    errno.ENOSPC: "free some disk space, or write to another folder",
    errno.EDQUOT: "free some of your disk quota, or write to another folder",
    errno.EROFS: "the file system is read-only: write to another folder",
    errno.EACCES: "check the folder's permissions, or write to another folder",
    errno.EPERM: "check the folder's permissions, or write to another folder",
}


def from_os_error(err: OSError) -> OutputError:
    """``OSError`` -> :class:`OutputError` with the path, the cause and what to do."""
    # without a file name, the error came from a stream: what the command prints
    path = err.filename if err.filename is not None else "the printed output (standard output)"
    cause = err.strerror or type(err).__name__
    return OutputError(
        "a path bcelab can read and write",
        f"{path}: {cause}",
        _CAUSES.get(err.errno or 0, "check the path and try again"),
    )


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried: permissions, a read-only mount,
    an ACL; ``os.access`` misses some of these and is always true for root)."""
    import tempfile  # start-up time: only a command with an output path needs it

    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".bcelab-probe-"):
            pass
    except OSError:
        return False
    return True


def _existing_parent(path: Path, flag: str) -> Path:
    """The nearest existing ancestor of ``path``: a writable folder, or an error."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(
            f"{flag} inside a folder",
            f"{parent} is a file, so {path} cannot be created",
            f"choose another path for {flag}",
        )
    if not _writable(parent):
        raise OutputError(
            f"{flag} in a folder bcelab can write to",
            f"{parent} is not writable (permissions or a read-only file system)",
            f"choose another path for {flag}",
        )
    return parent


def check_file(path: str | os.PathLike[str], flag: str, example: str = "out.png") -> Path:
    """An output file: not an existing folder, in a writable folder (``example``: a file
    name of the kind the flag writes, for the message)."""
    if not str(path).strip():
        raise OutputError(
            f"{flag} must name a file", "an empty name", f"name the file, e.g. {flag} {example}"
        )
    out = Path(path)
    if out.is_dir():
        raise OutputError(
            f"{flag} must name a file",
            f"{out} is a folder",
            f"add a file name, e.g. {flag} {out / example}",
        )
    _existing_parent(out, flag)
    return out


def check_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """An output folder: not an existing file; it (or the folder to create it in) writable."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"{flag} must name a folder",
            f"{out} is a file",
            f"choose a new folder path for {flag}",
        )
    _existing_parent(out, flag)  # the folder is built beside the target, then swapped in
    if out.is_dir() and not _writable(out):
        raise OutputError(
            f"{flag} in a folder bcelab can write to",
            f"{out} is not writable (permissions or a read-only file system)",
            f"choose another path for {flag}",
        )
    return out


def figure_formats() -> dict[str, str]:
    """Extension -> description of every format matplotlib can write (without pyplot)."""
    try:
        # optional dependency (matplotlib, the eval and train extras) and start-up time
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise MissingDependencyError(
            "matplotlib for figures",
            "it is not installed",
            "pip install 'bcelab[eval]'",
        ) from None
    formats: dict[str, str] = FigureCanvasBase.get_supported_filetypes()
    return {e: d for e, d in formats.items() if missing_program(e) is None}


def missing_program(ext: str) -> str | None:
    """The program outside Python that matplotlib needs to write ``ext`` and cannot find
    (``.pgf``: the TeX engine of ``rcParams["pgf.texsystem"]``, xelatex by default), or
    ``None``: every other format is written by matplotlib itself."""
    if ext != "pgf":
        return None
    import shutil

    from matplotlib import rcParams

    tex = str(rcParams["pgf.texsystem"])
    return None if shutil.which(tex) else tex


def check_figure(path: str | os.PathLike[str], flag: str) -> Path:
    """A figure file: :func:`check_file` plus an extension matplotlib can write here."""
    out = check_file(path, flag)
    formats = figure_formats()
    ext = out.suffix.lower().lstrip(".")
    if ext not in formats:
        shown = ", ".join(f".{e}" for e in sorted(formats))
        program = missing_program(ext)
        raise OutputError(
            f"{flag} ending in a figure format ({shown})",
            f"received {out.name!r}"
            + (f": .{ext} needs {program} (TeX), which is not installed" if program else ""),
            f"end the name in .png, .svg or .pdf, e.g. {flag} {out.with_suffix('.png')}"
            + (f", or install {program}" if program else ""),
        )
    return out
