"""Many seeds as one computation: the MLP with a leading seed dimension on every weight.

For S seeds the weights of layer l are ``W (S, n_in, n_out)`` and ``b (S, 1, n_out)``,
views into one flat ``(S, P)`` tensor.  A step on a batch of B examples per seed is

.. math::

    h_1 = \\mathrm{relu}(x W_1 + b_1), \\; \\ldots, \\; z = h_L W_{L+1} + b_{L+1}
    \\quad \\text{(torch.baddbmm over the seed dimension)}

followed by the hand-written backward pass (``bmm`` with the transposes, or a multiply-and-sum where a side is 1 wide, ReLU masks
via ``threshold_backward``) from the loss gradient that :mod:`bcelab.train.objectives`
takes from :mod:`bcelab._math`, and one optimiser update of the flat tensor.  Each
seed has its own initial weights and its own shuffle every epoch
(:mod:`bcelab.train.rng`); nothing loops over seeds in Python.  A 1-seed run is the
same code with S = 1, which is also the fastest way to run one seed: about 15 tensor
operations per batch and no autograd bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import models, rng
from .objectives import Objective
from .optim import Optimizer

__all__ = ["SMALL", "BatchedMLP", "affine", "grad_input", "grad_weight"]

#: below this many seeds every product is a torch.bmm/baddbmm
SMALL = 8

Tensor = Any


def affine(a: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``a @ w + b`` per seed: ``(S, B, k) @ (S, k, n) + (S, 1, n)``.

    ``torch.bmm`` on CPU runs one small GEMM per seed, which for a single output
    column (n = 1) or a single input (k = 1) costs several times the arithmetic;
    those two cases are a multiply-and-sum and an outer product instead.
    """
    import torch

    if w.shape[2] == 1 and a.shape[1] <= 64:
        return torch.sum(a * w.transpose(1, 2), 2, keepdim=True).add_(b)
    if w.shape[1] == 1:
        return torch.addcmul(b, a, w)
    return torch.baddbmm(b, a, w)


def grad_weight(a: Tensor, g: Tensor, out: Tensor) -> None:
    """``out = a^T @ g`` per seed: ``(S, k, B) @ (S, B, n)`` into ``out (S, k, n)``."""
    import torch

    if out.shape[2] == 1:  # (S, k, 1) has the memory layout of (S, 1, k)
        torch.sum(a * g, 1, keepdim=True, out=out.view(out.shape[0], 1, out.shape[1]))
    else:
        torch.bmm(a.transpose(1, 2), g, out=out)


def grad_input(g: Tensor, w: Tensor) -> Tensor:
    """``g @ w^T`` per seed: ``(S, B, n) @ (S, n, k)``."""
    import torch

    if w.shape[2] == 1:
        return g * w.transpose(1, 2)
    return torch.bmm(g, w.transpose(1, 2))


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
        import torch

        self.spec, self.seeds = spec, [int(s) for s in seeds]
        self.x, self.y = x, y  # (N, D), (N, K) float32
        self.n_in, self.n_out = int(x.shape[1]), int(y.shape[1])
        self.batch_size, self.objective, self.optimizer = batch_size, objective, optimizer
        init = models.init_flat(spec, self.seeds, self.n_in, self.n_out)
        self.flat = torch.from_numpy(init)
        self.gflat = torch.zeros_like(self.flat)
        self.layers = models.views(self.flat, spec, self.n_in, self.n_out)
        self.glayers = models.views(self.gflat, spec, self.n_in, self.n_out)
        self.opt_state = optimizer.init_state([self.flat])
        s = self.n_seeds
        # cached views (the flat tensors are only ever updated in place)
        self.wts = [w.transpose(1, 2) for w, _ in self.layers]
        self.gws = [
            gw.view(s, 1, gw.shape[1]) if gw.shape[2] == 1 else gw for gw, _ in self.glayers
        ]
        self.gbs = [gb for _, gb in self.glayers]
        self._buf: dict[int, dict[str, list[Any]]] = {}

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def predict(self, x: Tensor, *, chunk: int | None = None) -> Tensor:
        """Logits ``(S, n, K)`` of every seed for the same inputs ``x (n, D)``.

        The first layer is one GEMM for all seeds, ``x (n, D) @ [W_1^{(1)} ... W_1^{(S)}]``,
        evaluated in chunks of rows that stay in cache.
        """
        import torch

        s = self.n_seeds
        w0, b0 = self.layers[0]
        d, h = w0.shape[1], w0.shape[2]
        wcat = w0.permute(1, 0, 2).reshape(d, s * h)
        bcat = b0.reshape(1, s * h)
        last = len(self.layers) - 1
        widest = max(w.shape[2] for w, _ in self.layers)
        if chunk is None:  # rows per chunk: about 1 MB of activations, so they stay in cache
            chunk = max(64, (1 << 18) // (s * widest))
        parts = []
        with torch.no_grad():
            for i in range(0, x.shape[0], chunk):
                xc = x[i : i + chunk]
                a = torch.addmm(bcat, xc, wcat).view(xc.shape[0], s, h).transpose(0, 1)
                if last:
                    a = a.relu_()
                for li in range(1, last + 1):
                    w, b = self.layers[li]
                    a = affine(a, w, b)
                    if li < last:
                        a = a.relu_()
                parts.append(a)
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0].contiguous()

    def _buffers(self, nb: int) -> dict[str, list[Any]]:
        """Preallocated per-batch tensors (large temporaries would be page-faulted in anew
        on every allocation); one set per batch size that occurs (full and last batch)."""
        import torch

        buf = self._buf.get(nb)
        if buf is None:
            s = self.n_seeds
            sizes = models.MLPSpec.layer_sizes(self.spec, self.n_in, self.n_out)
            e = torch.empty
            buf = {
                "out": [e(s, nb, o) for _, o in sizes],  # each layer's output (after ReLU)
                "tmp": [e(s, nb, i) if o == 1 else None for i, o in sizes],  # n == 1 products
                "gin": [e(s, nb, i) for i, _ in sizes],  # gradient w.r.t. each layer's input
            }
            self._buf[nb] = buf
        return buf

    def train_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        """One epoch of minibatch steps; returns the pre-update logits and their targets."""
        import torch

        perm = torch.from_numpy(rng.permutations(self.seeds, epoch=epoch, n=self.x.shape[0]))
        xs, ys = self.x[perm], self.y[perm]  # (S, N, D), (S, N, K): one gather per epoch
        bs = self.batch_size
        layers, wts, gws, gbs = self.layers, self.wts, self.gws, self.gbs
        last = len(layers) - 1
        grad, step = self.objective.grad, self.optimizer.step
        params, grads, state = [self.flat], [self.gflat], self.opt_state
        mul, tsum, baddbmm, bmm, addcmul = (
            torch.mul,
            torch.sum,
            torch.baddbmm,
            torch.bmm,
            torch.addcmul,
        )
        relu_back = torch.ops.aten.threshold_backward.grad_input
        zbuf = torch.empty(ys.shape, dtype=ys.dtype)  # the epoch's pre-update logits
        # Few seeds: one bmm per product is cheapest.  Many seeds: torch.bmm runs one tiny
        # GEMM per seed, so a 1-wide side is a multiply-and-sum instead (same values up
        # to float32 rounding: only the order of the sums differs).
        small = self.n_seeds < SMALL
        lo = 0
        with torch.no_grad():
            for xb, yb in zip(xs.split(bs, dim=1), ys.split(bs, dim=1), strict=True):
                nb = xb.shape[1]
                zslice = zbuf[:, lo : lo + nb]
                lo += nb
                buf = self._buffers(nb)
                outs, tmps, gins = buf["out"], buf["tmp"], buf["gin"]
                a = xb
                for li in range(last + 1):  # forward
                    w, b = layers[li]
                    o = zslice if li == last and zslice.is_contiguous() else outs[li]
                    if w.shape[2] == 1 and not small:
                        mul(a, wts[li], out=tmps[li])
                        tsum(tmps[li], 2, keepdim=True, out=o).add_(b)
                    elif w.shape[1] == 1:
                        addcmul(b, a, w, out=o)
                    else:
                        baddbmm(b, a, w, out=o)
                    if li < last:
                        o.relu_()
                    a = o
                z = a
                if z is not zslice:
                    zslice.copy_(z)
                g = grad(z, yb)  # d loss / dz per element; 1/(nb K) goes into the step
                for li in range(last, -1, -1):  # backward
                    ain = outs[li - 1] if li else xb
                    if layers[li][0].shape[2] == 1 and not small:
                        mul(ain, g, out=tmps[li])
                        tsum(tmps[li], 1, keepdim=True, out=gws[li])
                    else:
                        bmm(ain.transpose(1, 2), g, out=layers_grad(self.glayers, li))
                    tsum(g, 1, keepdim=True, out=gbs[li])
                    if li:
                        gi = gins[li]
                        if layers[li][0].shape[2] == 1:
                            mul(g, wts[li], out=gi)
                        else:
                            bmm(g, wts[li], out=gi)
                        g = relu_back(gi, outs[li - 1], 0.0, grad_input=gi)
                step(params, grads, state, scale=1.0 / (nb * self.n_out))
        return zbuf, ys

    def get_state(self) -> dict[str, Any]:
        return {"flat": self.flat.clone(), "opt": _clone(self.opt_state)}

    def set_state(self, st: dict[str, Any]) -> None:
        self.flat.copy_(st["flat"])
        self.opt_state = _clone(st["opt"])

    def model_state(self) -> dict[str, Any]:
        return models.state_dict(self.flat, self.spec, self.n_in, self.n_out)


def layers_grad(glayers: list[tuple[Tensor, Tensor]], li: int) -> Tensor:
    return glayers[li][0]


def _clone(st: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in st.items():
        out[k] = [t.clone() for t in v] if isinstance(v, list) else v
    return out
