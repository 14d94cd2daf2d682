"""The package's one progress bar: training updates, AIS temperatures (as PyMC shows sampling)."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["ProgressBar"]


class ProgressBar:
    """A rich progress bar with a label and one live field, or nothing when disabled.

    A context manager: the bar shows ``label``, the bar itself, ``completed/total``,
    ``field`` with the value of the last :meth:`advance`, and the time left.

    Parameters
    ----------
    total : int
        Steps the loop will take.
    label : str
        Text in front of the bar (e.g. ``"CD updates"``, ``"AIS temperatures"``).
    field : str
        Name of the live value shown after the count (e.g. ``"gap"``, ``"accept"``).
    field_format : str, default ".3f"
        Format specification of the live value.
    enabled : bool, default True
        ``False``: show nothing (the steps are still counted).

    Attributes
    ----------
    completed : int
        Steps advanced so far.

    Examples
    --------
    >>> from pymc_ebm.progress import ProgressBar
    >>> with ProgressBar(3, "steps", "loss", ".2f", enabled=False) as bar:
    ...     for loss in (3.0, 2.0, 1.0):
    ...         bar.advance(loss)
    >>> bar.completed, bar.total
    (3, 3)
    """

    def __init__(
        self,
        total: int,
        label: str,
        field: str,
        field_format: str = ".3f",
        enabled: bool = True,
    ) -> None:
        self.total = total
        self.label = label
        self.field = field
        self.completed = 0
        self._progress = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(f"{field} {{task.fields[value]:{field_format}}}"),
                TimeRemainingColumn(),
            )
            if enabled
            else None
        )
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total, value=0.0)
        return self

    def advance(self, value: float) -> None:
        """Count one finished step, whose live value is ``value``."""
        self.completed += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, value=value)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
