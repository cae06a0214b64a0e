"""Which files a list of paths names: files as given, folders searched for Parquet and
CSV files (hidden and ``_`` names left out), Hive-style ``key=value`` partitions, and the
refusals (no data file, a broken link, the same file twice)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

from .._core.tables import PARQUET_SUFFIXES, TEXT_SUFFIXES, table_kind
from ..errors import DataError
from .csv_source import COMPRESSED

__all__ = ["CSV_SUFFIXES", "discover", "file_key"]

CSV_SUFFIXES = tuple(f"{base}{ext}" for base in TEXT_SUFFIXES for ext in ("", *COMPRESSED))


def _kind(path: Path) -> str | None:
    kind = table_kind(path)
    return "csv" if kind == "text" else kind


def _partition(root: Path, path: Path) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in path.relative_to(root).parts[:-1]:
        if "=" in part:
            k, v = part.split("=", 1)
            pairs.append((unquote(k), unquote(v)))
    return tuple(pairs)


def discover(sources: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, str, tuple]]:
    """Expand files and folders into a sorted list of ``(path, kind, partition)``."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    found: list[tuple[Path, str, tuple]] = []
    if not sources:
        raise DataError("at least one file or folder", "received none", "pass a path")
    for src in sources:
        p = Path(src)
        if p.is_dir():
            entries = [
                f
                for f in p.rglob("*")
                if _kind(f) is not None
                and not any(s.startswith((".", "_")) for s in f.relative_to(p).parts)
            ]
            _refuse_unreadable(p, entries)
            files = sorted(f for f in entries if f.is_file())
            if not files:
                raise DataError(
                    f"a folder with Parquet ({', '.join(PARQUET_SUFFIXES)}) or CSV files at {p}",
                    "found none",
                    "check the path, or name the files explicitly",
                )
            found += [(f, str(_kind(f)), _partition(p, f)) for f in files]
        elif p.is_file():
            kind = _kind(p)
            if kind is None:
                raise DataError(
                    f"a Parquet or CSV file at {p}",
                    f"the name ends in {p.suffix!r}" if p.suffix else "the name has no suffix",
                    "rename it to end in .parquet or .csv (suffixes: "
                    f"{', '.join(PARQUET_SUFFIXES + CSV_SUFFIXES)}); the suffix says how to read it",
                )
            found.append((p, kind, ()))
        elif str(p) == "-":  # the shell convention for standard input
            raise DataError(
                "a file or folder path (standard input is not read)",
                "'-', which stands for standard input",
                "save the rows to a .csv or .parquet file and pass its path",
            )
        elif p.exists():  # a device, a FIFO, a socket
            raise DataError(
                f"a regular file or a folder at {p}",
                "something else (a device, a pipe or a socket)",
                "save the rows to a .csv or .parquet file and pass its path",
            )
        else:
            raise DataError(
                f"an existing file or folder at {p}", "it does not exist", "check the path"
            )
    _refuse_repeats(found)
    return found


def _refuse_unreadable(folder: Path, entries: list[Path]) -> None:
    """A data file's name that is no file (a broken link, a pipe): skipping it would
    evaluate fewer rows without a word."""
    bad = [f for f in entries if not f.is_file() and not f.is_dir()]
    if bad:
        raise DataError(
            f"readable Parquet or CSV files in the folder {folder}",
            f"{len(bad)} that cannot be read as a file, e.g. {bad[0]} (a broken link?)",
            "repair or remove it, or name the files explicitly",
        )


def file_key(path: str | os.PathLike[str]) -> tuple[int, int]:
    """A file's identity, however it is named (directly, through a folder or a link):
    its device and inode."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _refuse_repeats(found: list[tuple[Path, str, tuple]]) -> None:
    """A file named twice (directly, through its folder or another link) would count
    its rows twice."""
    seen: dict[tuple[int, int], Path] = {}
    for f, _, _ in found:
        first = seen.setdefault(file_key(f), f)
        if first is not f:
            twice = f"{f} twice" if str(first) == str(f) else f"one file as {first} and {f}"
            raise DataError(
                "each file once",
                f"received {twice}",
                "pass each file or folder once (a folder already includes its files)",
            )
