r"""The many-seed MLP of ``bcelab.train`` (one hidden ReLU layer, one output) as compiled loops.

:func:`sgd_epoch` runs one epoch of minibatch SGD with momentum for every seed;
:func:`mlp_logits` evaluates every seed's logits on one set of inputs.  Both take the
flat float32 weights ``w (S, P)`` of :class:`bcelab.train.mlp.batched.BatchedMLP`,
per seed ``[W_1 (D, H) row-major, b_1 (H), w_2 (H), b_2]`` (``P = (D + 2) H + 1``).

A seed's epoch is independent of the other seeds', so the loop runs seed after seed
and keeps one seed's weights in cache for its whole epoch.  Within a batch the
forward pass is feature-major (hidden unit ``j`` for every example of the batch: the
SIMD lanes run over the batch and the logits accumulate without a horizontal sum),
and the backward pass is the factored one of :func:`bcelab.train.mlp.steps.factored_epoch`:
with the ReLU mask :math:`m_{jb}` and the loss gradient :math:`g_b`,

.. math::

    C_{dj} = \sum_b [x, 1]_{db}\, g_b\, m_{jb}, \qquad
    \partial [W_1; b_1]_{dj} = w_{2j} C_{dj}, \qquad
    \partial w_{2j} = \sum_d [W_1; b_1]_{dj} C_{dj}, \qquad
    \partial b_2 = \sum_b g_b

The loss gradient is the core's for 0/1 targets, :math:`s\,\sigma(s z)` with
:math:`s = 1 - 2y` and :math:`\sigma(u) = e^{\min(u, 0)} / (1 + e^{-|u|})` in float32
(the exponential in float64, then rounded); the update is Keras's
:math:`v \leftarrow \mu v - \eta g / B,\; w \leftarrow w + v` in float32.  The results
equal the torch loop's up to float32 rounding (the sums run in another order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import JIT
from .fastmath import add_reassoc, exp_nonpos_f32in

__all__ = ["mlp_logits", "sgd_epoch"]


@njit(**JIT)
def _gather(x: Any, sgn: Any, order: Any, lo: int, nb: int, xt: Any, sb: Any) -> None:
    """The batch's inputs feature-major ``xt (D + 1, B)`` (last row: ones) and its signs."""
    d_in = x.shape[1]
    for b in range(nb):
        i = order[lo + b]
        for d in range(d_in):
            xt[d, b] = x[i, d]
        xt[d_in, b] = np.float32(1.0)
        sb[b] = sgn[i]


@njit(**JIT)
def _forward(ws: Any, xt: Any, nb: int, hid: int, h: Any, zb: Any) -> None:
    """Pre-activations ``h (H, B)`` and the logits ``zb (B)`` (one pass per hidden unit
    for two inputs, the tutorial's case; else one per input)."""
    d_in = xt.shape[0] - 1
    zero = np.float32(0.0)
    ob1, ow2 = d_in * hid, (d_in + 1) * hid
    for b in range(nb):
        zb[b] = zero
    x0, x1 = xt[0], xt[1]
    for j in range(hid):
        hj = h[j]
        w0, b1, w2 = ws[j], ws[ob1 + j], ws[ow2 + j]
        if d_in == 2:
            w1 = ws[hid + j]
            for b in range(nb):
                a = (w0 * x0[b] + w1 * x1[b]) + b1
                hj[b] = a
                zb[b] += w2 * (a if a > zero else zero)
            continue
        for b in range(nb):
            hj[b] = w0 * x0[b]
        for d in range(1, d_in):
            wd = ws[d * hid + j]
            xd = xt[d]
            for b in range(nb):
                hj[b] += wd * xd[b]
        for b in range(nb):
            a = hj[b] + b1
            hj[b] = a
            zb[b] += w2 * (a if a > zero else zero)
    b2 = ws[ws.shape[0] - 1]
    for b in range(nb):
        zb[b] += b2


@njit(**JIT)
def _loss_grad(zb: Any, sb: Any, nb: int, g: Any) -> Any:
    """``g = s sigmoid(s z)`` per example (the core's sigmoid); returns their sum."""
    one, zero = np.float32(1.0), np.float32(0.0)
    total = zero
    for b in range(nb):
        s = sb[b]
        u = s * zb[b]
        e = np.float32(exp_nonpos_f32in(-abs(np.float64(u))))
        gv = s * ((e if u <= zero else one) / (one + e))
        g[b] = gv
        total = add_reassoc(total, gv)
    return total


@njit(**JIT)
def _contract(xt: Any, g: Any, h: Any, nb: int, hid: int, xg: Any, c: Any) -> None:
    """``C (D + 1, H) = ([x, 1] g) m^T`` (the ReLU mask from the stored pre-activations;
    the three rows of two inputs in one pass)."""
    rows = xt.shape[0]
    zero = np.float32(0.0)
    for d in range(rows):
        for b in range(nb):
            xg[d, b] = xt[d, b] * g[b]
    x0, x1, x2 = xg[0], xg[1], xg[rows - 1]
    for j in range(hid):
        hj = h[j]
        if rows == 3:
            a0 = a1 = a2 = zero
            for b in range(nb):
                on = hj[b] > zero
                a0 = add_reassoc(a0, x0[b] if on else zero)
                a1 = add_reassoc(a1, x1[b] if on else zero)
                a2 = add_reassoc(a2, x2[b] if on else zero)
            c[0, j], c[1, j], c[2, j] = a0, a1, a2
            continue
        for d in range(rows):
            xgd = xg[d]
            acc = zero
            for b in range(nb):
                acc = add_reassoc(acc, xgd[b] if hj[b] > zero else zero)
            c[d, j] = acc


@njit(**JIT)
def _update(
    ws: Any, vs: Any, c: Any, gb2: float, hid: int, lr: float, mom: float, gw2: Any
) -> None:
    """The factored gradients from ``C`` and one SGD step with momentum (in place).
    Without momentum the velocities stay 0, as :class:`bcelab.train.optim.Optimizer`
    keeps them (the weights take the same values)."""
    keep = mom != np.float32(0.0)
    rows = c.shape[0]
    ow2 = rows * hid
    last = ws.shape[0] - 1
    for j in range(hid):
        gw2[j] = np.float32(0.0)
    for d in range(rows):  # dw2 = sum_d [W1; b1] * C, from the weights before the step
        cd = c[d]
        for j in range(hid):
            gw2[j] += ws[d * hid + j] * cd[j]
    for d in range(rows):
        cd = c[d]
        for j in range(hid):
            k = d * hid + j
            v = vs[k] * mom - lr * (cd[j] * ws[ow2 + j])
            if keep:
                vs[k] = v
            ws[k] = ws[k] + v
    for j in range(hid):
        k = ow2 + j
        v = vs[k] * mom - lr * gw2[j]
        if keep:
            vs[k] = v
        ws[k] = ws[k] + v
    v = vs[last] * mom - lr * np.float32(gb2)
    if keep:
        vs[last] = v
    ws[last] = ws[last] + v


@njit(**JIT)
def sgd_epoch(
    w: Any, vel: Any, x: Any, y: Any, sgn: Any, perm: Any, batch: int, lr: float, mom: float,
    z_out: Any, y_out: Any,
) -> None:  # fmt: skip
    """One epoch for every seed, in place on ``w`` and the velocities ``vel`` (both
    ``(S, P)`` float32).

    ``x (N, D)``, ``y (N,)`` (0/1) and ``sgn = 1 - 2y`` are float32; ``perm (S, N)``
    int64 holds each seed's shuffle; ``batch`` examples per step (the last one
    smaller); ``lr`` and ``mom`` as given to the optimiser.  ``z_out (S, N)`` receives
    each example's logit before its step and ``y_out (S, N)`` its target, in the
    epoch's order.
    """
    n_seeds = w.shape[0]
    n, d_in = x.shape
    hid = (w.shape[1] - 1) // (d_in + 2)
    bs = min(batch, n)
    h = np.empty((hid, bs), np.float32)
    xt = np.empty((d_in + 1, bs), np.float32)
    xg = np.empty((d_in + 1, bs), np.float32)
    c = np.empty((d_in + 1, hid), np.float32)
    sb = np.empty(bs, np.float32)
    zb = np.empty(bs, np.float32)
    g = np.empty(bs, np.float32)
    gw2 = np.empty(hid, np.float32)
    m32 = np.float32(mom)
    for s in range(n_seeds):
        ws, vs, order = w[s], vel[s], perm[s]
        for lo in range(0, n, bs):
            nb = min(bs, n - lo)
            lr32 = np.float32(lr * (1.0 / nb))
            _gather(x, sgn, order, lo, nb, xt, sb)
            _forward(ws, xt, nb, hid, h, zb)
            gb2 = _loss_grad(zb, sb, nb, g)
            for b in range(nb):
                z_out[s, lo + b] = zb[b]
                y_out[s, lo + b] = y[order[lo + b]]
            _contract(xt, g, h, nb, hid, xg, c)
            _update(ws, vs, c, gb2, hid, lr32, m32, gw2)


@njit(**JIT)
def mlp_logits(w: Any, xt: Any, z: Any) -> None:
    """``z (S, N)``: every seed's logits for the inputs ``xt (D, N)`` (feature-major)."""
    n_seeds = w.shape[0]
    d_in, n = xt.shape
    hid = (w.shape[1] - 1) // (d_in + 2)
    ob1, ow2 = d_in * hid, (d_in + 1) * hid
    zero = np.float32(0.0)
    acc = np.empty(n, np.float32)
    for s in range(n_seeds):
        ws = w[s]
        for i in range(n):
            z[s, i] = zero
        for j in range(hid):
            w0 = ws[j]
            for i in range(n):
                acc[i] = w0 * xt[0, i]
            for d in range(1, d_in):
                wd = ws[d * hid + j]
                for i in range(n):
                    acc[i] += wd * xt[d, i]
            b1, w2 = ws[ob1 + j], ws[ow2 + j]
            for i in range(n):
                a = acc[i] + b1
                z[s, i] += w2 * (a if a > zero else zero)
        b2 = ws[ws.shape[0] - 1]
        for i in range(n):
            z[s, i] += b2
