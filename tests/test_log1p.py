"""The energies' log1p: NumPy's values, special values and gradient, and a vectorised lowering."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from pymc_ebm._ops.log1p import log1p

DTYPES = ["float32", "float64"]


def _inputs(dtype: str) -> np.ndarray:
    """Values across the whole range of log1p: near -1, near 0, around 1, huge, tiny."""
    rng = np.random.default_rng(0)
    finfo = np.finfo(dtype)
    log_max, log_tiny = np.log(finfo.max), np.log(finfo.smallest_subnormal)
    parts = [
        rng.uniform(-1.0, 1.0, 100_000),
        np.exp(rng.uniform(log_tiny, log_max, 100_000)),
        -np.exp(rng.uniform(log_tiny, 0.0, 100_000)),
        np.nextafter(-1.0, 0.0, dtype=dtype) + rng.uniform(0.0, 1e-3, 1000),
        [finfo.max, finfo.tiny, -finfo.tiny, 0.5, -0.5, np.sqrt(2) - 1, 1 / np.sqrt(2) - 1],
    ]
    return np.concatenate([np.asarray(p, dtype=dtype) for p in parts])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log1p_agrees_with_numpy_to_a_few_ulp(dtype):
    x = pt.vector("x", dtype=dtype)
    f = pytensor.function([x], log1p(x))
    values = _inputs(dtype)
    got, want = f(values), np.log1p(values)
    assert got.dtype == np.dtype(dtype)
    ulps = np.abs(got.astype("float64") - want) / np.spacing(np.abs(want))
    assert np.all(np.isfinite(got))
    assert ulps.max() <= 4, f"max error {ulps.max()} ulp at x = {values[np.argmax(ulps)]!r}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_log1p_special_values(dtype):
    x = pt.vector("x", dtype=dtype)
    f = pytensor.function([x], log1p(x))
    values = np.array([-1.0, np.inf, -np.inf, -1.5, np.nan, 0.0, -0.0], dtype=dtype)
    with np.errstate(all="ignore"):
        want = np.log1p(values)
    got = f(values)
    np.testing.assert_array_equal(got, want)
    signed = ~np.isnan(want)  # the sign of zeros and infinities (a NaN's sign means nothing)
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(want[signed]))


def test_log1p_gradient_and_fusion_with_neighbours():
    x = pt.vector("x")
    y = pt.sum(3.0 * log1p(0.5 * x**2))
    f = pytensor.function([x], [y, pt.grad(y, x)])
    values = np.linspace(-3.0, 3.0, 7)
    energy, grad = f(values)
    np.testing.assert_allclose(energy, np.sum(3.0 * np.log1p(0.5 * values**2)), rtol=1e-14)
    np.testing.assert_allclose(grad, 3.0 * values / (1.0 + 0.5 * values**2), rtol=1e-14)
