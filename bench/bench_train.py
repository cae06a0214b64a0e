"""The two-circles tutorial workload side by side: bcelab vs its peers.

Every variant trains the same model (Dense(50, relu, he_uniform) -> Dense(1), SGD lr 0.01
momentum 0.9, batch 32, 200 epochs, validation every epoch where the peer supports it)
in its own Python process, so "whole process" includes imports.  Variants:

* bcelab, 1 seed and 100 seeds (``bcelab.train.fit``; whole process = ``bcelab train circles``),
  on both cores and pinned to one core (``1core``: the many-seed target may not lean on a
  free second core); the many-seed kernels are compiled (once per machine) before timing;
* a plain PyTorch loop (nn.Sequential, manual batching, torch.optim.SGD, BCEWithLogitsLoss),
  on one thread like bcelab (two threads are slower for these tiny matrices);
* scikit-learn MLPClassifier (solver sgd, momentum 0.9, batch 32, 200 iterations);
* Keras 3 on the torch (one thread) and jax backends (KERAS_BACKEND set per subprocess).

Usage: ``python bench/bench_train.py [--quick] [--repeats N]``.  ``--quick`` runs each
variant once and skips Keras (< 60 s).  Timings are medians over the repeats; ratios
are to bcelab with 1 seed, measured in the same run.  This workload is bound by
per-operation overhead, not memory bandwidth (500 x 2 floats), so no bandwidth
fraction applies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 200


def _data():
    from bcelab.train.data import builtin

    ds = builtin("circles")
    return ds.x_train, ds.y_train[:, 0], ds.x_test, ds.y_test[:, 0]


def run_bcelab(seeds: int) -> dict:
    import torch  # imported before the clock starts, as in the PyTorch loop

    from bcelab.train import MLPSpec, builtin, fit

    torch.zeros(1)
    ds = builtin("circles")
    c0 = time.process_time()
    h = fit(MLPSpec(), ds, seeds=seeds, epochs=EPOCHS)
    cpu = time.process_time() - c0
    s = h.summary()
    return {
        "train_s": h.train_time,
        "cpu_s": cpu,
        "train_acc": s["train_acc"]["mean"],
        "test_acc": s["test_acc"]["mean"],
    }


def run_torch() -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(1)  # as bcelab does for these tiny matrices (2 threads are slower here)
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in _data())
    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 50), torch.nn.ReLU(), torch.nn.Linear(50, 1))
    torch.nn.init.kaiming_uniform_(model[0].weight, nonlinearity="relu")
    torch.nn.init.zeros_(model[0].bias)
    torch.nn.init.xavier_uniform_(model[2].weight)
    torch.nn.init.zeros_(model[2].bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.BCEWithLogitsLoss()
    n = xtr.shape[0]
    for _ in range(EPOCHS):
        perm = torch.randperm(n)
        for i in range(0, n, 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            loss = lossf(model(xtr[idx])[:, 0], ytr[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            lossf(model(xte)[:, 0], yte)
    train_s, cpu = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        acc = [
            float(((model(x)[:, 0] >= 0) == (y >= 0.5)).float().mean())
            for x, y in ((xtr, ytr), (xte, yte))
        ]
    return {
        "train_s": train_s,
        "cpu_s": cpu,
        "train_acc": acc[0],
        "test_acc": acc[1],
        "np": np.__version__,
    }


def run_sklearn() -> dict:
    import warnings

    from sklearn.neural_network import MLPClassifier

    xtr, ytr, xte, yte = _data()
    clf = MLPClassifier(
        hidden_layer_sizes=(50,),
        solver="sgd",
        learning_rate_init=0.01,
        momentum=0.9,
        nesterovs_momentum=False,
        batch_size=32,
        max_iter=EPOCHS,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=EPOCHS + 1,
        random_state=0,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(xtr, ytr)
    train_s, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "train_s": train_s,
        "cpu_s": cpu,
        "train_acc": float(clf.score(xtr, ytr)),
        "test_acc": float(clf.score(xte, yte)),
        "iterations": int(clf.n_iter_),
    }


def run_keras() -> dict:
    import keras

    xtr, ytr, xte, yte = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(50, activation="relu", kernel_initializer="he_uniform"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        loss="binary_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        metrics=["accuracy"],
    )
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(xtr, ytr, validation_data=(xte, yte), epochs=EPOCHS, verbose=0, batch_size=32)
    train_s, cpu = time.perf_counter() - t0, time.process_time() - c0
    acc = [float(model.evaluate(x, y, verbose=0)[1]) for x, y in ((xtr, ytr), (xte, yte))]
    return {
        "train_s": train_s,
        "cpu_s": cpu,
        "train_acc": acc[0],
        "test_acc": acc[1],
        "backend": keras.backend.backend(),
    }


WORKERS = {
    "bcelab-1": lambda: run_bcelab(1),
    "bcelab-100": lambda: run_bcelab(100),
    "bcelab-1 1core": lambda: run_bcelab(1),
    "bcelab-100 1core": lambda: run_bcelab(100),
    "torch-loop": run_torch,
    "sklearn": run_sklearn,
    "keras-torch": run_keras,
    "keras-jax": run_keras,
}


def _spawn(variant: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    if variant.startswith("keras-"):
        env["KERAS_BACKEND"] = variant.split("-", 1)[1]
        if variant == "keras-torch":
            env["OMP_NUM_THREADS"] = "1"  # one torch thread, as for the other torch variants
    one_core = None
    if variant.endswith(" 1core"):  # pinned to one core: no help from a free second core
        one_core = min(os.sched_getaffinity(0))
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, __file__, "--worker", variant],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=None if one_core is None else lambda: os.sched_setaffinity(0, {one_core}),
    )
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["failed"])[-1]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def _cli_process(seeds: int) -> float:
    """Whole-process time of ``bcelab train circles`` (imports, training, all artifacts)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bcelab",
                "train",
                "circles",
                "--seeds",
                str(seeds),
                "--quiet",
                "--out",
                d,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0


def _compile_kernels() -> None:
    """Build (or load) the many-seed kernels once, untimed: a fresh checkout compiles them
    on first use (about half a minute, once per machine), as ``bcelab warmup`` does."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    code = "from bcelab.kernels.mlp_aot import mlp_kernels; mlp_kernels()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker]()))
        return 0
    repeats = args.repeats or (1 if args.quick else 5)
    _compile_kernels()
    load0 = _load()
    variants = ["bcelab-1", "bcelab-100", "bcelab-1 1core", "bcelab-100 1core", "torch-loop"]
    variants += ["sklearn"]
    if not args.quick:
        variants += ["keras-torch", "keras-jax"]
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    cli: dict[int, list[float]] = {1: [], 100: []}
    for _ in range(repeats):  # interleaved, so that load changes hit every variant alike
        for v in variants:
            runs[v].append(_spawn(v))
        for s in cli:
            cli[s].append(_cli_process(s))
    med = {}
    for v, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            print(f"{v}: not measured ({rs[0]['error']})")
            continue
        med[v] = {
            k: statistics.median(r[k] for r in ok)
            for k in ("train_s", "cpu_s", "process_s", "train_acc", "test_acc")
        }
    base = med.get("bcelab-1")
    print(
        f"two circles, {EPOCHS} epochs, batch 32; medians of {repeats} run(s); "
        f"{os.cpu_count()} CPUs; load average before {load0}, after {_load()}; "
        "x bcelab = variant / bcelab 1 seed (same run)"
    )
    print(
        "train s: wall time of the training call; train cpu s: its process CPU time (all "
        "threads); process s: the whole worker process (python start, imports, data, "
        "training; no artifacts)"
    )
    print(
        f"{'variant':<16} {'train s':>8} {'x bcelab':>9} {'train cpu s':>11} {'x bcelab':>9} "
        f"{'process s':>10} {'x bcelab':>9} {'train acc':>9} {'test acc':>9}"
    )
    for v, m in med.items():
        rt = m["train_s"] / base["train_s"] if base else float("nan")
        rc = m["cpu_s"] / base["cpu_s"] if base else float("nan")
        rp = m["process_s"] / base["process_s"] if base else float("nan")
        print(
            f"{v:<16} {m['train_s']:>8.3f} {rt:>9.2f} {m['cpu_s']:>11.3f} {rc:>9.2f} "
            f"{m['process_s']:>10.2f} {rp:>9.2f} {m['train_acc']:>9.3f} {m['test_acc']:>9.3f}"
        )
    for s, ts in cli.items():
        print(
            f"`bcelab train circles --seeds {s}` whole process (imports + training + "
            f"artifacts): median {statistics.median(ts):.2f} s, runs {[round(t, 2) for t in ts]}"
            + (" (target <= 3 s)" if s == 1 else "")
        )
    if base and "bcelab-100" in med:
        m100 = med["bcelab-100"]
        print(
            f"100 seeds / 1 seed training time: {m100['train_s'] / base['train_s']:.2f} wall, "
            f"{m100['cpu_s'] / base['cpu_s']:.2f} CPU (2 cores)"
        )
    one, hundred = med.get("bcelab-1 1core"), med.get("bcelab-100 1core")
    if one and hundred:
        print(
            "100 seeds / 1 seed training time on one core (both pinned to one CPU): "
            f"{hundred['train_s'] / one['train_s']:.2f} wall, "
            f"{hundred['cpu_s'] / one['cpu_s']:.2f} CPU (target <= 5)"
        )
    if base and "sklearn" in med:
        print(
            f"sklearn / bcelab 1 seed training time: {med['sklearn']['train_s'] / base['train_s']:.2f}"
            f" wall, {med['sklearn']['cpu_s'] / base['cpu_s']:.2f} CPU (target >= 1)"
        )
    keras = [m["train_s"] for v, m in med.items() if v.startswith("keras")]
    if base and keras:
        print(
            f"fastest Keras / bcelab 1 seed training time: {min(keras) / base['train_s']:.1f}"
            " (target >= 10)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
