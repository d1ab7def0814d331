"""The synthetic demo micro-expression database: occmer runs end to end with no licensed data.

`build_demo_database(path)` writes a CASME II-layout database (frames, coding sheet,
objective classes, demo.json ground truth); `ensure_demo_database()` keeps one per
parameter set in the cache folder (`default_cache_dir()`), which is what `--db demo` uses.
"""

from __future__ import annotations

from occmer.demo.actions import ACTION_UNITS, EXPRESSIONS
from occmer.demo.build import DemoParams, build_demo_database, is_demo_database
from occmer.demo.cache import default_cache_dir, demo_fallback_roots, ensure_demo_database
from occmer.demo.sheets import CODING_SHEET, MANIFEST, OBJECTIVE_SHEET, read_manifest

__all__ = [
    "ACTION_UNITS",
    "CODING_SHEET",
    "EXPRESSIONS",
    "MANIFEST",
    "OBJECTIVE_SHEET",
    "DemoParams",
    "build_demo_database",
    "default_cache_dir",
    "demo_fallback_roots",
    "ensure_demo_database",
    "is_demo_database",
    "read_manifest",
]
