"""Many seeds as one computation: the MLP with a leading seed dimension on every weight.

For S seeds the weights of layer l are ``W (S, n_in, n_out)`` and ``b (S, 1, n_out)``,
views into one flat ``(S, P)`` tensor (per layer the kernel, then the bias).  The
activations are kept feature-major, ``(S, features, batch)``, so that every product is
a ``torch.bmm`` whose output has the batch as its long side (a 1-wide output layer is
then a row vector times a matrix, not S separate matrix-vector products):

.. math::

    h_1^T = \\mathrm{relu}([W_1; b_1]^T [x, 1]^T), \\; \\ldots, \\;
    z^T = W_{L+1}^T h_L^T + b_{L+1}^T

followed by the hand-written backward pass (:mod:`.steps`) from the loss gradient that
:mod:`bcelab.train.objectives` takes from :mod:`bcelab._core.formulas`, and one optimiser
update of the flat tensor.  The first layer's bias rides in its GEMM (the inputs carry
a column of ones).  Each seed has its own initial weights and its own shuffle every
epoch (:mod:`bcelab.train.rng`, gathered by :mod:`.plans`); nothing loops over seeds
in Python.  A 1-seed run is the same code with S = 1 (about 20 tensor operations per
batch, no autograd bookkeeping, every batch a view into buffers filled once per epoch);
many seeds of the one-hidden-layer model take a factored backward pass
(:func:`.steps.factored_epoch`), equal up to rounding.

Many seeds of one hidden layer and one output run compiled loops instead
(:mod:`bcelab.kernels.mlp`, when numba is installed): the test-set logits always, and
with 0/1 targets and SGD the whole epoch, seed after seed, with the same shuffles and
the same formulas (equal to the torch steps up to float32 rounding).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._core.slow import notify_if_slow
from ...kernels.mlp_aot import mlp_kernels
from ..objectives import Objective
from ..optim import Optimizer
from . import models, steps
from .plans import EpochPlans

__all__ = ["BatchedMLP", "compiled_kernels"]

Tensor = Any

#: said (a ``logging`` warning) when getting the compiled loops takes longer than a second
COMPILE_NOTICE = (
    "bcelab: compiling the training kernels once for this machine (up to a minute; later "
    "runs load them at once; `bcelab warmup` does this ahead of time)"
)


def compiled_kernels() -> Any:
    """:func:`bcelab.kernels.mlp_aot.mlp_kernels` (None without numba), with a notice when
    they are compiled (the first many-seed run on a machine, unless warmed up)."""
    with notify_if_slow(1.0, lambda: logging.getLogger("bcelab").warning(COMPILE_NOTICE)):
        return mlp_kernels()


class BatchedMLP:
    """S independently initialised and shuffled copies of an :class:`~.models.MLPSpec`."""

    def __init__(
        self,
        spec: models.MLPSpec,
        seeds: Sequence[int],
        x: Tensor,
        y: Tensor,
        *,
        batch_size: int,
        objective: Objective,
        optimizer: Optimizer,
    ) -> None:
        import torch  # optional dependency (bcelab[train])

        self.spec, self.seeds = spec, [int(s) for s in seeds]
        self.x, self.y = x, y  # (N, D), (N, K) float32
        self.n_in, self.n_out = int(x.shape[1]), int(y.shape[1])
        self.batch_size, self.objective, self.optimizer = batch_size, objective, optimizer
        init = models.init_flat(spec, self.seeds, self.n_in, self.n_out)
        self.device = dev = x.device  # the CPU or a GPU: every tensor of the run lives there
        self.flat = torch.from_numpy(init).to(dev)
        self.gflat = torch.zeros_like(self.flat)
        self.layers = models.views(self.flat, spec, self.n_in, self.n_out)
        self.glayers = models.views(self.gflat, spec, self.n_in, self.n_out)
        self.opt_state = optimizer.init_state([self.flat])
        s = self.n_seeds
        # cached views (the flat tensors are only ever updated in place)
        self.wts = [w.transpose(1, 2) for w, _ in self.layers]  # (S, out, in)
        self.bts = [b.transpose(1, 2) for _, b in self.layers]  # (S, out, 1)
        # gradient outputs: a 1-wide kernel (S, in, 1) has the memory layout of (S, 1, in)
        self.gws = [
            gw.view(s, 1, gw.shape[1]) if gw.shape[2] == 1 else gw for gw, _ in self.glayers
        ]
        self.gbs = [gb.view(s, gb.shape[2], 1) for _, gb in self.glayers]
        # the first layer's [W; b] as one (S, D + 1, H) matrix (the bias follows the kernel)
        h1 = self.layers[0][0].shape[2]
        self.w1a = self.flat[:, : (self.n_in + 1) * h1].view(s, self.n_in + 1, h1)
        self.gw1a = self.gflat[:, : (self.n_in + 1) * h1].view(s, self.n_in + 1, h1)
        # hard targets: the gradient from s = 1 - 2y (Objective.grad_signed)
        hard = bool(((y == 0) | (y == 1)).all())
        self.signed = hard and objective.has_signed_grad
        # With S > 1 the gradient views into gflat are strided along the seeds, and
        # torch.bmm writes such an output with one GEMM per seed (several times slower):
        # the products go into contiguous buffers and are copied over.  With one seed
        # the views are contiguous and written directly.
        self.gtmp = [
            gw if s == 1 else torch.empty(gw.shape, device=dev) for gw in [self.gw1a, *self.gws[1:]]
        ]
        # the factored step's contraction C: with 3 rows ([x, 1] of 2 features) padded to
        # 4 (a zero row), MKL's batched GEMM takes a faster kernel (32 us instead of 43)
        self.rows = 4 if self.n_in + 1 == 3 else self.n_in + 1
        self.cbuf = (torch.empty(s, self.rows, h1, device=dev), torch.empty_like(self.w1a))
        # many seeds of one hidden layer and one output on the CPU: the compiled loops of
        # bcelab.kernels.mlp for the test-set logits and, with 0/1 targets and SGD, the epochs
        one_out = len(self.layers) == 2 and self.n_out == 1 and s > 1 and dev.type == "cpu"
        self.kernels: Any = compiled_kernels() if one_out else None
        self.compiled_steps = self.kernels is not None and self.signed and optimizer.name == "sgd"
        if self.compiled_steps:
            self.kx = x.contiguous().numpy()
            self.ky = y[:, 0].contiguous().numpy()
            self.ksign = (1.0 - 2.0 * y[:, 0]).contiguous().numpy()
        self.plans = EpochPlans(
            self.seeds,
            x,
            y,
            ((1.0 - 2.0 * y) if self.signed else y).contiguous(),
            batch_size=batch_size,
            layer_sizes=spec.layer_sizes(self.n_in, self.n_out),
            rows=self.rows,
        )

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def _forward_t(self, a: Tensor, layers: list[tuple[Tensor, Tensor]]) -> Tensor:
        """Layers ``1..`` on feature-major activations ``a (S, features, n)``."""
        import torch  # optional dependency (bcelab[train])

        last = len(layers) - 1
        for li in range(1, last + 1):
            w, b = layers[li]
            a = torch.baddbmm(b.transpose(1, 2), w.transpose(1, 2), a)
            if li < last:
                a = a.relu_()
        return a

    def predict(self, x: Tensor, *, chunk: int | None = None, flat: Tensor | None = None) -> Tensor:
        """Logits ``(S, n, K)`` of every seed for the same inputs ``x (n, D)``.

        ``flat`` evaluates other weights of the same layout (e.g. a copy taken at the end
        of an epoch, while the next one trains) instead of the current ones.

        The first layer is one GEMM for all seeds, ``[W_1; b_1]^T`` of all seeds stacked
        ``(S H, D + 1)`` times ``[x, 1]^T``, evaluated in chunks of columns whose
        activations stay bounded.
        """
        import torch  # optional dependency (bcelab[train])

        s = self.n_seeds
        flat = self.flat if flat is None else flat
        if self.kernels is not None:  # one hidden layer, one output: compiled, every seed
            z = np.empty((s, x.shape[0]), np.float32)
            xt = x.T.contiguous().numpy()
            self.kernels.mlp_logits(flat.contiguous().numpy(), xt, z)
            return torch.from_numpy(z).view(s, -1, 1)
        layers = models.views(flat, self.spec, self.n_in, self.n_out)
        d1, h = self.w1a.shape[1], self.w1a.shape[2]
        wcat = flat[:, : d1 * h].view(s, d1, h).transpose(1, 2).reshape(s * h, d1)
        xat = torch.cat([x.T, torch.ones(1, x.shape[0], dtype=x.dtype, device=x.device)], dim=0)
        widest = max(w.shape[2] for w, _ in layers)
        if chunk is None:  # columns per chunk: up to 16 MB of activations (fewer, larger
            chunk = max(32, (1 << 22) // (s * widest))  # calls beat cache-sized ones here)
        parts = []
        with torch.no_grad():
            for i in range(0, x.shape[0], chunk):
                a = torch.mm(wcat, xat[:, i : i + chunk]).view(s, h, -1)
                if len(layers) > 1:
                    a = self._forward_t(a.relu_(), layers)
                parts.append(a)
            zt = torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]
        return zt.transpose(1, 2)

    def train_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        """One epoch of minibatch steps; returns the pre-update logits and their targets."""
        import torch  # optional dependency (bcelab[train])

        if self.compiled_steps:
            return self._compiled_epoch(epoch)
        plan = self.plans.for_epoch(epoch)
        batches, ys = plan["steps"], plan["ys"]
        last = len(self.layers) - 1
        grad = self.objective.grad_signed if self.signed else self.objective.grad
        with torch.no_grad():
            if last == 1 and self.n_seeds > 1 and self.n_out == 1:  # the tutorial, many seeds
                steps.factored_epoch(self, batches, grad)
            elif last == 1:  # one hidden layer: the general steps, unrolled
                steps.one_hidden_epoch(self, batches, grad)
            else:
                steps.general_epoch(self, batches, grad)
            zs = [st["z"] for st in batches]
            zt = torch.cat(zs, dim=2) if len(batches) > 1 else zs[0]
            z = zt.transpose(1, 2).clone()
        return z, ys

    def _compiled_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        """:meth:`train_epoch` by :func:`bcelab.kernels.mlp.sgd_epoch` (in place on the flat
        weights and velocities; equal to the factored steps up to float32 rounding)."""
        import torch  # optional dependency (bcelab[train])

        s, n = self.n_seeds, self.kx.shape[0]
        z = np.empty((s, n), np.float32)
        ys = np.empty((s, n), np.float32)
        opt, state = self.optimizer, self.opt_state
        self.kernels.sgd_epoch(
            self.flat.numpy(),
            state["velocity"][0].numpy(),
            self.kx,
            self.ky,
            self.ksign,
            self.plans.permutations(epoch),
            self.batch_size,
            opt.lr,
            opt.momentum,
            z,
            ys,
        )
        state["t"] += -(-n // self.batch_size)  # the steps taken, as Optimizer.step counts
        return torch.from_numpy(z).view(s, n, 1), torch.from_numpy(ys).view(s, n, 1)

    def weights(self) -> Tensor:
        """A copy of the current weights, for :meth:`predict` (``flat=``) later."""
        return self.flat.clone()

    def get_state(self) -> dict[str, Any]:
        """Weights and optimiser state as CPU copies (a checkpoint loads anywhere)."""
        return {"flat": _copy_to(self.flat, "cpu"), "opt": _clone(self.opt_state, "cpu")}

    def set_state(self, st: dict[str, Any]) -> None:
        self.flat.copy_(st["flat"])
        self.opt_state = _clone(st["opt"], self.device)

    def model_state(self) -> dict[str, Any]:
        return models.state_dict(_copy_to(self.flat, "cpu"), self.spec, self.n_in, self.n_out)


def _copy_to(t: Tensor, device: Any) -> Tensor:
    """A copy of ``t`` on ``device`` (never a view of ``t``, also when it is there already)."""
    return t.to(device, copy=True)


def _clone(st: dict[str, Any], device: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in st.items():
        out[k] = [_copy_to(t, device) for t in v] if isinstance(v, list) else v
    return out
