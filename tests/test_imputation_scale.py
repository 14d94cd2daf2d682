"""``impute(step=ShortRunHMC)`` at any scale: the padded slots share the real entries' scale.

ShortRunHMC has one step size and one mass per slot, shared by the rows, so a
padded slot whose density has another scale than the real entries of its slot
made it diverge (nearly every draw at sigma = 0.1 or 10) and some rows stick.
On a correlated 15-D Gaussian the conditional of the missing entries of a row
given its observed ones is Gaussian in closed form.
"""

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import stats

import pymc_ebm
from pymc_ebm import ShortRunHMC
from pymc_ebm.energies.base import Energy

DIM = 15
MISSING_PER_ROW = [1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 5, 9]  # unequal: most rows have padded slots
DRAWS, CHAINS = 1000, 2
SCALES = [0.1, 10.0]
N_ASSERTIONS = len(SCALES) * 2 * sum(MISSING_PER_ROW)  # a mean and a variance per entry
Z = stats.norm.isf(0.01 / 2 / N_ASSERTIONS)  # Bonferroni: family-wise level 1 %
MAX_DIVERGING = 0.01  # share of draws with a divergence
MIN_ESS = 100  # bulk ESS of every missing entry, for a reliable MCSE (no stuck row)


class CorrelatedGaussian(Energy):
    """``E(v) = ½ (v − μ)ᵀ P (v − μ)``: a Gaussian with precision matrix ``P``."""

    def __init__(self, mu, precision):
        super().__init__()
        self.dim, self.n_experts = len(mu), 1
        self.mu = self._add_param("mu", np.asarray(mu, dtype=float))
        self.precision = self._add_param("precision", np.asarray(precision, dtype=float))

    def energy(self, v):
        d = v - self.mu
        return 0.5 * pt.sum(pt.dot(d, self.precision) * d, axis=1)

    def init_kwargs(self):
        return {"mu": self.mu.get_value(), "precision": self.precision.get_value()}


def _problem(sigma):
    """Mean, covariance and data with NaNs: everything scales with ``sigma``."""
    rng = np.random.default_rng(42)
    Q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    cov = sigma**2 * (Q * np.linspace(0.7, 1.3, DIM) ** 2) @ Q.T  # correlated entries
    mu = sigma * rng.standard_normal(DIM)
    X = rng.multivariate_normal(mu, cov, size=len(MISSING_PER_ROW))
    for row, k in enumerate(MISSING_PER_ROW):
        X[row, rng.choice(DIM, k, replace=False)] = np.nan
    return mu, cov, X


@pytest.mark.parametrize("sigma", SCALES)
def test_short_run_hmc_imputes_a_correlated_gaussian_at_any_scale(sigma):
    mu, cov, X = _problem(sigma)
    precision = np.linalg.inv(cov)
    _, idata = pymc_ebm.impute(
        CorrelatedGaussian(mu, precision), X, draws=DRAWS, tune=300, chains=CHAINS,
        step=ShortRunHMC, random_seed=1, cores=1, progressbar=False,
    )  # fmt: skip
    diverging = int(idata.sample_stats["diverging"].sum())
    assert diverging <= MAX_DIVERGING * DRAWS * CHAINS, f"{diverging} draws diverged"
    draws = idata.posterior["x"].values  # (chain, draw, row, dim)
    for row in range(len(X)):
        m = np.isnan(X[row])
        o = ~m
        cond_cov = np.linalg.inv(precision[np.ix_(m, m)])
        cond_mean = mu[m] - cond_cov @ precision[np.ix_(m, o)] @ (X[row, o] - mu[o])
        for k, col in enumerate(np.flatnonzero(m)):
            x = draws[:, :, row, col]
            ess = float(az.ess(x))
            assert ess >= MIN_ESS, f"entry ({row}, {col}): ESS {ess:.0f}"
            z = abs(x.mean() - cond_mean[k]) / float(az.mcse(x))
            assert z < Z, f"entry ({row}, {col}): mean off by {z:.2f} MCSE"
            sq = (x - cond_mean[k]) ** 2
            z = abs(sq.mean() - cond_cov[k, k]) / float(az.mcse(sq))
            assert z < Z, f"entry ({row}, {col}): variance off by {z:.2f} MCSE"


def test_padding_takes_the_scale_of_its_slot():
    """A padded slot's density has the observed spread of the columns its slot holds."""
    X = np.array([[np.nan, np.nan, 1.0], [100.0, np.nan, 3.0], [140.0, 0.0, np.nan]])
    energy = pymc_ebm.Gaussian(np.zeros((1, 3)), np.ones((1, 3)))
    with pm.Model() as model:
        pymc_ebm.visible("x", energy, observed=X)
    # rows 1 and 2 have one missing entry: slot 1 is padded there; it holds column 1 in row 0
    start = model.initial_point()["x_missing"]
    observed_mean = np.nanmean(X, axis=0)
    assert start[1, 1] == start[2, 1] == observed_mean[1]  # slot 1's column: column 1
    term = model.logp(vars=[model["x_padding"]], sum=False)[0]  # in value space
    padding = model.compile_fn(term, point_fn=True)
    # column 1 has one observed value (no spread): the other columns' RMS spread is used
    spreads = np.nanstd(X, axis=0)[[0, 2]]
    scale = np.sqrt(np.mean(spreads**2))
    point = start.copy()
    point[1, 1] += scale
    np.testing.assert_allclose(padding({"x_missing": point}), [0.0, -0.5, 0.0])
