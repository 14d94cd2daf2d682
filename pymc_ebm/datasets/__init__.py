"""Built-in data sets of the case studies: generated, or bundled with scikit-image.

* :mod:`~pymc_ebm.datasets.synthetic`: clusters on a grid, four squares, a 3-D arm.
* :mod:`~pymc_ebm.datasets.patches`: whitened patches of natural images
  (needs scikit-image, the ``demos`` extra).
"""

from pymc_ebm.datasets.patches import (
    COLOUR_IMAGES,
    GREY_IMAGES,
    Whitening,
    image_patches,
    load_images,
)
from pymc_ebm.datasets.synthetic import (
    ARM_LINK_LENGTHS,
    FOUR_SQUARE_CENTRES,
    arm,
    four_squares,
    grid_centres,
    grid_clusters,
    link_lengths,
    square_index,
)

__all__ = [
    "ARM_LINK_LENGTHS",
    "COLOUR_IMAGES",
    "FOUR_SQUARE_CENTRES",
    "GREY_IMAGES",
    "Whitening",
    "arm",
    "four_squares",
    "grid_centres",
    "grid_clusters",
    "image_patches",
    "link_lengths",
    "load_images",
    "square_index",
]
