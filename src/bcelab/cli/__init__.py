"""The ``bcelab`` command line.

Each subcommand lives in its own module with the same four parts:
``add_arguments(parser)``, a typed ``Config``, ``config_from_args(namespace)`` and
``execute(config) -> int``.  Only this layer prints; the library core never does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import BCELabError

__all__ = ["main"]

# name -> (module, one-line help).  Modules are imported lazily so that start-up stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "loss": ("bcelab.cli.loss", "per-element BCE with its floor and excess"),
    "explain": ("bcelab.cli.explain", "BCE as a function of the prediction for one target"),
    "train": ("bcelab.cli.train", "train a model with BCE (two circles, autoencoders, your data)"),
    "eval": ("bcelab.cli.eval", "evaluate a prediction file of any size (log loss, NE, ...)"),
    "compare": ("bcelab.cli.compare", "is model B better than model A on the same rows, and why?"),
}


def _build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="bcelab",
        description="Binary cross-entropy done right: exact, explained as floor + excess.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object] = {}
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (modname, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        # Only the requested subcommand's module is imported (start-up time: `bcelab loss`
        # does not load pyarrow or torch).
        if wanted is None or wanted == name:
            try:
                mod = importlib.import_module(modname)
            except ModuleNotFoundError as e:
                if e.name and e.name.startswith("bcelab"):
                    continue  # subcommand not available in this build
                raise
            mod.add_arguments(sp)
            modules[name] = mod
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser, modules = _build_parser(args)
    ns = parser.parse_args(args)
    if ns.version:
        print(f"bcelab {__version__}")
        return 0
    if ns.command is None:
        parser.print_help()
        return 2
    mod = modules.get(ns.command)
    if mod is None:
        print(
            f"bcelab: error: the '{ns.command}' command is not available in this build",
            file=sys.stderr,
        )
        return 2
    try:
        config = mod.config_from_args(ns)  # type: ignore[attr-defined]
        return int(mod.execute(config))  # type: ignore[attr-defined]
    except BCELabError as e:
        print(f"bcelab {ns.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bcelab {ns.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `bcelab loss ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
