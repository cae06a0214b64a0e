"""The run folder of ``bcelab train`` and ``bcelab train autoencoder``: --out, --overwrite, --resume.

Checked before any data is read or any epoch trained: ``--out`` must be a new or empty
folder, the run being resumed (``--resume`` into the same folder), or a previous run
with ``--overwrite`` (which replaces it whole once the new run is saved; a folder
holding anything else is never replaced).  A resumed run keeps its own options: an
option given again with another value is refused, naming each difference; only
``--epochs`` may change, and only to at least the epochs already trained.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from .._core.atomic import remove_stale, remove_stale_files
from ..errors import DataError, OptionError
from ..train.loop import CHECKPOINT_SECONDS
from . import output
from .numbers import whole_number

__all__ = [
    "PATH_OPTIONS",
    "add_flags",
    "check_out_folder",
    "check_resumed",
    "check_saved_files",
    "resume_differences",
    "resumed_config",
    "same_file",
    "saved_path",
    "saved_paths",
    "shown",
]

C = TypeVar("C")


def add_flags(p: argparse.ArgumentParser, default_out: str) -> None:
    """``--out``, ``--overwrite``, ``--resume`` and ``--checkpoint-every``."""
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help=f"the run folder (default {default_out}; a new or empty folder)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the previous run in --out (once the new run is saved)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR with its own options (--epochs may grow); it is "
        "saved back into DIR unless --out is given",
    )
    p.add_argument(
        "--checkpoint-every",
        type=whole_number,
        default=None,
        metavar="N",
        help="save the run folder every N epochs while training, so that a killed run "
        f"resumes from there (default: every {CHECKPOINT_SECONDS:g} seconds; 0: only at "
        "the end)",
    )


def shown(value: Any) -> str:
    """A value as it is typed on the command line (``0.01``, ``64,32``, ``yes``)."""
    if isinstance(value, (list, tuple)):
        return ",".join(shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def check_out_folder(
    out: str, *, allowed: Collection[str], resume: str | None, overwrite: bool
) -> Path:
    """``--out`` can take this run (see the module doc); stale temporary files of a killed
    run are removed first."""
    if not out.strip():
        raise OptionError(
            "--out must name a folder",
            f"received --out {out!r}",
            "name the run folder, e.g. --out runs/mine, or leave --out out for the default",
        )
    d = output.check_dir(out, "--out")
    if d.absolute().parent.is_dir():
        remove_stale(d.absolute().parent)
    if not d.is_dir():
        return d
    remove_stale_files(d, allowed)
    entries = sorted(p.name for p in d.iterdir())
    if not entries:
        return d
    others = [n for n in entries if n not in allowed]
    same = resume is not None and Path(resume).resolve() in (
        d.resolve(),
        (d / "checkpoint.pt").resolve(),
    )
    if others or not (overwrite or same):  # the run being resumed is replaced when saved
        names = others or entries
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise OptionError(
            "--out must be a new or empty folder"
            + ("" if others else " (or a previous run, replaced with --overwrite)"),
            f"{out} holds {'other files' if others else 'a previous run'}: {listed}",
            "choose another --out"
            + ("" if others else ", or add --overwrite to replace that run once this one is saved"),
        )
    return d


#: the options that name files: saved as resolved absolute paths, compared as files
PATH_OPTIONS = ("data", "test")


def saved_path(value: str, base: str | None) -> str:
    """A file path saved with a run, as a resolved absolute path: a relative one (saved by
    an earlier version) is taken relative to ``base``, the run's recorded working
    directory, or else the current one."""
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = Path(base or Path.cwd()) / p
    return str(p.resolve())


def saved_paths(options: Mapping[str, Any], base: str | None) -> dict[str, Any]:
    """A run's saved options with their file paths made absolute (:func:`saved_path`)."""
    out = dict(options)
    for name in PATH_OPTIONS:
        if isinstance(out.get(name), str):
            out[name] = saved_path(out[name], base)
    return out


def check_saved_files(cfg: Any, options: Mapping[str, Any]) -> None:
    """Each file of the resumed configuration ``cfg`` exists; ``options``: the run's
    options as saved (a relative path was saved by an earlier version)."""
    for name in PATH_OPTIONS:
        path, raw = getattr(cfg, name, None), options.get(name)
        if path is None or Path(path).is_file():
            continue
        relative = isinstance(raw, str) and not Path(raw).is_absolute()
        fix = f"pass --{name} with the file's path now (its rows are checked against the run's)"
        if relative:
            raise DataError(
                f"--resume reads the run's --{name} file again",
                f"the run saved --{name} {raw!r}, relative to a directory it does not "
                f"record; from here that is {path!r}, which does not exist",
                f"{fix}, or resume from the directory the run was started in",
            )
        raise DataError(
            f"--resume reads the run's --{name} file again",
            f"{path!r} (as saved with the run) does not exist any more",
            fix,
        )


def same_file(saved: str, now: str) -> bool:
    """``now`` (as typed) names the file ``saved`` (a path saved with the run): the same
    resolved path, the same file by another name (a link), or a saved path that no longer
    exists (the file was moved: the checkpoint's fingerprint of the rows checks the data)."""
    old, new = Path(saved), Path(now).resolve()
    if old == new or not old.exists():
        return True
    try:
        return old.samefile(new)
    except OSError:
        return False


def resume_differences(
    saved: Mapping[str, Any],
    new: Mapping[str, Any],
    given: Iterable[str],
    flags: Mapping[str, str],
) -> list[str]:
    """``--lr 0.01 in the run, 0.1 now`` for each option given with another value."""
    words = []
    for name in given:
        if name not in flags or name not in saved:
            continue
        old, now = saved[name], new[name]
        if isinstance(old, list):
            old = tuple(old)
        if name in PATH_OPTIONS and old is not None and now is not None:
            same = same_file(str(old), str(now))
        else:
            same = old == now
        if not same:
            flag = flags[name]
            if isinstance(old, bool) or isinstance(now, bool) or old is None or now is None:
                words.append(f"{flag}: {_state(old)} in the run, {_state(now)} now")
            else:
                words.append(f"{flag} {shown(old)} in the run, {shown(now)} now")
    return words


def _state(value: Any) -> str:
    return "given" if value is True else "not given" if value in (False, None) else shown(value)


def check_resumed(
    saved: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    given: Collection[str],
    kept: Collection[str],
    flags: Mapping[str, str],
    done: int,
    first: Iterable[str] = (),
) -> None:
    """Refuse a resume whose typed options differ from the run's (``first``: differences
    found by the caller, e.g. another task), naming each difference; ``--epochs`` may
    change, to at least the ``done`` epochs."""
    problems = [*first, *resume_differences(saved, new, sorted(set(given) & set(kept)), flags)]
    if "epochs" in given and new["epochs"] < done:
        problems.append(f"--epochs {new['epochs']}, but the run has already trained {done} epochs")
    if problems:
        raise OptionError(
            "--resume continues the run with its own options (only --epochs may change, "
            "to at least the epochs already trained)",
            "; ".join(problems),
            "leave out the options that differ (the run's own are used), or start a new "
            "run without --resume",
        )


def resumed_config(old: C, cfg: Any) -> C:
    """The saved run's configuration ``old`` with what a resume may change taken from
    ``cfg``: the folders, output options, checkpoint interval and a grown ``--epochs``."""
    return replace(
        old,  # type: ignore[type-var]
        resume=cfg.resume,
        out=cfg.out,
        quiet=cfg.quiet,
        overwrite=cfg.overwrite,
        checkpoint_every=cfg.checkpoint_every,
        epochs=cfg.epochs if "epochs" in cfg.given else old.epochs,  # type: ignore[attr-defined]
        given=frozenset(),
    )
