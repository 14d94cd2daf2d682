"""The demos' ``summary.json``: results, and what each of their keys means.

Every demo writes its results with :func:`write_summary`, which adds a
``description`` entry: for each key of the summary, one line that says what
its value is (units, and how it was measured). Figures over several seeds
use :func:`spread`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["spread", "write_summary"]


def spread(values: Iterable[float]) -> dict[str, float]:
    """Median, minimum and maximum of one figure over seeds.

    Examples
    --------
    >>> from pymc_ebm_demos.summaries import spread
    >>> spread([0.2, 0.9, 0.5])
    {'median': 0.5, 'min': 0.2, 'max': 0.9}
    """
    values = np.asarray(list(values), dtype=float)
    return {
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def write_summary(
    path: str | Path, result: Mapping[str, Any], description: Mapping[str, str]
) -> dict[str, Any]:
    """Write ``result`` to ``path`` as JSON, with ``description``: key -> meaning.

    Only the descriptions of keys that ``result`` has are written (a key
    some runs leave out, such as a comparison that was not run, has its
    line only when it is there).

    Returns
    -------
    dict
        What was written: ``result`` and its ``description`` entry.
    """
    summary = {
        **result,
        "description": {key: description[key] for key in result if key in description},
    }
    Path(path).write_text(json.dumps(summary, indent=2))
    return summary
