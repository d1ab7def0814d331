"""One exception hierarchy: the CLI turns any OccmerError into a one-line message.

Messages name the file, the sample and the fix, so a user can act without a traceback.
"""

from __future__ import annotations


class OccmerError(Exception):
    """Base of every error occmer raises on purpose."""


class ConfigError(OccmerError):
    """An option or argument that cannot work (bad value, conflicting flags)."""


class DataError(OccmerError):
    """Input data that is missing, unreadable or malformed (folders, frames, sheets)."""


class AnnotationError(DataError):
    """A metadata sheet or manifest that cannot be read as documented."""


class FrameReadError(DataError):
    """A frame file that cannot be decoded."""


class FaceNotFoundError(DataError):
    """No face was detected where one is required (the onset frame of a clip)."""


class TemplateError(OccmerError):
    """An occluder template (PNG + JSON anchors) that is invalid or unsafe."""


class StoreError(OccmerError):
    """An HDF5 file that is not a valid, complete occmer file, or cannot be written."""


class ResumeError(StoreError):
    """A partial run that cannot be resumed with the given command."""


class FeatureError(OccmerError):
    """Motion features that cannot be computed or are missing from a file."""


class ModelError(OccmerError):
    """A model name or configuration that does not exist or does not fit the inputs."""


class BenchError(OccmerError):
    """A benchmark protocol that cannot be run on the given data."""
