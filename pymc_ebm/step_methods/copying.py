"""Copying and pickling step methods without the model they were built on."""

from __future__ import annotations

from typing import Any

__all__ = ["ModelFreeCopy"]


def _bare_instance(cls: type) -> Any:
    """An instance of ``cls`` made without ``BlockedStep.__new__`` (which needs a model)."""
    return object.__new__(cls)


class ModelFreeCopy:
    """Mixin for step methods: ``copy.deepcopy`` and pickling without the model.

    ``BlockedStep.__new__`` keeps its arguments, the model included, for
    ``__getnewargs_ex__``, so that ``copy.deepcopy(step)`` deep-copies the
    model, which ``pm.Model.__deepcopy__`` refuses for a model with initial
    values ("Cannot convert models with non-default initial_values"). A step
    needs only its own attributes (value variables, energies, generator,
    settings), so this reduces the step to those: the copy is made with
    ``object.__new__`` and given the state, the attributes named in
    ``_recompiled`` (lazily compiled functions) set to ``None``.
    """

    _recompiled: tuple[str, ...] = ()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, tuple[type], dict[str, Any]]:
        state = {k: v for k, v in self.__dict__.items() if k != "_BlockedStep__newargs"}
        state.update(dict.fromkeys(self._recompiled))
        return _bare_instance, (type(self),), state
