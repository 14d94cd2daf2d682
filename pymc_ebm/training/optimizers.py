"""Parameter updates from PyMC's optimisers (``pm.sgd``, ``pm.momentum``, ``pm.adam``).

PyMC's update functions return one ``OrderedDict`` mapping every shared
variable to its new value: the parameters, and the optimiser's own state
(velocities, moments, step count) that they create. The thin classes here
split that dictionary into parameter updates and state updates (every key
that is not a parameter is state), so that a trainer can guard both (keep
the old values when anything is non-finite), and keep the state variables
so that :meth:`Optimizer.reset` can zero them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import finite_float

__all__ = ["Adam", "Optimizer", "SGD", "guarded_step", "make_optimizer"]

Updates = list[tuple[SharedVariable, TensorVariable]]


def _rate(name: str, value: float) -> float:
    return finite_float(name, value, low=0.0, high=1.0, high_open=True)


class Optimizer(ABC):
    """Base class: ``updates(params, grads)`` returns ``(parameter, state)`` update pairs.

    Subclasses implement :meth:`pymc_updates`, a call to one of PyMC's
    update functions.

    Parameters
    ----------
    learning_rate : float
        Positive step size.
    """

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = finite_float("learning_rate", learning_rate, low=0.0, low_open=True)
        self._state: list[SharedVariable] = []

    @abstractmethod
    def pymc_updates(
        self, params: list[SharedVariable], grads: list[TensorVariable]
    ) -> OrderedDict[SharedVariable, TensorVariable]:
        """PyMC's update dictionary for these parameters and gradients."""

    def updates(
        self, params: Sequence[SharedVariable], grads: Sequence[TensorVariable]
    ) -> tuple[Updates, Updates]:
        """Return ``(parameter updates, optimiser-state updates)``.

        Parameters
        ----------
        params : sequence of SharedVariable
            The parameters, updated in place by the compiled function.
        grads : sequence of TensorVariable
            Gradients of the loss, one per parameter (same shapes).

        Returns
        -------
        tuple of list
            ``(shared, new value)`` pairs for the parameters (in ``params``
            order), then for the state variables the optimiser created.
        """
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
        all_updates = self.pymc_updates(params, grads)
        param_updates = [(p, all_updates[p]) for p in params]
        known = set(params)
        state_updates = [(s, new) for s, new in all_updates.items() if s not in known]
        self._state.extend(s for s, _ in state_updates)
        return param_updates, state_updates

    @property
    def state(self) -> list[SharedVariable]:
        """The optimiser's state variables created so far (velocities, moments, step count)."""
        return list(self._state)

    def reset(self) -> None:
        """Zero the optimiser's state (velocities, moments, step count)."""
        for shared in self._state:
            shared.set_value(np.zeros_like(shared.get_value(borrow=True)))


class SGD(Optimizer):
    """Gradient descent with (heavy-ball) momentum: ``u ← m u - lr g``, ``θ ← θ + u``.

    ``pm.momentum`` when ``momentum > 0``, plain ``pm.sgd`` (``θ ← θ - lr g``,
    no state) when it is 0.

    Parameters
    ----------
    learning_rate : float
        Positive step size.
    momentum : float, default 0.0
        In ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> from pymc_ebm.training.optimizers import SGD
    >>> theta = pytensor.shared(np.array([1.0]))
    >>> params, state = SGD(learning_rate=0.1).updates([theta], [2 * theta])
    >>> pytensor.function([], [], updates=params + state)()
    []
    >>> theta.get_value()  # 1 - 0.1 × 2
    array([0.8])
    """

    def __init__(self, learning_rate: float, momentum: float = 0.0) -> None:
        super().__init__(learning_rate)
        self.momentum = _rate("momentum", momentum)

    def pymc_updates(self, params, grads):
        """``pm.momentum`` (or ``pm.sgd`` without momentum)."""
        if self.momentum == 0.0:
            return pm.sgd(grads, params, learning_rate=self.learning_rate)
        return pm.momentum(grads, params, learning_rate=self.learning_rate, momentum=self.momentum)


class Adam(Optimizer):
    """Adam (``pm.adam``): bias-corrected first and second moments of the gradient.

    Parameters
    ----------
    learning_rate : float
        Positive step size.
    beta1, beta2 : float
        Decay rates of the moments, in ``[0, 1)``; ``beta1 = 0`` uses the
        current gradient alone as first moment (RMSprop with bias correction).
    epsilon : float
        Positive, added to the root second moment.

    References
    ----------
    Kingma, D. P. and Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.

    Examples
    --------
    >>> from pymc_ebm.training.optimizers import Adam
    >>> Adam(learning_rate=1e-3).beta2
    0.999
    """

    def __init__(
        self,
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = _rate("beta1", beta1)
        self.beta2 = _rate("beta2", beta2)
        self.epsilon = finite_float("epsilon", epsilon, low=0.0, low_open=True)

    def pymc_updates(self, params, grads):
        """``pm.adam`` with these settings."""
        return pm.adam(
            grads,
            params,
            learning_rate=self.learning_rate,
            beta1=self.beta1,
            beta2=self.beta2,
            epsilon=self.epsilon,
        )


def make_optimizer(name: str | Optimizer, learning_rate: float, momentum: float) -> Optimizer:
    """Build an optimiser from its name, or pass an :class:`Optimizer` through.

    ``"sgd"``: :class:`SGD` with this ``momentum``; ``"adam"``: :class:`Adam`
    with ``beta1 = momentum`` (so ``momentum=0.0`` means ``beta1 = 0``, no
    averaging of the gradient).

    Examples
    --------
    >>> from pymc_ebm.training.optimizers import make_optimizer
    >>> make_optimizer("adam", 0.01, momentum=0.0).beta1
    0.0
    """
    if isinstance(name, Optimizer):
        return name
    if name == "sgd":
        return SGD(learning_rate, momentum)
    if name == "adam":
        return Adam(learning_rate, beta1=_rate("momentum", momentum))
    raise ValueError(f"optimizer must be 'sgd', 'adam' or an Optimizer, got {name!r}")


def guarded_step(
    energy,
    loss: TensorVariable,
    optimizer: Optimizer,
    weight_decay: float,
    finite: TensorVariable,
    passes: Callable[[list[TensorVariable]], TensorVariable] | None = None,
) -> tuple[list, TensorVariable, TensorVariable]:
    """One optimiser step on ``loss`` that leaves everything unchanged unless it is finite.

    Parameters
    ----------
    energy : Energy
        Whose ``params`` move; ``weight_decay`` adds ``weight_decay · θ`` to the
        gradient of each parameter named in ``energy.decayed_params``.
    loss : TensorVariable
        Scalar whose gradient the step follows (e.g. data energy minus model energy).
    optimizer : Optimizer
        Makes the parameter and state updates.
    weight_decay : float
        L2 penalty factor (0: none).
    finite : TensorVariable
        Scalar bool: the step is taken only where this and every new parameter are finite.
    passes : callable, optional
        Called with the new values of ``energy.params``; a scalar bool graph
        that must hold too for the step to be taken (the divergence checks).

    Returns
    -------
    updates : list of (shared, new) pairs
        Parameter and optimiser-state updates, each switched off when not
        finite (or when ``passes`` does not hold).
    finite : TensorVariable
        Whether the energies and the new parameters were finite.
    grad_norm : TensorVariable
        Euclidean norm of the (decayed) gradient.
    """
    params = energy.params
    grads = pt.grad(loss, params)
    decayed = set(energy.decayed_params)
    if weight_decay > 0:
        grads = [
            g + weight_decay * p if name in decayed else g
            for name, p, g in zip(energy.param_names, params, grads, strict=True)
        ]
    param_updates, state_updates = optimizer.updates(params, grads)
    for _, new in param_updates:
        finite = finite & pt.all(pt.isfinite(new))
    take = finite if passes is None else finite & passes([new for _, new in param_updates])
    guarded = [(p, pt.switch(take, new, p)) for p, new in param_updates]
    guarded += [(s, pt.switch(take, new, s)) for s, new in state_updates]
    grad_norm = pt.sqrt(sum(pt.sum(g**2) for g in grads))
    return guarded, finite, grad_norm
