"""The synthetic demo micro-expression database: occmer runs end to end with no licensed data.

`build_demo_database(path)` writes a CASME II-layout database (frames, coding sheet,
objective classes, demo.json ground truth) whose clips carry the variety of real ones
(docs/demo-database.md); `ensure_demo_database()` keeps one per
parameter set in the cache folder (`default_cache_dir()`), which is what `--db demo` uses.
"""

from __future__ import annotations

from occmer.demo.actions import ACTION_UNITS
from occmer.demo.build import DemoParams, build_demo_database, is_demo_database, make_params
from occmer.demo.cache import default_cache_dir, demo_fallback_roots, ensure_demo_database
from occmer.demo.classes import BALANCES, CLASSES
from occmer.demo.presets import PRESETS
from occmer.demo.sheets import CODING_SHEET, MANIFEST, OBJECTIVE_SHEET, read_manifest

__all__ = [
    "ACTION_UNITS",
    "CODING_SHEET",
    "BALANCES",
    "CLASSES",
    "MANIFEST",
    "OBJECTIVE_SHEET",
    "PRESETS",
    "DemoParams",
    "build_demo_database",
    "default_cache_dir",
    "demo_fallback_roots",
    "ensure_demo_database",
    "is_demo_database",
    "make_params",
    "read_manifest",
]
