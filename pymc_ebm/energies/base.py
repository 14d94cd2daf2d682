"""The :class:`Energy` base class shared by every expert family.

An energy holds its parameters as ``pytensor.shared`` variables on an
unconstrained scale (``log_sigma`` rather than ``sigma``) so that gradient
updates can never leave the valid region, and builds per-row energies of a
batch of visible vectors as a PyTensor graph.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.tensor.variable import TensorVariable

from pymc_ebm import backends
from pymc_ebm._validation import real_array, rows_of, visible_batch

__all__ = [
    "ENERGY_CLASSES",
    "LAPLACIAN_AUTODIFF_LIMIT",
    "Energy",
    "energy_gradient",
    "is_energy_list",
    "unique_parts",
]

#: Largest ``dim`` for which :meth:`Energy.laplacian` falls back on exact second
#: derivatives (one backward pass per dimension) when a family has no closed form.
LAPLACIAN_AUTODIFF_LIMIT = 64

ENERGY_CLASSES: dict[str, type[Energy]] = {}
"""Every :class:`Energy` subclass by class name, registered when the class is defined.

:func:`pymc_ebm.load` rebuilds the class a file names from here. The first
class of a name keeps it: :func:`pymc_ebm.save` refuses an energy whose class
is not the one registered under its name, since loading would build the other.
"""


class Energy(ABC):
    """Base class of all energies: ``p(v) ∝ exp(-E(v))``.

    Subclasses set ``dim`` and ``n_experts``, store their parameters as
    shared variables in ``self._params`` (a name → shared variable dict), and
    implement :meth:`energy`.

    Attributes
    ----------
    dim : int
        Dimension of a visible vector.
    n_experts : int
        Number of experts the object holds.
    params : list of SharedVariable
        The learnable parameters (unconstrained scale), updated in place.
    domain : tuple of ndarray or None
        ``(low, high)`` arrays of shape ``(dim,)`` when the density lives on a
        box, ``None`` when it lives on the whole space.
    """

    dim: int
    n_experts: int
    domain: tuple[np.ndarray, np.ndarray] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ENERGY_CLASSES.setdefault(cls.__name__, cls)

    def __init__(self) -> None:
        self._params: dict[str, SharedVariable] = {}

    # -- parameters -------------------------------------------------------
    def _add_param(self, name: str, value: np.ndarray) -> SharedVariable:
        shared = pytensor.shared(
            np.asarray(value, dtype=pytensor.config.floatX), name=f"{type(self).__name__}.{name}"
        )
        self._params[name] = shared
        return shared

    @property
    def params(self) -> list[SharedVariable]:
        """Learnable parameters as shared variables (unconstrained scale)."""
        return list(self._params.values())

    @property
    def param_names(self) -> list[str]:
        """Names of :attr:`params`, in the same order."""
        return list(self._params)

    @property
    def decayed_params(self) -> list[str]:
        """Names of the parameters that weight decay shrinks: none by default.

        Weight decay is a prior that pulls weights (filters, layer matrices)
        towards 0; locations, log-scales and logits of mixing proportions have
        no reason to go to 0, so a family lists only its weight matrices
        (``StudentT``: ``W``; ``MLPEnergy``: ``W0, W1, ...``).
        """
        return []

    def get_params(self) -> dict[str, np.ndarray]:
        """Copy of the current unconstrained parameter values, by name."""
        return {name: p.get_value().copy() for name, p in self._params.items()}

    def set_params(self, values: Mapping[str, np.ndarray]) -> None:
        """Set unconstrained parameter values in place (shapes must match)."""
        for name, value in values.items():
            if name not in self._params:
                raise ValueError(f"unknown parameter {name!r}; expected one of {self.param_names}")
            shared = self._params[name]
            value = real_array(f"parameter {name!r}", value).astype(shared.dtype)
            old = shared.get_value(borrow=True)
            if value.shape != old.shape:
                raise ValueError(f"parameter {name!r} has shape {old.shape}, got {value.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {name!r} has non-finite values")
            shared.set_value(value)

    # -- energies ---------------------------------------------------------
    def _visible(self, v: Any, name: str = "v") -> TensorVariable:
        """``v`` checked as a batch of visible vectors, shape ``(n, dim)`` (see the methods)."""
        return visible_batch(name, v, self.dim)

    @abstractmethod
    def energy(self, v: TensorVariable) -> TensorVariable:
        """Per-row energies of a batch.

        Parameters
        ----------
        v : TensorVariable or array_like, shape (n, dim)
            A batch of visible vectors. Every method of an energy that takes
            ``v`` refuses (``ValueError`` naming it) anything else: a
            symbolic matrix of another static width, a vector, or numbers of
            another shape.

        Returns
        -------
        TensorVariable, shape (n,)
        """

    def laplacian(self, v: TensorVariable) -> TensorVariable:
        """Per-row Laplacian ``tr ∇²_v E(v) = Σ_i ∂²E/∂v_i²``, shape ``(n,)``.

        Families with a cheap closed form override this (``Gaussian``,
        ``StudentT``, ``FASConstraints``, ``TopographicStudentT``, and a
        ``ProductOfExperts`` of such parts). Here, the fallback: exact second
        derivatives through PyTensor, one backward pass of the gradient per
        dimension (``dim`` passes, each about the cost of two energy
        evaluations, and a graph ``dim`` times the gradient's size), allowed
        up to ``dim <= LAPLACIAN_AUTODIFF_LIMIT`` (64).

        Parameters
        ----------
        v : TensorVariable, shape (n, dim)
            A batch of visible vectors (symbolic: the derivatives are taken
            with respect to it).

        Returns
        -------
        TensorVariable, shape (n,)

        Raises
        ------
        ValueError
            Above the dimension limit, for a family without a closed form.

        Examples
        --------
        ``E(v) = Σ_j α_j log(1 + ½ s_j²)`` at ``s = 0`` has Laplacian ``Σ_j α_j |W_j|²``:

        >>> import numpy as np, pytensor.tensor as pt, pymc_ebm
        >>> from pymc_ebm.energies.base import Energy
        >>> expert = pymc_ebm.StudentT(W=[[1.0, 2.0]], alpha=[3.0])
        >>> v = pt.matrix("v")
        >>> round(float(Energy.laplacian(expert, v).eval({v: np.zeros((1, 2))})[0]), 9)
        15.0
        """
        if self.dim > LAPLACIAN_AUTODIFF_LIMIT:
            raise ValueError(
                f"{type(self).__name__} has no closed-form Laplacian, and exact second "
                f"derivatives in dim={self.dim} cost {self.dim} backward passes of the "
                f"gradient per batch, above the limit of {LAPLACIAN_AUTODIFF_LIMIT} "
                "(LAPLACIAN_AUTODIFF_LIMIT); use sliced or denoising score matching, "
                "which need no Laplacian"
            )
        v = self._visible(v)
        grad = energy_gradient(self, v)
        # rows are independent: ∂/∂v of the column sum of ∂E/∂v_i is row-wise ∂²E/∂v_i²
        diagonal = [pt.grad(pt.sum(grad[:, i]), v)[:, i] for i in range(self.dim)]
        return pt.add(*diagonal) if len(diagonal) > 1 else diagonal[0]

    def expert_log_density(self, v: TensorVariable) -> TensorVariable:
        """Normalised log density of each expert on its own, shape ``(n, n_experts)``.

        Only families whose experts are proper densities on their own provide
        it; it is what :class:`~pymc_ebm.Mixture` combines.
        """
        raise TypeError(
            f"{type(self).__name__} experts are not normalised densities on their own, "
            "so they cannot be mixed"
        )

    def energy_fn(self):
        """Compile ``v -> energy(v)`` for NumPy arrays of shape ``(n, dim)``.

        The compiled function refuses (``ValueError``) an input that is not
        numbers of shape ``(n, dim)``, before it reaches the graph.
        """
        floatx = pytensor.config.floatX
        v = pt.matrix("v", dtype=floatx)
        fn = backends.function([v], self.energy(v))
        dim = self.dim

        def evaluate(v: npt.ArrayLike) -> np.ndarray:
            return fn(rows_of("v", v, dim, dtype=floatx))

        return evaluate

    def __mul__(self, other: Energy) -> Energy:
        if not isinstance(other, Energy):
            return NotImplemented
        # from the registry: the combinations module imports this one
        return ENERGY_CLASSES["ProductOfExperts"]([self, other])

    # -- persistence ------------------------------------------------------
    @abstractmethod
    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this energy with its current values.

        Used by :func:`pymc_ebm.save` / :func:`pymc_ebm.load`; values are
        arrays, or lists of energies for combinations.
        """

    def structure_kwargs(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this energy's structure, not its values.

        Shapes, domain and settings, with placeholder parameter values that
        the constructor accepts: :func:`pymc_ebm.load` builds the energy from
        them, then restores the saved unconstrained parameters with
        :meth:`set_params`, so that values the constructor would refuse
        (``logit_pi = 50``, i.e. ``pi == 1.0`` in floating point) round-trip
        exactly. Defaults to :meth:`init_kwargs`.
        """
        return self.init_kwargs()

    def copy(self) -> Energy:
        """An independent copy with the same parameter values, bit for bit.

        The copy has its own shared variables: training one leaves the other
        as it was. It is built as :func:`pymc_ebm.load` builds a saved
        energy: each distinct part once (:func:`unique_parts`, from its
        :meth:`structure_kwargs`), then the unconstrained parameters with
        :meth:`set_params`, so values that the constructor would refuse are
        copied exactly, and a part that appears several times (``a * a``)
        is one object in the copy too, with its parameters still tied.

        Examples
        --------
        >>> import numpy as np, pymc_ebm
        >>> experts = pymc_ebm.UniGauss([[0.5, 0.5]], [[0.1, 0.1]], [0.5])
        >>> frozen = experts.copy()
        >>> experts.set_params({"logit_pi": np.array([50.0])})
        >>> float(frozen.get_params()["logit_pi"][0]), float(experts.get_params()["logit_pi"][0])
        (0.0, 50.0)
        >>> len((experts * experts).copy().params)
        3
        """
        twins: dict[int, Energy] = {}
        for part in unique_parts(self):
            kwargs = {
                key: [twins[id(p)] for p in value] if is_energy_list(value) else value
                for key, value in part.structure_kwargs().items()
            }
            twins[id(part)] = type(part)(**kwargs)
        twin = twins[id(self)]
        twin.set_params(self.get_params())
        return twin

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, n_experts={self.n_experts})"


def energy_gradient(energy: Energy, v: TensorVariable) -> TensorVariable:
    """Per-row gradient ``∇_v E(v)`` of a batch, shape ``(n, dim)`` (one backward pass).

    The rows of an energy are independent, so the gradient of the summed
    energies is, row by row, the gradient of each row's energy.

    Parameters
    ----------
    energy : Energy
        The energy to differentiate.
    v : TensorVariable, shape (n, dim)
        Symbolic visible vectors.

    Returns
    -------
    TensorVariable, shape (n, dim)

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt, pymc_ebm
    >>> from pymc_ebm.energies.base import energy_gradient
    >>> expert = pymc_ebm.Gaussian(mu=[[1.0]], sigma=[[2.0]])
    >>> v = pt.matrix("v")
    >>> energy_gradient(expert, v).eval({v: np.array([[3.0]])}).tolist()  # (v - μ) / σ²
    [[0.5]]
    """
    return pt.grad(pt.sum(energy.energy(v)), v)


def is_energy_list(value: Any) -> bool:
    """Whether a constructor argument is a list of energies (the parts of a combination)."""
    return isinstance(value, list) and all(isinstance(part, Energy) for part in value)


def unique_parts(energy: Energy) -> list[Energy]:
    """``energy`` and every energy it is built from, each object once, parts first.

    The parts are the energies in the lists of :meth:`Energy.structure_kwargs`
    (the experts of a combination), followed down to the leaves. An object that
    appears several times (``a * a``, or a part of a mixture that is also a
    factor of the product) is listed once, at its first appearance, so that
    rebuilding the list in order gives one object per original object.

    Returns
    -------
    list of Energy
        Every part before the combinations that hold it; ``energy`` last.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> from pymc_ebm.energies.base import unique_parts
    >>> a = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    >>> [type(part).__name__ for part in unique_parts(a * a)]
    ['Gaussian', 'ProductOfExperts']
    """
    order: dict[int, Energy] = {}

    def visit(node: Energy) -> None:
        if id(node) in order:
            return
        for value in node.structure_kwargs().values():
            if is_energy_list(value):
                for part in value:
                    visit(part)
        order[id(node)] = node

    visit(energy)
    return list(order.values())
