"""The fused BCE kernel against its peers: ns per element, GB/s and the bandwidth limit.

Usage: python bench/bench_kernel.py [--quick] [--out bench/results/kernel.md]

For each N (1e3, 1e5, 1e7 and, without --quick, 1e8) on float32 data it times the mean
BCE (forward) and the mean BCE plus its gradient (forward + gradient) for bcelab and its
peers, and the memory limits measured in this run: a plain read-reduction over the same
input bytes (NumPy's and torch's sums, 1 and 2 threads) for the forward pass, and a pass
that reads the same two arrays and writes one (``torch.add`` / ``np.add`` with ``out=``,
1 and 2 threads: read 8 bytes, write 4) for forward + gradient.  Columns: ns per element,
GB/s of input read, the fraction of the limit reached (the fastest probe), and time /
bcelab's time.  The targets are printed as ratios at N = 1e7 and 1e8, the jax.jit
ratios also on one core (``kernel_one_core.py``).  It also
checks the N = 1e8 mean against a ``math.fsum`` reference and prints the N = 4
call times that set the dispatch cut-over.  --quick skips 1e8 and the slow peers (Keras,
scikit-learn).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")  # must be set before keras is imported
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

import numpy as np

import bcelab
from _common import (
    interleaved_times,
    machine_line,
    median_time,
    read_probes,
    read_write_probes,
    skip_peer,
    table,
)
from bcelab.kernels import fused_bce, loss_driver, set_enabled
from kernel_one_core import one_core_rows

Case = tuple[str, Callable[[], Any]]


def data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, n).astype(np.float32)
    p = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    return {"x": x, "p": p, "y": y}


def numpy_naive(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(q) + (1 - y) * np.log1p(-q))))


def numpy_naive_grad(p: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    q = np.clip(p, 1e-7, 1 - 1e-7)
    loss = float(np.mean(-(y * np.log(q) + (1 - y) * np.log1p(-q))))
    return loss, ((q - y) / (q * (1 - q))) / p.size


def peers_forward(d: dict[str, np.ndarray], slow: bool) -> list[Case]:
    x, p, y = d["x"], d["p"], d["y"]
    cases: list[Case] = [
        ("bcelab logits", lambda: bcelab.bce_with_logits(x, y, reduction="mean")),
        ("bcelab probs", lambda: bcelab.bce(p, y, reduction="mean")),
        ("NumPy naive probs", lambda: numpy_naive(p, y)),
    ]
    cases += torch_cases(d, grad=False)
    cases += jax_cases(d, grad=False)
    if slow:
        cases += keras_cases(d)
        from sklearn.metrics import log_loss

        cases.append(("scikit-learn log_loss", lambda: log_loss(y, p, labels=[0, 1])))
    return cases


def peers_grad(d: dict[str, np.ndarray]) -> list[Case]:
    x, p, y = d["x"], d["p"], d["y"]
    gx, gp = np.empty_like(x), np.empty_like(p)
    cases: list[Case] = [
        ("bcelab logits", lambda: fused_bce(x, y, logits=True, grad_out=gx)),
        ("bcelab probs", lambda: fused_bce(p, y, logits=False, grad_out=gp)),
        ("NumPy naive probs", lambda: numpy_naive_grad(p, y)),
    ]
    return cases + torch_cases(d, grad=True) + jax_cases(d, grad=True)


def torch_cases(d: dict[str, np.ndarray], *, grad: bool) -> list[Case]:
    try:
        import torch
        from torch.nn import functional
    except ImportError:  # pragma: no cover
        return []
    x, p, y = (torch.from_numpy(d[k]) for k in ("x", "p", "y"))

    def threaded(nt: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            if torch.get_num_threads() != nt:  # switching the pool is slow: only when needed
                torch.set_num_threads(nt)
            return fn()

        return run

    def fwd_logits() -> Any:
        return functional.binary_cross_entropy_with_logits(x, y)

    def fwd_probs() -> Any:
        return functional.binary_cross_entropy(p, y)

    def bwd(fn: Callable[[torch.Tensor, torch.Tensor], Any], src: torch.Tensor) -> Callable:
        def run() -> Any:
            z = src.detach().requires_grad_(True)
            loss = fn(z, y)
            loss.backward()
            return float(loss.detach()), z.grad

        return run

    out = []
    for nt in (1, 2):
        if grad:
            out.append(
                (
                    f"torch logits {nt}t",
                    threaded(nt, bwd(functional.binary_cross_entropy_with_logits, x)),
                )
            )
            out.append(
                (f"torch probs {nt}t", threaded(nt, bwd(functional.binary_cross_entropy, p)))
            )
        else:
            out.append((f"torch logits {nt}t", threaded(nt, fwd_logits)))
            out.append((f"torch probs {nt}t", threaded(nt, fwd_probs)))
    return out


def jax_cases(d: dict[str, np.ndarray], *, grad: bool) -> list[Case]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:  # no jax.jit rows; the targets show n/a
        skip_peer("jax", e)
        return []
    x, p, y = (jax.device_put(d[k]) for k in ("x", "p", "y"))

    # Two formulations each: the one most code uses (jax.nn.softplus; Keras-style clip) and
    # the fastest one XLA compiles (max/log1p on logits: stable and 3-4x faster here; plain
    # log/log1p on probabilities: fast, but NaN at p = 0 or 1).  The targets compare with
    # the faster of the two.
    def logits_softplus(z: Any, t: Any) -> Any:
        return jnp.mean(jax.nn.softplus(z) - z * t)

    def logits_fast(z: Any, t: Any) -> Any:
        return jnp.mean(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z))))

    def probs_clip(q: Any, t: Any) -> Any:
        q = jnp.clip(q, 1e-7, 1 - 1e-7)
        return -jnp.mean(t * jnp.log(q) + (1 - t) * jnp.log1p(-q))

    def probs_fast(q: Any, t: Any) -> Any:
        return -jnp.mean(t * jnp.log(q) + (1 - t) * jnp.log1p(-q))

    def compile_(f: Any) -> Any:
        return jax.jit(jax.value_and_grad(f)) if grad else jax.jit(f)

    fs, ff, fc, fq = map(compile_, (logits_softplus, logits_fast, probs_clip, probs_fast))
    return [
        ("jax.jit logits", lambda: jax.block_until_ready(ff(x, y))),
        ("jax.jit logits (jax.nn.softplus)", lambda: jax.block_until_ready(fs(x, y))),
        ("jax.jit probs", lambda: jax.block_until_ready(fq(p, y))),
        ("jax.jit probs (clip 1e-7)", lambda: jax.block_until_ready(fc(p, y))),
    ]


def keras_cases(d: dict[str, np.ndarray]) -> list[Case]:
    try:
        import keras
    except ImportError as e:  # Keras, or its backend (jax), is missing
        skip_peer(getattr(e, "name", None) or "keras", e)
        return []
    name = keras.backend.backend()
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    x, y = keras.ops.convert_to_tensor(d["x"]), keras.ops.convert_to_tensor(d["y"])
    return [(f"Keras ({name}) logits", lambda: keras.ops.convert_to_numpy(loss(y, x)))]


def measure(
    fwd: list[Case], grad: list[Case], probes: list[Case], n: int, repeat: int
) -> tuple[list[list[Any]], list[list[Any]], dict[str, float]]:
    """Time everything round-robin (same load for all), then build the two tables.

    The forward limit is the fastest read-reduction (``read *`` probes) of this run, the
    forward + gradient limit the fastest read-8/write-4 pass (``add *`` probes).
    """
    cases = dict(probes) | {f"fwd:{k}": f for k, f in fwd} | {f"grad:{k}": f for k, f in grad}
    # Each timed batch lasts >= 0.1 s, so the first call after a change of peer (which pays
    # for the previous peer's worker threads still spinning, or its own pool waking up) is
    # a small part of it.  With one call per batch at N >= 1e7, that penalty was measured at
    # 10-40% on whichever peer came first (bench/results/kernel.md).
    times = interleaved_times(cases, repeat=repeat, min_time=0.1)
    probe_t = {k: times[k] for k, _ in probes if k in times}
    limits = {
        p: min(t for k, t in probe_t.items() if k.startswith(kind))
        for p, kind in (("fwd:", "read"), ("grad:", "add"))
    }
    tables = []
    for prefix, limit in limits.items():
        sub = {k.removeprefix(prefix): t for k, t in times.items() if k.startswith(prefix)}
        ref = sub.get("bcelab logits", float("nan"))
        tables.append(
            [[k, t / n * 1e9, 8 * n / t / 1e9, limit / t, t / ref] for k, t in sub.items()]
        )
    return tables[0], tables[1], probe_t


def targets(rows: dict[int, tuple[dict[str, list[Any]], dict[str, list[Any]]]]) -> str:
    """One line per performance target, one column per N (ns/elem is column 1)."""
    sizes = sorted(rows)

    def ratio(part: int, peer: str, mine: str) -> list[str]:
        out = []
        for n in sizes:
            r = rows[n][part]
            out.append(f"{r[peer][1] / r[mine][1]:.2f}" if peer in r and mine in r else "n/a")
        return out

    def frac(part: int, mine: str) -> list[str]:
        return [f"{rows[n][part][mine][3]:.2f}" for n in sizes]

    body = [
        ["logits: jax.jit / bcelab time (>= 1.5)", *ratio(0, "jax.jit logits", "bcelab logits")],
        ["probs: jax.jit / bcelab time (>= 1.5)", *ratio(0, "jax.jit probs", "bcelab probs")],
        ["logits: fraction of the read limit (>= 0.75)", *frac(0, "bcelab logits")],
        ["probs: fraction of the read limit (>= 0.75)", *frac(0, "bcelab probs")],
        ["fwd+grad logits: fraction of the rw limit (>= 0.5)", *frac(1, "bcelab logits")],
        ["fwd+grad probs: fraction of the rw limit (>= 0.5)", *frac(1, "bcelab probs")],
        ["fwd+grad: torch logits 2t / bcelab time", *ratio(1, "torch logits 2t", "bcelab logits")],
    ]
    return table(["target (float32)", *(f"N = {n:.0e}" for n in sizes)], body)


def fsum_check(n: int) -> list[list[Any]]:
    """Relative error of the mean at N = n against math.fsum of float64 per-element losses."""
    d = data(n, seed=1)
    x, y = d["x"], d["y"]
    vals = []
    set_enabled(False)  # the reference path, in float64, chunk by chunk
    try:
        for lo in range(0, n, 1 << 22):
            xs, ys = (
                x[lo : lo + (1 << 22)].astype(np.float64),
                y[lo : lo + (1 << 22)].astype(np.float64),
            )
            vals.append(math.fsum(bcelab.bce_with_logits(xs, ys).tolist()))
    finally:
        set_enabled(True)
    exact = math.fsum(vals) / n  # each chunk's fsum is correctly rounded; 25 chunks add ~1e-16
    mean = float(bcelab.bce_with_logits(x, y, reduction="mean"))
    rows = [["bcelab (fused, float64 accumulation)", mean]]
    try:
        import torch
        from torch.nn import functional

        torch.set_num_threads(2)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        v = float(functional.binary_cross_entropy_with_logits(tx, ty))
        rows.append(["torch with_logits (float32)", v])
    except ImportError:  # pragma: no cover
        pass
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:  # no jax.jit row
        skip_peer("jax", e)
    else:
        f = jax.jit(lambda z, t: jnp.mean(jax.nn.softplus(z) - z * t))
        rows.append(["jax.jit (float32)", float(f(x, y))])
    return [[name, v, abs(v - exact) / exact] for name, v in rows]


def _kernel_call(x: np.ndarray, y: np.ndarray, nt: int) -> Any:
    return loss_driver.run(
        x,
        y,
        None,
        None,
        logits=True,
        decomp=False,
        write=0,
        pos_weight=1.0,
        label_smoothing=0.0,
        den=1.0,
        threads=nt,
        min_parallel=0,
    )


def cutover() -> list[list[Any]]:
    """N = 4 call times (the autoencoder question's four numbers), and 1 vs 2 threads around PARALLEL_MIN."""
    y4 = np.array([0.5, 0.3, 0.5, 0.9], dtype=np.float32)
    p4 = np.array([0.1, 0.3, 0.5, 0.8], dtype=np.float32)
    rows = [
        ["N=4 bcelab.bce (fused)", median_time(lambda: bcelab.bce(p4, y4, reduction="mean")) * 1e6]
    ]
    set_enabled(False)
    rows.append(
        [
            "N=4 bcelab.bce (reference path)",
            median_time(lambda: bcelab.bce(p4, y4, reduction="mean")) * 1e6,
        ]
    )
    set_enabled(True)
    import torch
    from torch.nn import functional

    tp, ty = torch.from_numpy(p4), torch.from_numpy(y4)
    rows.append(
        [
            "N=4 torch F.binary_cross_entropy",
            median_time(lambda: functional.binary_cross_entropy(tp, ty)) * 1e6,
        ]
    )
    for k in (14, 16, 18, 20):
        d = data(1 << k)
        for nt in (1, 2):
            t = median_time(functools.partial(_kernel_call, d["x"], d["y"], nt))
            rows.append([f"N=2^{k} kernel, {nt} thread(s)", t * 1e6])
    return rows


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip N=1e8 and the slow peers")
    ap.add_argument("--out", help="also write the tables to this Markdown file")
    args = ap.parse_args(argv)
    sizes = [10**3, 10**5, 10**7] + ([] if args.quick else [10**8])
    cmd = "python bench/bench_kernel.py" + (" --quick" if args.quick else "")
    parts = [f"Command: `{cmd}`", "", f"Machine: {machine_line()}", ""]
    print("\n".join(parts), flush=True)
    fused_bce(np.zeros(4, np.float32), np.zeros(4, np.float32), logits=True, grad=True)  # compile
    heads = ["peer", "ns/elem", "GB/s", "fraction of bandwidth limit", "time / bcelab logits"]
    at: dict[int, tuple[dict[str, list[Any]], dict[str, list[Any]]]] = {}
    for n in sizes:
        d = data(n)
        # rounds in a shuffled order: 5 at 1e8, so that a median is not moved by the two
        # rounds in which a peer may happen to follow NumPy's naive pass (see interleaved_times)
        repeat = 5 if n >= 10**8 else 7
        probes = read_probes([d["x"], d["y"]])
        probes += read_write_probes(d["x"], d["y"], np.empty_like(d["x"]))
        slow = not args.quick and n <= 10**7
        t0 = time.perf_counter()
        rows_f, rows_g, pt = measure(peers_forward(d, slow), peers_grad(d), probes, n, repeat)
        head = (
            f"### N = {n:.0e}, float32; probes, ns/elem: reading the same 8 bytes/elem: "
            + ", ".join(f"{k} {t / n * 1e9:.3f}" for k, t in pt.items() if k.startswith("read"))
            + "; reading 8 and writing 4: "
            + ", ".join(f"{k} {t / n * 1e9:.3f}" for k, t in pt.items() if k.startswith("add"))
        )
        fwd, grd = table(heads, rows_f), table(heads, rows_g)
        block = [head, "", "Forward (mean loss; limit: read):", "", fwd, ""]
        block += ["Forward + gradient (limit: read 8, write 4):", "", grd, ""]
        print("\n".join(block), f"({time.perf_counter() - t0:.0f} s)", flush=True)
        parts += block
        if n >= 10**7:
            at[n] = ({r[0]: r for r in rows_f}, {r[0]: r for r in rows_g})
        del d
    if at:
        rows1 = one_core_rows(sorted(at), rounds=5)
        summary = targets(at) + "\n" + "\n".join(f"| {' | '.join(r)} |" for r in rows1)
        parts += ["### The targets (this run)", "", summary, ""]
        print(summary, flush=True)
    cut = table(["call", "microseconds"], cutover())
    parts += ["### Cut-over", "", cut, ""]
    print(cut, flush=True)
    if not args.quick:
        acc = table(
            ["mean from logits, N = 1e8", "value", "relative error vs math.fsum"], fsum_check(10**8)
        )
        parts += ["### Accuracy of the mean at N = 1e8", "", acc, ""]
        print(acc, flush=True)
    if args.out:
        from bcelab._core.atomic import write_text

        write_text(args.out, "\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
