"""Runnable studies behind ``python -m pymc_ebm demo ...`` and the case-study notebooks."""
