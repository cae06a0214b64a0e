"""Run every benchmark in bench/ (``make bench``), each in its own process.

Usage: python bench/run.py [--quick] [NAME ...]   (NAME = kernel, train, eval, ...)
Each benchmark prints its own table with same-run ratios; see BENCHMARKS.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        print(f"\n===== {script.name}{' --quick' if quick else ''} =====", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *(["--quick"] if quick else [])])
        print(f"===== {script.name}: exit {rc}, {time.perf_counter() - t0:.1f} s =====", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
