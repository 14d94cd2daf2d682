"""How good are learned filters: Gabor fits, kurtosis of outputs, smoothness of topographic maps.

:func:`fit_gabor` fits a Gabor function (position, orientation, spatial
frequency, phase, envelope widths, amplitude) to a square image by least
squares (:func:`scipy.optimize.least_squares`, started from the image's
Fourier peak and energy centre) and reports its R²; :func:`fit_gabors` does
it for a stack of filters or basis functions. :func:`output_kurtosis` is the
excess kurtosis of filter outputs, and :func:`neighbour_ratios` compares
grid neighbours of a topographic map with random pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, optimize, stats

__all__ = [
    "GaborFit",
    "fit_gabor",
    "fit_gabors",
    "gabor",
    "neighbour_ratios",
    "output_kurtosis",
]

_GOOD_ENOUGH = 0.05
"""Residual variance share (1 - R²) below which the other starting points are skipped."""

PARAMS = ("x0", "y0", "theta", "frequency", "phase", "sigma_x", "sigma_y", "amplitude")


def gabor(shape: tuple[int, int], params: npt.ArrayLike) -> np.ndarray:
    """A Gabor function sampled on the pixel grid, shape ``shape = (height, width)``.

    ``g(x, y) = A exp(-x'²/(2σx²) - y'²/(2σy²)) cos(2π f x' + φ)`` with
    ``x' = (x - x0) cos θ + (y - y0) sin θ`` (across the stripes) and
    ``y' = -(x - x0) sin θ + (y - y0) cos θ`` (along them); ``x`` is the
    column, ``y`` the row, in pixels.

    Parameters
    ----------
    shape : (int, int)
        Image height and width.
    params : array_like, shape (8,)
        ``x0, y0, theta, frequency, phase, sigma_x, sigma_y, amplitude``
        (:data:`PARAMS`); frequency in cycles per pixel.

    Examples
    --------
    >>> from pymc_ebm.evaluation.gabor import gabor
    >>> g = gabor((16, 16), [8.0, 7.0, 0.0, 0.25, 0.0, 3.0, 3.0, 1.0])
    >>> g.shape, float(g[7, 8]), float(g[7, 10])  # peak at (x0, y0); half a period away: trough
    ((16, 16), 1.0, -0.8007374029168081)
    """
    x0, y0, theta, f, phase, sx, sy, amp = np.asarray(params, dtype=float)
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    xr = (x - x0) * np.cos(theta) + (y - y0) * np.sin(theta)
    yr = -(x - x0) * np.sin(theta) + (y - y0) * np.cos(theta)
    envelope = np.exp(-(xr**2) / (2 * sx**2) - yr**2 / (2 * sy**2))
    return amp * envelope * np.cos(2 * np.pi * f * xr + phase)


def _gabor_jacobian(shape: tuple[int, int], params: np.ndarray) -> np.ndarray:
    """Derivatives of :func:`gabor`'s pixels by its parameters, shape ``(n_pixels, 8)``."""
    x0, y0, theta, f, phase, sx, sy, amp = params
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    c, s = np.cos(theta), np.sin(theta)
    xr = (x - x0) * c + (y - y0) * s
    yr = -(x - x0) * s + (y - y0) * c
    envelope = np.exp(-(xr**2) / (2 * sx**2) - yr**2 / (2 * sy**2))
    arg = 2 * np.pi * f * xr + phase
    ec, es = envelope * np.cos(arg), envelope * np.sin(arg)
    d_xr = amp * (-ec * xr / sx**2 - es * 2 * np.pi * f)
    d_yr = -amp * ec * yr / sy**2
    columns = [
        -c * d_xr + s * d_yr,  # x0
        -s * d_xr - c * d_yr,  # y0
        yr * d_xr - xr * d_yr,  # theta
        -amp * es * 2 * np.pi * xr,  # frequency
        -amp * es,  # phase
        amp * ec * xr**2 / sx**3,  # sigma_x
        amp * ec * yr**2 / sy**3,  # sigma_y
        ec,  # amplitude
    ]
    return np.stack([col.ravel() for col in columns], axis=1)


@dataclass(frozen=True)
class GaborFit:
    """Gabor parameters of a set of images and the share of variance they explain.

    Each array has one entry per image. ``theta`` is in ``[0, π)`` (the
    direction across the stripes), ``phase`` in ``[0, 2π)``, ``frequency``
    (cycles per pixel), the widths and the amplitude are positive.
    ``r2 = 1 - Σ(image - fit)² / Σ(image - mean)²``.
    """

    x0: np.ndarray
    y0: np.ndarray
    theta: np.ndarray
    frequency: np.ndarray
    phase: np.ndarray
    sigma_x: np.ndarray
    sigma_y: np.ndarray
    amplitude: np.ndarray
    r2: np.ndarray

    def share(self, threshold: float = 0.8) -> float:
        """Share of images whose fit has ``r2 >= threshold``."""
        return float(np.mean(self.r2 >= threshold))

    def params(self, i: int) -> np.ndarray:
        """Parameters of image ``i`` in the order of :data:`PARAMS`, shape ``(8,)``."""
        return np.array([getattr(self, name)[i] for name in PARAMS])


def _canonical(p: np.ndarray) -> np.ndarray:
    """Same Gabor with positive amplitude, theta in [0, π), phase in [0, 2π)."""
    x0, y0, theta, f, phase, sx, sy, amp = p
    if amp < 0:
        amp, phase = -amp, phase + np.pi
    turns = np.floor(theta / np.pi)
    theta -= turns * np.pi
    if int(turns) % 2:  # θ + π flips x': cos(-2πfx' + φ) = cos(2πfx' - φ)
        phase = -phase
    return np.array([x0, y0, theta, f, phase % (2 * np.pi), abs(sx), abs(sy), amp])


def _initial(image: np.ndarray) -> list[np.ndarray]:
    """Starting points from the Fourier peak, the energy centre and the demodulated phase."""
    h, w = image.shape
    pad = 4 * max(h, w)
    spectrum = np.abs(np.fft.rfft2(image, s=(pad, pad)))
    spectrum[0, 0] = 0.0
    ky, kx = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    fy = (ky if ky <= pad // 2 else ky - pad) / pad
    fx = kx / pad
    frequency = max(np.hypot(fx, fy), 0.5 / max(h, w))
    theta = np.arctan2(fy, fx)
    energy = ndimage.gaussian_filter(image**2, sigma=max(0.5 / frequency / 2, 1.0))
    y0, x0 = np.unravel_index(np.argmax(energy), energy.shape)
    y, x = np.mgrid[:h, :w]
    carrier = np.exp(-2j * np.pi * (fx * (x - x0) + fy * (y - y0)))
    weight = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * (0.5 / frequency) ** 2))
    phase = np.angle(np.sum(image * carrier * weight))
    amp = np.abs(image).max()
    starts = []
    for sigma in (0.4 / frequency, 0.8 / frequency, max(h, w) / 3):
        sigma = float(np.clip(sigma, 0.8, max(h, w)))
        starts.append(np.array([x0, y0, theta, frequency, phase, sigma, sigma, amp], float))
    return starts


def fit_gabor(image: npt.ArrayLike) -> tuple[np.ndarray, float]:
    """Least-squares Gabor fit of one square or rectangular image.

    Parameters
    ----------
    image : array_like, shape (height, width)
        A filter or basis function as an image.

    Returns
    -------
    params : ndarray, shape (8,)
        In the order of :data:`PARAMS`, canonical (positive amplitude and
        widths, ``θ ∈ [0, π)``, ``φ ∈ [0, 2π)``).
    r2 : float
        Share of the image's variance (about its mean) the fit explains.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.evaluation.gabor import fit_gabor, gabor
    >>> true = [6.0, 9.0, 0.7, 0.2, 1.0, 2.0, 3.0, 1.0]
    >>> params, r2 = fit_gabor(gabor((16, 16), true))
    >>> bool(r2 > 0.999), np.round(params[:4], 2).tolist()
    (True, [6.0, 9.0, 0.7, 0.2])
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    h, w = image.shape
    total = float(np.sum((image - image.mean()) ** 2))
    if total == 0.0:
        return _canonical(np.array([w / 2, h / 2, 0, 0.1, 0, 1, 1, 0.0])), 0.0
    scale = np.sqrt(total / image.size)
    target = image / scale
    side = max(h, w)
    lower = [-0.5, -0.5, -np.inf, 0.0, -np.inf, 0.3, 0.3, -np.inf]
    upper = [w - 0.5, h - 0.5, np.inf, 0.5, np.inf, 2.0 * side, 2.0 * side, np.inf]
    best, best_cost = None, np.inf
    for start in _initial(target):
        start = np.clip(start, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
        result = optimize.least_squares(
            lambda p: (gabor((h, w), p) - target).ravel(),
            start,
            jac=lambda p: _gabor_jacobian((h, w), p),
            bounds=(lower, upper),
            x_scale="jac",
            max_nfev=200,
        )
        if result.cost < best_cost:
            best, best_cost = result.x, result.cost
        if 2 * best_cost < _GOOD_ENOUGH * image.size:  # R² above 0.95: no other start
            break
    best = best.copy()
    best[7] *= scale
    fitted = gabor((h, w), best)
    r2 = 1.0 - float(np.sum((image - fitted) ** 2)) / total
    return _canonical(best), r2


def fit_gabors(images: npt.ArrayLike) -> GaborFit:
    """:func:`fit_gabor` for each image of a stack ``(n, height, width)``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.evaluation.gabor import fit_gabors, gabor
    >>> images = np.stack([gabor((12, 12), [5, 6, t, 0.2, 0, 2, 2, 1]) for t in (0.2, 1.2)])
    >>> fits = fit_gabors(images)
    >>> fits.share(0.8), np.round(fits.theta, 2).tolist()
    (1.0, [0.2, 1.2])
    """
    images = np.asarray(images, dtype=float)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {images.shape}")
    results = [fit_gabor(image) for image in images]
    params = np.array([p for p, _ in results]).reshape(len(results), len(PARAMS))
    columns = {name: params[:, k] for k, name in enumerate(PARAMS)}
    return GaborFit(**columns, r2=np.array([r for _, r in results]))


def output_kurtosis(W: npt.ArrayLike, X: npt.ArrayLike) -> np.ndarray:
    """Excess kurtosis (0 for a Gaussian) of each filter's outputs ``X Wᵀ``.

    Parameters
    ----------
    W : array_like, shape (n_filters, dim)
        Filters.
    X : array_like, shape (n, dim)
        Held-out data.

    Returns
    -------
    ndarray, shape (n_filters,)

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.evaluation.gabor import output_kurtosis
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=50_000), rng.laplace(size=50_000)])
    >>> np.round(output_kurtosis(np.eye(2), X), 1).tolist()  # Gaussian: 0, Laplace: 3
    [0.0, 3.2]
    """
    outputs = np.asarray(X, dtype=float) @ np.asarray(W, dtype=float).T
    return stats.kurtosis(outputs, axis=0, fisher=True)


def _orientation_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % np.pi
    return np.minimum(d, np.pi - d)


def neighbour_ratios(
    fits: GaborFit, rows: int, cols: int, min_r2: float = 0.5
) -> dict[str, float]:
    """Smoothness of a topographic map: grid neighbours against all pairs.

    Filter ``j`` sits at ``(j // cols, j % cols)`` on a torus (as in
    :func:`~pymc_ebm.energies.torus_pooling`). Over the pairs of filters whose
    fits both have ``r2 >= min_r2``, the mean orientation difference (modulo
    π, in ``[0, π/2]``) and the mean distance between Gabor centres of grid
    neighbours (right and down, wrapping) are divided by the same means over
    all pairs. Well below 1: a smooth map; about 1: no topography.

    Returns
    -------
    dict
        ``orientation`` and ``position`` ratios, and ``n_neighbour_pairs``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.evaluation.gabor import GaborFit, neighbour_ratios
    >>> n = 64
    >>> theta = (np.arange(n) % 8) * np.pi / 8  # orientation changes smoothly along rows
    >>> fits = GaborFit(*(np.zeros(n) for _ in range(2)), theta, *(np.ones(n) for _ in range(5)),
    ...                 r2=np.ones(n))
    >>> round(neighbour_ratios(fits, 8, 8)["orientation"], 2)
    0.25
    """
    n = rows * cols
    if len(fits.r2) != n:
        raise ValueError(f"{len(fits.r2)} fits for a {rows} x {cols} grid")
    good = fits.r2 >= min_r2
    index = np.arange(n).reshape(rows, cols)
    a = np.concatenate([index.ravel(), index.ravel()])
    b = np.concatenate([np.roll(index, -1, axis=1).ravel(), np.roll(index, -1, axis=0).ravel()])
    keep = good[a] & good[b]
    a, b = a[keep], b[keep]
    ia, ib = np.triu_indices(n, k=1)
    keep_all = good[ia] & good[ib]
    ia, ib = ia[keep_all], ib[keep_all]
    if len(a) == 0 or len(ia) == 0:
        return {"orientation": float("nan"), "position": float("nan"), "n_neighbour_pairs": 0}

    def distance(i, j):
        return np.hypot(fits.x0[i] - fits.x0[j], fits.y0[i] - fits.y0[j])

    orientation = _orientation_difference(fits.theta[a], fits.theta[b]).mean() / (
        _orientation_difference(fits.theta[ia], fits.theta[ib]).mean()
    )
    all_distance = distance(ia, ib).mean()
    position = distance(a, b).mean() / all_distance if all_distance > 0 else float("nan")
    return {
        "orientation": float(orientation),
        "position": float(position),
        "n_neighbour_pairs": int(len(a)),
    }
