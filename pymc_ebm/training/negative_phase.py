"""The negative phase of contrastive divergence: a PyMC step method run on a batch model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm

from pymc_ebm import backends
from pymc_ebm.energies.base import Energy
from pymc_ebm.model.registration import visible
from pymc_ebm.model.terms import value_transform

__all__ = ["NegativePhase", "SAMPLERS"]

SAMPLERS = ("gibbs", "hmc", "nuts")

StepFactory = Callable[[pm.Model], Any]


class NegativePhase:
    """Run ``k`` steps of a PyMC step method from a batch of starting points.

    The batch model holds ``batch_size`` independent rows (``visible`` with
    ``n_particles=batch_size``); the step method moves all rows at once, and the
    rows come back in the data space (through the variable's transform).

    Parameters
    ----------
    energy : Energy
        The energy being learned (its shared parameters are read by the step).
    batch_size : int
        Rows of the batch model.
    sampler : {"gibbs", "hmc", "nuts"} or callable
        ``"gibbs"``: :class:`~pymc_ebm.UniGaussGibbs`; ``"hmc"``:
        :class:`~pymc_ebm.ShortRunHMC`; ``"nuts"``: PyMC's NUTS; a callable
        gets the batch model and returns a step method.
    step_kwargs : dict, optional
        Keyword arguments of the step method's constructor.
    rng : numpy.random.Generator
        Source of the step method's randomness.
    fast_path : bool, default True
        When the step is plain blocked Gibbs on the visibles alone
        (:class:`~pymc_ebm.UniGaussGibbs` without mode jumps, the ``"gibbs"``
        default), call its uni-gauss kernel on the batch directly: the same
        draws from the same generator, without the interval-transform round
        trips and PyMC points of ``step.step``. ``False`` always calls
        ``step.step`` (the generic path, for comparisons); other steps always
        take the generic path.

    Attributes
    ----------
    fast_path : bool
        Whether :meth:`run` calls the kernel directly.
    """

    def __init__(
        self,
        energy: Energy,
        batch_size: int,
        sampler: str | StepFactory,
        step_kwargs: dict[str, Any] | None,
        rng: np.random.Generator,
        fast_path: bool = True,
    ) -> None:
        self.energy = energy
        self.batch_size = batch_size
        with pm.Model() as model:
            self.v = visible("v", energy, n_particles=batch_size)
        self.model = model
        self.value_name = model.rvs_to_values[self.v].name
        self.step = self._build_step(sampler, dict(step_kwargs or {}), rng)
        self._kernel = self._plain_gibbs_kernel() if fast_path else None
        self.fast_path = self._kernel is not None
        # the kernel path works in data space: no transform functions to compile
        self._to_value, self._from_value = (
            (None, None) if self.fast_path else value_transform(model, self.v)
        )
        self._point = {name: np.array(value) for name, value in model.initial_point().items()}

    def _build_step(self, sampler, step_kwargs, rng):
        model = self.model
        if callable(sampler):
            step = sampler(model, **step_kwargs)
        elif sampler == "gibbs":
            from pymc_ebm.step_methods import UniGaussGibbs

            step_kwargs.setdefault("mode_jumps", False)  # the lecture's plain Gibbs chain
            step = UniGaussGibbs(vars=[self.v], model=model, **step_kwargs)
        elif sampler == "hmc":
            from pymc_ebm.step_methods import ShortRunHMC

            step = ShortRunHMC(vars=[self.v], model=model, **step_kwargs)
        elif sampler == "nuts":
            step_kwargs["compile_kwargs"] = backends.compile_kwargs(
                step_kwargs.get("compile_kwargs")
            )
            step = pm.NUTS(vars=[self.v], model=model, **step_kwargs)
        else:
            raise ValueError(f"sampler must be one of {SAMPLERS} or a callable, got {sampler!r}")
        if not hasattr(step, "step"):
            raise TypeError("the sampler callable must return a PyMC step method")
        step.setup_chain(rng, tune=1, draws=0)
        return step

    def _plain_gibbs_kernel(self):
        """The uni-gauss kernel when the step is plain blocked Gibbs on ``v`` alone, else None.

        Such a step (``UniGaussGibbs`` without mode jumps, the ``"gibbs"``
        default) does nothing but kernel sweeps, so :meth:`run` calls the
        kernel on the batch directly, with the step's generator: the same
        draws, without the interval-transform round trips and PyMC points of
        ``step.step`` (about a quarter of a CD-1 update on small models).
        """
        from pymc_ebm.step_methods.unigauss_gibbs import UniGaussGibbs

        step = self.step
        if type(step) is not UniGaussGibbs or step.mode_jumps or len(step.groups) != 1:
            return None
        group = step.groups[0]
        if group.h_name is not None or not group.update_v:
            return None
        return group.kernel

    def _run_kernel(self, start: np.ndarray, k: int) -> tuple[np.ndarray, dict[str, float]]:
        """``k`` sweeps of the kernel, with the statistics ``UniGaussGibbs.step`` reports.

        Plain Gibbs makes no mode jumps, so there is no ``jump_accept``.
        """
        v = np.asarray(start, dtype=self.v.dtype)
        active = 0.0
        for _ in range(k):
            h = self._kernel.sample_hidden(v, self.step.rng)
            v = self._kernel.sample_visible(h, self.step.rng)
            active += np.count_nonzero(h) / h.shape[0]
        negatives = v.astype(self.v.dtype, copy=False)
        return negatives, {"active_experts": active / k}  # no jumps: no jump_accept

    def run(self, start: np.ndarray, k: int) -> tuple[np.ndarray, dict[str, float]]:
        """Move ``start`` (shape ``(batch_size, dim)``) by ``k`` steps.

        Returns the negatives in data space and the step statistics averaged
        over the ``k`` steps (scalar statistics only; one that is NaN at
        every step, such as ``jump_accept`` when no jump was made, is left out).
        """
        if self._kernel is not None:
            return self._run_kernel(start, k)
        point = dict(self._point)
        point[self.value_name] = np.asarray(
            self._to_value(np.asarray(start, dtype=self.v.dtype)), dtype=self.v.dtype
        )
        collected: dict[str, list[float]] = {}
        for _ in range(k):
            point, stats = self.step.step(point)
            for stat in stats:
                for key, value in stat.items():
                    if key == "tune":
                        continue
                    value = np.asarray(value)
                    if value.ndim == 0 and value.dtype.kind in "biuf":
                        collected.setdefault(key, []).append(float(value))
        self._point = point
        negatives = np.asarray(self._from_value(point[self.value_name]))
        means = {key: float(np.mean(vals)) for key, vals in collected.items()}
        return negatives, {
            key: mean for key, mean in means.items() if not np.isnan(collected[key]).all()
        }

    def stop_tuning(self) -> None:
        """Freeze the step method's tuned settings (step size)."""
        self.step.stop_tuning()
