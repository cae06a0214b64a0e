"""The ``bcelab`` command line.

Each subcommand lives in its own module with the same four parts:
``add_arguments(parser)``, a typed ``Config``, ``config_from_args(namespace)`` and
``execute(config) -> int``; ``VALUE_FLAGS`` may list the flags whose values can start
with a minus sign, ``LIST_FLAGS`` those that take comma-separated lists, and
``SUBCOMMANDS`` the words that must follow the command's name (``bcelab train
circles``).  Only this layer prints; the library core never does.

Every failure the user can fix ends here as one line on stderr and exit code 2, never
a traceback: bad input (:class:`bcelab.BCELabError`, rewritten to name the command's
flags), a missing optional package (the ``pip install`` line of its extra), and a file
that cannot be read or written (the path and the cause).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__
from ..errors import BCELabError
from .messages import (
    in_flags,
    missing_extra,
    out_of_memory,
    split_negative_values,
    unknown_choice,
    unrecognized,
)
from .output import from_os_error

__all__ = ["console", "main"]

# name -> (module, one-line help).  Modules are imported lazily so that start-up stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "loss": ("bcelab.cli.loss", "per-element BCE with its floor and excess"),
    "explain": ("bcelab.cli.explain", "BCE as a function of the prediction for one target"),
    "train": ("bcelab.cli.train", "train a model with BCE (two circles, autoencoders, your data)"),
    "eval": ("bcelab.cli.eval", "evaluate a prediction file of any size (log loss, NE, ...)"),
    "compare": ("bcelab.cli.compare", "is model B better than model A on the same rows, and why?"),
    "recalibrate": ("bcelab.cli.recalibrate", "apply a fitted recalibration map to new rows"),
    "predict": ("bcelab.cli.predict", "a trained model's predictions for new rows (logit, pred)"),
    "warmup": ("bcelab.cli.warmup", "compile bcelab's kernels once for this machine"),
}
# The commands whose work multiplies no matrix large enough for NumPy's BLAS to use a
# second thread (`train` and `predict` multiply a model's weights, and keep BLAS's own
# choice).  For these, BLAS starts with one thread (see console).
SERIAL_BLAS = frozenset({"loss", "explain", "eval", "compare", "recalibrate", "warmup"})


# The commands whose pyarrow buffers come from jemalloc (see console): measured for
# `eval`; `compare` spends its time in the bootstrap and gained nothing (2.5 s either way).
ARROW_JEMALLOC = frozenset({"eval"})


def _arrow_jemalloc() -> None:
    """pyarrow's jemalloc allocator as the process's default, where this pyarrow has it."""
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except (ImportError, NotImplementedError):  # no pyarrow (the command says so), or
        return  # a build without jemalloc: pyarrow's default stays


def _requested(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is no flag)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _fail(command: str, err: BaseException) -> int:
    print(f"bcelab{' ' + command if command else ''}: error: {err}", file=sys.stderr)
    return 2


def _build_parser(
    argv: Sequence[str],
) -> tuple[argparse.ArgumentParser, dict[str, ModuleType], tuple[str, ImportError] | None]:
    """The parser, the imported command modules, and the requested command's import
    failure when an optional package is missing."""
    parser = argparse.ArgumentParser(
        prog="bcelab",
        description="Binary cross-entropy done right: exact, explained as floor + excess.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, ModuleType] = {}
    missing: tuple[str, ImportError] | None = None
    wanted = _requested(argv)
    # A known command gets its own parser only (start-up time: each parser and flag costs
    # argparse's formatter and translation lookups); otherwise, and for a help flag before
    # the command (`bcelab -h eval` shows bcelab's own help), every command is listed.
    before = argv[: list(argv).index(wanted)] if wanted is not None else argv
    top_help = any(a in ("-h", "--help") for a in before)
    names = [wanted] if wanted in COMMANDS and not top_help else list(COMMANDS)
    for name in names:
        modname, help_ = COMMANDS[name]
        sp = sub.add_parser(name, help=help_, description=help_)
        # Only the requested subcommand's module is imported (start-up time: `bcelab loss`
        # does not load pyarrow or torch, and `bcelab --help` lists the commands from
        # their one-line helps without importing any)
        if wanted == name:
            try:
                mod = importlib.import_module(modname)
                mod.add_arguments(sp)
            except ImportError as e:
                if e.name and e.name.startswith("bcelab"):
                    continue  # subcommand not available in this build
                if missing_extra(e, name) is None:
                    raise
                missing = (name, e)
                continue
            modules[name] = mod
    return parser, modules, missing


def _misplaced(args: Sequence[str], modules: dict[str, ModuleType]) -> BCELabError | None:
    """A first word that names no command (or, after a command with ``SUBCOMMANDS``, none
    of those), or a flag in its place; None when a help flag asks for the usage first."""
    if not args or any(a in ("-h", "--help") for a in args):
        return None
    # flags first with no command named anywhere: argparse's "unrecognized arguments"
    named = any(a in COMMANDS for a in args) or not args[0].startswith("-")
    if args[0] != "--version" and args[0] not in COMMANDS and named:
        return unknown_choice("a command", args[0], list(COMMANDS), "bcelab", args[1:])
    for name, mod in modules.items():
        words = tuple(getattr(mod, "SUBCOMMANDS", ()))
        rest = list(args[1:])
        if words and rest and rest[0] not in words:
            return unknown_choice(f"a {name} task", rest[0], words, f"bcelab {name}", rest[1:])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser, modules, missing = _build_parser(args)
    misplaced = _misplaced(args, modules)
    if misplaced is not None:
        return _fail(args[0] if args[0] in modules else "", misplaced)
    if missing is not None:  # before parsing: the command's flags are unknown without it
        command, err = missing
        return _fail(command, missing_extra(err, command) or err)
    for mod in modules.values():
        args = split_negative_values(args, tuple(getattr(mod, "VALUE_FLAGS", ())))
    ns, extra = parser.parse_known_args(args)
    if extra:
        chosen_mod = modules.get(ns.command)
        repeatable = tuple(getattr(chosen_mod, "REPEATABLE_FLAGS", ()))
        lists = tuple(getattr(chosen_mod, "LIST_FLAGS", ()))
        task = getattr(ns, "task", None)  # `bcelab train TASK --help` lists that task's flags
        helped = f"{ns.command} {task}" if ns.command and task else ns.command
        return _fail(ns.command or "", unrecognized(args, extra, repeatable, helped, lists))
    if ns.version:
        print(f"bcelab {__version__}")
        return 0
    if ns.command is None:
        parser.print_help()
        return 2
    chosen = modules.get(ns.command)
    if chosen is None:
        print(
            f"bcelab: error: the '{ns.command}' command is not available in this build",
            file=sys.stderr,
        )
        return 2
    return _run(chosen, ns)


def console() -> int:
    """The ``bcelab`` command and ``python -m bcelab``: :func:`main`, then a quicker exit.

    At exit the interpreter's last garbage collection walks every object NumPy, pyarrow
    and torch made, about 12 ms of a ``bcelab eval`` process.  By then every file the
    command wrote is closed and renamed, so the live objects are frozen out of that
    collection (``gc.freeze``), and their memory goes back with the process.
    :func:`main` itself, called from Python, leaves the collector alone.

    Before NumPy loads, a command of :data:`SERIAL_BLAS` sets ``OPENBLAS_NUM_THREADS=1``
    unless the environment already sets it: NumPy's OpenBLAS otherwise starts a thread
    per core that spins for a while after start-up, about 0.1 CPU seconds of a
    ``bcelab eval`` process on a 2-core machine, taken from the kernels' threads.

    A command of :data:`ARROW_JEMALLOC` makes pyarrow's jemalloc allocator the default,
    unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses one: with pyarrow's own default
    (mimalloc) the same ``bcelab eval`` of 1e8 rows took 0.67 s for some minutes and
    0.87 s for others on the 2-core test machine, with jemalloc 0.68-0.72 s throughout
    (3e7 rows: 0.33 or 0.38-0.40 s, against 0.34-0.35 s).
    """
    command = _requested(sys.argv[1:])
    if command in SERIAL_BLAS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if command in ARROW_JEMALLOC and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        _arrow_jemalloc()
    rc = main()
    gc.freeze()
    return rc


def _run(mod: ModuleType, ns: argparse.Namespace) -> int:
    command = ns.command
    try:
        config = mod.config_from_args(ns)
        return int(mod.execute(config))
    except BCELabError as e:
        return _fail(command, in_flags(e, command))
    except ImportError as e:
        clear = missing_extra(e, command)
        if clear is None:
            raise
        return _fail(command, clear)
    except KeyboardInterrupt:
        print(f"bcelab {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `bcelab loss ... | head`
        return 0
    except OSError as e:  # a full disk, a read-only folder: the path and the cause
        return _fail(command, from_os_error(e))
    except MemoryError as e:  # NumPy's says how much it asked for
        return _fail(command, out_of_memory(e, command))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
