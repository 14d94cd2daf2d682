"""Energies inside a ``pm.Model``: registering them, reading a model's terms, sampling.

* :mod:`~pymc_ebm.model.registration`: :func:`visible` and :func:`hidden`
  add an energy's variables and potentials to a model.
* :mod:`~pymc_ebm.model.terms`: what a model's log density is made of
  (which terms touch a variable, a visible's energy potential, per-row log
  densities, whether rows are independent chains, the box transform); the
  one place step methods read a model from.
* :mod:`~pymc_ebm.model.sampling` and :mod:`~pymc_ebm.model.imputation`:
  :func:`sample_fantasies` and :func:`impute`.
"""

from pymc_ebm.model.imputation import impute
from pymc_ebm.model.registration import (
    check_observed,
    energy_of,
    hidden,
    missing_layout,
    partner_of,
    role_of,
    visible,
)
from pymc_ebm.model.sampling import sample_fantasies

__all__ = [
    "check_observed",
    "energy_of",
    "hidden",
    "impute",
    "missing_layout",
    "partner_of",
    "role_of",
    "sample_fantasies",
    "visible",
]
