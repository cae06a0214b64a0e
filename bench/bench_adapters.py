"""Forward + backward time of each framework adapter's loss vs the framework's own loss.

Usage: python bench/bench_adapters.py [--quick] [--n N]

N = 1e6 float32 logits (or probabilities) and targets; the loss is the mean, the time
is one forward pass plus the gradient with respect to the predictions.  Peers, in the
same process:

* PyTorch: ``F.binary_cross_entropy_with_logits`` / ``F.binary_cross_entropy`` (eager)
  vs ``bcelab.torch.BCEWithLogitsLoss`` / ``BCELoss`` (eager: the fused kernel in a
  ``torch.autograd.Function``, on ``torch.get_num_threads()`` threads, so both sides use
  the same thread count); and ``torch.compile(BCEWithLogitsLoss())`` (inductor; the
  kernel is the custom op
  ``bcelab::fused_bce``) vs torch eager;
* JAX: optax's formula ``-y log_sigmoid(x) - (1 - y) log_sigmoid(-x)`` (optax is not
  installed here; this is its source) vs :func:`bcelab.bce_with_logits`, both under
  ``jax.jit(jax.value_and_grad(...))``;
* Keras 3 on the jax backend (jitted) and on the torch backend (eager), each in a child
  process: ``keras.losses.BinaryCrossentropy`` vs ``bcelab.keras.BinaryCrossentropy``
  (on torch it takes the same fused path as ``bcelab.torch``'s losses).

Peer and bcelab are timed round-robin (``_common.interleaved_times``), so both see the
same load.  The ratio is bcelab / peer (target <= 1.2).  The bandwidth column is the time to read
the two input arrays once (``_common.bandwidth_probe``) divided by the measured time.

Then, at N = 1e7 and (without --quick) 1e8 on all cores, the forward + backward pass of the
fused path (eager ``BCEWithLogitsLoss`` / ``BCELoss``, the eager loss divided by 4 as in
gradient accumulation, ``torch.compile`` (not with --quick),
Keras 3 on the torch backend in a child process, and ``fused_bce(..., grad_out=)``) against
a pass that reads the two inputs and writes one array (``_common.read_write_probes``:
``torch.add``/``np.add`` with ``out=``, 1 and 2 threads; read 8 bytes, write 4), timed
round-robin in the same process: the fraction is the fastest probe's time / the pass's
time (target >= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    bandwidth_probe,
    interleaved_times,
    machine_line,
    read_write_probes,
    skip_peer,
    table,
)

HERE = Path(__file__).resolve().parent


def _inputs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=n) * 3).astype(np.float32)
    y = (rng.random(n) < 0.3).astype(np.float32)
    p = (1 / (1 + np.exp(-x.astype(np.float64)))).clip(1e-6, 1 - 1e-6).astype(np.float32)
    return x, y, p


def bench_torch(n: int, repeat: int, *, compile_too: bool) -> list[dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    import bcelab.torch as bt

    x_np, y_np, p_np = _inputs(n)
    y = torch.from_numpy(y_np)
    out = []
    for case, data, peer, ours in (
        ("from logits", x_np, F.binary_cross_entropy_with_logits, bt.BCEWithLogitsLoss()),
        ("from probabilities", p_np, F.binary_cross_entropy, bt.BCELoss()),
    ):
        t = torch.from_numpy(data).requires_grad_(True)

        def run(fn: Any, t: torch.Tensor = t) -> None:
            t.grad = None
            fn(t, y).backward()

        times = interleaved_times(
            {"peer": lambda fn=peer: run(fn), "bcelab": lambda fn=ours: run(fn)}, repeat=repeat
        )
        out.append({"framework": "PyTorch (eager)", "case": case, **times})
    if compile_too:  # inductor compiles for ~20 s on 2 cores: full mode only
        import warnings

        warnings.simplefilter("ignore")
        t = torch.from_numpy(x_np).requires_grad_(True)
        compiled = torch.compile(bt.BCEWithLogitsLoss())

        def run_c(fn: Any) -> None:
            t.grad = None
            fn(t, y).backward()

        out.append(
            {
                "framework": "PyTorch, bcelab under torch.compile vs torch eager",
                "case": "from logits",
                **interleaved_times(
                    {
                        "peer": lambda: run_c(F.binary_cross_entropy_with_logits),
                        "bcelab": lambda: run_c(compiled),
                    },
                    repeat=repeat,
                ),
            }
        )
    return out


def bench_jax(n: int, repeat: int) -> list[dict[str, Any]]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:  # no JAX rows
        skip_peer("jax", e)
        return []

    import bcelab

    x_np, y_np, p_np = _inputs(n)
    y = jnp.asarray(y_np)

    def optax_logits(x: Any) -> Any:  # optax.losses.sigmoid_binary_cross_entropy
        ls, lm = jax.nn.log_sigmoid(x), jax.nn.log_sigmoid(-x)
        return jnp.mean(-y * ls - (1.0 - y) * lm)

    def naive_probs(p: Any) -> Any:
        return jnp.mean(-(y * jnp.log(p) + (1.0 - y) * jnp.log1p(-p)))

    out = []
    for case, data, peer, ours in (
        (
            "from logits",
            x_np,
            optax_logits,
            lambda x: bcelab.bce_with_logits(x, y, reduction="mean"),
        ),
        ("from probabilities", p_np, naive_probs, lambda p: bcelab.bce(p, y, reduction="mean")),
    ):
        arr = jnp.asarray(data)
        fns = {}
        for key, fn in (("peer", peer), ("bcelab", ours)):
            f = jax.jit(jax.value_and_grad(fn))
            fns[key] = lambda f=f, a=arr: jax.block_until_ready(f(a))
        out.append(
            {"framework": "JAX (jit)", "case": case, **interleaved_times(fns, repeat=repeat)}
        )
    return out


def bench_keras(backend: str, n: int, repeat: int) -> list[dict[str, Any]]:
    import keras

    import bcelab.keras as bk

    _, y_np, p_np = _inputs(n)
    y2, p2 = y_np.reshape(-1, 1), p_np.reshape(-1, 1)
    losses = {"peer": keras.losses.BinaryCrossentropy(), "bcelab": bk.BinaryCrossentropy()}
    row: dict[str, Any] = {"framework": f"Keras 3, {backend} backend", "case": "probabilities"}
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        yj, pj = jnp.asarray(y2), jnp.asarray(p2)
        fns = {}
        for key, loss in losses.items():
            f = jax.jit(jax.value_and_grad(lambda p, loss=loss: loss(yj, p)))
            fns[key] = lambda f=f: jax.block_until_ready(f(pj))
        row.update(interleaved_times(fns, repeat=repeat))
        row["framework"] += " (jit)"
    else:
        import torch

        yt = torch.from_numpy(y2)
        pt = torch.from_numpy(p2).requires_grad_(True)

        def run(loss: Any) -> None:
            pt.grad = None
            loss(yt, pt).backward()

        row.update(
            interleaved_times(
                {key: lambda loss=loss: run(loss) for key, loss in losses.items()}, repeat=repeat
            )
        )
        row["framework"] += " (eager)"
    _ = keras
    return [row]


def limit_cases(n: int, *, compile_too: bool, keras_only: bool) -> dict[str, Any]:
    """The read-8/write-4 probes and the fused forward + backward passes at N = n."""
    import torch

    x_np, y_np, p_np = _inputs(n)
    cases: dict[str, Any] = dict(read_write_probes(x_np, y_np, np.empty_like(x_np)))
    nt = os.cpu_count() or 1
    y = torch.from_numpy(y_np)

    def step(fn: Any, t: torch.Tensor, *args: Any) -> Any:
        def run() -> None:
            if torch.get_num_threads() != nt:  # the probes switch it
                torch.set_num_threads(nt)
            t.grad = None
            fn(*args).backward()

        return run

    if keras_only:
        import bcelab.keras as bk

        loss = bk.BinaryCrossentropy()
        pk = torch.from_numpy(p_np.reshape(-1, 1)).requires_grad_(True)
        y2 = torch.from_numpy(y_np.reshape(-1, 1))
        return cases | {"Keras 3 (torch backend), probabilities": step(loss, pk, y2, pk)}
    import bcelab.torch as bt
    from bcelab.kernels import fused_bce

    gx = np.empty_like(x_np)
    tx = torch.from_numpy(x_np).requires_grad_(True)
    tp = torch.from_numpy(p_np).requires_grad_(True)
    cases["torch eager, logits"] = step(bt.BCEWithLogitsLoss(), tx, tx, y)
    cases["torch eager, probabilities"] = step(bt.BCELoss(), tp, tp, y)
    # a loss divided by the steps of gradient accumulation: grad_output is 1/4, not 1
    quarter = bt.BCEWithLogitsLoss()
    cases["torch eager, logits, loss / 4"] = step(lambda: quarter(tx, y) / 4, tx)
    if compile_too:
        cases["torch.compile, logits"] = step(torch.compile(bt.BCEWithLogitsLoss()), tx, tx, y)
    for name, arr, lg in (("logits", x_np, True), ("probabilities", p_np, False)):
        cases[f"fused_bce(grad_out=), {name}"] = lambda a=arr, lg=lg: fused_bce(
            a, y_np, logits=lg, grad_out=gx
        )
    return cases


def limit_rows(n: int, repeat: int, *, compile_too: bool, keras_only: bool) -> list[list[Any]]:
    """``[pass, ns/elem, fastest probe / pass time]`` rows, timed round-robin."""
    times = interleaved_times(
        limit_cases(n, compile_too=compile_too, keras_only=keras_only),
        repeat=repeat,
        min_time=0.1,
    )
    probe = min(t for k, t in times.items() if k.startswith("add "))
    return [[f"N = {n:.0e}: {k}", t / n * 1e9, probe / t] for k, t in times.items()]


def _set_threads(n: int) -> None:
    """Pin torch and XLA to ``n`` intra-op threads (before jax is imported)."""
    if n == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    import torch

    torch.set_num_threads(n)


def keras_child(args: argparse.Namespace) -> list[Any]:
    """The rows of a Keras child process (``--keras-limit`` or ``--keras-backend``)."""
    if args.keras_limit:
        return limit_rows(
            args.keras_limit, 3 if args.quick else 5, compile_too=False, keras_only=True
        )
    _set_threads(args.threads)
    return bench_keras(args.keras_backend, args.n, 3 if args.quick else 9)


def child_rows(stdout: str) -> list[Any]:
    """A Keras child's JSON rows (its last line), after printing its other lines (a skip)."""
    lines = stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    return list(json.loads(lines[-1]))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (< 60 s)")
    ap.add_argument("--n", type=int, default=1_000_000, help="elements per loss call (default 1e6)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads for torch and XLA (default 1: stable on a shared box)",
    )
    ap.add_argument("--keras-backend", help=argparse.SUPPRESS)  # child process mode
    ap.add_argument("--keras-limit", type=int, help=argparse.SUPPRESS)  # child process mode
    args = ap.parse_args(argv)
    if args.keras_limit or args.keras_backend:  # a child: its last line is the JSON rows
        try:
            print(json.dumps(keras_child(args)))
        except ImportError as e:  # Keras, or its backend, is missing: no rows
            skip_peer(getattr(e, "name", None) or "keras", e)
            print("[]")
        return 0
    _set_threads(args.threads)
    repeat = 3 if args.quick else 9
    print(machine_line())
    rows = bench_torch(args.n, repeat, compile_too=not args.quick) + bench_jax(args.n, repeat)
    for backend in ("jax", "torch"):
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONWARNINGS": "ignore"}
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--keras-backend",
            backend,
            "--n",
            str(args.n),
            "--threads",
            str(args.threads),
            *(["--quick"] if args.quick else []),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"keras {backend} backend failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += child_rows(proc.stdout)
    x, y, _ = _inputs(args.n)
    limit = bandwidth_probe([x, y], repeat=repeat)
    body = [
        [
            r["framework"],
            r["case"],
            r["peer"] * 1e3,
            r["bcelab"] * 1e3,
            r["bcelab"] / r["peer"],
            f"{100 * limit / r['bcelab']:.1f}%",
        ]
        for r in rows
    ]
    print(
        f"N = {args.n:,} float32, mean loss + gradient (forward + backward), "
        f"medians of {repeat}; read-both-inputs limit {limit * 1e3:.3f} ms"
    )
    print(
        table(
            [
                "framework",
                "input",
                "peer ms",
                "bcelab ms",
                "ratio bcelab/peer",
                "bcelab % of bandwidth limit",
            ],
            body,
        )
    )
    print_limits(args.quick)
    return 0


def print_limits(quick: bool) -> None:
    """Forward + backward at N = 1e7 (and 1e8) on all cores against the read-8/write-4 pass."""
    rows: list[list[Any]] = []
    for n in [10**7] if quick else [10**7, 10**8]:
        rows += limit_rows(n, 3 if quick else 5, compile_too=not quick, keras_only=False)
        env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONWARNINGS": "ignore"}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--keras-limit", str(n)]
        proc = subprocess.run(
            cmd + (["--quick"] if quick else []), env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(f"keras torch backend failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += child_rows(proc.stdout)
    print(f"\nForward + backward on {os.cpu_count()} threads vs read 8 / write 4 bytes per element")
    print("(fraction = fastest add probe's time / the pass's time; target >= 0.5)")
    print(table(["pass", "ns/elem", "fraction of the read-8/write-4 limit"], rows))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
