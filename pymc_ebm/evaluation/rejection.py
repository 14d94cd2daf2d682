"""The exact but inefficient sampler for a product of experts on a finite set of states."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pymc_ebm._validation import non_negative_int, positive_int, real_array, renamed

__all__ = ["rejection_sample"]


def rejection_sample(
    probs: npt.ArrayLike,
    n: int,
    random_seed: np.random.Generator | int | None = None,
    *,
    batch_size: int = 4096,
    max_proposals: int = 100_000_000,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, float]:
    """Sample a discrete product of experts by letting every expert propose.

    Each expert draws a state independently from its own distribution; the
    proposal is kept only when all experts agree. The kept states follow
    ``p(s) ∝ Π_m p_m(s)`` exactly, and the acceptance rate estimates the
    normaliser ``Σ_s Π_m p_m(s)``.

    Parameters
    ----------
    probs : array_like, shape (n_experts, n_states)
        Each row is one expert's distribution (non-negative, summing to 1).
    n : int
        Number of samples to keep.
    random_seed : int or Generator, optional
        Seed (or generator) of the proposals.
    batch_size : int, default 4096
        Proposals drawn at once.
    max_proposals : int, default 1e8
        Give up (``RuntimeError``) after this many proposals.
    rng : int or Generator, optional
        Deprecated spelling of ``random_seed``.

    Returns
    -------
    samples : ndarray of int, shape (n,)
        Accepted states.
    acceptance_rate : float
        Accepted proposals over all proposals.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm import rejection_sample
    >>> probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    >>> samples, rate = rejection_sample(probs, 100, random_seed=0)
    >>> samples.shape, set(samples.tolist()) <= {0, 1}
    ((100,), True)
    """
    random_seed = renamed("random_seed", random_seed, None, "rng", rng)
    probs = real_array("probs", probs)
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 1:
        raise ValueError(f"probs must have shape (n_experts, n_states), got {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("probs must be finite and non-negative")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-8):
        raise ValueError("each row of probs must sum to 1")
    n = non_negative_int("n", n)
    batch_size = positive_int("batch_size", batch_size)
    max_proposals = positive_int("max_proposals", max_proposals)
    if np.prod(probs, axis=0).sum() <= 0:
        raise ValueError("the experts never agree: their product has no mass")
    rng = np.random.default_rng(random_seed)
    cdfs = np.cumsum(probs, axis=1)
    cdfs[:, -1] = 1.0
    kept: list[np.ndarray] = []
    n_kept = 0
    n_proposed = 0
    while n_kept < n:
        if n_proposed >= max_proposals:
            raise RuntimeError(f"only {n_kept} of {n} samples after {n_proposed} proposals")
        u = rng.random((batch_size, probs.shape[0]))
        proposals = np.stack(
            [np.searchsorted(cdf, u[:, m], side="right") for m, cdf in enumerate(cdfs)], axis=1
        )
        agree = np.all(proposals == proposals[:, :1], axis=1)
        accepted = proposals[agree, 0]
        if n_kept + accepted.size >= n:
            # count proposals only up to the one that completed the sample
            last = np.flatnonzero(agree)[n - n_kept - 1]
            n_proposed += last + 1
            kept.append(accepted[: n - n_kept])
            n_kept = n
        else:
            n_proposed += batch_size
            kept.append(accepted)
            n_kept += accepted.size
    samples = np.concatenate(kept) if kept else np.empty(0, dtype=int)
    return samples.astype(int), (n / n_proposed if n_proposed else float("nan"))
