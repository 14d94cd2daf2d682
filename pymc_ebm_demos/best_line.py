"""What is the best line? A Gaussian (PCA) constraint against a heavy-tailed Student-t one.

2-D points lie close to a line through the origin, with a fraction of gross
outliers. The line is the constraint ``n · v ≈ 0`` with ``n`` its unit
normal. Two answers:

* **Gaussian**: the minor principal direction of the data covariance (the
  direction of least variance is the normal of the best Gaussian "pancake");
* **Student-t**: one :class:`~pymc_ebm.StudentT` filter ``w`` (shape
  ``(1, 2)``), ``E(v) = α log(1 + ½ (w · v)²)``, times a broad
  :class:`~pymc_ebm.Gaussian` expert that confines the direction along the
  line (the Student-t alone is flat there, so ``exp(-E)`` would not be
  normalisable), learned by :class:`~pymc_ebm.ContrastiveDivergence` with
  :class:`~pymc_ebm.ShortRunHMC` negatives.

**Why the heavy tail wins.** The Gaussian answer minimises the sum of squared
violations ``Σ (n · v)²``: an outlier at distance 2 from the line weighs
1600 times as much as an inlier at the noise level 0.05, so a few percent
of outliers dominate the covariance, and whenever their spread is not
isotropic (here: a box wider than tall) they rotate its minor direction by
degrees. The Student-t expert pays ``α log(1 + ½ s²)`` for a violation
``s = w · v``; its gradient ``α s / (1 + ½ s²)`` falls off like ``1 / s``,
so once ``|w|`` has grown to the inliers' scale an outlier's violation costs
only log energy and barely pulls the filter: the filter is set by the
inliers (a frequently approximately satisfied constraint), and the outliers
are what the heavy tail is for.

**The confining Gaussian is learned too.** :class:`ContrastiveDivergence`
trains every parameter of the energy it is given, and cannot hold a subset
fixed, so the broad Gaussian (``sigma`` = 10 at the start) is trained with
the filter: it learns the data's spread along the two axes (its final
``sigma`` is reported). That change is harmless for the direction: the
Gaussian is axis-aligned, so it cannot represent an oblique line, and the
direction of the constraint is read from ``w`` alone.

With outliers uniform in the square ``[-3, 3]²`` instead (``outlier_box=(3,
3)``), their covariance is isotropic: the Gaussian answer is then unbiased
and only noisier, so the margin is smaller (:func:`seed_table` compares the
two; case study 04 has the figures).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pymc_ebm import ContrastiveDivergence, Gaussian, StudentT

__all__ = [
    "LineSettings",
    "angle_error",
    "best_line",
    "fit_student_t",
    "gaussian_normal",
    "line_data",
    "plot_best_line",
    "seed_table",
]


@dataclass(frozen=True)
class LineSettings:
    """Training settings of :func:`fit_student_t`; :meth:`quick` shortens the run.

    The filter's direction is averaged (as a unit vector, over blocks of
    ``average_every`` updates) over the last ``average_fraction`` of the
    updates, which removes most of the contrastive-divergence noise.
    """

    n_updates: int = 2000
    learning_rate: float = 0.02
    batch_size: int = 100
    n_steps: int = 10
    step_size: float = 0.05
    confining_sigma: float = 10.0
    average_fraction: float = 0.5
    average_every: int = 10

    @classmethod
    def quick(cls) -> LineSettings:
        """About 400 updates at a larger learning rate: under a few seconds."""
        return cls(n_updates=400, learning_rate=0.05)


def _real(name: str, value: Any, rule: str, valid: Callable[[float], bool]) -> float:
    """``value`` as a float when it is a finite real scalar with ``valid(value)``.

    Raises ``ValueError("{name} must {rule}, got {value!r}")`` otherwise.
    """
    message = f"{name} must {rule}, got {value!r}"
    if isinstance(value, bool | str | bytes) or np.ndim(value) != 0:
        raise ValueError(message)
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(message) from err
    if not (np.isfinite(number) and valid(number)):
        raise ValueError(message)
    return number


def line_data(
    n: int = 500,
    outlier_fraction: float = 0.2,
    angle_deg: float = 30.0,
    noise: float = 0.05,
    half_length: float = 3.0,
    outlier_box: tuple[float, float] = (3.0, 1.5),
    random_seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points near the line through the origin at ``angle_deg``, plus gross outliers.

    ``round(n · outlier_fraction)`` points are uniform in the box
    ``[-a, a] × [-b, b]`` (``outlier_box = (a, b)``); the others are
    ``t u + e n`` with ``t ~ U(-half_length, half_length)`` along the line's
    direction ``u`` and ``e ~ N(0, noise²)`` across it (``n`` the unit normal).

    Returns
    -------
    X : ndarray, shape (n, 2)
        The points, in random order.
    is_outlier : ndarray of bool, shape (n,)
    normal : ndarray, shape (2,)
        The line's unit normal ``(-sin θ, cos θ)``.

    Examples
    --------
    >>> from pymc_ebm_demos.best_line import line_data
    >>> X, is_outlier, normal = line_data(n=100, outlier_fraction=0.1, random_seed=0)
    >>> X.shape, int(is_outlier.sum())
    ((100, 2), 10)
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    outlier_fraction = _real(
        "outlier_fraction", outlier_fraction, "lie in [0, 1)", lambda x: 0.0 <= x < 1.0
    )
    noise = _real("noise", noise, "be non-negative and finite", lambda x: x >= 0.0)
    theta = np.deg2rad(_real("angle_deg", angle_deg, "be a finite number", lambda x: True))
    direction = np.array([np.cos(theta), np.sin(theta)])
    normal = np.array([-np.sin(theta), np.cos(theta)])
    rng = np.random.default_rng(random_seed)
    n_out = int(round(n * outlier_fraction))
    t = rng.uniform(-half_length, half_length, n - n_out)
    e = noise * rng.standard_normal(n - n_out)
    inliers = t[:, None] * direction + e[:, None] * normal
    a, b = outlier_box
    outliers = rng.uniform([-a, -b], [a, b], size=(n_out, 2))
    X = np.vstack([inliers, outliers])
    is_outlier = np.r_[np.zeros(n - n_out, bool), np.ones(n_out, bool)]
    order = rng.permutation(n)
    return X[order], is_outlier[order], normal


def gaussian_normal(X: np.ndarray) -> np.ndarray:
    """Unit eigenvector of the smallest eigenvalue of the covariance of ``X`` (shape (n, 2))."""
    _, vectors = np.linalg.eigh(np.cov(np.asarray(X, dtype=float).T))
    return vectors[:, 0]


def angle_error(direction: np.ndarray, normal: np.ndarray) -> float:
    """Angle between two undirected lines' normals, in degrees in ``[0, 90]``.

    Examples
    --------
    >>> from pymc_ebm_demos.best_line import angle_error
    >>> round(angle_error([0.0, -2.0], [1.0, 1.0]), 6)
    45.0
    """
    a = np.asarray(direction, dtype=float)
    b = np.asarray(normal, dtype=float)
    # atan2 of |sin| and |cos|: accurate near 0° too, where arccos loses half the digits
    return float(np.degrees(np.arctan2(abs(a[0] * b[1] - a[1] * b[0]), abs(a @ b))))


def _unit(w: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    u = w / np.linalg.norm(w)
    return -u if reference is not None and u @ reference < 0 else u


def fit_student_t(
    X: np.ndarray, settings: LineSettings, random_seed: int | None = None
) -> dict[str, Any]:
    """Learn one Student-t filter times a broad Gaussian by contrastive divergence.

    The filter starts in a random direction; ``α = 1``; the Gaussian is
    ``N(0, confining_sigma² I)``. Adam, CD-1 with :class:`~pymc_ebm.ShortRunHMC`
    negatives (``n_steps`` leapfrog steps from each data point).

    Returns
    -------
    dict
        ``normal`` (the averaged unit filter direction, shape ``(2,)``),
        ``W`` (the final filter, shape ``(1, 2)``), ``alpha``,
        ``confining_sigma`` (the Gaussian's final ``sigma``, shape ``(2,)``),
        ``history`` (the trainer's) and ``train_seconds`` (the updates only,
        not the compilation).
    """
    rng = np.random.default_rng(random_seed)
    student = StudentT(rng.standard_normal((1, 2)), [1.0])
    confining = Gaussian(np.zeros((1, 2)), np.full((1, 2), settings.confining_sigma))
    trainer = ContrastiveDivergence(
        student * confining,
        sampler="hmc",
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        optimizer="adam",
        step_kwargs={"n_steps": settings.n_steps, "step_size": settings.step_size},
        random_seed=random_seed,
    )
    n_average = int(settings.n_updates * settings.average_fraction)
    n_blocks = max(1, n_average // settings.average_every)
    started = time.perf_counter()
    if settings.n_updates > n_blocks * settings.average_every:
        trainer.fit(X, settings.n_updates - n_blocks * settings.average_every, progressbar=False)
    directions: list[np.ndarray] = []
    for _ in range(n_blocks):
        trainer.fit(X, settings.average_every, progressbar=False)
        w = student.W.get_value()[0]
        directions.append(_unit(w, directions[0] if directions else None))
    seconds = time.perf_counter() - started
    return {
        "normal": _unit(np.mean(directions, axis=0)),
        "W": student.W.get_value().copy(),
        "alpha": float(student.alpha[0]),
        "confining_sigma": confining.sigma[0].copy(),
        "history": trainer.history,
        "train_seconds": seconds,
    }


def best_line(
    n: int = 500,
    outlier_fraction: float = 0.2,
    angle_deg: float = 30.0,
    random_seed: int | None = 0,
    quick: bool = False,
    *,
    outlier_box: tuple[float, float] = (3.0, 1.5),
    settings: LineSettings | None = None,
) -> dict[str, Any]:
    """Fit the line both ways and measure each normal's angle error against the truth.

    Parameters
    ----------
    n : int, default 500
        Number of points.
    outlier_fraction : float, default 0.2
        Fraction of gross outliers, in ``[0, 1)``.
    angle_deg : float, default 30.0
        Angle of the true line to the x axis.
    random_seed : int, optional
        Seeds the data (``random_seed``) and the training (``random_seed + 1``).
    quick : bool, default False
        Use :meth:`LineSettings.quick` (when ``settings`` is not given).
    outlier_box : (float, float), default (3.0, 1.5)
        Half-widths of the outliers' box; see :func:`line_data`.
    settings : LineSettings, optional
        Training settings.

    Returns
    -------
    dict
        ``angle_error_gaussian`` and ``angle_error_student_t`` (degrees, in
        ``[0, 90]``), ``outlier_fraction``, ``train_seconds``; for plotting
        ``X``, ``is_outlier``, ``true_normal``, ``normal_gaussian``,
        ``normal_student_t``, ``W``; and ``alpha``, ``confining_sigma``
        (the learned Gaussian's final ``sigma``), ``history``.

    Examples
    --------
    >>> from pymc_ebm_demos.best_line import best_line
    >>> result = best_line(random_seed=0, quick=True)
    >>> bool(result["angle_error_student_t"] < result["angle_error_gaussian"] / 2)
    True
    """
    if settings is None:
        settings = LineSettings.quick() if quick else LineSettings()
    seed = None if random_seed is None else int(random_seed)
    X, is_outlier, normal = line_data(
        n, outlier_fraction, angle_deg, outlier_box=outlier_box, random_seed=seed
    )
    normal_gaussian = _unit(gaussian_normal(X), normal)
    fit = fit_student_t(X, settings, None if seed is None else seed + 1)
    normal_student_t = _unit(fit["normal"], normal)
    return {
        "angle_error_gaussian": angle_error(normal_gaussian, normal),
        "angle_error_student_t": angle_error(normal_student_t, normal),
        "outlier_fraction": float(outlier_fraction),
        "train_seconds": fit["train_seconds"],
        "angle_deg": float(angle_deg),
        "X": X,
        "is_outlier": is_outlier,
        "true_normal": normal,
        "normal_gaussian": normal_gaussian,
        "normal_student_t": normal_student_t,
        "W": fit["W"],
        "alpha": fit["alpha"],
        "confining_sigma": fit["confining_sigma"],
        "history": fit["history"],
    }


def plot_best_line(result: dict[str, Any], path: str | Path) -> Path:
    """Draw the data (inliers, outliers), the true line and both fitted lines to ``path``.

    Parameters
    ----------
    result : dict
        What :func:`best_line` returns.
    path : str or Path
        Image file to write (format from the suffix).

    Returns
    -------
    Path
    """
    from pymc_ebm_demos.plotting import savefig, subplots

    X, is_outlier = result["X"], result["is_outlier"]
    fig, ax = subplots(figsize=(5.5, 5.5))
    ax.scatter(*X[~is_outlier].T, s=6, c="0.3", label="points near the line")
    ax.scatter(*X[is_outlier].T, s=10, c="tab:orange", marker="x", label="outliers")
    reach = np.abs(X).max() * 1.1
    t = np.array([-reach, reach])
    lines = [
        ("true_normal", "truth", "k", ":"),
        ("normal_gaussian", f"Gaussian (PCA): {result['angle_error_gaussian']:.2f}°", "C0", "-"),
        (
            "normal_student_t",
            f"Student-t (CD): {result['angle_error_student_t']:.2f}°",
            "C3",
            "--",
        ),
    ]
    for key, label, colour, style in lines:
        nx, ny = result[key]
        direction = np.array([ny, -nx])  # along the line, normal to the constraint
        ax.plot(*(t[:, None] * direction).T, color=colour, ls=style, lw=1.5, label=label)
    ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", xlabel="x", ylabel="y")
    ax.set_title(f"What is the best line? ({100 * result['outlier_fraction']:.0f}% outliers)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return savefig(fig, path, dpi=120, tight=False)


def seed_table(
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4), quick: bool = False, **kwargs: Any
) -> list[dict[str, float]]:
    """:func:`best_line` on several seeds: one row of angle errors and seconds per seed."""
    rows = []
    for seed in seeds:
        result = best_line(random_seed=seed, quick=quick, **kwargs)
        rows.append(
            {
                "seed": seed,
                "angle_error_gaussian": result["angle_error_gaussian"],
                "angle_error_student_t": result["angle_error_student_t"],
                "train_seconds": result["train_seconds"],
            }
        )
    return rows
