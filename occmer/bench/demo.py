"""The demo conditions of `occmer bench` with no --data: the demo database under each occluder.

Each condition is synthesized once per (occluder, features, seed, demo parameters, occmer
version) into the cache folder and reused; a file is built under a temporary name and
renamed when its features are in, so a cached file is always whole. This sits in bench/
(the last stage) because it drives the pipeline and the features stages.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from occmer import __version__
from occmer.databases.resolve import resolve_databases, scan_all
from occmer.demo import default_cache_dir, ensure_demo_database
from occmer.demo.build import GENERATOR_VERSION
from occmer.demo.cache import cached_demo_params
from occmer.errors import ResumeError
from occmer.features import add_features, parse_feature_spec
from occmer.outputs import output_lock
from occmer.pipeline import SynthesisSettings, synthesize

DEFAULT_FEATURES = ("tvl1:28",)


def condition_path(mask: str, features: Sequence[str], seed: int, cache_dir: Path, demo_params: Mapping) -> Path:
    """Cache file of one condition: a readable prefix + a hash of everything that shapes it."""
    key = json.dumps(
        {"mask": mask, "features": list(features), "seed": seed, "demo": dict(demo_params),
         "generator": GENERATOR_VERSION, "version": __version__},
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir / "conditions" / f"demo_{mask.replace(':', '-')}_{digest}.h5"


def ensure_demo_condition(
    mask: str,
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    seed: int = 0,
    cache_dir: Path | None = None,
    workers: int = 1,
    progress: bool = True,
    demo_params: Mapping[str, Any] | None = None,
) -> Path:
    """The cached occmer file of the demo database under `mask` (built on first use)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    # The effective parameters ($OCCMER_DEMO_PARAMS included; bad ones fail before anything is
    # built) key the cached condition file.
    params = asdict(cached_demo_params(**dict(demo_params or {})))
    out = condition_path(mask, features, seed, cache, params)
    if out.exists():
        return out
    with output_lock(out, f"demo condition {mask}", wait=True):  # two benches building one condition
        if out.exists():
            return out  # built by the run we waited for
        return _build_demo_condition(mask, features, seed, cache, params, out, workers, progress)


def _build_demo_condition(mask: str, features: Sequence[str], seed: int, cache: Path, params: dict, out: Path,
                          workers: int, progress: bool) -> Path:
    root = ensure_demo_database(cache_dir=cache, **params)
    clips = scan_all(resolve_databases("demo", (str(root),))).clips
    settings = SynthesisSettings(database="demo", mask=mask, seed=seed)
    building = out.with_name(out.stem + ".building.h5")
    run = {"workers": workers, "roots": {"demo": root}, "progress": progress,
           "command": f"occmer synthesize --db demo --mask {mask} --seed {seed}"}
    try:
        resume = building.with_name(building.name + ".parts").exists()
        synthesize(settings, clips, building, resume=resume, overwrite=not resume, **run)
    except ResumeError:  # an interrupted build of other data (or an older occmer): this is a cache, rebuild
        synthesize(settings, clips, building, overwrite=True, **run)
    if features:
        add_features(building, [parse_feature_spec(f) for f in features], workers=workers, progress=progress)
    os.replace(building, out)
    return out
