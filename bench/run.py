"""Run every benchmark in bench/ (``make bench``), each in its own process.

Usage: python bench/run.py [--quick] [NAME ...]   (NAME = kernel, train, eval, ...)
Each benchmark prints its own table with same-run ratios; see BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {s.stem.removeprefix("bench_"): s for s in sorted(HERE.glob("bench_*.py"))}


def parse(argv: list[str]) -> argparse.Namespace:
    """The options and benchmark names; an unknown one exits 2 naming the valid choices."""
    names = ", ".join(SCRIPTS)
    ap = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Run the benchmarks in bench/, each in its own process, in name order "
        "(make bench; make bench BENCH_ARGS=--quick).",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="pass --quick to each benchmark: the short versions (a few minutes in all)",
    )
    ap.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"run only these benchmarks (default: all): {names}",
    )
    a, extra = ap.parse_known_intermixed_args(argv)
    if extra:
        ap.error(
            f"unrecognized arguments: {' '.join(extra)} (options: --quick, --help; "
            f"benchmarks: {names})"
        )
    unknown = [n for n in a.names if n not in SCRIPTS]
    if unknown:
        ap.error(f"unknown benchmark: {', '.join(unknown)} (choose from {names})")
    return a


def main(argv: list[str]) -> int:
    a = parse(argv)
    scripts = [s for name, s in SCRIPTS.items() if not a.names or name in a.names]
    failed = []
    for script in scripts:
        print(f"\n===== {script.name}{' --quick' if a.quick else ''} =====", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *(["--quick"] if a.quick else [])])
        print(f"===== {script.name}: exit {rc}, {time.perf_counter() - t0:.1f} s =====", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
