"""Speed benchmarks of pymc_ebm against the targets of DESIGN.md §4.

Run ``python -m benchmarks [--quick] [--only NAME] [--threads N]``: every
benchmark runs in one process and ``docs/benchmarks.md`` is rewritten with
one table per benchmark (see ``benchmarks/__main__.py``). ``python -m
benchmarks --device gpu|cpu`` runs only :data:`DEVICE_BENCHMARK` (JAX backend
against PyTorch on one device, float32), which the plain run leaves out.

This module imports nothing heavy, so that ``__main__`` can fix the number of
BLAS/OpenMP threads before NumPy is loaded.
"""

BENCHMARKS = (
    "unigauss_mixing",
    "cd_update",
    "pot_hmc",
    "pot_cd_update",
    "student_t_gibbs",
    "hmc_small",
    "mass_adaptation",
    "step_size_search",
    "ais",
    "jax_backend",
)

DEVICE_BENCHMARK = "device"
