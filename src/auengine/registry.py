"""Named registries for backends (detectors, landmarkers, AU estimators, ...).

One registry per backend family; a backend registers under a unique name and is
built by name. An unknown name raises an error that lists the valid ones.
"""
from __future__ import annotations

from typing import Callable, Generic, TypeVar

from .errors import AuEngineError, InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories of one backend family.

    Parameters
    ----------
    family : str
        What the registered things are, used in error messages ("face detector").
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a factory (usually a class) under ``name``."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise AuEngineError(f"{self.family} {name!r} is registered twice")
            self._factories[name] = factory
            return factory

        return add

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; unknown names list the valid ones."""
        try:
            return self._factories[name]
        except KeyError:
            valid = ", ".join(self.names())
            raise InputError(f"unknown {self.family} {name!r}; choose one of: {valid}") from None

    def create(self, name: str, **kwargs) -> T:
        """Build the backend registered under ``name`` with ``kwargs``."""
        return self.get(name)(**kwargs)
