"""Fit the short float64 polynomials of ``bcelab.kernels.fastmath``'s ``*_f32in`` functions
and the small-term series of ``bcelab.kernels.logfactor``.

Interpolation at Chebyshev nodes (close to minimax) with 50-digit mpmath, then the worst
relative error of the resulting ``exp`` / ``log`` on a dense grid, evaluated exactly with
the float64-rounded coefficients.  Run: ``.venv/bin/python bench/fit_fastmath.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import mpmath as mp
import numpy as np

mp.mp.dps = 50


def cheb_fit(f: Callable[[mp.mpf], mp.mpf], a: mp.mpf, b: mp.mpf, deg: int) -> list[float]:
    n = deg + 1
    xs = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (2 * k + 1) / (2 * n)) for k in range(n)]
    vander = mp.matrix([[x**j for j in range(n)] for x in xs])
    coef = mp.lu_solve(vander, mp.matrix([f(x) for x in xs]))
    return [float(coef[j]) for j in range(n)]


def horner(cf: list[float], x: mp.mpf) -> mp.mpf:
    p = mp.mpf(0)
    for v in reversed(cf):
        p = p * x + mp.mpf(v)
    return p


def fit_exp(deg: int) -> tuple[list[float], float]:
    """(e^r - 1 - r) / r^2 on |r| <= ln2/2; e^r = 1 + r + r^2 p(r)."""
    h = mp.log(2) / 2

    def g(r: mp.mpf) -> mp.mpf:
        return mp.mpf(1) / 2 if abs(r) < mp.mpf("1e-30") else (mp.exp(r) - 1 - r) / r**2

    cf = cheb_fit(g, -h, h, deg)
    worst = max(
        abs((1 + r + r * r * horner(cf, r)) / mp.exp(r) - 1)
        for r in (mp.mpf(v) for v in np.linspace(float(-h), float(h), 2001))
    )
    return cf, float(worst)


def fit_log(ncoef: int) -> tuple[list[float], float]:
    """fdlibm's R(z)/z, z = s^2, s = f/(2+f), f in [sqrt(1/2) - 1, sqrt(2) - 1]."""
    smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)

    def rz(z: mp.mpf) -> mp.mpf:
        if z < mp.mpf("1e-40"):
            return mp.mpf(2) / 3
        s = mp.sqrt(z)
        return ((mp.log((1 + s) / (1 - s)) - 2 * s) / s) / z

    cf = cheb_fit(rz, mp.mpf(0), smax**2, ncoef - 1)
    worst = mp.mpf(0)
    for fv in np.linspace(float(mp.sqrt(0.5) - 1), float(mp.sqrt(2) - 1), 3001):
        f = mp.mpf(fv)
        if f == 0:
            continue
        s = f / (2 + f)
        z = s * s
        hf = f * f / 2
        val = f - hf + s * (hf + z * horner(cf, z))
        worst = max(worst, abs(val / mp.log(1 + f) - 1))
    return cf, float(worst)


def fit_series(sign: int, deg: int) -> tuple[list[float], float]:
    """``log1p(t) / t`` (sign 1) or ``-log1p(-t) / t`` (sign -1) on [0, 2^-7], leading 1 kept."""
    top = mp.mpf(2) ** -7

    def g(t: mp.mpf) -> mp.mpf:
        if t < mp.mpf("1e-40"):
            return mp.mpf(1)
        return mp.log1p(t) / t if sign > 0 else -mp.log1p(-t) / t

    cf = cheb_fit(g, mp.mpf(0), top, deg)
    cf[0] = 1.0
    worst = max(
        abs(t * horner(cf, t) / (t * g(t)) - 1)
        for t in (mp.mpf(v) for v in np.linspace(1e-30, float(top), 3001))
    )
    return cf, float(worst)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/fit_fastmath.py",
        description="Fit the polynomials of bcelab.kernels.fastmath (exp, log) and the "
        "small-term series of bcelab.kernels.logfactor with 50-digit mpmath, and print each "
        "fit's coefficients and worst relative error. No options.",
    )
    ap.parse_args(argv)
    for deg in (7, 8, 9):
        cf, err = fit_exp(deg)
        print(f"exp, degree {deg + 2}: worst relative error {err:.2e}; coefficients {cf}")
    for nco in (5, 6):
        cf, err = fit_log(nco)
        print(f"log, {nco} coefficients: worst relative error {err:.2e}; coefficients {cf}")
    for sign, name in ((1, "log1p(t)"), (-1, "-log1p(-u)")):
        cf, err = fit_series(sign, 5)
        print(f"{name} on [0, 2^-7], degree 6: worst relative error {err:.2e}; coefficients {cf}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
