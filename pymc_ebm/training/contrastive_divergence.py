"""Learning an energy by contrastive divergence (CD-k, persistent CD, HMC shortcut)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt

from pymc_ebm._validation import non_negative_int, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.training.divergence import DEFAULT_CHECK, DivergenceCheck
from pymc_ebm.training.missing_inputs import Minibatch, MissingInputs, check_missing_kwargs
from pymc_ebm.training.negative_phase import SAMPLERS, NegativePhase, StepFactory
from pymc_ebm.training.optimizers import Optimizer
from pymc_ebm.training.trainer import NonFiniteUpdateError, Trainer, check_energy

__all__ = ["ContrastiveDivergence", "Minibatch", "NonFiniteUpdateError"]


class ContrastiveDivergence(Trainer):
    """Contrastive-divergence learning of an energy's parameters.

    Each update takes a minibatch ``d``, gets negative samples ``c`` by
    running a PyMC step method ``k`` times on a batch model (from the data:
    CD-k, the lecture's "shortcut"; or from persistent chains: PCD), and
    moves the shared parameters down

    ``⟨∂E/∂θ⟩_d − ⟨∂E/∂θ⟩_c  (+ weight_decay · θ)``

    with SGD-momentum or Adam, in one compiled PyTensor function. The
    parameters live on an unconstrained scale (``log_sigma``, ``logit_pi``...),
    so they always stay valid. An update whose energies or new parameters
    are not finite is not applied: :class:`NonFiniteUpdateError` is raised
    and the parameters and history of the last good update remain; an
    update that diverges (``divergence_check``) is undone the same way and
    raises :class:`~pymc_ebm.TrainingDivergedError`. The checks,
    minibatches, history and ``fit`` loop are those of every
    :class:`~pymc_ebm.training.Trainer`.

    Parameters
    ----------
    energy : Energy
        The energy to train, updated in place.
    sampler : {"gibbs", "hmc", "nuts"} or callable, default "gibbs"
        Negative-phase step method: :class:`~pymc_ebm.UniGaussGibbs` (uni-gauss
        energies), :class:`~pymc_ebm.ShortRunHMC`, PyMC's ``NUTS``, or a
        callable ``f(model, **step_kwargs)`` returning a step method.
    k : int, default 1
        Step-method calls per update.
    batch_size : int, default 100
        Rows per minibatch (and rows of the batch model).
    learning_rate : float, default 0.01
    momentum : float, default 0.9
        In ``[0, 1)``. SGD's momentum, or Adam's ``beta1`` (the decay rate of
        its first moment): ``momentum=0.0`` with ``optimizer="adam"`` means
        ``beta1 = 0``, not Adam's usual 0.9.
    weight_decay : float, default 0.0
        L2 penalty ``½ weight_decay |θ|²`` on the parameters listed in
        ``energy.decayed_params``: weights such as ``StudentT.W`` or the layer
        matrices of ``MLPEnergy``, never locations, scales or mixing
        proportions (``Gaussian``, ``UniGauss`` and ``Mixture`` decay nothing).
    optimizer : {"sgd", "adam"} or Optimizer, default "sgd"
        ``"sgd"``: PyMC's ``pm.momentum`` (``pm.sgd`` when ``momentum=0``);
        ``"adam"``: ``pm.adam``; or an
        :class:`~pymc_ebm.training.optimizers.Optimizer` (its own settings).
    persistent : bool, default False
        Keep the negative chains between updates (PCD).
    step_kwargs : dict, optional
        Passed to the step method (e.g. ``n_steps``, ``step_size``;
        ``find_step_size=False`` for ShortRunHMC's dual averaging without
        the step-size search of the first update).
    random_seed : int, optional
        Seeds minibatch order and the step method.
    fast_path : bool, default True
        Passed to :class:`~pymc_ebm.training.negative_phase.NegativePhase`:
        with the plain ``"gibbs"`` sampler, draw the negatives with the
        uni-gauss kernel directly (the same draws as through
        ``UniGaussGibbs.step``, faster). ``False`` always goes through the
        step method's ``step`` (for comparisons).
    missing : {None, "fill", "hmc"}, default None
        Learning with missing inputs (``NaN`` entries of the data; without
        it, ``NaN`` is a ``ValueError``). The missing entries of the training
        set are filled in at random once (uniformly on the energy's box, or
        between the observed minimum and maximum of their column) and kept
        in :attr:`filled`; each time a row is used in a minibatch, its
        filled-in entries move at the current parameters before the update
        uses the row, and are written back when the update succeeds.
        ``"fill"``: ``n_fill_steps`` steps of size ``fill_step_size`` down
        ``∂E/∂v`` (the lecture's procedure; the filled-in values head for the
        conditional mode, so a learned spread is biased low). ``"hmc"``:
        ``n_draws`` Hamiltonian Monte Carlo draws (masked leapfrog, a
        Metropolis test per row) from the conditional of the missing entries
        given the observed ones (exact); see
        :mod:`pymc_ebm.training.missing_inputs`. The observed
        entries never change. Because the filled-in values belong to rows
        of the training set, ``fit``/``minibatches`` must get the same ``X``
        at every call (checked), and :meth:`minibatches` yields
        :class:`~pymc_ebm.training.Minibatch` ``(values, rows)``.
    missing_kwargs : dict, optional
        ``"fill"``: ``n_fill_steps`` (default 5), ``fill_step_size``
        (default 0.01). ``"hmc"``: ``n_draws`` (default 1) and, as in
        ShortRunHMC, ``n_steps`` (default 10), ``step_size`` (initial,
        default 0.1), ``target_accept`` (0.65), ``step_jitter`` (0.15).
    average_from : int, optional
        Polyak–Ruppert averaging: from the update with this index on
        (0-based, counting every update of this trainer), keep the running
        mean of the parameters after each update in :attr:`averaged_params`;
        :meth:`use_average` writes it into the energy. The mean damps the
        noise that a constant learning rate leaves in the parameters. Start
        it once the fit has settled: parameters that are still free to trade places or
        signs (two experts swapping, a squared filter flipping) average to
        neither. Training itself, the negative phase and the missing inputs
        always use the current parameters. ``None`` (default): no averaging.
    compile_kwargs : dict, optional
        Keyword arguments of ``pytensor.function`` for the compiled update
        (e.g. ``mode="JAX"``); without a ``mode``, the package-level backend's
        (:func:`pymc_ebm.set_backend`). The step method takes its own in
        ``step_kwargs``.
    divergence_check : DivergenceCheck or None, default ``DivergenceCheck()``
        Thresholds of the divergence checks run on every update
        (:mod:`~pymc_ebm.training.divergence`): an update that diverges is
        undone and raises :class:`~pymc_ebm.TrainingDivergedError`.
        ``None`` runs none (the non-finite guard stays).

    Attributes
    ----------
    history : xarray.Dataset
        One entry per finished update along dimension ``update``: the
        energies, their gap, ``grad_norm``, the step statistics
        (``stat_*``), parameter norms and ``seconds``. With ``missing``,
        also ``fill_n_missing`` (missing entries in the minibatch),
        ``fill_move_rms`` (root mean square change of their
        filled-in values in that update; NaN when there are none) and, with
        ``"hmc"``, ``fill_accept``.
    missing_inputs : MissingInputs or None
        The filled-in training set and the functions that move it.
    averaged_params : dict or None
        With ``average_from``: the running mean of each parameter (by name,
        unconstrained scale, float64) over the updates averaged so far;
        ``None`` before the first of them.
    n_averaged : int
        How many updates :attr:`averaged_params` is the mean of.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> expert = pymc_ebm.UniGauss([[0.4, 0.4]], [[0.3, 0.3]], [0.5])
    >>> cd = pymc_ebm.ContrastiveDivergence(expert, batch_size=20, learning_rate=0.05,
    ...                                      random_seed=0)
    >>> X = pymc_ebm.datasets.grid_clusters(n=100, random_seed=0)
    >>> history = cd.fit(X, n_updates=5, progressbar=False)
    >>> history.sizes["update"]
    5

    With 10% of the entries missing:

    >>> X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    >>> cd = pymc_ebm.ContrastiveDivergence(expert, batch_size=20, learning_rate=0.05,
    ...                                      missing="fill", random_seed=0)
    >>> history = cd.fit(X, n_updates=5, progressbar=False)
    >>> observed = ~np.isnan(X)
    >>> bool(np.isfinite(cd.filled).all()), bool((cd.filled[observed] == X[observed]).all())
    (True, True)
    """

    progress_label: ClassVar[str] = "CD updates"
    _non_finite_advice: ClassVar[str] = "Lower the learning rate or the sampler's step size."

    def __init__(
        self,
        energy: Energy,
        sampler: str | StepFactory = "gibbs",
        k: int = 1,
        batch_size: int = 100,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        optimizer: str | Optimizer = "sgd",
        persistent: bool = False,
        step_kwargs: dict[str, Any] | None = None,
        random_seed: int | None = None,
        fast_path: bool = True,
        missing: str | None = None,
        missing_kwargs: dict[str, Any] | None = None,
        average_from: int | None = None,
        compile_kwargs: dict[str, Any] | None = None,
        divergence_check: DivergenceCheck | None = DEFAULT_CHECK,
    ) -> None:
        check_energy(energy)
        if not callable(sampler) and sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS} or a callable, got {sampler!r}")
        if missing is None and missing_kwargs is not None:
            raise ValueError("missing_kwargs needs missing='fill' or 'hmc'")
        if missing is not None:  # checked before anything is compiled
            missing_kwargs = check_missing_kwargs(missing, missing_kwargs)
        self.k = positive_int("k", k)
        self._rng = np.random.default_rng(random_seed)
        step_rng, batch_rng = self._rng.spawn(2)
        super().__init__(
            energy,
            batch_size=batch_size,
            learning_rate=learning_rate,
            momentum=momentum,
            weight_decay=weight_decay,
            optimizer=optimizer,
            compile_kwargs=compile_kwargs,
            batch_rng=batch_rng,
            divergence_check=divergence_check,
        )
        self.sampler = sampler
        self.persistent = bool(persistent)
        self.average_from = (
            None if average_from is None else non_negative_int("average_from", average_from)
        )
        self.averaged_params: dict[str, np.ndarray] | None = None
        self.n_averaged = 0
        self.negative_phase = NegativePhase(
            energy, self.batch_size, sampler, step_kwargs, step_rng, fast_path=fast_path
        )
        self.missing = missing
        self.missing_inputs = (
            None
            if missing is None
            else MissingInputs(
                energy, self.batch_size, missing, missing_kwargs, self._rng.spawn(1)[0]
            )
        )
        data = pt.matrix("data", dtype=self._float_x)
        negatives = pt.matrix("negatives", dtype=self._float_x)
        e_data = pt.mean(energy.energy(data))
        e_negative = pt.mean(energy.energy(negatives))
        finite = pt.isfinite(e_data) & pt.isfinite(e_negative)
        self._compile_update(
            [data, negatives], e_data, e_negative, finite, spread_of=(negatives, data)
        )
        self._chains: np.ndarray | None = None

    # -- validation --------------------------------------------------------
    def _nan_hint(self) -> str:
        if self.missing is not None:
            return ""
        return (
            " (for data with missing entries, pass missing='fill' or 'hmc' "
            "to ContrastiveDivergence)"
        )

    def _check_fit(self, X: npt.ArrayLike, n_updates: int) -> tuple[np.ndarray, int]:
        """With ``missing``: ``X`` may hold ``NaN``, and is attached as the training set."""
        X, n_updates = super()._check_fit(X, n_updates, allow_nan=self.missing_inputs is not None)
        if self.missing_inputs is not None:
            self.missing_inputs.attach(X)
        return X, n_updates

    def _minibatch(self, X: np.ndarray, rows: np.ndarray) -> np.ndarray | Minibatch:
        if self.missing_inputs is not None:
            return Minibatch(X[rows], rows)
        return X[rows]

    # -- training ----------------------------------------------------------
    def partial_fit(
        self,
        batch: npt.ArrayLike | Minibatch,
        negatives: npt.ArrayLike | None = None,
        *,
        rows: npt.ArrayLike | None = None,
    ) -> dict[str, float]:
        """One update on one minibatch; returns its record (one entry of :attr:`history`).

        Parameters
        ----------
        batch : array_like, shape (batch_size, dim), or Minibatch
            The data of this update. With ``missing``, a
            :class:`~pymc_ebm.training.Minibatch` from :meth:`minibatches`
            (or rows of the training set with ``rows``); an array without
            ``rows`` must then have no missing entry.
        negatives : array_like, shape (batch_size, dim), optional
            Negative samples to use instead of running the negative phase
            (e.g. drawn by another sampler); with ``persistent=True`` they
            become the chains of the next update. The record then has no
            step statistics.
        rows : array_like of int, shape (batch_size,), optional
            With ``missing``: the indices of ``batch`` in the training set
            passed to :meth:`fit`/:meth:`minibatches`, whose filled-in values
            are used, moved and kept.
        """
        if isinstance(batch, Minibatch):
            if rows is not None:
                raise ValueError("rows given twice: in the Minibatch and as rows")
            batch, rows = batch
        if rows is not None and self.missing_inputs is None:
            raise ValueError("rows is only used with missing='fill' or 'hmc'")
        if rows is None:
            batch = self._check_rows(self._check_data(batch, "batch"), "batch")
        else:
            batch = self._check_data(batch, "batch", allow_nan=True)
            rows = self.missing_inputs.check_rows(batch, rows)
        if negatives is not None:
            negatives = self._check_rows(self._check_data(negatives, "negatives"), "negatives")
        return self._step(batch, negatives=negatives, rows=rows)

    def _update_step(
        self,
        batch: np.ndarray | Minibatch,
        negatives: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> dict[str, float]:
        if isinstance(batch, Minibatch):  # from minibatches, already checked
            batch, rows = batch
        stats: dict[str, float] = {}
        fill_record: dict[str, float] = {}
        if rows is not None:
            batch, fill_record = self.missing_inputs.fill(rows)
        if negatives is None:
            start = self._chains if (self.persistent and self._chains is not None) else batch
            negatives, stats = self.negative_phase.run(start, self.k)
            negatives = negatives.astype(batch.dtype, copy=False)
        record, _ = self._run_update(batch, negatives, stats=stats)
        if self.persistent:
            self._chains = negatives
        if rows is not None:
            self.missing_inputs.commit(rows, batch)
        if self.average_from is not None and len(self._records) >= self.average_from:
            self._accumulate_average()
        record.update({f"stat_{key}": value for key, value in stats.items()})
        record.update(fill_record)
        return record

    def _accumulate_average(self) -> None:
        """Fold the current parameters into the running mean (float64)."""
        self.n_averaged += 1
        current = self.energy.get_params()
        if self.averaged_params is None:
            self.averaged_params = {name: np.zeros(v.shape) for name, v in current.items()}
        for name, value in current.items():
            mean = self.averaged_params[name]
            mean += (value - mean) / self.n_averaged

    def use_average(self) -> None:
        """Write :attr:`averaged_params` into the energy (cast to its parameters' dtype).

        Raises
        ------
        ValueError
            Without ``average_from``, or before an update has been averaged.
        """
        if self.averaged_params is None:
            reason = (
                "this trainer has no average_from"
                if self.average_from is None
                else f"no update has been averaged yet (averaging starts at update "
                f"{self.average_from}, {len(self._records)} done)"
            )
            raise ValueError(f"no averaged parameters: {reason}")
        self.energy.set_params(self.averaged_params)

    @property
    def filled(self) -> np.ndarray | None:
        """Read-only view of the filled-in training set, shape ``(n, dim)``.

        The observed entries of ``X`` and the current filled-in values of its
        missing ones; ``None`` without ``missing`` or before the first
        :meth:`fit`/:meth:`minibatches`.
        """
        return None if self.missing_inputs is None else self.missing_inputs.filled

    def _history_attrs(self) -> dict[str, Any]:
        return {"sampler": str(self.sampler), "k": self.k, "missing": str(self.missing)}
