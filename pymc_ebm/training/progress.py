"""A rich progress bar for training loops (as PyMC uses for sampling)."""

from __future__ import annotations

import warnings
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["UpdateProgress"]


class UpdateProgress:
    """Context manager showing updates done, the energy gap and time left."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> UpdateProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("CD updates"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("gap {task.fields[gap]:+.3f}"),
                TimeRemainingColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("fit", total=self.total, gap=0.0)
        return self

    def advance(self, record: dict[str, float]) -> None:
        """Count one finished update."""
        if self._progress is not None:
            self._progress.update(self._task, advance=1, gap=record["energy_gap"])

    def interrupted(self, n_done: int) -> None:
        """Report an interruption; the caller keeps what was done."""
        warnings.warn(
            f"training interrupted; kept the parameters and history of {n_done} updates",
            RuntimeWarning,
            stacklevel=3,
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
