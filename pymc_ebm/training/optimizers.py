"""Parameter updates as PyTensor graphs: SGD with momentum and Adam.

Each optimiser turns gradients into new values for the shared parameters
(and its own state), so a trainer can compile one function that computes
the gradient and applies the update in place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.tensor.variable import TensorVariable

__all__ = ["Adam", "Optimizer", "SGD", "make_optimizer"]

Updates = list[tuple[SharedVariable, TensorVariable]]


def _zeros_like(param: SharedVariable, name: str) -> SharedVariable:
    value = param.get_value(borrow=True)
    return pytensor.shared(np.zeros_like(value), name=f"{param.name}.{name}")


def _check_rate(name: str, value: float, low: float = 0.0, high: float | None = None) -> float:
    value = float(value)
    if not np.isfinite(value) or value < low or (high is not None and value >= high):
        bounds = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return value


class Optimizer(ABC):
    """Base class: ``updates(params, grads)`` returns ``(shared, new_value)`` pairs.

    Parameter updates are returned separately from state updates so that a
    trainer can guard them (keep the old values when anything is non-finite).
    """

    def __init__(self, learning_rate: float) -> None:
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self._state: list[SharedVariable] = []

    @abstractmethod
    def updates(
        self, params: Sequence[SharedVariable], grads: Sequence[TensorVariable]
    ) -> tuple[Updates, Updates]:
        """Return ``(parameter updates, optimiser-state updates)``."""

    def reset(self) -> None:
        """Zero the optimiser's state (velocities, moments, step count)."""
        for shared in self._state:
            shared.set_value(np.zeros_like(shared.get_value(borrow=True)))


class SGD(Optimizer):
    """Gradient descent with (heavy-ball) momentum: ``u ← m u - lr g``, ``θ ← θ + u``.

    Parameters
    ----------
    learning_rate : float
        Positive step size.
    momentum : float, default 0.0
        In ``[0, 1)``.

    Examples
    --------
    >>> from pymc_ebm.training.optimizers import SGD
    >>> SGD(learning_rate=0.1, momentum=0.9).momentum
    0.9
    """

    def __init__(self, learning_rate: float, momentum: float = 0.0) -> None:
        super().__init__(learning_rate)
        self.momentum = _check_rate("momentum", momentum, 0.0, 1.0)

    def updates(self, params, grads):
        """Return ``(parameter updates, velocity updates)``."""
        param_updates: Updates = []
        state_updates: Updates = []
        for param, grad in zip(params, grads, strict=True):
            if self.momentum == 0.0:
                param_updates.append((param, param - self.learning_rate * grad))
                continue
            velocity = _zeros_like(param, "velocity")
            self._state.append(velocity)
            new_velocity = self.momentum * velocity - self.learning_rate * grad
            state_updates.append((velocity, new_velocity))
            param_updates.append((param, param + new_velocity))
        return param_updates, state_updates


class Adam(Optimizer):
    """Adam: bias-corrected first and second moments of the gradient.

    Parameters
    ----------
    learning_rate : float
        Positive step size.
    beta1, beta2 : float
        Decay rates of the moments, in ``[0, 1)``.
    epsilon : float
        Added to the root second moment.

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
        self.beta1 = _check_rate("beta1", beta1, 0.0, 1.0)
        self.beta2 = _check_rate("beta2", beta2, 0.0, 1.0)
        if not np.isfinite(epsilon) or epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def updates(self, params, grads):
        """Return ``(parameter updates, moment and step-count updates)``."""
        step = pytensor.shared(np.asarray(0.0, dtype=pytensor.config.floatX), name="adam.t")
        self._state.append(step)
        t = step + 1
        param_updates: Updates = []
        state_updates: Updates = [(step, t)]
        correction = pt.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        for param, grad in zip(params, grads, strict=True):
            m = _zeros_like(param, "adam_m")
            s = _zeros_like(param, "adam_v")
            self._state.extend([m, s])
            new_m = self.beta1 * m + (1 - self.beta1) * grad
            new_s = self.beta2 * s + (1 - self.beta2) * grad**2
            state_updates += [(m, new_m), (s, new_s)]
            delta = self.learning_rate * correction * new_m / (pt.sqrt(new_s) + self.epsilon)
            param_updates.append((param, param - delta))
        return param_updates, state_updates


def make_optimizer(name: str | Optimizer, learning_rate: float, momentum: float) -> Optimizer:
    """Build an optimiser from its name (``"sgd"`` or ``"adam"``) or pass one through."""
    if isinstance(name, Optimizer):
        return name
    if name == "sgd":
        return SGD(learning_rate, momentum)
    if name == "adam":
        return Adam(learning_rate, beta1=momentum if momentum > 0 else 0.9)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or an Optimizer, got {name!r}")
