"""The built-in model: a multilayer perceptron that outputs logits, and its initialisers.

The spec is plain data; the weights of S seeds live in one flat ``(S, P)`` tensor so
that one optimiser step is two tensor operations for all seeds and all layers.
Initialisers follow Keras: ``he_uniform`` (limit :math:`\\sqrt{6 / n_{in}}`) for hidden
layers and ``glorot_uniform`` (limit :math:`\\sqrt{6 / (n_{in} + n_{out})}`) for the
output layer, with zero biases.

>>> MLPSpec(hidden=(50,)).layer_sizes(2, 1)
[(2, 50), (50, 1)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._core.extras import TRAINING, needs_extras
from ..._core.options import check_choice, check_instance, check_positive_int
from ...errors import OptionError
from .. import rng

__all__ = ["INITIALISERS", "MLPSpec", "init_flat", "module_from_state", "state_dict"]

INITIALISERS = ("he_uniform", "glorot_uniform")


@dataclass(frozen=True)
class MLPSpec:
    """Dense layers ``n_in -> hidden... -> n_out`` with ReLU between them and logits out.

    ``hidden_init``/``output_init`` name Keras initialisers; biases start at zero.
    """

    hidden: tuple[int, ...] = (50,)
    hidden_init: str = "he_uniform"
    output_init: str = "glorot_uniform"

    def __post_init__(self) -> None:
        if any(int(h) < 1 for h in self.hidden):
            raise OptionError(
                "hidden layer sizes must be >= 1",
                f"received {self.hidden}",
                "use e.g. hidden=(50,)",
            )
        for name in ("hidden_init", "output_init"):
            check_choice(
                getattr(self, name),
                INITIALISERS,
                name=name,
                fname="MLPSpec",
                hint=f"pass {name}='he_uniform' or {name}='glorot_uniform'",
            )

    def layer_sizes(self, n_in: int, n_out: int) -> list[tuple[int, int]]:
        f = "MLPSpec.layer_sizes"
        n_in = check_positive_int(n_in, name="n_in", fname=f, example=2)
        n_out = check_positive_int(n_out, name="n_out", fname=f, example=1)
        dims = [n_in, *(int(h) for h in self.hidden), n_out]
        return list(itertools.pairwise(dims))

    def n_params(self, n_in: int, n_out: int) -> int:
        return sum(i * o + o for i, o in self.layer_sizes(n_in, n_out))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "mlp",
            "hidden": list(self.hidden),
            "hidden_init": self.hidden_init,
            "output_init": self.output_init,
        }


def _limit(init: str, fan_in: int, fan_out: int) -> float:
    if init == "he_uniform":
        return math.sqrt(6.0 / fan_in)
    return math.sqrt(6.0 / (fan_in + fan_out))


def init_flat(spec: MLPSpec, seeds: Sequence[int], n_in: int, n_out: int) -> np.ndarray:
    """``(S, P)`` float32 initial weights; row k depends only on ``seeds[k]``.

    Per layer, the kernel (``n_in x n_out``, Keras layout) comes first, then the bias.
    """
    sizes = spec.layer_sizes(n_in, n_out)
    parts = []
    for layer, (fi, fo) in enumerate(sizes):
        init = spec.output_init if layer == len(sizes) - 1 else spec.hidden_init
        lim = _limit(init, fi, fo)
        u = rng.uniform(seeds, stream=rng.INIT_STREAM + layer, n=fi * fo)
        parts.append(((2.0 * u - 1.0) * lim).astype(np.float32))
        parts.append(np.zeros((len(seeds), fo), dtype=np.float32))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def views(flat: Any, spec: MLPSpec, n_in: int, n_out: int) -> list[tuple[Any, Any]]:
    """``[(W (S, in, out), b (S, 1, out)), ...]`` views into a flat ``(S, P)`` tensor."""
    s = flat.shape[0]
    out, o = [], 0
    for fi, fo in spec.layer_sizes(n_in, n_out):
        w = flat[:, o : o + fi * fo].view(s, fi, fo)
        o += fi * fo
        b = flat[:, o : o + fo].view(s, 1, fo)
        o += fo
        out.append((w, b))
    return out


def state_dict(flat: Any, spec: MLPSpec, n_in: int, n_out: int) -> dict[str, Any]:
    """A ``torch.nn.Sequential(Linear, ReLU, ..., Linear)`` state_dict.

    With one seed the tensors have exactly the Sequential's shapes; with S seeds each
    tensor gets a leading seed dimension (pick one with ``module_from_state(..., seed_index=k)``).
    """
    sd: dict[str, Any] = {}
    single = flat.shape[0] == 1
    for i, (w, b) in enumerate(views(flat, spec, n_in, n_out)):
        wt = w.transpose(1, 2).contiguous().clone()
        bt = b[:, 0, :].contiguous().clone()
        sd[f"{2 * i}.weight"] = wt[0] if single else wt
        sd[f"{2 * i}.bias"] = bt[0] if single else bt
    return sd


@needs_extras("bcelab.train.module_from_state", TRAINING)
def module_from_state(
    state: dict[str, Any], spec: MLPSpec, n_in: int, n_out: int, *, seed_index: int | None = None
) -> Any:
    """Build the ``torch.nn.Sequential`` for one seed and load its weights."""
    import torch  # optional dependency (bcelab[train])

    check_instance(
        spec,
        MLPSpec,
        name="spec",
        fname="module_from_state",
        what="the bcelab.train.MLPSpec the weights were trained with",
        hint="pass the run's MLPSpec, e.g. load_predictor(run).spec",
    )

    layers: list[Any] = []
    sizes = spec.layer_sizes(n_in, n_out)
    for i, (fi, fo) in enumerate(sizes):
        layers.append(torch.nn.Linear(fi, fo))
        if i < len(sizes) - 1:
            layers.append(torch.nn.ReLU())
    mod = torch.nn.Sequential(*layers)
    sd = state if seed_index is None else {k: v[seed_index] for k, v in state.items()}
    mod.load_state_dict(sd)
    return mod
