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
from occmer.demo import default_cache_dir
from occmer.demo.build import GENERATOR_VERSION
from occmer.demo.cache import cached_demo_params, ensure_demo_database_shown
from occmer.errors import ResumeError
from occmer.features import add_features, parse_feature_spec
from occmer.outputs import output_lock
from occmer.pipeline import SynthesisSettings, synthesize
from occmer.protocols.splits import compute_splits  # as `occmer synthesize` writes them (the CLI's hook)

DEFAULT_FEATURES = ("tvl1:28",)

# The face size the demo conditions are synthesized at (`--demo-face-size`; `occmer synthesize`
# uses 224). A condition at 112 px costs 3.5x less to build than at 224 (TV-L1 flow at 224 px
# was 72 % of it), which is what lets a first `occmer bench rrrn` on a cold cache finish in
# 3 minutes on 2 cores; the models read 32 px flow either way (benchmark/RESULTS.md, "Demo
# conditions at 112 px"). The demo's apex amplitudes (about 2 px at 200 px) become about 1 px.
DEMO_FACE_SIZE = 112

# The input size every model trains on in the demo bench (`--demo-size`; with --data each model
# reads its own default size). One size means one flow per condition, and the 112 px models
# (RRRN and its ablations, RAN, ResNet-18) cost about 7x less per sample at 32 px than at 112
# (benchmark/RESULTS.md, "Demo bench at one input size"): the demo's three-class task does not need 112 px,
# and the full nine-model evidence grid becomes about an hour of CPU instead of days. 32 is
# the smallest size every registered model accepts (ResNet-18's minimum) and close to the 28 px
# STSTNet and OFF-ApexNet were published with.
DEMO_INPUT_SIZE = 32
# The size of the demo bench when a model of the run does not build at DEMO_INPUT_SIZE: HTNet and
# CausalNet cut 7x7 patches into 2x2 blocks (a multiple of 28; CausalNet 28 only), as their authors.
TRANSFORMER_INPUT_SIZE = 28

# The epoch budget of the demo bench (`--epochs` overrides it; `--recipe paper` keeps the paper's):
# 20 instead of the default recipe's 30. On the demo's 84 training clips per fold RRRN at 32 px
# scored clean UF1 0.77 with 20 epochs and 0.75 with 30 (one seed, benchmark/RESULTS.md): the
# last 10 epochs add half as much time again and nothing measurable, and without them
# `occmer bench rrrn` fits in 3 minutes on 2 cores once the conditions are cached.
DEMO_EPOCHS = 20

# The demo `occmer bench` trains on when given no --data (each overridable by a --demo-* option
# or $OCCMER_DEMO_PARAMS). The realism of demo v2 stays; the size and class set are chosen so
# that a default run is learnable and fast (benchmark/RESULTS.md, "default bench"):
# - three well-separated objective-class groups, I (happiness = positive), II (surprise) and
#   IV (disgust = negative): the composite classes of MEGC 2019 and SMIC's own label set,
#   where seven classes from 8 x 7 clips scored near chance;
# - SMIC's recording (100 fps: half the frames of CASME II's 200 fps for the same timing);
# - 8 subjects x 12 clips (4 per class per subject);
# - apex amplitudes around 2 px at 200 px (log-normal, as in every demo), within the 1-4 px
#   the databases' flow statistics report (domain.md section 1), instead of the demo's
#   default 1.2 px median where, after the intensity letters, most clips move under a pixel.
BENCH_DEMO: dict[str, Any] = {
    "classes": "I,II,IV",
    "preset": "smic",
    "subjects": 8,
    "clips_per_subject": 12,
    "amplitude_median_px": 2.0,
}


def demo_feature(size: int) -> str:
    """The feature set the demo bench trains on at `size`: TV-L1 flow at that size."""
    return f"flow_tvl1_{size}"


def condition_path(mask: str, features: Sequence[str], seed: int, cache_dir: Path, demo_params: Mapping,
                   face_size: int = DEMO_FACE_SIZE) -> Path:
    """Cache file of one condition: a readable prefix + a hash of everything that shapes it."""
    key = json.dumps(
        {"mask": mask, "features": list(features), "seed": seed, "demo": dict(demo_params), "size": face_size,
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
    face_size: int = DEMO_FACE_SIZE,
) -> Path:
    """The cached occmer file of the demo database under `mask` (built on first use), faces `face_size` px."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    # The effective parameters ($OCCMER_DEMO_PARAMS included; bad ones fail before anything is
    # built) key the cached condition file.
    params = asdict(cached_demo_params(BENCH_DEMO, **dict(demo_params or {})))
    settings = SynthesisSettings(database="demo", mask=mask, seed=seed, size=face_size)  # checked before any work
    out = condition_path(mask, features, seed, cache, params, face_size)
    if out.exists():
        return out
    with output_lock(out, f"demo condition {mask}", wait=True):  # two benches building one condition
        if out.exists():
            return out  # built by the run we waited for
        return _build_demo_condition(settings, features, cache, params, out, workers, progress)


def _build_demo_condition(settings: SynthesisSettings, features: Sequence[str], cache: Path, params: dict,
                          out: Path, workers: int, progress: bool) -> Path:
    root = ensure_demo_database_shown(cache_dir=cache, progress=progress, **params)
    clips = scan_all(resolve_databases("demo", (str(root),))).clips
    building = out.with_name(out.stem + ".building.h5")
    run = {"workers": workers, "roots": {"demo": root}, "progress": progress, "splits": compute_splits,
           "command": f"occmer synthesize --db demo --mask {settings.mask} --seed {settings.seed} --size {settings.size}"}
    try:
        resume = building.with_name(building.name + ".parts").exists()
        synthesize(settings, clips, building, resume=resume, overwrite=not resume, **run)
    except ResumeError:  # an interrupted build of other data (or an older occmer): this is a cache, rebuild
        synthesize(settings, clips, building, overwrite=True, **run)
    if features:
        add_features(building, [parse_feature_spec(f) for f in features], workers=workers, progress=progress)
    os.replace(building, out)
    return out
