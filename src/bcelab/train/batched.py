"""Many seeds as one computation: the MLP with a leading seed dimension on every weight.

For S seeds the weights of layer l are ``W (S, n_in, n_out)`` and ``b (S, 1, n_out)``,
views into one flat ``(S, P)`` tensor (per layer the kernel, then the bias).  The
activations are kept feature-major, ``(S, features, batch)``, so that every product is
a ``torch.bmm`` whose output has the batch as its long side (a 1-wide output layer is
then a row vector times a matrix, not S separate matrix-vector products):

.. math::

    h_1^T = \\mathrm{relu}([W_1; b_1]^T [x, 1]^T), \\; \\ldots, \\;
    z^T = W_{L+1}^T h_L^T + b_{L+1}^T

followed by the hand-written backward pass (``bmm`` with the transposes, ReLU masks
via ``threshold_backward``) from the loss gradient that :mod:`bcelab.train.objectives`
takes from :mod:`bcelab._core.formulas`, and one optimiser update of the flat tensor.  The
first layer's bias rides in its GEMM (the inputs carry a column of ones).  Each seed
has its own initial weights and its own shuffle every epoch (:mod:`bcelab.train.rng`);
nothing loops over seeds in Python.  A 1-seed run is the same code with S = 1 (about
20 tensor operations per batch, no autograd bookkeeping, every batch a view into
buffers filled once per epoch); many seeds of the one-hidden-layer model take a
factored backward pass (:meth:`BatchedMLP._epoch_factored`), equal up to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import models, rng
from .alloc import on_helper
from .objectives import Objective
from .optim import Optimizer

__all__ = ["BatchedMLP"]

Tensor = Any


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
        self.xcols = [x[:, d].contiguous() for d in range(self.n_in)]  # gathered per epoch
        # hard targets: the gradient from s = 1 - 2y (Objective.grad_signed)
        hard = bool(((y == 0) | (y == 1)).all())
        self.signed = hard and objective.has_signed_grad
        self.t_all = ((1.0 - 2.0 * y) if self.signed else y).contiguous()
        self._plans: list[dict[str, Any] | None] = [None, None]  # see _plan
        self._by_size: dict[int, dict[str, Any]] = {}
        self._next: tuple[int, Any] | None = None  # (epoch, future of its filled plan)
        self._perm_block: tuple[int, Any] = (0, ())  # (first epoch, its shuffles)
        # With S > 1 the gradient views into gflat are strided along the seeds, and
        # torch.bmm writes such an output with one GEMM per seed (several times slower):
        # the products go into contiguous buffers and are copied over.  With one seed
        # the views are contiguous and written directly.
        self._gtmp = [gw if s == 1 else torch.empty(gw.shape) for gw in [self.gw1a, *self.gws[1:]]]
        # the factored step's contraction C: with 3 rows ([x, 1] of 2 features) padded to
        # 4 (a zero row), MKL's batched GEMM takes a faster kernel (32 us instead of 43)
        self._rows = 4 if self.n_in + 1 == 3 else self.n_in + 1
        self._cbuf = (torch.empty(s, self._rows, h1), torch.empty(self.w1a.shape))

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def _forward_t(self, a: Tensor, layers: list[tuple[Tensor, Tensor]]) -> Tensor:
        """Layers ``1..`` on feature-major activations ``a (S, features, n)``."""
        import torch

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
        import torch

        s = self.n_seeds
        flat = self.flat if flat is None else flat
        layers = models.views(flat, self.spec, self.n_in, self.n_out)
        d1, h = self.w1a.shape[1], self.w1a.shape[2]
        wcat = flat[:, : d1 * h].view(s, d1, h).transpose(1, 2).reshape(s * h, d1)
        xat = torch.cat([x.T, torch.ones(1, x.shape[0], dtype=x.dtype)], dim=0)
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

    def _plan(self, parity: int = 0) -> dict[str, Any]:
        """Per-batch buffers and views, built once and reused by every other epoch.

        The epoch's shuffled inputs ``[x, 1]^T`` (feature-major, each batch contiguous)
        and targets are gathered into fixed buffers; every batch is a view of those
        buffers, so a step creates no tensors besides the few the arithmetic returns.
        With the prefetch on, epochs alternate between two such plans (``parity``): the
        helper thread fills one with the next epoch's data while the other trains.  The
        hidden activations and gradient buffers are shared by both.
        """
        import torch

        plan = self._plans[parity]
        if plan is not None:
            return plan
        s, n = self.n_seeds, int(self.x.shape[0])
        sizes = models.MLPSpec.layer_sizes(self.spec, self.n_in, self.n_out)
        e = torch.empty
        bs = self.batch_size
        ts = e(s, self.n_out, n)  # shuffled 1 - 2y (hard targets) or y, transposed
        # [x, 1]^T of every batch, each contiguous (torch.bmm falls back to one GEMM per
        # seed for strided batches): full batches in one block, the last partial one apart
        nfull, rest = divmod(n, bs)
        xfull = e(nfull, s, self.n_in + 1, bs)
        xrest = e(s, self.n_in + 1, rest) if rest else None
        xfull[:, :, self.n_in, :] = 1.0  # the inputs' column of ones (the first bias)
        if xrest is not None:
            xrest[:, self.n_in, :] = 1.0
        by_size = self._by_size
        steps = []
        for lo in range(0, n, bs):
            nb = min(bs, n - lo)
            if nb not in by_size:
                by_size[nb] = {
                    "out": [e(s, o, nb) for _, o in sizes[:-1]],  # hidden outputs (after ReLU)
                    "gin": [e(s, i, nb) for i, _ in sizes],  # gradient w.r.t. layer inputs
                    "xg": torch.zeros(s, self._rows, nb),  # [x, 1]^T g (the factored step)
                }
            b = by_size[nb]
            steps.append(
                {
                    "xat": xfull[lo // bs] if nb == bs else xrest,
                    "t": ts[:, :, lo : lo + nb],
                    "z": e(s, self.n_out, nb),  # this batch's logits (returned per epoch)
                    "out": b["out"],
                    "outT": [o.transpose(1, 2) for o in b["out"]],
                    "gin": b["gin"],
                    "xg": b["xg"],
                    "scale": 1.0 / (nb * self.n_out),
                }
            )
        plan = {"steps": steps, "xfull": xfull, "xrest": xrest, "ts": ts, "ys": None, "epoch": -1}
        self._plans[parity] = plan
        return plan

    def _fill(self, epoch: int, plan: dict[str, Any]) -> dict[str, Any]:
        """Epoch ``epoch``'s shuffles applied, straight into ``plan``'s buffers: the
        inputs of every batch ``(S, D + 1, B)`` (one gather per feature; the row of ones
        is written when the plan is made), the gradient's targets ``(S, K, N)`` (1 - 2y
        or y) and, as a new tensor, the targets ``y (S, N, K)`` for the metrics."""
        import torch

        s, n, bs = self.n_seeds, int(self.x.shape[0]), self.batch_size
        idx = torch.from_numpy(self._permutations(epoch, n))  # (S, N)
        xfull, xrest = plan["xfull"], plan["xrest"]
        nfull = xfull.shape[0]
        full = idx[:, : nfull * bs].view(s, nfull, bs).transpose(0, 1).contiguous().view(-1)
        part = idx[:, nfull * bs :].contiguous().view(-1)
        sel = torch.index_select
        for d, col in enumerate(self.xcols):
            xfull[:, :, d, :].copy_(sel(col, 0, full).view(nfull, s, bs))
            if xrest is not None:
                xrest[:, d, :].copy_(sel(col, 0, part).view(s, -1))
        flat = idx.view(-1)
        if self.n_out == 1:
            sel(self.t_all.view(-1), 0, flat, out=plan["ts"].view(-1))
        else:
            plan["ts"].copy_(sel(self.t_all, 0, flat).view(s, n, -1).transpose(1, 2))
        plan["ys"], plan["epoch"] = sel(self.y, 0, flat).view(s, n, -1), epoch
        return plan

    def _permutations(self, epoch: int, n: int) -> Any:
        """This epoch's shuffles, computed for up to 8 epochs at a time (fewer NumPy calls,
        each of which hands the GIL to the training thread and back)."""
        first, block = self._perm_block
        if not first <= epoch < first + len(block):
            count = max(1, min(8, (1 << 22) // (8 * self.n_seeds * n)))  # <= 4 MB
            block = rng.permutations_of_epochs(self.seeds, epochs=range(epoch, epoch + count), n=n)
            first, self._perm_block = epoch, (epoch, block)
        return block[epoch - first]

    def train_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        """One epoch of minibatch steps; returns the pre-update logits and their targets."""
        import torch

        plan = self._epoch_plan(epoch)
        steps, ys = plan["steps"], plan["ys"]
        s = self.n_seeds
        wts, bts, gws, gbs, glayers = self.wts, self.bts, self.gws, self.gbs, self.glayers
        w1at, gw1a = self.w1a.transpose(1, 2), self.gw1a
        gtmp = self._gtmp
        last = len(self.layers) - 1
        grad = self.objective.grad_signed if self.signed else self.objective.grad
        step, params, grads, state = self.optimizer.step, [self.flat], [self.gflat], self.opt_state
        mul, tsum, baddbmm, bmm = torch.mul, torch.sum, torch.baddbmm, torch.bmm
        relu_back = torch.ops.aten.threshold_backward.grad_input
        with torch.no_grad():
            if last == 1 and s > 1 and self.n_out == 1:  # the tutorial's model, many seeds
                self._epoch_factored(steps, grad)
            elif last == 1:  # one hidden layer: the same steps as below, unrolled
                self._epoch_one_hidden(steps, grad)
            for st in steps if last != 1 else ():
                outs, outts, gins = st["out"], st["outT"], st["gin"]
                xat = st["xat"]
                # forward, feature-major: (S, out, B)
                a = bmm(w1at, xat, out=st["z"] if last == 0 else outs[0])  # [W; b]^T [x, 1]^T
                for li in range(1, last + 1):
                    a.relu_()
                    a = baddbmm(bts[li], wts[li], a, out=st["z"] if li == last else outs[li])
                g = grad(a, st["t"])  # d loss / dz^T per element; 1/(nb K) goes into the step
                for li in range(last, 0, -1):  # backward
                    w = glayers[li][0]
                    if w.shape[2] == 1:  # (S, 1, B) @ (S, B, in) into the (S, 1, in) layout
                        gout = bmm(g, outts[li - 1], out=gtmp[li])
                    else:
                        gout = bmm(outs[li - 1], g.transpose(1, 2), out=gtmp[li])
                    if gout is not gws[li]:
                        gws[li].copy_(gout)
                    tsum(g, 2, keepdim=True, out=gbs[li])
                    gi = gins[li]
                    w_li = self.layers[li][0]
                    if w_li.shape[2] == 1:
                        mul(w_li, g, out=gi)  # (S, in, 1) * (S, 1, B): an outer product
                    else:
                        bmm(w_li, g, out=gi)
                    g = relu_back(gi, outs[li - 1], 0.0, grad_input=gi)
                gout = bmm(xat, g.transpose(1, 2), out=gtmp[0])  # [x, 1]^T g: W_1 and b_1
                if gout is not gw1a:
                    gw1a.copy_(gout)
                step(params, grads, state, scale=st["scale"])
            zt = torch.cat([st["z"] for st in steps], dim=2) if len(steps) > 1 else steps[0]["z"]
            z = zt.transpose(1, 2).clone()
        return z, ys

    def _epoch_one_hidden(self, steps: list[dict[str, Any]], grad: Any) -> None:
        """The loop of :meth:`train_epoch` for exactly one hidden layer, unrolled: the same
        operations in the same order, with less Python per step (a third of a step's
        time at one seed is the interpreter)."""
        import torch

        bmm, baddbmm, tsum, mul = torch.bmm, torch.baddbmm, torch.sum, torch.mul
        relu_back = torch.ops.aten.threshold_backward.grad_input
        w1at, wt2, bt2, w2 = self.w1a.transpose(1, 2), self.wts[1], self.bts[1], self.layers[1][0]
        gw1a, gw2, gb2 = self.gw1a, self.gws[1], self.gbs[1]
        gt1, gt2 = self._gtmp[0], self._gtmp[1]
        narrow, copy = w2.shape[2] == 1, self.n_seeds > 1
        step, params, grads, state = self.optimizer.step, [self.flat], [self.gflat], self.opt_state
        plan = [
            (
                st["xat"],
                st["t"],
                st["z"],
                st["out"][0],
                st["outT"][0],
                st["gin"][1],
                st["gin"][1].transpose(1, 2),
                st["scale"],
            )
            for st in steps
        ]
        for xat, t, zb, h, ht, gi, git, scale in plan:
            bmm(w1at, xat, out=h).relu_()  # [W; b]^T [x, 1]^T, feature-major (S, H, B)
            z = baddbmm(bt2, wt2, h, out=zb)
            g = grad(z, t)  # d loss / dz^T per element; 1/(nb K) goes into the step
            if narrow:  # (S, 1, B) @ (S, B, H) into the (S, 1, H) layout
                bmm(g, ht, out=gt2)
            else:
                bmm(h, g.transpose(1, 2), out=gt2)
            if copy:
                gw2.copy_(gt2)
            tsum(g, 2, keepdim=True, out=gb2)
            if narrow:
                mul(w2, g, out=gi)  # (S, H, 1) * (S, 1, B): an outer product
            else:
                bmm(w2, g, out=gi)
            relu_back(gi, h, 0.0, grad_input=gi)
            bmm(xat, git, out=gt1)  # [x, 1]^T g: W_1 and b_1 at once
            if copy:
                gw1a.copy_(gt1)
            step(params, grads, state, scale=scale)

    def _epoch_factored(self, steps: list[dict[str, Any]], grad: Any) -> None:
        r"""The loop for one hidden layer, one output and S > 1 seeds, with a backward
        pass that reads the hidden layer once.  With the ReLU mask :math:`m_{jb}` the
        hidden gradient is :math:`w_j g_b m_{jb}`, so both weight gradients follow from
        one contraction :math:`C_{dj} = \sum_b x_{db} g_b m_{jb}` (one ``bmm``):

        .. math::

            \partial [W_1; b_1]_{dj} = w_j C_{dj}, \qquad
            \partial w_j = \sum_b g_b h_{jb} = \sum_d [W_1; b_1]_{dj} C_{dj}

        (as :math:`h_{jb} = m_{jb} \sum_d [W_1; b_1]_{dj} x_{db}`).  The mask overwrites
        the hidden buffer, so a step makes five passes over the ``(S, H, B)``
        activations instead of eight and keeps half as many in cache.  The gradients
        equal the unfactored loop's (kept for one seed) up to float32 rounding.
        """
        import torch

        bmm, baddbmm, tsum, mul = torch.bmm, torch.baddbmm, torch.sum, torch.mul
        w1a, w1at, wt2, bt2 = self.w1a, self.w1a.transpose(1, 2), self.wts[1], self.bts[1]
        gw1a, gw2, gb2 = self.gw1a, self.gws[1], self.gbs[1]
        cpad, wc = self._cbuf
        d1 = self.n_in + 1
        c = cpad[:, :d1]
        step, params, grads, state = self.optimizer.step, [self.flat], [self.gflat], self.opt_state
        plan = []
        for st in steps:
            xg, out, out_t = st["xg"], st["out"][0], st["outT"][0]
            plan.append((st["xat"], st["t"], st["z"], out, out_t, xg, xg[:, :d1], st["scale"]))
        for xat, t, zb, h, ht, xg, xgd, scale in plan:
            bmm(w1at, xat, out=h).relu_()  # [W; b]^T [x, 1]^T, feature-major (S, H, B)
            z = baddbmm(bt2, wt2, h, out=zb)
            g = grad(z, t)  # d loss / dz^T per element; 1/nb goes into the step
            tsum(g, 2, keepdim=True, out=gb2)
            h.sign_()  # the ReLU mask m (0 or 1; h >= 0)
            mul(xat, g, out=xgd)
            bmm(xg, ht, out=cpad)  # C = ([x, 1]^T g) m^T, (S, D + 1, H), zero rows after
            mul(c, wt2, out=gw1a)  # W_1 and b_1
            tsum(mul(w1a, c, out=wc), 1, keepdim=True, out=gw2)
            step(params, grads, state, scale=scale)

    def _epoch_plan(self, epoch: int) -> dict[str, Any]:
        """A plan filled with epoch ``epoch``'s data (see :meth:`_fill`).  With many
        seeds the next epoch's plan is filled meanwhile on the helper thread (NumPy's
        sort and torch's operations release the GIL), which takes the shuffles, gathers
        and layout copies off the critical path on a second core."""
        nxt, self._next = self._next, None
        plan = nxt[1].result() if nxt is not None else None  # never left running
        prefetch = self.n_seeds * int(self.x.shape[0]) >= _PREFETCH_MIN
        if plan is None or plan["epoch"] != epoch:
            plan = self._fill(epoch, self._plan(epoch % 2 if prefetch else 0))
        if prefetch:
            other = self._plan((epoch + 1) % 2)
            self._next = (epoch + 1, on_helper(self._fill, epoch + 1, other))
        return plan

    def get_state(self) -> dict[str, Any]:
        return {"flat": self.flat.clone(), "opt": _clone(self.opt_state)}

    def set_state(self, st: dict[str, Any]) -> None:
        self.flat.copy_(st["flat"])
        self.opt_state = _clone(st["opt"])

    def model_state(self) -> dict[str, Any]:
        return models.state_dict(self.flat, self.spec, self.n_in, self.n_out)


#: prefetch the next epoch's shuffles from this many shuffled indices per epoch on
_PREFETCH_MIN = 8192


def _clone(st: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in st.items():
        out[k] = [t.clone() for t in v] if isinstance(v, list) else v
    return out
