"""bcelab on a CUDA GPU against torch's own loss and a plain training loop.

Usage: python bench/bench_gpu.py [--quick] [--device cpu] [--parts 1,2,3]

Three parts, each timed in turns with its peers in one process (CUDA work is timed to
a ``torch.cuda.synchronize``):

1. The torch adapter's loss, forward + backward, from logits and from probabilities at
   N = 1e7 and 1e8 float32, against ``torch.nn.BCEWithLogitsLoss`` / ``BCELoss`` and a
   read-8-bytes/write-4-bytes probe (``torch.add(a, b, out=g)``) on the same device.
2. ``BinaryStats.update`` from CUDA tensors (a copy to the host, then the compiled CPU
   kernel) against the same update from host arrays, the copy alone, and torch's own
   mean loss on the device.
3. ``bcelab.train.fit`` on the two-circles tutorial (200 epochs, batch 32) for 1 and 100
   seeds on the GPU and on the CPU, against a plain torch loop (``nn.Sequential``,
   ``torch.optim.SGD``, the per-epoch train and test losses) for one seed.

Without a GPU it exits 0 with a line that says so (``make bench`` runs everywhere);
``--device cpu`` runs the same code on the CPU, to check the script itself.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import machine_line, table

try:
    import torch
except ImportError:  # a base install: nothing to compare on a GPU
    torch = None


def synced(dev: Any) -> Callable[[], None]:
    if dev.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def timed(fns: dict[str, Callable[[], Any]], dev: Any, *, repeat: int = 7, min_time: float = 0.05):
    """Median seconds per call of each function, timed round-robin, each batch of calls
    ended by a device synchronisation."""
    sync = synced(dev)
    inner = {}
    for name, fn in fns.items():
        fn()
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        one = max(time.perf_counter() - t0, 1e-7)
        inner[name] = max(1, min(1000, int(min_time / one)))
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            sync()
            runs[name].append((time.perf_counter() - t0) / inner[name])
    return {name: statistics.median(v) for name, v in runs.items()}


def adapter(dev: Any, sizes: list[int]) -> None:
    print("\n## 1. torch adapter, forward + backward (float32)\n")
    rows = []
    for n in sizes:
        rows += _adapter_rows(dev, n)
    print()
    head = ["N", "input", "bcelab ms", "torch ms", "torch/bcelab", "bcelab % probe"]
    print(table([*head, "torch % probe", "bcelab rel err", "torch rel err"], rows))


def _inputs(dev: Any, n: int) -> tuple[Any, Any, Any, Callable[[], Any]]:
    """Logits, probabilities (both requiring a gradient), 0/1 targets, and the
    read-8-bytes/write-4-bytes probe over ``n`` float32 elements on ``dev``."""
    g = torch.Generator(device=dev).manual_seed(0)
    z = torch.randn(n, device=dev, generator=g).mul_(3).requires_grad_()
    p = torch.rand(n, device=dev, generator=g).clamp_(1e-6, 1 - 1e-6).requires_grad_()
    y = (torch.rand(n, device=dev, generator=g) < 0.5).float()
    a, b, out = torch.rand(n, device=dev), torch.rand(n, device=dev), torch.empty(n, device=dev)
    return z, p, y, lambda: torch.add(a, b, out=out)


def _step(loss: Any, x: Any, y: Any) -> Callable[[], None]:
    """One forward + backward of ``loss(x, y)``."""

    def run() -> None:
        x.grad = None
        loss(x, y).backward()

    return run


def compiled(dev: Any, n: int) -> None:
    """Forward + backward inside ``torch.compile``, where Inductor fuses bcelab's formulas."""
    import bcelab.torch as bt

    print(f"\n## 1b. the same step under torch.compile (N = {n:.0e})\n")
    z, p, y, probe = _inputs(dev, n)
    fns = {"probe": probe}
    first = {}
    for name, loss, x in (
        ("bcelab logits", bt.BCEWithLogitsLoss(), z),
        ("torch logits", torch.nn.BCEWithLogitsLoss(), z),
        ("bcelab probs", bt.BCELoss(), p),
        ("torch probs", torch.nn.BCELoss(), p),
    ):
        fns[name] = _step(torch.compile(loss, dynamic=False), x, y)
        t0 = time.perf_counter()
        fns[name]()
        synced(dev)()
        first[name] = time.perf_counter() - t0
    t = timed(fns, dev)
    rows = [
        [
            name,
            f"{first[name]:.1f}",
            f"{t[name] * 1e3:.3f}",
            f"{t['probe'] / t[name]:.0%}",
        ]
        for name in first
    ]
    print(table(["compiled step", "first call s", "ms", "% probe"], rows))


def _adapter_rows(dev: Any, n: int) -> list[list[str]]:
    import bcelab.torch as bt

    z, p, y, probe = _inputs(dev, n)
    step = functools.partial(_step, y=y)

    t = timed(
        {
            "probe": probe,
            "bcelab logits": step(bt.BCEWithLogitsLoss(), z),
            "torch logits": step(torch.nn.BCEWithLogitsLoss(), z),
            "bcelab probs": step(bt.BCELoss(), p),
            "torch probs": step(torch.nn.BCELoss(), p),
        },
        dev,
    )
    with torch.no_grad():  # accuracy of the mean against float64, same inputs
        err = _errors(bt, z, p, y)
    print(f"probe (read 8 B, write 4 B per element) at N = {n:.0e}: {t['probe'] * 1e3:.3f} ms")
    rows = []
    for kind in ("logits", "probs"):
        ours, theirs = t[f"bcelab {kind}"], t[f"torch {kind}"]
        rows.append(
            [
                f"{n:.0e}",
                kind,
                f"{ours * 1e3:.3f}",
                f"{theirs * 1e3:.3f}",
                f"{theirs / ours:.2f}",
                f"{t['probe'] / ours:.0%}",
                f"{t['probe'] / theirs:.0%}",
                f"{err[f'bcelab {kind}']:.1e}",
                f"{err[f'torch {kind}']:.1e}",
            ]
        )
    return rows


def _errors(bt: Any, z: Any, p: Any, y: Any) -> dict[str, float]:
    """Relative error of each float32 mean loss against the float64 mean of the same inputs."""
    f = torch.nn.functional
    ref = {
        "logits": float(f.binary_cross_entropy_with_logits(z.double(), y.double())),
        "probs": float(f.binary_cross_entropy(p.double(), y.double())),
    }
    got = {
        "bcelab logits": bt.BCEWithLogitsLoss()(z, y),
        "torch logits": torch.nn.BCEWithLogitsLoss()(z, y),
        "bcelab probs": bt.BCELoss()(p, y),
        "torch probs": torch.nn.BCELoss()(p, y),
    }
    return {k: abs(float(v) - ref[k.split()[1]]) / ref[k.split()[1]] for k, v in got.items()}


def stats(dev: Any, sizes: list[int]) -> None:
    print("\n## 2. BinaryStats.update from device tensors (probabilities, float32)\n")
    rows = []
    for n in sizes:
        rows += _stats_rows(dev, n)
    print()
    print(table(["N", "what", "ms", "G rows/s", "time / update(device)"], rows))


def _stats_rows(dev: Any, n: int) -> list[list[str]]:
    from bcelab._core.host_copy import to_host
    from bcelab.metrics import BinaryStats

    g = torch.Generator(device=dev).manual_seed(1)
    p = torch.rand(n, device=dev, generator=g)
    y = (torch.rand(n, device=dev, generator=g) < p).float()
    ph, yh = p.cpu().numpy(), y.cpu().numpy()
    same = BinaryStats().update(p, y).to_bytes() == BinaryStats().update(ph, yh).to_bytes()
    print(f"N = {n:.0e}: state from device tensors == state from host arrays: {same}")
    t = timed(
        {
            "update(device tensors)": lambda: BinaryStats().update(p, y),
            "update(host arrays)": lambda: BinaryStats().update(ph, yh),
            "copy only: tensor.cpu()": lambda: (p.cpu(), y.cpu()),
            "copy only: pinned chunks": lambda: (to_host(p), to_host(y)),
            "torch BCE mean on device": lambda: float(
                torch.nn.functional.binary_cross_entropy(p, y)
            ),
        },
        dev,
        repeat=5,
    )
    base = t["update(device tensors)"]
    return [
        [f"{n:.0e}", name, f"{s * 1e3:.2f}", f"{n / s / 1e9:.2f}", f"{s / base:.2f}"]
        for name, s in t.items()
    ]


def plain_loop(dev: Any, ds: Any, epochs: int) -> float:
    """The tutorial in plain torch on ``dev``: per-epoch train loss (mean of the batch
    losses) and test loss, like ``fit`` reports; returns the final test accuracy."""
    torch.manual_seed(0)
    xtr = torch.from_numpy(ds.x_train).to(dev)
    ytr = torch.from_numpy(ds.y_train).to(dev)
    xte = torch.from_numpy(ds.x_test).to(dev)
    yte = torch.from_numpy(ds.y_test).to(dev)
    net = torch.nn.Sequential(torch.nn.Linear(2, 50), torch.nn.ReLU(), torch.nn.Linear(50, 1)).to(
        dev
    )
    for layer in (net[0], net[2]):
        torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
        torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    n, history = xtr.shape[0], []
    for _ in range(epochs):
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        for i in range(0, n, 32):
            idx = perm[i : i + 32]
            loss = loss_fn(net(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.shape[0]
        with torch.no_grad():
            test = loss_fn(net(xte), yte)
        history.append((float(total) / n, float(test)))
    with torch.no_grad():
        return float(((net(xte) >= 0) == (yte >= 0.5)).float().mean())


def training(dev: Any, epochs: int, many: int) -> None:
    from bcelab.train import MLPSpec, builtin, fit

    print(f"\n## 3. Training the two-circles tutorial, {epochs} epochs, batch 32\n")
    ds = builtin("circles")
    fit(MLPSpec(), ds, epochs=1, seeds=many)  # compile the CPU kernels outside the timings
    fit(MLPSpec(), ds, epochs=1, seeds=many, device=dev)  # start the device (kernels, cuBLAS)
    plain_loop(dev, ds, 1)
    rows, times = [], {}
    for where in (dev, torch.device("cpu")):
        for seeds in (1, many):
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                h = fit(MLPSpec(), ds, epochs=epochs, seeds=seeds, device=where)
                runs.append(time.perf_counter() - t0)
            s = statistics.median(runs)
            times[(where.type, seeds)] = s
            acc = float(h.final["test_acc"].mean())
            rows.append([f"bcelab fit, {seeds} seed(s)", where.type, f"{s:.2f}", f"{acc:.4f}"])
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            acc = plain_loop(where, ds, epochs)
            runs.append(time.perf_counter() - t0)
        times[(where.type, "plain")] = statistics.median(runs)
        rows.append(
            [
                "plain torch loop, 1 seed",
                where.type,
                f"{times[(where.type, 'plain')]:.2f}",
                f"{acc:.4f}",
            ]
        )
    print(table(["run", "device", "wall s (median of 3)", "test acc (mean)"], rows))
    d = dev.type
    print()
    print(f"{d}: bcelab 1 seed / plain loop 1 seed: {times[(d, 1)] / times[(d, 'plain')]:.2f}")
    print(f"{d}: bcelab {many} seeds / bcelab 1 seed: {times[(d, many)] / times[(d, 1)]:.2f}")
    print(
        f"{d}: bcelab {many} seeds / plain loop 1 seed: {times[(d, many)] / times[(d, 'plain')]:.2f}"
        f" (a plain loop takes about {many}x its one-seed time for {many} seeds)"
    )
    print(
        f"cpu: bcelab {many} seeds / {d} bcelab {many} seeds: {times[('cpu', many)] / times[(d, many)]:.2f}"
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 1e5 and 1e6, 5 epochs")
    ap.add_argument(
        "--device", default="cuda", help="cuda (default), cuda:N, or cpu to check the script"
    )
    ap.add_argument(
        "--parts",
        default="1,2,3",
        help="1 the torch adapter, 2 BinaryStats.update, 3 training (default: all)",
    )
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts <= {"1", "2", "3"}:
        ap.error(f"--parts takes 1, 2 and 3, separated by commas; received {args.parts!r}")
    if torch is None:
        print("torch is not installed: pip install 'bcelab[train]'")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU here (torch.cuda.is_available() is False): nothing to run")
        return 0
    dev = torch.device(args.device)
    print(machine_line())
    if dev.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(dev)}; torch {torch.__version__}")
    small = args.quick or dev.type == "cpu"
    sizes = [10**5, 10**6] if small else [10**7, 10**8]
    if "1" in parts:
        adapter(dev, sizes)
        if dev.type == "cuda":
            compiled(dev, sizes[-1])
    if "2" in parts:
        stats(dev, sizes)
    if "3" in parts:
        training(dev, 5 if small else 200, 100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
