"""From CLI words to adapters: `--db casme2+samm --root casme2=/data/c2 --root samm=/data/samm`.

A database's root comes from `--root` (a bare PATH when one database is asked for, NAME=PATH
otherwise), else its environment variable (e.g. OCCMER_CASME2_ROOT), else `fallback_roots`
(the demo cache), else a ConfigError that says where the data is expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from occmer.databases import DATABASES
from occmer.databases.apex import check_apex_policy, check_offset_policy
from occmer.databases.base import Database, ScanResult
from occmer.errors import ConfigError, DataError
from occmer.official import canonical_database


def parse_spec(spec: str) -> list[str]:
    """Database names of a spec such as "casme2" or "smic-hs+casme2+samm", checked against the registry."""
    names = [part.strip().lower() for part in spec.split("+") if part.strip()]
    if not names:
        raise ConfigError(f"empty database spec {spec!r}; choose from {', '.join(sorted(DATABASES))} (--db)")
    names = [n if n in DATABASES else canonical_database(n) for n in names]  # "smic" -> "smic-hs"
    unknown = [n for n in names if n not in DATABASES]
    if unknown:
        raise ConfigError(
            f"unknown database {', '.join(unknown)} in --db {spec!r}; choose from {', '.join(sorted(DATABASES))}, "
            f"joined with '+' to merge (e.g. casme2+samm)"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"--db {spec!r} names a database twice")
    return names


def parse_roots(names: Sequence[str], roots: Sequence[str]) -> dict[str, Path]:
    """name -> root from the --root values: "PATH" for a single database, "NAME=PATH" always accepted."""
    result: dict[str, Path] = {}
    for value in roots:
        name, sep, rest = value.partition("=")
        if sep and name.strip().lower() in DATABASES:
            key = name.strip().lower()
            if key not in names:
                raise ConfigError(f"--root {value!r} names {key}, which is not in --db {'+'.join(names)}")
            path = rest
        elif len(names) == 1:
            key, path = names[0], value
        else:
            raise ConfigError(
                f"--root {value!r}: with several databases write each root as NAME=PATH "
                f"(e.g. --root {names[0]}=/data/{names[0]})"
            )
        if key in result:
            raise ConfigError(f"two --root values for {key}")
        result[key] = Path(path).expanduser()
    return result


def root_for(name: str, given: Mapping[str, Path], fallback_roots: Mapping[str, Path] | None) -> Path:
    """The root of one database: --root, then its environment variable, then the fallback; else ConfigError."""
    cls = DATABASES[name]
    if name in given:
        root, origin = given[name], "--root"
    elif cls.env_var and os.environ.get(cls.env_var):
        root, origin = Path(os.environ[cls.env_var]).expanduser(), f"${cls.env_var}"
    elif fallback_roots and name in fallback_roots:
        root, origin = Path(fallback_roots[name]), "the default location"
    else:
        env = f" or set {cls.env_var}" if cls.env_var else ""
        raise ConfigError(
            f"no root folder for {name}: pass --root PATH (--root {name}=PATH when merging){env}; "
            f"the root must hold {cls.layout or 'the database as distributed'}"
        )
    if not root.is_dir():
        raise DataError(f"root folder of {name} not found: {root} (from {origin}); expected it to hold {cls.layout}")
    return root


def resolve_databases(
    spec: str,
    roots: Sequence[str],
    apex_policy: str = "midpoint",
    fallback_roots: Mapping[str, Path] | None = None,
    offset_policy: str = "mirror",
    follow_symlinks: bool = False,
) -> list[Database]:
    """Adapters for every database of `spec`, each with its root resolved and the apex/offset policies checked."""
    check_apex_policy(apex_policy)
    check_offset_policy(offset_policy)
    names = parse_spec(spec)
    given = parse_roots(names, roots)
    return [
        DATABASES[name](root_for(name, given, fallback_roots), apex_policy=apex_policy, offset_policy=offset_policy,
                        follow_symlinks=follow_symlinks)
        for name in names
    ]


def scan_all(databases: Sequence[Database]) -> ScanResult:
    """One ScanResult for several databases (subjects are already namespaced by database)."""
    merged = ScanResult()
    seen: set[str] = set()
    for database in databases:
        result = database.scan()
        for clip in result.clips:
            if clip.sample_id in seen:
                raise DataError(f"sample id {clip.sample_id} occurs in two databases; merge each database only once")
            seen.add(clip.sample_id)
        merged.clips.extend(result.clips)
        merged.problems.extend(result.problems)
    return merged
