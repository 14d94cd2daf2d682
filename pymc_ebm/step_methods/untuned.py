"""What the package's untuned step methods share: the tuning flag and the choice of variables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pymc as pm
from pymc.util import RandomGenerator
from pytensor.graph.basic import Variable

__all__ = ["UntunedStep", "accepted_vars"]


class UntunedStep:
    """Mixin for step methods with nothing to tune: ``tune`` only reports the phase.

    PyMC calls ``setup_chain`` before each chain and ``reset_tuning`` after
    tuning; a step with no adaptation keeps the chain's generator and sets
    the ``tune`` flag its statistics report.
    """

    tune: bool = True

    def setup_chain(self, rng: RandomGenerator, tune: int, draws: int) -> None:
        """Take the chain's generator and reset the tuning flag (nothing is tuned)."""
        super().setup_chain(rng, tune, draws)  # type: ignore[misc]
        self.tune = tune > 0

    def reset_tuning(self) -> None:
        """Nothing to tune."""


def accepted_vars(
    model: pm.Model,
    vars: Sequence[Variable] | Variable | None,
    refusal_reason: Callable[[pm.Model, Any], str | None],
    step_name: str,
) -> list[Variable]:
    """The variables a step samples: those given, or every one it accepts when ``None``.

    Parameters
    ----------
    model : pm.Model
        The model the step is built in.
    vars : variable, list of variables or None
        What the user gave the constructor.
    refusal_reason : callable
        ``refusal_reason(model, rv)``: why the step refuses ``rv`` (``None``: accepted).
    step_name : str
        For the error message.

    Returns
    -------
    list of Variable
        ``vars`` as a list, or the model's value variables the step accepts.

    Raises
    ------
    ValueError
        ``vars=None`` and the step accepts no variable of the model (every reason given).
    """
    if vars is None:
        reasons = {
            value: refusal_reason(model, model.values_to_rvs[value]) for value in model.value_vars
        }
        accepted = [value for value, reason in reasons.items() if reason is None]
        if not accepted:
            raise ValueError(
                f"the model has no variable {step_name} can sample: "
                + "; ".join(str(reason) for reason in reasons.values())
            )
        return accepted
    return list(vars) if isinstance(vars, list | tuple) else [vars]
