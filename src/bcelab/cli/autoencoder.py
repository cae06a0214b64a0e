"""``bcelab train autoencoder``: train an image autoencoder and report BCE = floor + excess.

``bcelab.cli.train`` delegates the ``autoencoder`` target here.  Like every
subcommand this module has ``add_arguments(parser)``, a frozen ``Config``,
``config_from_args(namespace)`` (which checks the flags) and ``execute(config) -> int``;
only this layer prints.

Artifacts (``--out DIR``, default ``runs/autoencoder-<timestamp>/``): ``history.csv``,
``history.json``, ``model.pt`` (a state_dict), ``checkpoint.pt`` (from which
``--resume DIR`` continues bit for bit), ``summary.json``, ``reconstructions.png``,
``curves.png`` and ``per_pixel_excess.png``.  The folder is built beside its place and
swapped in whole (:func:`bcelab._core.atomic.replace_dir`), so an error never leaves a
half-written run behind; while training, the run folder (without the figures) is saved
every ``--checkpoint-every`` epochs (default: every 30 seconds), and a second Ctrl-C
waits until the run is saved.  With ``--compare-losses`` each loss gets a sub-folder
and the top-level ``summary.json`` compares their final test excess.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._core.atomic import replace_dir, write_json
from ..errors import OptionError
from ..information import binary_entropy
from ..train import interrupts
from ..train.artifacts import RUN_FILES, load_checkpoint, write_run
from ..train.autoencoder.figures import plot_curves, plot_per_pixel_excess, plot_reconstructions
from ..train.autoencoder.images import ImageSet, load_images
from ..train.autoencoder.spec import LOSSES, MIN_CONV_SIZE, AutoencoderSpec
from ..train.autoencoder.training import AutoencoderResult, fit_autoencoder
from ..train.loop import DivergedError
from . import flags, run_folder
from .autoencoder_flags import DEFAULTS, FLAG_NAMES, KEPT, add_arguments

__all__ = ["Config", "add_arguments", "config_from_args", "execute", "final_line", "run"]

#: what an output folder may hold: one run, or one sub-folder per loss with --compare-losses
ALLOWED = RUN_FILES


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
    resume: str | None = None
    overwrite: bool = False
    checkpoint_every: int | None = None
    given: frozenset[str] = frozenset()


def _resume_folder(path: str, compare_losses: bool) -> str:
    """``--resume DIR``: one run's folder; a ``--compare-losses`` folder is resumed one
    loss's sub-folder at a time (each is a run of its own)."""
    p = Path(path)
    runs = [loss for loss in LOSSES if (p / loss / "checkpoint.pt").is_file()]
    if runs and not (p / "checkpoint.pt").is_file():
        raise OptionError(
            "--resume continues one run",
            f"received {path!r}, a --compare-losses folder with one run per loss "
            f"({', '.join(runs)})",
            f"resume one loss's sub-folder, e.g. --resume {p / runs[0]}",
        )
    resume = flags.check_resume_dir(path)
    if compare_losses:
        raise OptionError(
            "--resume continues one run, with its own loss",
            "received --compare-losses too",
            "leave out --compare-losses; a --compare-losses folder is resumed one loss's "
            "sub-folder at a time, e.g. --resume DIR/bce",
        )
    return resume


def config_from_args(ns: argparse.Namespace) -> Config:
    """The options, each checked and named as a flag, and the output folder, before any
    data is read."""
    given = frozenset(k for k in DEFAULTS if hasattr(ns, k))
    v = {k: getattr(ns, k, d) for k, d in DEFAULTS.items()}
    if ns.compare_losses and "loss" in given:  # every loss is trained: one chosen is none
        raise OptionError(
            "--compare-losses trains one run per loss: it takes no --loss",
            f"received --compare-losses --loss {v['loss']}",
            "leave out --loss to compare every loss, or --compare-losses to train with one",
        )
    resume = None if ns.resume is None else _resume_folder(ns.resume, ns.compare_losses)
    if ns.out is not None:
        out = ns.out
    elif resume is not None:
        out = str(Path(resume).parent if Path(resume).is_file() else Path(resume))
    else:
        out = str(Path("runs") / time.strftime("autoencoder-%Y%m%d-%H%M%S"))
    run_folder.check_out_folder(out, allowed=ALLOWED, resume=resume, overwrite=ns.overwrite)
    return Config(
        None
        if v["data"] is None
        else flags.check_existing_file(v["data"], "--data", ".npz or IDX file"),
        v["arch"],
        flags.check_positive(v["epochs"], "--epochs", 100),
        flags.check_positive(v["batch_size"], "--batch-size", 32),
        flags.check_lr(v["lr"], "1e-3"),
        v["loss"],
        flags.check_seed(v["seed"]),
        out,
        ns.quiet,
        ns.compare_losses,
        flags.check_positive(v["threads"], "--threads", 1),
        resume,
        ns.overwrite,
        flags.check_checkpoint_every(ns.checkpoint_every),
        given,
    )


def _saved_options(cfg: Config, loss: str) -> dict[str, Any]:
    """The options a resumed run takes again (summary.json and the checkpoint)."""
    skip = ("given", "out", "resume", "quiet", "overwrite", "checkpoint_every")
    saved = {**{k: v for k, v in asdict(cfg).items() if k not in skip}, "loss": loss}
    return run_folder.saved_paths(saved, None)  # a resume from another directory finds them


def _resumed(cfg: Config) -> Config:
    """The run's own options, with a larger --epochs if given; other differences refused."""
    assert cfg.resume is not None
    ck = load_checkpoint(cfg.resume)
    info = ck.get("run_info", {})
    saved = run_folder.saved_paths(info.get("cli", {}), info.get("cwd"))
    known = {f.name for f in fields(Config)} - {"given"}
    old = replace(Config(), **{k: v for k, v in saved.items() if k in known})
    # a --compare-losses sub-folder is one loss's run: it goes on as a one-loss run
    old = replace(old, compare_losses=False)
    run_folder.check_resumed(
        asdict(old),
        asdict(cfg),
        given=cfg.given,
        kept=KEPT,
        flags=FLAG_NAMES,
        done=int(ck.get("history", {}).get("epochs", 0)),
    )
    typed = {k: getattr(cfg, k) for k in run_folder.PATH_OPTIONS if k in cfg.given}
    resumed = replace(run_folder.resumed_config(old, cfg), **typed)
    run_folder.check_saved_files(resumed, info.get("cli", {}))
    return resumed


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
        "cli": _saved_options(cfg, loss),
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


def _check_arch(cfg: Config, data: ImageSet) -> None:
    """``--arch conv`` needs images of at least MIN_CONV_SIZE pixels a side."""
    _, h, w = data.image_shape
    if cfg.arch == "conv" and min(h, w) < MIN_CONV_SIZE:
        raise OptionError(
            f"--arch conv needs images of at least {MIN_CONV_SIZE}x{MIN_CONV_SIZE}",
            f"received {h}x{w} images",
            "use --arch dense for small images such as the 8x8 digits",
        )


def _train(cfg: Config, data: ImageSet, out: Path, *, echo: bool) -> dict[str, AutoencoderResult]:
    """One run per loss (all of them with ``--compare-losses``), until one is interrupted.

    A single run saves its checkpoints into ``out`` while it trains."""
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
                    "cli": _saved_options(cfg, loss),
                    "cwd": str(Path.cwd()),
                },
                resume=cfg.resume,
                checkpoint_every=cfg.checkpoint_every,
                checkpoint_dir=None if cfg.compare_losses else out,
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
                "config": _saved_options(cfg, cfg.loss),
                "data": {"source": data.source, "scaling": data.scaling},
                "final_test": {k: s["final_test"] for k, s in summaries.items()},
                "final_test_excess": {k: s["final_test"]["excess"] for k, s in summaries.items()},
            },
        )


def run(cfg: Config, *, echo: bool = True) -> tuple[Path, dict[str, AutoencoderResult]]:
    """Train (one loss, or all with ``compare_losses``), write the artifacts, return them.

    The run folder is built beside its place and swapped in whole; from the first
    Ctrl-C on, later ones wait until it is saved."""
    if cfg.resume is not None:
        cfg = _resumed(cfg)
    data = load_images(cfg.data)
    _check_arch(cfg, data)  # before any training
    if echo:
        print(f"data: {data.describe()}")
    out = Path(cfg.out) if cfg.out else Path("runs") / time.strftime("autoencoder-%Y%m%d-%H%M%S")
    with interrupts.guarded():
        results = _train(cfg, data, out, echo=echo)
        if not any(r.history.epochs for r in results.values()):
            raise KeyboardInterrupt  # stopped before a single epoch: nothing worth keeping
        interrupts.hold()  # a Ctrl-C from here on waits until the run is saved
        with replace_dir(out, ALLOWED, fname="", name="--out") as staging:
            _stage(staging, cfg, data, results)
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
        how = (
            ""
            if cfg.compare_losses
            else f"; continue with: bcelab train autoencoder --resume {out}"
        )
        print(f"interrupted: kept the epochs trained so far in {out}{how}", file=sys.stderr)
        return 130
    return 0
