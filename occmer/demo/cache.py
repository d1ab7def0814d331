"""The demo database cache: `--db demo` builds it once per parameter set and occmer version.

The folder name is a hash of the parameters and the version, so a new release or another
seed gets its own folder. Two processes building at once each build in a private
temporary folder; the first rename wins and the other discards its copy.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from occmer import __version__
from occmer.demo.build import GENERATOR_VERSION, DemoParams, build_into_temp, is_demo_database, make_params
from occmer.errors import ConfigError, DataError
from occmer.progress import progress_bar
from occmer.seeding import stable_hash

CACHE_ENV = "OCCMER_CACHE"
PARAMS_ENV = "OCCMER_DEMO_PARAMS"


def default_cache_dir() -> Path:
    """$OCCMER_CACHE, else $XDG_CACHE_HOME/occmer, else ~/.cache/occmer."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "occmer"
    return Path.home() / ".cache" / "occmer"


def cache_root(cache_dir: Path | None = None) -> Path:
    """The absolute cache folder the demos are built under: `cache_dir`, else `default_cache_dir()`."""
    return (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()).absolute()


def cached_demo_params(defaults: Mapping[str, Any] | None = None, **params: Any) -> DemoParams:
    """The parameters of the cached demo: DemoParams' defaults, then `defaults` (the bench's own),
    then $OCCMER_DEMO_PARAMS, then `params`.

    OCCMER_DEMO_PARAMS="subjects=3,clips_per_subject=3,frames=12,size=160" makes every
    `--db demo` (synthesize, bench, preview) use a smaller database; the docs tests run the
    documented commands unchanged this way. Values are numbers, or names for the text
    parameters (preset=samm, balance=casme2, classes=objective).
    """
    merged = env_params(PARAMS_ENV, DemoParams)
    return make_params(**{**dict(defaults or {}), **merged, **params})


def env_params(env: str, params_class: type) -> dict[str, Any]:
    """The NAME=VALUE pairs of $env (comma-separated), typed as the dataclass `params_class` declares them."""
    types = {name: str(f.type) for name, f in params_class.__dataclass_fields__.items()}
    merged: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in os.environ.get(env, "").split(","))):
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if name not in types:
            raise ConfigError(f"${env}: unknown parameter {name!r} in {item!r}; use NAME=VALUE with NAME in "
                              + ", ".join(types))
        try:
            merged[name] = {"int": int, "float": float}.get(types[name], str)(value)
        except ValueError:
            raise ConfigError(f"${env}: {item!r} is not NAME=NUMBER") from None
    return merged


def cache_key(params: DemoParams) -> str:
    """Folder name of one parameter set under the cache: readable prefix + a stable hash."""
    text = json.dumps({"version": __version__, "generator": GENERATOR_VERSION, **asdict(params)}, sort_keys=True)
    return f"demo-{__version__}-s{params.seed}-{stable_hash(text):016x}"


def ensure_demo_database(
    cache_dir: Path | None = None, progress: Callable[[str], None] | None = None, **params: Any
) -> Path:
    """The cached demo database for these parameters (see `build_demo_database`), built on first use."""
    settings = cached_demo_params(**params)
    target = cache_root(cache_dir) / cache_key(settings)
    if is_demo_database(target):
        return target
    if target.exists():
        raise DataError(
            f"{target} exists but is not a complete demo database (no demo.json); delete that folder and retry"
        )
    temp = build_into_temp(target.parent, target.name, settings, progress)
    try:
        temp.rename(target)
    except OSError:
        shutil.rmtree(temp, ignore_errors=True)
        if not is_demo_database(target):
            raise
    return target


def demo_fallback_roots(spec: str, roots: Sequence[str], progress: bool = True) -> dict[str, Path]:
    """{"demo": cached demo root} when `spec` names demo and no root was given for it.

    The CLI commands pass this as `fallback_roots` to `resolve_databases`, so `--db demo`
    works with no data; the database is built (with a progress bar) only on first use.
    """
    names = [n.strip().lower() for n in spec.split("+")]
    if "demo" not in names or os.environ.get("OCCMER_DEMO_ROOT"):
        return {}
    if any(r.startswith("demo=") for r in roots) or (roots and names == ["demo"]):
        return {}
    return {"demo": ensure_demo_database_shown(progress=progress)}


def ensure_demo_database_shown(cache_dir: Path | None = None, progress: bool = True, **params: Any) -> Path:
    """`ensure_demo_database` with occmer's progress display while a first use builds it (a bar on
    a terminal, a line every interval in a log): building takes minutes and was silent."""
    settings = cached_demo_params(**params)
    cached = cache_root(cache_dir) / cache_key(settings)
    if is_demo_database(cached):
        return cached
    total = settings.subjects * settings.clips_per_subject
    with progress_bar(total, "demo database (first use)", "clip", enabled=progress, leave=False) as bar:
        return ensure_demo_database(cache_dir=cache_dir, progress=lambda _sample: bar.update(1), **params)
