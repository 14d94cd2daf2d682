"""Natural image patches from scikit-image's bundled photographs, and their whitening.

:func:`image_patches` (also :func:`pymc_ebm.datasets.image_patches`) cuts
random square patches out of photographs that scikit-image ships inside its
wheel (nothing is downloaded), removes each patch's mean and whitens them;
the :class:`Whitening` it returns maps whitened vectors, filters and basis
functions back to pixel space.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from pymc_ebm._validation import positive_int

__all__ = ["COLOUR_IMAGES", "GREY_IMAGES", "Whitening", "image_patches", "load_images"]

#: Colour photographs bundled in scikit-image's wheel (``skimage.data`` loaders).
COLOUR_IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
#: Grey photographs and natural textures bundled in the wheel; grey patches also
#: use :data:`COLOUR_IMAGES` converted to luminance.
GREY_IMAGES = ("camera", "grass", "gravel", "moon")

_RELATIVE_EIGEN_FLOOR = 1e-10
"""Principal components with variance below this fraction of the largest are dropped
(the per-patch mean removal leaves one direction, the constant patch, with none)."""


@lru_cache(maxsize=2)
def load_images(color: bool = False) -> tuple[np.ndarray, ...]:
    """The bundled photographs as float64 arrays in ``[0, 1]``.

    Parameters
    ----------
    color : bool, default False
        ``True``: the :data:`COLOUR_IMAGES`, shape ``(height, width, 3)``;
        ``False``: :data:`GREY_IMAGES` and the colour ones converted with
        ``skimage.color.rgb2gray``, shape ``(height, width)``.

    Returns
    -------
    tuple of ndarray
        Read-only arrays (cached).
    """
    import skimage.color
    import skimage.data
    from skimage.util import img_as_float64

    images = []
    names = COLOUR_IMAGES if color else GREY_IMAGES + COLOUR_IMAGES
    for name in names:
        image = img_as_float64(getattr(skimage.data, name)())
        if not color and image.ndim == 3:
            image = skimage.color.rgb2gray(image)
        image.flags.writeable = False
        images.append(image)
    return tuple(images)


@dataclass(frozen=True)
class Whitening:
    """A whitening transform of mean-removed patches, and its inverse.

    ``whiten(x) = (x - x̄ - mean) @ matrix.T`` (``x̄`` the patch's own mean, ``mean``
    the data set's average mean-free patch) and ``unwhiten(y) = y @ inverse.T + mean``:
    ``unwhiten(whiten(x))`` gives back ``x`` without its own mean, and
    ``whiten(unwhiten(y)) = y`` for every ``y`` (PCA, no whitening) or every
    ``y`` in the whitened data's span (ZCA).

    Attributes
    ----------
    matrix : ndarray, shape (n_components, n_pixels)
        Whitening matrix: PCA ``Λ^(-1/2) Uᵀ``, ZCA ``U Λ^(-1/2) Uᵀ``, identity
        for none, with ``U`` the kept principal directions and ``Λ`` their
        variances.
    inverse : ndarray, shape (n_pixels, n_components)
        Un-whitening matrix: PCA ``U Λ^(1/2)``, ZCA ``U Λ^(1/2) Uᵀ``.
    patch_shape : tuple of int
        ``(size, size)`` or ``(size, size, 3)``; pixels are flattened in C order.
    method : {"pca", "zca", "none"}
        The whitening.
    mean : ndarray, shape (n_pixels,)
        Average of the mean-free patches the transform was estimated from (a
        colour cast for colour patches), removed before whitening; zeros for
        none.
    variances : ndarray, shape (n_kept,)
        Variances of the kept principal components, largest first (empty
        for none).
    """

    matrix: np.ndarray
    inverse: np.ndarray
    patch_shape: tuple[int, ...]
    method: str
    mean: np.ndarray
    variances: np.ndarray

    @property
    def n_components(self) -> int:
        """Dimension of a whitened vector."""
        return int(self.matrix.shape[0])

    def whiten(self, patches: npt.ArrayLike) -> np.ndarray:
        """Remove each patch's mean and whiten, ``(n, n_pixels) -> (n, n_components)``."""
        x = np.asarray(patches, dtype=float)
        x = x.reshape(x.shape[0], -1)
        return (x - x.mean(axis=1, keepdims=True) - self.mean) @ self.matrix.T

    def unwhiten(self, whitened: npt.ArrayLike) -> np.ndarray:
        """Back to pixel space, ``(n, n_components) -> (n, n_pixels)`` (mean-free patches)."""
        return np.asarray(whitened, dtype=float) @ self.inverse.T + self.mean

    def filters_to_pixels(self, W: npt.ArrayLike) -> np.ndarray:
        """Pixel-space filters of whitened-space filters, ``(m, n_components) -> (m, n_pixels)``.

        A filter ``w`` applied to whitened data responds ``w · A (x - mean) =
        (Aᵀ w) · x - (Aᵀ w) · mean`` on the mean-free pixels ``x``; ``Aᵀ w`` is
        returned (the constant ``(Aᵀ w) · mean`` is the same for every patch).
        """
        return np.asarray(W, dtype=float) @ self.matrix

    def as_images(self, pixels: npt.ArrayLike) -> np.ndarray:
        """Reshape ``(n, n_pixels)`` rows to ``(n, *patch_shape)`` images."""
        pixels = np.asarray(pixels)
        return pixels.reshape(pixels.shape[0], *self.patch_shape)


def image_patches(
    size: int = 16,
    n: int = 10_000,
    color: bool = False,
    whiten: bool | str = True,
    random_seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, Whitening]:
    """Random square patches of natural photographs, mean removed and whitened.

    Each patch picks one of the bundled photographs (:func:`load_images`)
    uniformly, then a position uniformly inside it; its mean (over all its
    pixels and channels) is removed, then the average of these mean-free
    patches (:attr:`Whitening.mean`, a colour cast for colour patches), so
    that the whitened patches have mean 0 and covariance ``I``, as the
    bias-free models fitted to them assume. The whitening is estimated from
    their covariance ``C = U Λ Uᵀ``, keeping the
    components with variance above ``1e-10`` of the largest; this drops the
    constant patch, which the mean removal leaves with none, so PCA-whitened
    patches have ``n_pixels - 1`` components.

    Parameters
    ----------
    size : int, default 16
        Side of a patch in pixels, ``2 <= size <=`` the smallest image side (300).
    n : int, default 10000
        Number of patches, positive (at least ``n_pixels`` when whitening).
    color : bool, default False
        Colour patches ``(size, size, 3)`` from the colour photographs, or grey
        ``(size, size)`` patches from all of them.
    whiten : bool or {"pca", "zca"}, default True
        ``True`` or ``"pca"``: PCA whitening (rotate onto the principal
        components, scale each to unit variance; ``n_pixels - 1`` components);
        ``"zca"``: PCA whitening rotated back to pixel space (``n_pixels``
        components of rank ``n_pixels - 1``, local-looking filters);
        ``False``: mean removal only.
    random_seed : int or Generator, optional
        Seed of the image and position choices.

    Returns
    -------
    X : ndarray, shape (n, n_components)
        The (whitened) patches, float64.
    whitening : Whitening
        The transform, with :meth:`~Whitening.unwhiten` and
        :meth:`~Whitening.filters_to_pixels` to show vectors and filters as
        images.

    Raises
    ------
    ValueError
        For ``size`` outside ``[2, smallest image side]``, ``n`` not positive,
        ``n`` below the number of pixels when whitening, or an unknown
        ``whiten``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.datasets import image_patches
    >>> X, whitening = image_patches(size=4, n=2000, random_seed=0)
    >>> X.shape, whitening.method, whitening.patch_shape
    ((2000, 15), 'pca', (4, 4))
    >>> bool(np.allclose(X.T @ X / len(X), np.eye(15)))
    True
    >>> whitening.as_images(whitening.unwhiten(X[:3])).shape
    (3, 4, 4)
    """
    size = positive_int("size", size)
    n = positive_int("n", n)
    method = _whitening_method(whiten)
    images = load_images(bool(color))
    smallest = min(min(image.shape[:2]) for image in images)
    if not 2 <= size <= smallest:
        raise ValueError(
            f"size must be between 2 and the smallest image side, {smallest}, got {size}"
        )
    patch_shape = (size, size, 3) if color else (size, size)
    n_pixels = int(np.prod(patch_shape))
    if method != "none" and n < n_pixels:
        raise ValueError(
            f"whitening {n_pixels}-pixel patches needs at least {n_pixels} patches, got n={n}"
        )
    rng = np.random.default_rng(random_seed)
    X = _cut_patches(images, size, n, rng).reshape(n, n_pixels)
    X -= X.mean(axis=1, keepdims=True)
    whitening = _fit_whitening(X, patch_shape, method)
    return (X - whitening.mean) @ whitening.matrix.T, whitening


def _whitening_method(whiten: bool | str) -> str:
    if whiten is True or whiten == "pca":
        return "pca"
    if whiten is False:
        return "none"
    if whiten == "zca":
        return "zca"
    raise ValueError(f'whiten must be True, False, "pca" or "zca", got {whiten!r}')


def _cut_patches(
    images: tuple[np.ndarray, ...], size: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` patches ``(n, size, size[, 3])``: a uniform image, then a uniform position."""
    picks = rng.integers(len(images), size=n)
    patches = np.empty((n, size, size, *images[0].shape[2:]))
    for index, image in enumerate(images):
        rows = np.flatnonzero(picks == index)
        top = rng.integers(image.shape[0] - size + 1, size=rows.size)
        left = rng.integers(image.shape[1] - size + 1, size=rows.size)
        windows = np.lib.stride_tricks.sliding_window_view(image, (size, size), axis=(0, 1))
        cut = windows[top, left]  # (k, [3,] size, size): channels first
        patches[rows] = np.moveaxis(cut, 1, -1) if image.ndim == 3 else cut
    return patches


def _fit_whitening(X: np.ndarray, patch_shape: tuple[int, ...], method: str) -> Whitening:
    n_pixels = X.shape[1]
    if method == "none":
        identity = np.eye(n_pixels)
        return Whitening(identity, identity, patch_shape, method, np.zeros(n_pixels), np.empty(0))
    mean = X.mean(axis=0)
    centred = X - mean
    variances, U = np.linalg.eigh(centred.T @ centred / X.shape[0])
    order = np.argsort(variances)[::-1]
    variances, U = variances[order], U[:, order]
    keep = variances > _RELATIVE_EIGEN_FLOOR * variances[0]
    variances, U = variances[keep], U[:, keep]
    matrix = U.T / np.sqrt(variances)[:, None]  # (k, n_pixels)
    inverse = U * np.sqrt(variances)[None, :]  # (n_pixels, k)
    if method == "zca":
        matrix, inverse = U @ matrix, inverse @ U.T
    return Whitening(matrix, inverse, patch_shape, method, mean, variances)
