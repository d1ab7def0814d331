"""Database adapters: a registry of name -> adapter class.

Adapters register themselves with @register; `get_database` resolves names and roots.
"""

from __future__ import annotations

from occmer.databases.base import Clip, Database, Problem, ScanResult, list_frames, select_frames

DATABASES: dict[str, type[Database]] = {}


def register(cls: type[Database]) -> type[Database]:
    """Class decorator adding an adapter to the registry under `cls.name`."""
    DATABASES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # Importing the modules runs their @register (and @register_long) decorators.
    from occmer.databases import (  # noqa: F401
        casme2,
        casme2x,
        casme2x_long,
        casme3,
        casme3a_long,
        demo_long,
        folder,
        mmew,
        samm,
        samm_long,
        smic,
    )


_load_builtin()

__all__ = ["DATABASES", "Clip", "Database", "Problem", "ScanResult", "list_frames", "register", "select_frames"]
