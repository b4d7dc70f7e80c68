"""Typed errors. Each message names the bad value and the fix, in one line."""


class AuEngineError(Exception):
    """Base class of every error auengine raises on purpose."""


class InputError(AuEngineError):
    """A file, row or argument the user handed in is unusable."""


class NoFaceError(AuEngineError):
    """No face was found where one was required."""


class WeightsNotFoundError(AuEngineError):
    """Model weights are not on disk and cannot (or may not) be downloaded."""


class RuleSchemaError(AuEngineError):
    """An AU rule file breaks the schema (names the file and the field)."""


class BundleError(AuEngineError):
    """A model bundle is missing, tampered with or incompatible."""


class BackendUnavailableError(AuEngineError):
    """A backend's optional dependency is not installed."""
