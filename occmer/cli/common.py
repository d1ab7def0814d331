"""What the commands share: one declaration per option family, validated before any work.

Each decorator declares its flags once for every command that takes them, with the range
check that keeps a bad value from reaching the code behind it (a negative seed fails only
after every clip is done; a negative flow window crashes OpenCV). Errors are ConfigErrors
or click usage errors, both printed as one line by the group. Also here: scanning the
databases (synthesize, preview), the output guard (`guarded_output`) and the command line
recorded in outputs.
"""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from occmer.errors import ConfigError, DataError
from occmer.occluders import OPTIONS, OccluderOption, given_options, mask_names
from occmer.outputs import check_output, is_write_failure, output_lock, write_failure
from occmer.seeding import MAX_SEED

CROP_SIZES = (32, 1024)  # side of the aligned face crop, px

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*decorators: Decorator) -> Decorator:
    """Several click options as one decorator, listed in --help in the order given."""

    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


# ---------------------------------------------------------------- seeds, workers, progress


def seed_option(help: str = "Global seed; each clip derives its own.", default: int = 0) -> Decorator:  # noqa: A002
    """--seed in 0..2^32-1 (checked before any work: numpy and the HDF5 attribute need it)."""
    return click.option("--seed", type=click.IntRange(0, MAX_SEED), default=default, show_default=True, help=help)


def _check_workers(ctx: click.Context, param: click.Parameter, value: int) -> int:
    from occmer.workers import check_workers

    return check_workers(value)


def workers_option(help: str = "Worker processes (parallel over clips; at most twice the CPUs).") -> Decorator:  # noqa: A002
    """--workers in 1..2*CPUs: more processes than that only add memory (each holds its own models)."""
    return click.option("--workers", type=int, default=1, show_default=True, callback=_check_workers, help=help)


def executor_options(job: str, local: str, output: str, threads: str) -> Decorator:
    """--executor local|ray, --ray-address, --cpus-per-task: where the jobs of a command run
    (`bench`: folds, `synthesize`: clips). Checked together by `occmer.ray_runtime.ExecutorChoice`."""
    return _stack(
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help=f"Where {job}s run: local ({local}) or ray (each {job} a Ray task; needs "
                          f"`pip install 'occmer[ray]'`). Both write the same {output}."),
        click.option("--ray-address", default=None, metavar="ADDR",
                     help="With --executor ray: the cluster to join (e.g. 10.0.0.5:6379 or auto); default a local Ray "
                          "on this machine. --out must be a path every node sees."),
        click.option("--cpus-per-task", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                     help=f"With --executor ray: CPUs each {job} declares ({threads} uses that many threads)."),
    )


def overwrite_option(help: str) -> Decorator:  # noqa: A002
    return click.option("--overwrite", is_flag=True, help=help)


def refuse_together(**flags: Any) -> None:
    """ConfigError when more than one of the given flags is set (names as on the command line)."""
    given = [f"--{name.replace('_', '-')}" for name, value in flags.items() if value]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} contradict each other: pass only one of them")


# ---------------------------------------------------------------- databases, faces, occluders


def database_options(help_db: str, default: str | None = None,
                     root_default: str = "the database's environment variable (see `occmer describe --help`)"
                     ) -> Decorator:
    """--db and --root, as `synthesize`, `preview` and `describe` read databases."""
    return _stack(
        click.option("--db", default=default, show_default=default is not None, help=help_db),
        click.option("--root", "roots", multiple=True,
                     help=f"Database folder. With several databases: NAME=PATH, repeated. Default: {root_default}."),
    )


def apex_option(help: str = "How a missing apex is filled (recorded per clip in apex_source).") -> Decorator:  # noqa: A002
    """--apex: midpoint, or flow (reads the frames of the clips whose sheet has no apex)."""
    from occmer.databases.apex import APEX_POLICIES

    return click.option("--apex", type=click.Choice(sorted(APEX_POLICIES)), default="midpoint", show_default=True,
                        help=help)


def database_input_options() -> Decorator:
    """--offset (how an unannotated offset is filled) and --follow-symlinks (links out of the root)."""
    from occmer.databases.apex import OFFSET_CHOICES

    return _stack(
        click.option("--offset", "offset_policy", type=click.Choice(OFFSET_CHOICES), default="mirror",
                     show_default=True,
                     help="How an offset the sheet leaves unannotated (CAS(ME)^3 writes 0) is filled: mirror = apex + "
                          "(apex - onset), half-second = onset + 0.5 s of frames, skip = a problem. Recorded per clip."),
        click.option("--follow-symlinks", is_flag=True,
                     help="Accept clip folders and frames that are symlinks leading outside the root (refused by "
                          "default)."),
    )


def crop_size_option() -> Decorator:
    low, high = CROP_SIZES
    return click.option("--size", type=click.IntRange(low, high), default=224, show_default=True,
                        help=f"Side of the aligned square face crop (px, {low}..{high}).")


def landmark_options() -> Decorator:
    """--landmarks, --landmarks-dir and --apex (how the face is found and a missing apex filled)."""
    return _stack(
        click.option("--landmarks", default="mediapipe", show_default=True,
                     help="Landmark backend: mediapipe (bundled model) or file:FOLDER (your own landmarks, one file "
                          "per clip, see docs/landmarks.md)."),
        click.option("--landmarks-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="file backend: folder of per-clip landmark files (same as --landmarks file:FOLDER)."),
        apex_option(),
    )


def landmark_settings(landmarks: str, landmarks_dir: Path | None) -> tuple[str, dict[str, str]]:
    """(backend name, backend options) from --landmarks / --landmarks-dir."""
    if landmarks.startswith("file:"):
        landmarks, landmarks_dir = "file", Path(landmarks.split(":", 1)[1])
    return landmarks, ({"folder": str(landmarks_dir.expanduser().resolve())} if landmarks_dir else {})


def _occluder_flag(option: OccluderOption) -> Decorator:
    """One flag for an option the occluder families declare (occmer.occluders.OPTIONS)."""
    kind: Any = None
    if option.choices:
        kind = click.Choice(option.choices)
    elif option.unit_interval:
        kind = click.FloatRange(0, 1, min_open=True)
    default = f"  [default: {option.default}]" if option.default else ""
    return click.option(option.flag, option.key, type=kind, default=None, help=option.help + default)


def occluder_options(default_mask: str) -> Decorator:
    """--mask and every option the occluder families declare (--coverage, --region, ..., --hand-path).

    The command gets each as a keyword named by its key; `occluder_settings` checks and collects them.
    """
    return _stack(
        click.option("--mask", default=default_mask, show_default=True, help=f"Occluder: {mask_names()}."),
        *(_occluder_flag(option) for option in OPTIONS.values()),
    )


def occluder_settings(mask: str, given: dict[str, Any]) -> dict[str, Any]:
    """The occluder options the command line gave (unset ones left to the occluder), checked against --mask.

    `given` holds the command's keywords; those of occmer.occluders.OPTIONS are taken.
    """
    return given_options(mask, {key: given.get(key) for key in OPTIONS})


def landmark_files(landmark_options_: dict[str, str]) -> list[Path]:
    """The files of a --landmarks file:FOLDER backend (inputs an output must not replace)."""
    folder = Path(landmark_options_.get("folder", ""))
    return [p for p in folder.iterdir() if p.is_file()] if landmark_options_.get("folder") and folder.is_dir() else []


def template_files(mask: str, choices: str | None = None) -> list[Path]:
    """The custom occluder files a --mask / --choices names (inputs an output must not replace)."""
    specs = [mask] + [c.strip() for c in (choices or "").split(",")]
    paths = []
    for spec in specs:
        if spec.startswith("custom:") and spec.split(":", 1)[1].strip():  # no path: the occluder says what to give
            path = Path(spec.split(":", 1)[1]).expanduser()
            paths += [path, path.with_suffix(".png")]
    return paths


@dataclass
class LoadedClips:
    """What a database scan gave a command: the clips, the invalid ones left out, and where they came from."""

    clips: list
    invalid: list[dict[str, str]]
    roots: dict[str, Path]

    def input_files(self) -> Iterator[Path]:
        """Every file the command reads: sheets directly in each root and every frame of every clip."""
        for root in self.roots.values():
            if root.is_dir():
                yield from (p for p in root.iterdir() if p.is_file())
        for clip in self.clips:
            for _, path in clip.frames:
                yield Path(path)


def load_clips(db: str, roots: tuple[str, ...], apex: str, skip_invalid: bool, progress: bool = True,
               offset_policy: str = "mirror", follow_symlinks: bool = False) -> LoadedClips:
    """Scan the databases named by `db`; stop on problems unless skip_invalid."""
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.demo import demo_fallback_roots

    databases = resolve_databases(db, roots, apex_policy=apex, fallback_roots=demo_fallback_roots(db, roots, progress),
                                  offset_policy=offset_policy, follow_symlinks=follow_symlinks)
    result = scan_all(databases)
    invalid = [{"sample_id": p.sample_id, "reason": f"{p.message} ({p.path})"} for p in result.problems]
    if result.problems and not skip_invalid:
        listing = "\n".join(f"  - {p}" for p in result.problems)
        raise DataError(
            f"{len(result.problems)} problems in {db} (nothing was written):\n{listing}\n"
            "fix them, or pass --skip-invalid to leave those clips out (they are recorded in the output)"
        )
    for p in result.problems:
        click.echo(f"skipping invalid clip {p}", err=True)
    if result.problems:
        from occmer.databases.summary import left_out_lines

        for line in left_out_lines(result.problems):
            click.echo(line, err=True)
    return LoadedClips(result.clips, invalid, {d.name: d.root for d in databases})


# ---------------------------------------------------------------- training


def _positive_finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is None:  # not given: the model's recipe decides
        return None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"--{param.name.replace('_', '-')} must be a finite number above 0, got {value}")
    return value


def _nonnegative_finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"--{param.name.replace('_', '-')} must be a finite number, 0 or above, got {value}")
    return value


def optimiser_options() -> Decorator:
    """--lr (finite, > 0) and --weight-decay (finite, >= 0): a NaN rate trains NaN weights silently.

    Unset, they are None and the model's recipe (`--recipe`, docs/models.md) supplies them.
    """
    return _stack(
        click.option("--lr", type=float, default=None, callback=_positive_finite,
                     help="Learning rate. [recipe: 1e-3 by default]"),
        click.option("--weight-decay", type=float, default=None, callback=_nonnegative_finite,
                     help="Weight decay. [recipe: 1e-4 by default]"),
    )


def _check_data(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[str, ...]:
    for value in values:
        name, sep, path = value.partition("=")
        if sep and not Path(value).exists():
            if not name.strip():
                raise ConfigError(f"--data {value!r}: the condition NAME before '=' is empty; write NAME=FILE")
            if not path.strip():
                raise ConfigError(f"--data {value!r}: no FILE after '='; write NAME=FILE, e.g. clean=casme2.h5")
        else:
            path = value
        if Path(path).expanduser().is_dir():
            raise ConfigError(f"--data {value}: {path} is a folder; give an occmer .h5 file")
    return tuple(values)


def data_option() -> Decorator:
    return click.option(
        "--data", "data", multiple=True, metavar="[NAME=]FILE", callback=_check_data,
        help="An occmer file (repeatable). Files of one condition (e.g. CASME II and SAMM, both clean) share a NAME; "
             "without NAME the file's stem names it (mask.h5 -> mask). Without --data: the demo database under "
             "--demo-masks, built and cached on first use.")


# ---------------------------------------------------------------- outputs


def command_line() -> str:
    """The command as typed, recorded in outputs."""
    return "occmer " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@contextmanager
def guarded_output(out: Path, inputs: Iterable[Path] = (), *, option: str = "--out") -> Iterator[Path]:
    """Check `out` against the command's inputs and its folder, then hold OUT.lock while writing.

    An OSError raised inside (disk full, read-only) becomes an OutputError naming `out`.
    """
    resolved = check_output(out, inputs, option=option)
    with output_lock(resolved, command_line(), echo=lambda text: click.echo(text, err=True)):
        try:
            yield resolved
        except OSError as exc:
            if is_write_failure(exc):
                raise write_failure(exc, resolved) from exc
            raise
