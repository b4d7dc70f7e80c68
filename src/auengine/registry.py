"""Named registries for backends (detectors, landmarkers, AU estimators, ...).

One registry per backend family; a backend registers under a unique name and is
built by name. An unknown name raises an error that lists the valid ones.

A registry can be declared with ``lazy`` entries, name -> "module:attribute", so that
its names are known without importing the backends (torch, cv2): the module is
imported on first use, and its ``register`` decorator must name the same attribute.
"""
from __future__ import annotations

from importlib import import_module
from typing import Callable, Generic, TypeVar

from .errors import AuEngineError, InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories of one backend family.

    Parameters
    ----------
    family : str
        What the registered things are, used in error messages ("face detector").
    lazy : dict, optional
        Names whose factories are imported on first use: name -> "package.module:attribute".
    """

    def __init__(self, family: str, lazy: dict[str, str] | None = None) -> None:
        self.family = family
        self._factories: dict[str, Callable[..., T]] = {}
        self._lazy = dict(lazy or {})

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a factory (usually a class) under ``name``."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise AuEngineError(f"{self.family} {name!r} is registered twice")
            where = f"{factory.__module__}:{factory.__qualname__}"
            if name in self._lazy and self._lazy[name] != where:
                raise AuEngineError(f"{self.family} {name!r} is declared as {self._lazy[name]}, registered as {where}")
            self._factories[name] = factory
            return factory

        return add

    def names(self) -> list[str]:
        """Registered names: the declared (lazy) ones first, then in registration order."""
        return list(dict.fromkeys([*self._lazy, *self._factories]))

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; unknown names list the valid ones."""
        if name not in self._factories and name in self._lazy:
            module, attribute = self._lazy[name].split(":")
            self._factories.setdefault(name, getattr(import_module(module), attribute))
        try:
            return self._factories[name]
        except KeyError:
            valid = ", ".join(self.names())
            raise InputError(f"unknown {self.family} {name!r}; choose one of: {valid}") from None

    def create(self, name: str, **kwargs) -> T:
        """Build the backend registered under ``name`` with ``kwargs``."""
        return self.get(name)(**kwargs)
