"""Score matching: fit an energy by its gradient in ``v``, without ``Z`` or negative samples.

:class:`ScoreMatching` is a :class:`~pymc_ebm.training.Trainer` whose update
goes down one of the losses of :mod:`~pymc_ebm.training.score_losses` on
each minibatch; the checks, minibatches, history, ``fit`` loop, progress
bar and divergence guard are the scaffold's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytensor.tensor as pt

from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.training.divergence import DEFAULT_CHECK, DivergenceCheck
from pymc_ebm.training.optimizers import Optimizer
from pymc_ebm.training.score_losses import (
    denoising_score_loss,
    exact_score_loss,
    sliced_score_loss,
)
from pymc_ebm.training.trainer import Trainer, check_energy

__all__ = ["METHODS", "ScoreMatching"]

#: The score-matching losses :class:`ScoreMatching` can minimise.
METHODS = ("exact", "sliced", "denoising")


class ScoreMatching(Trainer):
    """Score matching of an energy on the whole space: ``exact``, ``sliced`` or ``denoising``.

    Each update takes a minibatch ``d`` and moves the parameters down the
    gradient of a score-matching loss (+ ``weight_decay · θ``):

    * ``"exact"`` (Hyvärinen 2005): ``mean_d[½ |∇_v E|² − tr ∇²_v E]``
      (:func:`~pymc_ebm.training.score_losses.exact_score_loss`), with the
      Laplacian of :meth:`~pymc_ebm.Energy.laplacian`: in closed form for
      ``Gaussian``, ``StudentT``, ``FASConstraints``,
      ``TopographicStudentT`` and their products, otherwise by exact second
      derivatives (``dim`` backward passes per update, allowed up to
      ``dim <= 64``; above, use ``"sliced"``). Its optimum is that of
      ``½ E_d |∇ log p − ∇ log p_d|²``; for a Gaussian, the
      maximum-likelihood Gaussian (the data's mean and variance).
    * ``"sliced"`` (Song et al. 2019, variance-reduced): the Laplacian
      replaced by ``uᵀ ∇²E u`` for ``n_projections`` standard normal
      directions ``u`` per row, drawn afresh every update
      (:func:`~pymc_ebm.training.score_losses.sliced_score_loss`): an
      unbiased estimate of the exact loss for one extra backward pass, in
      any dimension.
    * ``"denoising"`` (Vincent 2011): the score at ``v + σ ε`` matched to
      ``−ε / σ``, with standard normal ``ε`` drawn afresh every update
      (:func:`~pymc_ebm.training.score_losses.denoising_score_loss`). It
      learns the density of the **noised** data (the data convolved with
      ``N(0, σ² I)``), not the data's own: a Gaussian learns the data's
      variance plus ``σ²``.

    Energies on a box (``energy.domain``, e.g. ``UniGauss``) are refused:
    score matching's integration by parts drops boundary terms that do not
    vanish on a box, so the loss would be wrong there.

    Parameters
    ----------
    energy : Energy
        The energy to train (on the whole space), updated in place.
    method : {"exact", "sliced", "denoising"}, default "exact"
    batch_size : int, default 100
    learning_rate : float, default 0.01
    momentum : float, default 0.9
        As in :class:`~pymc_ebm.ContrastiveDivergence`.
    weight_decay : float, default 0.0
        L2 penalty on ``energy.decayed_params``.
    optimizer : {"sgd", "adam"} or Optimizer, default "sgd"
    n_projections : int, default 1
        Random projections per row and update (``"sliced"`` only).
    sigma : float, optional
        Noise scale, positive; required by ``"denoising"`` (and only used there).
    random_seed : int, optional
        Seeds the minibatch order and the projections or noise.
    compile_kwargs : dict, optional
        Keyword arguments of ``pytensor.function`` for the compiled update;
        without a ``mode``, the package-level backend's.
    divergence_check : DivergenceCheck or None, default ``DivergenceCheck()``
        Thresholds of the divergence checks run on every update (the
        energy-gap check watches ``|loss|``); ``None`` runs none.

    Attributes
    ----------
    history : xarray.Dataset
        One entry per update: ``energy_data`` (mean energy of the minibatch),
        ``loss`` (before the update), ``grad_norm``, parameter norms and
        ``seconds``.

    Raises
    ------
    ValueError
        For a box energy, an unknown ``method``, a non-positive
        ``n_projections`` or ``sigma``, ``"denoising"`` without ``sigma``,
        or ``"exact"`` on an energy without a closed-form Laplacian above
        64 dimensions.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> X = np.random.default_rng(0).normal(2.0, 0.5, size=(400, 1))
    >>> expert = pymc_ebm.Gaussian(mu=[[0.0]], sigma=[[1.0]])
    >>> sm = pymc_ebm.ScoreMatching(expert, batch_size=400, optimizer="adam",
    ...                             learning_rate=0.05, random_seed=0)
    >>> history = sm.fit(X, n_updates=500, progressbar=False)
    >>> bool(np.allclose([expert.mu.get_value()[0, 0], expert.sigma[0, 0]], [X.mean(), X.std()]))
    True
    >>> sorted(k for k in history.data_vars if not k.startswith("norm_"))
    ['energy_data', 'grad_norm', 'loss', 'seconds']
    """

    progress_label: ClassVar[str] = "score-matching updates"
    progress_field: ClassVar[tuple[str, str, str]] = ("loss", "loss", "+.4g")

    def __init__(
        self,
        energy: Energy,
        method: str = "exact",
        batch_size: int = 100,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        optimizer: str | Optimizer = "sgd",
        n_projections: int = 1,
        sigma: float | None = None,
        random_seed: int | None = None,
        compile_kwargs: dict[str, Any] | None = None,
        divergence_check: DivergenceCheck | None = DEFAULT_CHECK,
    ) -> None:
        check_energy(energy)
        if energy.domain is not None:
            raise ValueError(
                f"score matching cannot train {type(energy).__name__}: its density lives on "
                "a box, and score matching's integration by parts drops boundary terms "
                "that do not vanish there, so the loss would be wrong near the faces; "
                "use ContrastiveDivergence or MaximumLikelihood"
            )
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.n_projections = positive_int("n_projections", n_projections)
        if sigma is None:
            if method == "denoising":
                raise ValueError("sigma (the noise scale) is required by method='denoising'")
            self.sigma = None
        else:
            self.sigma = finite_float("sigma", sigma, low=0.0, low_open=True)
        seeds = np.random.SeedSequence(random_seed).spawn(2)
        super().__init__(
            energy,
            batch_size=batch_size,
            learning_rate=learning_rate,
            momentum=momentum,
            weight_decay=weight_decay,
            optimizer=optimizer,
            compile_kwargs=compile_kwargs,
            batch_rng=np.random.default_rng(seeds[0]),
            divergence_check=divergence_check,
        )
        self._draw_rng = np.random.default_rng(seeds[1])
        data = pt.matrix("data", dtype=self._float_x)
        inputs = [data]
        if method == "exact":
            loss = exact_score_loss(energy, data)  # the Laplacian's limit is checked here
        elif method == "sliced":
            projections = pt.tensor3("projections", dtype=self._float_x)
            inputs.append(projections)
            loss = sliced_score_loss(energy, data, projections)
        else:
            noise = pt.matrix("noise", dtype=self._float_x)
            inputs.append(noise)
            loss = denoising_score_loss(energy, data, noise, self.sigma)
        e_data = pt.mean(energy.energy(data))
        finite = pt.isfinite(e_data) & pt.isfinite(loss)
        self._compile_update(inputs, e_data, None, finite, loss=loss)

    def _draws(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        """The projections or noise of one update (nothing for ``"exact"``), in ``floatX``."""
        if self.method == "sliced":
            shape = (self.n_projections, *batch.shape)
        elif self.method == "denoising":
            shape = batch.shape
        else:
            return ()
        return (self._draw_rng.standard_normal(shape).astype(self._float_x),)

    def _update_step(self, batch: np.ndarray) -> dict[str, float]:
        record, _ = self._run_update(batch, *self._draws(batch))
        return record

    def _history_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"method": self.method}
        if self.method == "sliced":
            attrs["n_projections"] = self.n_projections
        if self.method == "denoising":
            attrs["sigma"] = self.sigma
        return attrs
