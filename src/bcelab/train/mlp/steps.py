r"""The minibatch steps of one :class:`~.batched.BatchedMLP` epoch: forward, the
hand-written backward pass, one optimiser update of the flat weights.

Three loops, chosen by :meth:`~.batched.BatchedMLP.train_epoch`:

* :func:`general_epoch`: any number of layers, outputs and seeds;
* :func:`one_hidden_epoch`: the same operations for exactly one hidden layer, unrolled
  (a third of a step's time at one seed is the interpreter);
* :func:`factored_epoch`: one hidden layer, one output and S > 1 seeds, with a backward
  pass that reads the hidden layer once (equal to the others up to float32 rounding).

Every product is a ``torch.bmm`` on feature-major activations ``(S, features, B)``;
ReLU masks go through ``threshold_backward``; the loss gradient per element comes from
:class:`~bcelab.train.objectives.Objective` and its ``1 / (B K)`` goes into the step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batched import BatchedMLP

__all__ = ["factored_epoch", "general_epoch", "one_hidden_epoch"]

Tensor = Any


def general_epoch(m: BatchedMLP, steps: list[dict[str, Any]], grad: Any) -> None:
    """One step per batch of ``steps`` for any number of layers (under ``no_grad``)."""
    import torch  # optional dependency (bcelab[train])

    wts, bts, gws, gbs, glayers = m.wts, m.bts, m.gws, m.gbs, m.glayers
    w1at, gw1a = m.w1a.transpose(1, 2), m.gw1a
    gtmp = m.gtmp
    last = len(m.layers) - 1
    step, params, grads, state = m.optimizer.step, [m.flat], [m.gflat], m.opt_state
    mul, tsum, baddbmm, bmm = torch.mul, torch.sum, torch.baddbmm, torch.bmm
    relu_back = torch.ops.aten.threshold_backward.grad_input
    for st in steps:
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
            w_li = m.layers[li][0]
            if w_li.shape[2] == 1:
                mul(w_li, g, out=gi)  # (S, in, 1) * (S, 1, B): an outer product
            else:
                bmm(w_li, g, out=gi)
            g = relu_back(gi, outs[li - 1], 0.0, grad_input=gi)
        gout = bmm(xat, g.transpose(1, 2), out=gtmp[0])  # [x, 1]^T g: W_1 and b_1
        if gout is not gw1a:
            gw1a.copy_(gout)
        step(params, grads, state, scale=st["scale"])


def one_hidden_epoch(m: BatchedMLP, steps: list[dict[str, Any]], grad: Any) -> None:
    """:func:`general_epoch` for exactly one hidden layer, unrolled: the same operations
    in the same order, with less Python per step."""
    import torch  # optional dependency (bcelab[train])

    bmm, baddbmm, tsum, mul = torch.bmm, torch.baddbmm, torch.sum, torch.mul
    relu_back = torch.ops.aten.threshold_backward.grad_input
    w1at, wt2, bt2, w2 = m.w1a.transpose(1, 2), m.wts[1], m.bts[1], m.layers[1][0]
    gw1a, gw2, gb2 = m.gw1a, m.gws[1], m.gbs[1]
    gt1, gt2 = m.gtmp[0], m.gtmp[1]
    narrow, copy = w2.shape[2] == 1, m.n_seeds > 1
    step, params, grads, state = m.optimizer.step, [m.flat], [m.gflat], m.opt_state
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


def factored_epoch(m: BatchedMLP, steps: list[dict[str, Any]], grad: Any) -> None:
    r"""One hidden layer, one output and S > 1 seeds.  With the ReLU mask :math:`m_{jb}`
    the hidden gradient is :math:`w_j g_b m_{jb}`, so both weight gradients follow from
    one contraction :math:`C_{dj} = \sum_b x_{db} g_b m_{jb}` (one ``bmm``):

    .. math::

        \partial [W_1; b_1]_{dj} = w_j C_{dj}, \qquad
        \partial w_j = \sum_b g_b h_{jb} = \sum_d [W_1; b_1]_{dj} C_{dj}

    (as :math:`h_{jb} = m_{jb} \sum_d [W_1; b_1]_{dj} x_{db}`).  The mask overwrites
    the hidden buffer, so a step makes five passes over the ``(S, H, B)``
    activations instead of eight and keeps half as many in cache.  The gradients
    equal the unfactored loop's (kept for one seed) up to float32 rounding.
    """
    import torch  # optional dependency (bcelab[train])

    bmm, baddbmm, tsum, mul = torch.bmm, torch.baddbmm, torch.sum, torch.mul
    w1a, w1at, wt2, bt2 = m.w1a, m.w1a.transpose(1, 2), m.wts[1], m.bts[1]
    gw1a, gw2, gb2 = m.gw1a, m.gws[1], m.gbs[1]
    cpad, wc = m.cbuf
    d1 = m.n_in + 1
    c = cpad[:, :d1]
    step, params, grads, state = m.optimizer.step, [m.flat], [m.gflat], m.opt_state
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
