"""Training binary classifiers (and autoencoders) with bcelab's BCE on PyTorch.

>>> from bcelab.train import builtin, fit, MLPSpec          # doctest: +SKIP
>>> h = fit(MLPSpec(hidden=(50,)), builtin("circles"), seeds=30)  # doctest: +SKIP
>>> h.summary()["test_acc"]["mean"]                          # doctest: +SKIP
0.849...

Shared parts live here (the loop, data, history, artifacts, optimisers, objectives,
predictions for new rows: :func:`predict`); the built-in MLP is in
:mod:`bcelab.train.mlp` and the autoencoders in :mod:`bcelab.train.autoencoder`.  Names load lazily: ``import bcelab.train`` does not
import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BUILTINS",
    "AutoencoderSpec",
    "Dataset",
    "DivergedError",
    "History",
    "ImageSet",
    "MLPSpec",
    "Objective",
    "Optimizer",
    "Predictor",
    "ProgressBar",
    "TableSpec",
    "as_dataset",
    "builtin",
    "fit",
    "fit_autoencoder",
    "load_checkpoint",
    "load_history",
    "load_images",
    "load_predictor",
    "load_table",
    "module_from_state",
    "predict",
    "write_predictions",
    "write_run",
]

_WHERE = {
    "AutoencoderSpec": "autoencoder.spec",
    "fit_autoencoder": "autoencoder.training",
    "ImageSet": "autoencoder.images",
    "load_images": "autoencoder.images",
    "BUILTINS": "data",
    "Dataset": "data",
    "as_dataset": "data",
    "builtin": "data",
    "load_table": "data",
    "DivergedError": "loop",
    "fit": "fitting",
    "History": "history",
    "load_history": "history",
    "MLPSpec": "mlp.models",
    "module_from_state": "mlp.models",
    "Objective": "objectives",
    "Optimizer": "optim",
    "Predictor": "predicting",
    "load_predictor": "predicting",
    "predict": "predicting",
    "write_predictions": "predicting",
    "ProgressBar": "progress",
    "TableSpec": "data",
    "load_checkpoint": "artifacts",
    "write_run": "artifacts",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'bcelab.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{mod}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
