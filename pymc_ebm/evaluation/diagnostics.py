"""Mixing and acceptance diagnostics of fantasies, from ArviZ."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
from xarray import DataTree

__all__ = ["DiagnosticsSummary", "summary"]

#: Sampler statistics worth a line in the table, when a step method emits them.
SAMPLER_STATS = (
    "accept",
    "accepted",
    "acceptance_rate",
    "active_experts",
    "jump_accept",
    "step_size",
    "energy_error",
    "max_energy_error",
    "diverging",
    "tree_depth",
)


@dataclass(frozen=True)
class DiagnosticsSummary:
    """ArviZ diagnostics of the visibles plus the sampler's statistics.

    Attributes
    ----------
    variables : pandas.DataFrame
        One row per visible entry: ``ess_bulk``, ``ess_tail``, ``r_hat``,
        ``mcse_mean``, ``mcse_sd`` (``arviz.summary(kind="diagnostics")``).
    sampler : pandas.DataFrame
        Mean (and per-chain spread) of each sampler statistic found.
    bfmi : ndarray, shape (n_chains,)
        Bayesian fraction of missing information per chain
        (``arviz.bfmi``, from the ``energy`` statistic of Hamiltonian step
        methods); empty when the sampler reports no ``energy``. Values below
        about 0.3 mean the momentum resampling explores the energy poorly.
    """

    variables: pd.DataFrame
    sampler: pd.DataFrame
    bfmi: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def rhat_max(self) -> float:
        """Largest rank-normalised split R-hat over the visibles."""
        return float(pd.to_numeric(self.variables["r_hat"]).max())

    @property
    def ess_bulk_min(self) -> float:
        """Smallest bulk effective sample size over the visibles."""
        return float(pd.to_numeric(self.variables["ess_bulk"]).min())

    @property
    def ess_tail_min(self) -> float:
        """Smallest tail effective sample size over the visibles."""
        return float(pd.to_numeric(self.variables["ess_tail"]).min())

    @property
    def bfmi_min(self) -> float:
        """Smallest BFMI over the chains (NaN when the sampler reports no ``energy``)."""
        return float(self.bfmi.min()) if self.bfmi.size else float("nan")

    def __str__(self) -> str:
        lines = [
            f"R-hat max {self.rhat_max:.3f}, bulk ESS min {self.ess_bulk_min:.0f}, "
            f"tail ESS min {self.ess_tail_min:.0f} over {len(self.variables)} entries",
        ]
        if self.bfmi.size:
            lines.append(f"BFMI per chain {np.round(self.bfmi, 3).tolist()}")
        lines += [
            "",
            str(self.variables.describe().loc[["mean", "min", "max"]].round(3)),
        ]
        if len(self.sampler):
            lines += ["", "sampler statistics", str(self.sampler.round(4))]
        return "\n".join(lines)


def summary(idata: DataTree, var_names: Sequence[str] | None = None) -> DiagnosticsSummary:
    """Diagnose fantasies: ESS and R-hat of the visibles, and the sampler's statistics.

    Parameters
    ----------
    idata : xarray.DataTree
        Output of ``pm.sample`` / :func:`~pymc_ebm.sample_fantasies`.
    var_names : sequence of str, optional
        Variables to diagnose; by default the continuous variables of the
        posterior (the visibles).

    Returns
    -------
    DiagnosticsSummary
        Print it for a table; ``rhat_max``, ``ess_bulk_min`` and ``bfmi_min``
        for checks.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from pymc_ebm.evaluation.diagnostics import summary
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"v": rng.normal(size=(4, 200, 2))}})
    >>> round(summary(idata).rhat_max, 1)
    1.0
    """
    posterior = idata["posterior"]
    if var_names is None:
        var_names = [name for name, da in posterior.data_vars.items() if da.dtype.kind == "f"]
    if not var_names:
        raise ValueError("no continuous variables in the posterior to diagnose")
    table = az.summary(idata, var_names=list(var_names), kind="diagnostics")
    variables = pd.DataFrame(table).apply(pd.to_numeric)
    rows = {}
    bfmi = np.empty(0)
    if "sample_stats" in idata.children:
        stats = idata["sample_stats"]
        if "energy" in stats.data_vars:
            bfmi = np.asarray(az.bfmi(idata)["energy"].values, dtype=float).ravel()
        for name in SAMPLER_STATS:
            if name in stats.data_vars:
                values = np.asarray(stats[name].values, dtype=float)
                values = values.reshape(values.shape[0], values.shape[1], -1).mean(axis=2)
                per_chain = values.mean(axis=1)
                rows[name] = {
                    "mean": float(values.mean()),
                    "chain_min": float(per_chain.min()),
                    "chain_max": float(per_chain.max()),
                }
    sampler = pd.DataFrame.from_dict(
        rows, orient="index", columns=["mean", "chain_min", "chain_max"]
    )
    return DiagnosticsSummary(variables=variables, sampler=sampler, bfmi=bfmi)
