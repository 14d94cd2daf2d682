"""Combining experts: products (energies add) and mixtures (densities add)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import check_shape, float_array
from pymc_ebm.energies.base import Energy

__all__ = ["Mixture", "ProductOfExperts"]


def _as_list(experts: object, what: str) -> list:
    """``experts`` as a list, or ``TypeError`` naming the argument."""
    if isinstance(experts, Energy | str | bytes) or not isinstance(experts, Iterable):
        raise TypeError(
            f"experts of a {what} must be a sequence of Energy objects, "
            f"got {type(experts).__name__}"
        )
    return list(experts)


def _check_components(experts: Sequence[Energy], what: str) -> list[Energy]:
    experts = _as_list(experts, what)
    if not experts:
        raise ValueError(f"experts must hold at least one expert: a {what} needs one")
    for expert in experts:
        if not isinstance(expert, Energy):
            raise TypeError(f"{what} takes Energy objects, got {type(expert).__name__}")
    dims = {expert.dim for expert in experts}
    if len(dims) != 1:
        raise ValueError(f"experts of a {what} must share dim, got dims {sorted(dims)}")
    return experts


def _common_domain(experts: Sequence[Energy]) -> tuple[np.ndarray, np.ndarray] | None:
    """Intersection of the experts' boxes (``None`` when no expert has a box)."""
    boxes = [e.domain for e in experts if e.domain is not None]
    if not boxes:
        return None
    low = np.max([b[0] for b in boxes], axis=0)
    high = np.min([b[1] for b in boxes], axis=0)
    if np.any(low >= high):
        raise ValueError("the experts' domains do not overlap")
    return low, high


class _Combination(Energy):
    """Shared plumbing of energies built from other energies."""

    def __init__(self, experts: Sequence[Energy], what: str) -> None:
        super().__init__()
        self.experts = _check_components(experts, what)
        self.dim = self.experts[0].dim
        self.n_experts = sum(e.n_experts for e in self.experts)
        self.domain = _common_domain(self.experts)
        for i, expert in enumerate(self.experts):
            for name, shared in zip(expert.param_names, expert.params, strict=True):
                self._params[f"{i}.{name}"] = shared

    @property
    def params(self) -> list[SharedVariable]:
        """Parameters of all parts (each shared variable once)."""
        unique: dict[int, SharedVariable] = {}
        for shared in self._params.values():
            unique.setdefault(id(shared), shared)
        return list(unique.values())

    @property
    def param_names(self) -> list[str]:
        """Names of :attr:`params`: ``"<part index>.<name>"``."""
        seen: set[int] = set()
        names = []
        for name, shared in self._params.items():
            if id(shared) not in seen:
                seen.add(id(shared))
                names.append(name)
        return names

    @property
    def decayed_params(self) -> list[str]:
        """The parts' decayed parameters, as ``"<part index>.<name>"``."""
        return [
            f"{i}.{name}"
            for i, expert in enumerate(self.experts)
            for name in expert.decayed_params
        ]


class ProductOfExperts(_Combination):
    """Product of experts: energies add, ``E(v) = Σ_k E_k(v)``.

    Multiplying densities and renormalising gives a distribution that can be
    much sharper than any single expert. ``e1 * e2`` builds the same object.
    The domain is the intersection of the experts' boxes.

    Parameters
    ----------
    experts : sequence of Energy
        Energies over the same ``dim``.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_ebm
    >>> a = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    >>> b = pymc_ebm.StudentT(np.eye(2), [2.0, 2.0])
    >>> (a * b).n_experts
    3
    """

    def __init__(self, experts: Sequence[Energy]) -> None:
        flat: list[Energy] = []
        for expert in _as_list(experts, "product of experts"):
            flat.extend(expert.experts if isinstance(expert, ProductOfExperts) else [expert])
        super().__init__(flat, "product of experts")

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Sum of the experts' energies, shape ``(n,)``."""
        v = self._visible(v)
        return pt.add(*[expert.energy(v) for expert in self.experts])

    def laplacian(self, v: TensorVariable) -> TensorVariable:
        """Sum of the experts' Laplacians (each closed form or exact), shape ``(n,)``."""
        v = self._visible(v)
        return pt.add(*[expert.laplacian(v) for expert in self.experts])

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments (the experts themselves)."""
        return {"experts": list(self.experts)}


class Mixture(_Combination):
    """Mixture of normalised experts: ``p(v) = Σ_k w_k p_k(v)``.

    The mixture components are all experts of all given energies, in order;
    each family must provide normalised densities (``Gaussian``,
    ``UniGauss``). A mixture is always vaguer than its sharpest component,
    in contrast with :class:`ProductOfExperts`. The mixing weights are learnable
    through ``log_weights`` (softmax).

    Parameters
    ----------
    experts : sequence of Energy
        Energies whose experts are the components.
    weights : array_like, shape (n_components,), optional
        Positive mixing proportions summing to 1, one per expert over all
        energies. Equal weights by default.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_ebm
    >>> parts = pymc_ebm.Gaussian(mu=[[-2.0], [2.0]], sigma=[[1.0], [1.0]])
    >>> mixture = pymc_ebm.Mixture([parts], weights=[0.5, 0.5])
    >>> mixture.n_experts
    2
    """

    def __init__(self, experts: Sequence[Energy], weights: npt.ArrayLike | None = None) -> None:
        super().__init__(experts, "mixture")
        domains = {None if e.domain is None else tuple(map(tuple, e.domain)) for e in self.experts}
        if len(domains) != 1:
            raise ValueError(
                "experts of a mixture must share one domain (all on the same box or all on "
                "the whole space): each component is normalised on its own domain"
            )
        for expert in self.experts:
            if type(expert).expert_log_density is Energy.expert_log_density:
                raise TypeError(
                    f"{type(expert).__name__} experts are not normalised densities on their "
                    "own, so they cannot be mixed"
                )
        if weights is None:
            weights = np.full(self.n_experts, 1.0 / self.n_experts)
        weights = float_array("weights", weights, ndim=1)
        check_shape("weights", weights, (self.n_experts,))
        if np.any(weights <= 0) or not np.isclose(weights.sum(), 1.0, atol=1e-6):
            raise ValueError("weights must be positive and sum to 1")
        self.log_weights = self._add_param("log_weights", np.log(weights))

    @property
    def weights(self) -> np.ndarray:
        """Current mixing proportions, shape ``(n_experts,)``."""
        log_w = self.log_weights.get_value()
        w = np.exp(log_w - log_w.max())
        return w / w.sum()

    def expert_log_density(self, v: TensorVariable) -> TensorVariable:
        """Log density of each component, shape ``(n, n_experts)``."""
        v = self._visible(v)
        return pt.concatenate([e.expert_log_density(v) for e in self.experts], axis=1)

    def energy(self, v: TensorVariable) -> TensorVariable:
        """``-log Σ_k w_k p_k(v)``, shape ``(n,)``."""
        log_w = pt.special.log_softmax(self.log_weights)
        return -pt.logsumexp(self.expert_log_density(self._visible(v)) + log_w[None, :], axis=1)

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current weights."""
        return {"experts": list(self.experts), "weights": self.weights}

    def structure_kwargs(self) -> dict[str, Any]:
        """The experts, with equal placeholder weights."""
        return {"experts": list(self.experts)}
