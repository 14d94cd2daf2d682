"""Energies of deterministic hidden units: a multilayer network whose top units add energy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import box_bound, float_array, positive_int
from pymc_ebm.energies.base import Energy

__all__ = ["MLPEnergy"]

ACTIVATIONS = {
    "tanh": pt.tanh,
    "sigmoid": pt.sigmoid,
    "softplus": pt.softplus,
}


class MLPEnergy(Energy):
    """Layers of deterministic hidden units; each top unit adds ``scale_k × activity_k``.

    ``E(v) = Σ_k s_k a_k(v)``, with ``a(v)`` the activities of the last layer
    of a network ``v → f(v W_0 + b_0) → ... → f(· W_L + b_L)``. A unit with a
    negative scale lowers the energy where its feature is present ("familiar
    features help"), a positive scale raises it ("violated constraints
    hurt"). ``∂E/∂v`` (for Hamiltonian Monte Carlo) and ``∂E/∂θ`` (for
    learning) come from PyTensor's gradients, i.e. backpropagation.

    Saturating units make ``E`` flat far from the data, so ``exp(-E)`` is not
    normalisable on the whole space: give a ``box`` (the visibles become a
    ``pm.Uniform`` on it), or multiply by a broad
    :class:`~pymc_ebm.Gaussian` expert.

    Parameters
    ----------
    dim : int
        Number of visible units.
    hidden : int or sequence of int, default (16,)
        Sizes of the hidden layers (at least one, each positive); an int is
        one hidden layer of that size.
    activation : {"tanh", "sigmoid", "softplus"}, default "sigmoid"
        Smooth non-linearity of every hidden unit.
    box : tuple of (float or array of shape (dim,)), optional
        ``(low, high)`` domain of the visibles.
    random_seed : int, optional
        Seed of the initial weights (scaled by ``1/√fan_in``) and scales.
    weights : sequence of arrays, optional
        Initial values ``[W_0, b_0, ..., W_L, b_L, scale]`` instead of random ones.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> net = pymc_ebm.MLPEnergy(2, hidden=(8, 4), box=(-2.0, 2.0), random_seed=0)
    >>> net.energy_fn()(np.zeros((3, 2))).shape
    (3,)
    """

    def __init__(
        self,
        dim: int,
        hidden: int | Sequence[int] = (16,),
        activation: str = "sigmoid",
        box: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        random_seed: int | None = None,
        weights: Sequence[npt.ArrayLike] | None = None,
    ) -> None:
        super().__init__()
        dim = positive_int("dim", dim)
        hidden = _layer_sizes(hidden)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
            )
        self.dim = int(dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.n_experts = self.hidden[-1]
        self.activation = activation
        if box is not None:
            if isinstance(box, str | bytes) or not isinstance(box, Sequence | np.ndarray):
                raise TypeError(f"box must be a (low, high) pair, got {type(box).__name__}")
            if len(box) != 2:
                raise ValueError(f"box must be a (low, high) pair, got {len(box)} items")
            low = box_bound("box low", box[0], self.dim)
            high = box_bound("box high", box[1], self.dim)
            if np.any(low >= high):
                raise ValueError("box low must be smaller than box high on every dimension")
            self.domain = (low, high)
        sizes = (self.dim, *self.hidden)
        shapes = [
            s for i in range(len(self.hidden)) for s in ((sizes[i], sizes[i + 1]), (sizes[i + 1],))
        ]
        shapes.append((self.hidden[-1],))
        if weights is None:
            rng = np.random.default_rng(random_seed)
            weights = []
            for i in range(len(self.hidden)):
                weights.append(
                    rng.standard_normal((sizes[i], sizes[i + 1])) * 2 / np.sqrt(sizes[i])
                )
                weights.append(rng.standard_normal(sizes[i + 1]) * 0.5)
            weights.append(rng.standard_normal(self.hidden[-1]) * 0.1)
        if isinstance(weights, str | bytes) or not isinstance(weights, Sequence | np.ndarray):
            raise TypeError(f"weights must be a sequence of arrays, got {type(weights).__name__}")
        weights = list(weights)
        if len(weights) != len(shapes):
            raise ValueError(f"weights must hold {len(shapes)} arrays, got {len(weights)}")
        self.layers: list[tuple[Any, Any]] = []
        for i in range(len(self.hidden)):
            W = float_array(f"weights[{2 * i}]", weights[2 * i])
            b = float_array(f"weights[{2 * i + 1}]", weights[2 * i + 1])
            for name, array, shape in (
                (f"W{i}", W, shapes[2 * i]),
                (f"b{i}", b, shapes[2 * i + 1]),
            ):
                if array.shape != shape:
                    raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
            self.layers.append((self._add_param(f"W{i}", W), self._add_param(f"b{i}", b)))
        scale = float_array("scale", weights[-1])
        if scale.shape != shapes[-1]:
            raise ValueError(f"scale must have shape {shapes[-1]}, got {scale.shape}")
        self.scale = self._add_param("scale", scale)

    @property
    def decayed_params(self) -> list[str]:
        """Weight decay shrinks the weight matrices only."""
        return [f"W{i}" for i in range(len(self.hidden))]

    def activities(self, v: TensorVariable) -> TensorVariable:
        """Activities of the top layer, shape ``(n, hidden[-1])``."""
        f = ACTIVATIONS[self.activation]
        a = self._visible(v)
        for W, b in self.layers:
            a = f(pt.dot(a, W) + b)
        return a

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Per-row energy ``Σ_k s_k a_k(v)``, shape ``(n,)``."""
        return pt.dot(self.activities(self._visible(v)), self.scale)

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current weights."""
        kwargs: dict[str, Any] = {
            "dim": self.dim,
            "hidden": np.asarray(self.hidden),
            "activation": self.activation,
            "weights": [p.get_value().copy() for p in self.params],
        }
        if self.domain is not None:
            kwargs["box"] = [self.domain[0].copy(), self.domain[1].copy()]
        return kwargs

    def structure_kwargs(self) -> dict[str, Any]:
        """Sizes, activation and box; the weights are drawn (placeholders)."""
        kwargs = self.init_kwargs()
        del kwargs["weights"]
        kwargs["random_seed"] = 0
        return kwargs


def _layer_sizes(hidden: object) -> tuple[int, ...]:
    """``hidden`` as a non-empty tuple of positive ints (an int is one layer)."""
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if isinstance(hidden, str | bytes) or not isinstance(hidden, Sequence | np.ndarray):
        raise TypeError(f"hidden must be a positive integer or a sequence of them, got {hidden!r}")
    hidden = (
        tuple(np.asarray(hidden).ravel().tolist())
        if isinstance(hidden, np.ndarray)
        else tuple(hidden)
    )
    if not hidden:
        raise ValueError("hidden must list at least one layer size")
    for size in hidden:
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"hidden layer sizes must be positive integers, got {hidden!r}")
    return tuple(int(size) for size in hidden)
