"""rejection_sample: the seed is ``random_seed`` (``rng`` kept one release), arguments checked."""

from __future__ import annotations

import numpy as np
import pytest

import pymc_ebm

PROBS = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])


def test_rng_is_a_deprecated_spelling_of_random_seed():
    new, rate = pymc_ebm.rejection_sample(PROBS, 40, random_seed=5)
    with pytest.deprecated_call(match="rng is deprecated.*use random_seed"):
        old, rate_old = pymc_ebm.rejection_sample(PROBS, 40, rng=5)
    np.testing.assert_array_equal(new, old)
    assert rate == rate_old
    positional, _ = pymc_ebm.rejection_sample(PROBS, 40, 5)
    np.testing.assert_array_equal(new, positional)
    with pytest.raises(TypeError, match="give random_seed only"):
        pymc_ebm.rejection_sample(PROBS, 40, random_seed=5, rng=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"probs": np.array([[1, "a"]], dtype=object)}, "probs must be an array of numbers"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"max_proposals": 2.5}, "max_proposals must be a positive integer"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    arguments = {"probs": PROBS, "n": 10, "random_seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        pymc_ebm.rejection_sample(**arguments)
