"""``bcelab train autoencoder``: train an image autoencoder and report BCE = floor + excess.

``bcelab.cli.train`` delegates the ``autoencoder`` target here.  Like every
subcommand this module has ``add_arguments(parser)``, a frozen ``Config``,
``config_from_args(namespace)`` (which checks the flags) and ``execute(config) -> int``;
only this layer prints.

Artifacts (``--out DIR``, default ``runs/autoencoder-<timestamp>/``): ``history.csv``,
``history.json``, ``model.pt`` (a state_dict), ``checkpoint.pt`` (from which
``bcelab.train.fit_autoencoder(..., resume=DIR)`` continues), ``summary.json``,
``reconstructions.png``, ``curves.png`` and ``per_pixel_excess.png``.  They are written into a hidden staging
folder first and moved into place only when all of them exist, so an error never
leaves a half-written run behind.  With ``--compare-losses`` each loss gets a
sub-folder and the top-level ``summary.json`` compares their final test excess.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._core.atomic import write_json
from ..errors import OptionError
from ..information import binary_entropy
from ..train.artifacts import write_run
from ..train.autoencoder.figures import plot_curves, plot_per_pixel_excess, plot_reconstructions
from ..train.autoencoder.images import ImageSet, load_images
from ..train.autoencoder.spec import ARCHS, LOSSES, MIN_CONV_SIZE, AutoencoderSpec
from ..train.autoencoder.training import AutoencoderResult, fit_autoencoder
from ..train.loop import DivergedError
from . import flags

__all__ = ["Config", "add_arguments", "config_from_args", "execute", "final_line", "run"]


@dataclass(frozen=True)
class Config:
    data: str | None = None
    arch: str = "dense"
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    loss: str = "bce"
    seed: int = 0
    out: str | None = None
    quiet: bool = False
    compare_losses: bool = False
    threads: int = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        metavar="FILE",
        default=None,
        help="images: FILE.npz with an array x of shape (N,H,W) or (N,H,W,C), float "
        "in [0,1] or uint8 0..255; or an MNIST-style IDX file "
        "(train-images-idx3-ubyte[.gz]). Default: scikit-learn's 8x8 digits",
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default="dense",
        help="dense: D->32->16->32->D (default); conv: small convolutional "
        "autoencoder for images of 16x16 and larger",
    )
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default="bce",
        help="bce (default); kl = BCE minus the floor (same gradient, goes to 0 at a "
        "perfect reconstruction); mse (for comparison)",
    )
    p.add_argument(
        "--compare-losses",
        action="store_true",
        help="train once with each of bce, kl and mse (same seed) and compare their "
        "final test excess",
    )
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output folder (default runs/autoencoder-<timestamp>/)",
    )
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: fastest for these small models)",
    )


def config_from_args(ns: argparse.Namespace) -> Config:
    """The options, each checked and named as a flag, before any data is read."""
    return Config(
        None
        if ns.data is None
        else flags.check_existing_file(ns.data, "--data", ".npz or IDX file"),
        ns.arch,
        flags.check_positive(ns.epochs, "--epochs", 100),
        flags.check_positive(ns.batch_size, "--batch-size", 32),
        flags.check_lr(ns.lr, "1e-3"),
        ns.loss,
        flags.check_seed(ns.seed),
        ns.out,
        ns.quiet,
        ns.compare_losses,
        flags.check_positive(ns.threads, "--threads", 1),
    )


def final_line(result: AutoencoderResult) -> str:
    """``test BCE 0.2619 = floor 0.2141 + excess 0.0478 (the part training can still reduce)``."""
    return f"test {result.test}"


def _epoch_line(epochs: int, loss: str) -> Any:
    width = len(str(epochs))

    def show(epoch: int, row: dict[str, float]) -> None:
        print(
            f"epoch {epoch:>{width}}/{epochs}  {loss} {row['loss']:.4f} | train excess "
            f"{row['train_excess']:.4f} | test BCE "
            f"{row['test_bce']:.4f} = floor {row['test_floor']:.4f} + excess "
            f"{row['test_excess']:.4f} ({100 * row['test_excess_fraction']:.1f}%)  "
            f"MSE {row['test_mse']:.4f}  PSNR {row['test_psnr']:.1f} dB",
            flush=True,
        )

    return show


def _run_info(cfg: Config, loss: str, data: ImageSet, res: AutoencoderResult) -> dict[str, Any]:
    """The autoencoder's entries of summary.json (next to the trainer's config and final)."""
    return {
        "command": "bcelab train autoencoder",
        "cli": {**asdict(cfg), "loss": loss},
        "data": {
            "source": data.source,
            "scaling": data.scaling,
            "n_train": len(data.train),
            "n_test": len(data.test),
            "image_shape_chw": list(data.image_shape),
        },
        "parameters": sum(p.numel() for p in res.model.parameters()),
        "final_train": res.train.as_dict() | {"count": res.train.count},
        "final_test": res.test.as_dict() | {"count": res.test.count},
        "final_line": final_line(res),
    }


def _write_run(
    folder: Path, cfg: Config, loss: str, data: ImageSet, res: AutoencoderResult
) -> dict[str, Any]:
    """The three figures, then the trainer's run files (history, model.pt, checkpoint.pt,
    summary.json)."""
    hist = res.history
    columns = {"epoch": list(range(1, hist.epochs + 1))}
    columns.update({k: v[0].tolist() for k, v in hist.metrics.items()})
    plot_reconstructions(
        res.originals,
        res.reconstructions,
        folder / "reconstructions.png",
        title=f"Test images (top) and their reconstructions (bottom), --loss {loss}",
    )
    plot_curves(
        columns, folder / "curves.png", loss=loss, title=f"Autoencoder trained with --loss {loss}"
    )
    floor_map = np.asarray(binary_entropy(data.test.astype(np.float64))).mean(axis=0)
    plot_per_pixel_excess(
        res.per_pixel_excess, folder / "per_pixel_excess.png", floor_map=floor_map
    )
    info = _run_info(cfg, loss, data, res)
    write_run(
        folder,
        hist,
        model_state=hist.model_state,
        checkpoint=res.checkpoint,
        run_info=info,
        figure=False,
    )
    return info


def _publish(staging: Path, out: Path) -> None:
    """Move every staged file into ``out`` (each move is an atomic rename)."""
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(p for p in staging.rglob("*") if p.is_file()):
        dst = out / src.relative_to(staging)
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.replace(dst)


def _check_arch(cfg: Config, data: ImageSet) -> None:
    """``--arch conv`` needs images of at least MIN_CONV_SIZE pixels a side."""
    _, h, w = data.image_shape
    if cfg.arch == "conv" and min(h, w) < MIN_CONV_SIZE:
        raise OptionError(
            f"--arch conv needs images of at least {MIN_CONV_SIZE}x{MIN_CONV_SIZE}",
            f"received {h}x{w} images",
            "use --arch dense for small images such as the 8x8 digits",
        )


def _train(cfg: Config, data: ImageSet, *, echo: bool) -> dict[str, AutoencoderResult]:
    """One run per loss (all of them with ``--compare-losses``), until one is interrupted."""
    losses = LOSSES if cfg.compare_losses else (cfg.loss,)
    results: dict[str, AutoencoderResult] = {}
    for loss in losses:
        if cfg.compare_losses and echo:
            print(f"--- loss {loss} ---")
        try:
            results[loss] = fit_autoencoder(
                data,
                AutoencoderSpec(cfg.arch),
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                loss=loss,
                seed=cfg.seed,
                threads=cfg.threads,
                on_epoch=None if (cfg.quiet or not echo) else _epoch_line(cfg.epochs, loss),
                run_info={
                    "command": "bcelab train autoencoder",
                    "cli": {**asdict(cfg), "loss": loss},
                },
            )
        except DivergedError as e:
            raise DivergedError(
                e.expected,
                e.received,
                f"lower --lr (e.g. --lr {cfg.lr / 10:g}) or check the images",
            ) from None
        if results[loss].interrupted:
            break
    return results


def _stage(
    staging: Path, cfg: Config, data: ImageSet, results: dict[str, AutoencoderResult]
) -> None:
    """Every artifact of every run into ``staging`` (a sub-folder per loss when comparing)."""
    summaries = {}
    for loss, res in results.items():
        if not res.history.epochs:
            continue
        folder = staging / loss if cfg.compare_losses else staging
        summaries[loss] = _write_run(folder, cfg, loss, data, res)
    if cfg.compare_losses:
        write_json(
            staging / "summary.json",
            {
                "command": "bcelab train autoencoder --compare-losses",
                "config": asdict(cfg),
                "data": {"source": data.source, "scaling": data.scaling},
                "final_test": {k: s["final_test"] for k, s in summaries.items()},
                "final_test_excess": {k: s["final_test"]["excess"] for k, s in summaries.items()},
            },
        )


def run(cfg: Config, *, echo: bool = True) -> tuple[Path, dict[str, AutoencoderResult]]:
    """Train (one loss, or all with ``compare_losses``), write the artifacts, return them."""
    data = load_images(cfg.data)
    _check_arch(cfg, data)  # before any training
    if echo:
        print(f"data: {data.describe()}")
    out = Path(cfg.out) if cfg.out else Path("runs") / time.strftime("autoencoder-%Y%m%d-%H%M%S")
    results = _train(cfg, data, echo=echo)
    if not any(r.history.epochs for r in results.values()):
        raise KeyboardInterrupt  # stopped before a single epoch: nothing worth keeping
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        _stage(staging, cfg, data, results)
        _publish(staging, out)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return out, results


def _print_comparison(results: dict[str, AutoencoderResult]) -> None:
    print(
        f"\n{'loss':<5} {'test BCE':>9} {'floor':>7} {'excess':>7} {'excess%':>8} "
        f"{'MSE':>7} {'PSNR dB':>8}"
    )
    for loss, r in results.items():
        t = r.test
        print(
            f"{loss:<5} {t.bce:>9.4f} {t.floor:>7.4f} {t.excess:>7.4f} "
            f"{100 * t.excess_fraction:>7.1f}% {t.mse:>7.4f} {t.psnr:>8.2f}"
        )
    best = min(results, key=lambda k: results[k].test.excess)
    print(f"lowest final test excess: --loss {best} ({results[best].test.excess:.4f})")


def execute(cfg: Config) -> int:
    out, results = run(cfg)
    if cfg.compare_losses:
        _print_comparison(results)
    for loss, r in results.items():
        folder = out / loss if cfg.compare_losses else out
        prefix = f"[{loss}] " if cfg.compare_losses else ""
        print(f"{prefix}{final_line(r)}")
        print(f"{prefix}reconstructions: {folder / 'reconstructions.png'}")
    if any(r.interrupted for r in results.values()):
        print("interrupted: kept the epochs trained so far", file=sys.stderr)
        return 130
    return 0
