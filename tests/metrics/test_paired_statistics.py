"""Statistical properties of the paired bootstrap: coverage, type I error, paired vs unpaired power.

Population: a score :math:`s \\sim N(-1, 1.5^2)`, the label :math:`y \\sim
\\mathrm{Bernoulli}(\\sigma(s))`, and a model that sees the score with its own noise,
:math:`p = \\sigma(a (s + e) + b)`, :math:`e \\sim N(0, \\tau^2)`.  The population log
loss and ROC-AUC of such a model are integrals over :math:`(s, e)` (or over two scores
for the AUC: :math:`P(t_1 > t_2 \\mid s_1, s_2) = \\Phi((s_1 - s_2) / (\\tau \\sqrt 2))`),
computed by Gauss-Hermite quadrature in :func:`population` and kept in :data:`POPULATION`.

Each test draws ``BCELAB_PAIRED_SIMULATIONS`` data sets (default 200) of 4,000 rows
with fixed seeds and runs a 200-replicate paired bootstrap on each.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from bcelab.metrics.intervals import bootstrap_p_value
from bcelab.metrics.paired import PairedBootstrapStats

pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is needed for speed")
special = pytest.importorskip("scipy.special")

MU, SIGMA = -1.0, 1.5
N_ROWS = 4_000
REPLICATES = 200
N_SIM = int(os.environ.get("BCELAB_PAIRED_SIMULATIONS", "200"))
#: (slope, shift, noise sd) of the models of the coverage test
MODEL_A = (1.3, 0.2, 0.6)
MODEL_B = (0.8, 0.0, 0.8)
#: population (log loss, ROC-AUC) of MODEL_A and MODEL_B, from population(*MODEL_A/B)
POPULATION = {
    "a": (0.5326827634770875, 0.7910803603593157),
    "b": (0.5242009259187417, 0.7758402713959344),
}


def population(slope: float, shift: float, tau: float, nodes: int = 160) -> tuple[float, float]:
    """(log loss, ROC-AUC) of ``sigmoid(slope * (s + e) + shift)`` over the population."""
    x, wx = np.polynomial.hermite_e.hermegauss(nodes)
    wx = wx / wx.sum()
    w2 = wx[:, None] * wx[None, :]
    s = MU + SIGMA * x[:, None]
    z = slope * (s + tau * x[None, :]) + shift
    pstar = special.expit(s)
    ll = -(pstar * special.log_expit(z) + (1 - pstar) * special.log_expit(-z))
    s1, s2 = s, MU + SIGMA * x[None, :]
    base = float(np.sum(wx * special.expit(MU + SIGMA * x)))
    pairs = (
        special.expit(s1) * (1 - special.expit(s2)) * special.ndtr((s1 - s2) / (tau * np.sqrt(2)))
    )
    return float(np.sum(w2 * ll)), float(np.sum(w2 * pairs)) / (base * (1 - base))


def _draw(
    rng: np.random.Generator, a: tuple[float, float, float], b: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = rng.normal(MU, SIGMA, N_ROWS)
    y = (rng.random(N_ROWS) < special.expit(s)).astype(float)
    pa = special.expit(a[0] * (s + rng.normal(0, a[2], N_ROWS)) + a[1])
    pb = special.expit(b[0] * (s + rng.normal(0, b[2], N_ROWS)) + b[1])
    return pa, pb, y


def _paired(pa: np.ndarray, pb: np.ndarray, y: np.ndarray, seed: int) -> PairedBootstrapStats:
    return PairedBootstrapStats(replicates=REPLICATES, seed=seed, threads=1).update(pa, pb, y)


def test_population_constants() -> None:
    for key, model in (("a", MODEL_A), ("b", MODEL_B)):
        np.testing.assert_allclose(population(*model), POPULATION[key], rtol=1e-12)
        np.testing.assert_allclose(population(*model, nodes=320), POPULATION[key], rtol=1e-12)


def test_intervals_cover_the_population_difference() -> None:
    """The 95% CIs of the log-loss and ROC-AUC differences cover the population values."""
    truth = {
        "log_loss": POPULATION["b"][0] - POPULATION["a"][0],
        "roc_auc": POPULATION["b"][1] - POPULATION["a"][1],
    }
    rng = np.random.default_rng(20240601)
    hits = dict.fromkeys(truth, 0)
    for i in range(N_SIM):
        res = _paired(*_draw(rng, MODEL_A, MODEL_B), seed=i).compute(metrics=tuple(truth))
        for m, t in truth.items():
            lo, hi = res.metrics[m]["ci"]
            hits[m] += lo <= t <= hi
    coverage = {m: h / N_SIM for m, h in hits.items()}
    print(f"coverage over {N_SIM} data sets: {coverage}")
    for m, c in coverage.items():
        assert 0.92 <= c <= 0.98, (m, c)


def test_type_one_error() -> None:
    """Equally good models (same distortion, independent noise): p < 0.05 in 2-9% of runs."""
    model = (1.3, 0.2, 0.6)
    rng = np.random.default_rng(20240602)
    rejections = {"log_loss": 0, "roc_auc": 0}
    for i in range(N_SIM):
        res = _paired(*_draw(rng, model, model), seed=i).compute(metrics=tuple(rejections))
        for m in rejections:
            rejections[m] += res.metrics[m]["p_value"] < 0.05
    rates = {m: r / N_SIM for m, r in rejections.items()}
    print(f"rejection rate at 5% over {N_SIM} data sets, equal models: {rates}")
    for m, r in rates.items():
        assert 0.02 <= r <= 0.09, (m, r)


def test_paired_test_is_more_powerful_than_unpaired() -> None:
    """B slightly better (less noise): the paired test rejects far more often.

    The unpaired test resamples A's rows and B's rows independently: its replicate
    differences take A's log loss from one bootstrap and B's from another (another seed).
    """
    a, b = (1.0, 0.0, 0.6), (1.0, 0.0, 0.45)
    rng = np.random.default_rng(20240603)
    paired = unpaired = 0
    for i in range(N_SIM):
        pa, pb, y = _draw(rng, a, b)
        one = _paired(pa, pb, y, seed=2 * i)
        two = _paired(pa, pb, y, seed=2 * i + 1)
        res = one.compute(metrics=("log_loss",)).metrics["log_loss"]
        paired += res["p_value"] < 0.05 and res["diff"] < 0
        diffs = (
            two.replicate_values(("log_loss",))["log_loss"][1]
            - one.replicate_values(("log_loss",))["log_loss"][0]
        )
        unpaired += bootstrap_p_value(diffs) < 0.05 and res["diff"] < 0
    print(
        f"power at 5% over {N_SIM} data sets: paired {paired / N_SIM:.3f}, unpaired {unpaired / N_SIM:.3f}"
    )
    assert paired >= 2 * unpaired + 10
