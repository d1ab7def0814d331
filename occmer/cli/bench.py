"""`occmer bench`: train and score models on occluded conditions under a published protocol."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from occmer.cli.common import MAX_SEED, data_option, executor_options, guarded_output, optimiser_options, seed_option
from occmer.cli.output import output_options
from occmer.cli.spot import spotter_option
from occmer.demo.classes import BALANCES
from occmer.demo.presets import PRESETS
from occmer.errors import ConfigError
from occmer.labels import LABEL_SCHEMES
from occmer.outputs import check_output
from occmer.progress import info, show_progress
from occmer.protocols import PROTOCOLS
from occmer.spotting import DEFAULT_SPOTTER

DEMO_MASKS_DEFAULT = "none,glasses,surgical"


def _protocol_help() -> str:
    return "; ".join(f"{p.name}: {p.description}" for p in PROTOCOLS.values())


@click.command("bench")
@output_options
@click.argument("models", nargs=-1)
@click.option("--task", type=click.Choice(["recognize", "spot", "str"]), default="recognize", show_default=True,
              help="recognize: classify cut clips (the tables below). spot: find the expressions in long videos "
                   "(--spotter: the MEGC feature-difference baseline or SOFTNet, leave-one-subject-out, MEGC "
                   "rules); str: spot, then classify "
                   "each spotted interval with MODEL (default ststnet), scored by STRS. spot and str run on the long "
                   "demo (--long-demo, --long-seconds, --demo-subjects, --demo-face-size) under --demo-masks "
                   "(docs/spotting.md).")
@click.option("--long-demo", "long_demo", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="--task spot/str: a long demo folder (demo.json + frames) instead of the cached one.")
@click.option("--long-seconds", type=click.FloatRange(5, 3600), default=60.0, show_default=True,
              help="--task spot/str: length of each video of the cached long demo (3 subjects, 128 px frames by "
                   "default; --demo-subjects and --demo-face-size change them).")
@click.option("--placement", type=click.Choice(["held", "per-frame"]), default="held", show_default=True,
              help="--task spot/str: the occluder held on the face (occmer) or placed again on every frame from "
                   "that frame's landmarks (the public generator's way).")
@spotter_option()
@data_option()
@click.option("--demo-masks", default=DEMO_MASKS_DEFAULT, show_default=True,
              help="Occluders of the demo conditions used when no --data is given (comma-separated).")
@click.option("--demo-subjects", type=click.IntRange(min=2), default=None,
              help="Subjects of the demo database (default: 8); e.g. 26 for a CASME II size.")
@click.option("--demo-clips", type=click.IntRange(min=1), default=None,
              help="Clips per subject of the demo database (default: 12).")
@click.option("--demo-preset", type=click.Choice(list(PRESETS)), default=None,
              help="Recording the demo copies: frame rate, colour, timing (default: smic, 100 fps). See docs/demo-database.md.")
@click.option("--demo-balance", type=click.Choice(list(BALANCES)), default=None,
              help="Class shares of the demo: balanced (default) or those of CASME II or SAMM.")
@click.option("--demo-classes", default=None, metavar="LIST",
              help="Objective classes of the demo, comma-separated (default: I,II,IV = happiness, surprise, disgust, "
                   "i.e. positive / surprise / negative; '' for all of I-VII).")
@click.option("--demo-size", type=click.IntRange(min=8), default=None, metavar="PX",
              help="Flow size every model trains on in the demo bench (default: 32, the smallest size every model "
                   "accepts; one flow per condition and the 112 px models ~7x cheaper). With --data each model reads "
                   "its own input size. --features overrides it.")
@click.option("--demo-face-size", type=click.IntRange(min=32), default=None, metavar="PX",
              help="Face size the demo conditions are synthesized at, before the flow is computed and resized to "
                   "--demo-size (default: 112; 224 is `occmer synthesize`'s default and the earlier demo bench's, "
                   "3.5x slower to build on first use).")
@click.option("--demo-workers", type=click.IntRange(min=1), default=None,
              help="Processes that build the demo conditions on first use (default: the CPUs, at most 4); the "
                   "files are the same for any count.")
@click.option("--protocol", type=click.Choice(list(PROTOCOLS)), default="loso", show_default=True,
              help=_protocol_help())
@click.option("--labels", type=click.Choice(list(LABEL_SCHEMES)), default=None,
              help="Label scheme (default: the protocol's own; emotion for loso).")
@click.option("--features", default=None, metavar="NAME",
              help="Feature set to train on (e.g. flow_tvl1_28). Default: flow of each model's input size, or of "
                   "--demo-size for the demo bench.")
@click.option("--train-on", "train_on", multiple=True, metavar="CONDITION",
              help="Train only on these conditions (repeatable); each is tested on every --test-on condition "
                   "(all conditions when --test-on is not given).")
@click.option("--test-on", "test_on", multiple=True, metavar="CONDITION",
              help="Test only on these conditions (repeatable), e.g. --train-on clean --test-on glasses.")
@click.option("--recipe", type=click.Choice(["default", "paper"]), default=None,
              help="Training recipe per model: default (AdamW 1e-3, weight decay 1e-4, 30 epochs, batch 32, inputs as "
                   "stored) or paper (optimiser, lr, epochs, batch, input channels and normalisation as the model's "
                   "reference code or paper states; docs/models.md). Options below override it. Default: default, "
                   "or paper with --weights (the checkpoints' own input convention).")
@click.option("--weights", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Evaluate published checkpoints instead of training: one file per fold in this folder, named "
                   "after the held-out subject (sub01.pth, casme2_sub01.pth or casme2/sub01.pth; docs/bench.md). "
                   "One model, one seed.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, envvar="OCCMER_BENCH_EPOCHS", show_envvar=True,
              help="Fixed epoch budget per fold (no selection on the test subject). [recipe: 30 by default]")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Training batch size (a last batch of one sample joins the previous batch). [recipe: 32]")
@optimiser_options()
@click.option("--val-subjects", type=click.IntRange(min=0), default=None,
              help="Carve K subjects from each fold's training subjects and keep the epoch with the best "
                   "validation UF1 (0: use the last epoch); implies --selection val. [recipe: 0]")
@click.option("--selection", type=click.Choice(["last", "val", "test-oracle"]), default=None,
              help="Which epoch each fold reports. last: the end of the fixed budget (default); val: the best "
                   "validation UF1 (needs --val-subjects K, or a recipe with validation subjects); test-oracle: the "
                   "best accuracy on the fold's own test subject, as HTNet and CausalNet report, SELECTED ON THE "
                   "TEST SUBJECT (leaky; labelled so everywhere). Every run stores every epoch's test predictions, "
                   "so `occmer report` shows the oracle's number beside the honest one anyway (docs/bench.md).")
@click.option("--hparam", "hparams", multiple=True, metavar="KEY=VALUE",
              help="Model hyper-parameter (repeatable): KEY for every model that has it, MODEL.KEY for one, "
                   "loss.KEY for the loss (label_smoothing, region_bias, margin).")
@seed_option("First seed.")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of seeds (seed, seed+1, ...): tables give mean ± std over them.")
@click.option("--device", default="auto", show_default=True,
              help="auto (CUDA when available), cpu, cuda or cuda:N. CUDA trains with bf16 autocast.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench_out"),
              show_default=True, help="Results directory (config.json, folds/, tables, plots). If it holds a run "
                                      "with the same settings, that run continues: finished folds are kept.")
@click.option("--folds", "shard", default="1/1", show_default=True, metavar="i/n",
              help="Run only shard i of n of the fold jobs (merge the shards with `occmer report`).")
@click.option("--max-folds", type=click.IntRange(min=1), default=None,
              help="Run only the first N folds of each model and condition (quick checks).")
@click.option("--no-html", is_flag=True, help="Do not write report.html (tables, metrics and figures are still written).")
@executor_options("fold", local="one after the other in this process", output="result files", threads="torch")
@click.option("--gpus-per-task", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="With --executor ray: GPUs each fold declares; fractions share a GPU (0.25 = four small "
                   "models per GPU). Use with --device cuda.")
@click.option("--batch-folds", type=click.Choice(["auto", "off"]), default="off", show_default=True,
              help="auto: with the local executor on the CPU, train the folds of one (model, condition, seed) "
                   "together as one batched model where the model supports it (STSTNet; not with --val-subjects "
                   "nor Adam with weight decay): "
                   "same predictions as one by one to float rounding; 1.2x to 2.9x faster on 2 CPU cores (benchmark/RESULTS.md). off: one fold at a "
                   "time (bit-identical to --executor ray).")
@click.option("--allow-partial", is_flag=True,
              help="Run a MEGC protocol although the data lacks clips of its official list (recorded in "
                   "config.json and the table title; such numbers are not comparable with published ones).")
@click.option("--membership", type=click.Choice(["official", "rules"]), default="official", show_default=True,
              help="MEGC protocols: official = the shipped official list decides which clips and labels take part "
                   "(SMIC-HS, CASME II, SAMM); rules = the published rules on the labels stored in the files "
                   "(for re-annotated or other data; recorded, not comparable with published numbers).")
def bench_command(models: tuple[str, ...], data: tuple[str, ...], demo_masks: str, demo_subjects: int | None,
                  demo_clips: int | None, demo_preset: str | None, demo_balance: str | None, demo_classes: str | None,
                  demo_size: int | None, demo_face_size: int | None, demo_workers: int | None, protocol: str,
                  labels: str | None, features: str | None, train_on: tuple[str, ...], test_on: tuple[str, ...],
                  recipe: str | None, weights: Path | None, epochs: int | None, batch_size: int | None,
                  lr: float | None, weight_decay: float | None, val_subjects: int | None, selection: str | None,
                  hparams: tuple[str, ...], seed: int, n_seeds: int, device: str, out: Path,
                  shard: str, max_folds: int | None, executor: str, ray_address: str | None, cpus_per_task: float,
                  gpus_per_task: float, no_html: bool, batch_folds: str, allow_partial: bool = False,
                  membership: str = "official", task: str = "recognize", long_demo: Path | None = None,
                  long_seconds: float = 60.0, placement: str = "held", spotter: str = DEFAULT_SPOTTER) -> None:
    """Train each MODEL on each condition and print one table (rows models, columns conditions,
    cells UF1 / UAR / accuracy pooled over folds, mean ± std over seeds).

    \b
    Examples:
      occmer bench rrrn                                   # demo data, clean and occluded
      occmer bench rrrn ststnet ran --data clean.h5 --data glasses.h5 --data mask.h5 --seeds 5
      occmer bench ststnet --data clean.h5 --data mask.h5 --train-on clean --test-on mask
      occmer bench rrrn --protocol megc2018-cde --data clean=casme2.h5 --data clean=samm.h5
      occmer bench ststnet --protocol megc2019 --data megc2019.h5 --recipe paper --seeds 5
      occmer bench ststnet --protocol megc2019 --data megc2019.h5 --weights STSTNet_Weights
      occmer bench --task spot --out spot_out             # spotting on the long demo
      occmer bench --task spot --data clean=long.h5 --data glasses=long_glasses.h5 --out spot_files
      occmer bench ststnet --task str --out str_out       # spot, then recognise
    """
    if task != "recognize":
        long_options = LongVideoOptions(long_demo, long_seconds, demo_subjects, demo_face_size, placement, demo_masks,
                                        spotter)
        train = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "device": device}
        _long_video_bench(task, models, long_options, train, hparams, seed, n_seeds, out, not no_html, data)
        return
    if spotter != DEFAULT_SPOTTER:
        raise click.UsageError(f"--spotter {spotter} is for --task spot or str (long videos); drop it or add --task")
    if not models:
        raise click.UsageError("Missing argument 'MODELS...'.")
    from occmer.bench.conditions import group_conditions
    from occmer.bench.executors import ExecutorOptions
    from occmer.bench.models import check_hparams, model_spec, parse_hparams
    from occmer.bench.runner import BenchRequest, Settings, Shard, resolve_scheme, run_bench
    from occmer.bench.selection import LEAKY_LABEL, is_leaky, selection_label
    from occmer.bench.training import TrainConfig

    executor_options = ExecutorOptions(executor, ray_address, cpus_per_task, gpus_per_task, batch_folds)
    executor_options.check_available()  # before the demo conditions are built (run_bench checks again)
    shard_of_folds = Shard.parse(shard)  # checked before any demo data is built
    check_output(out)  # a results folder under a file or on a read-only disk: refused before any work
    if seed + n_seeds - 1 > MAX_SEED:
        raise ConfigError(f"--seed {seed} with --seeds {n_seeds} goes past the largest seed, {MAX_SEED}")
    for model in models:
        model_spec(model)  # an unknown name fails before any demo data is built
    if len(set(models)) != len(models):
        raise ConfigError(f"a model is listed twice in {' '.join(models)}")
    parsed = parse_hparams(hparams)
    check_hparams(list(models), parsed)
    scheme = resolve_scheme(PROTOCOLS[protocol].label_scheme, labels)
    if data:
        conditions = group_conditions(data)
    else:
        from occmer.bench.demo import DEMO_EPOCHS, DEMO_FACE_SIZE, demo_feature
        from occmer.features.spec import four_map_feature_name
        from occmer.models import MODELS

        chosen = (("subjects", demo_subjects), ("clips_per_subject", demo_clips), ("preset", demo_preset),
                  ("balance", demo_balance), ("classes", demo_classes))
        params = {k: v for k, v in chosen if v is not None}
        features = features or demo_feature(_demo_size(demo_size, models))
        four_maps = [m for m in models if MODELS[m].input_maps > 1]
        if epochs is None and recipe in (None, "default") and weights is None:
            epochs = DEMO_EPOCHS
        face_size = demo_face_size or DEMO_FACE_SIZE
        trains_on = features + (f" ({', '.join(four_maps)}: its four maps, {four_map_feature_name(features)})"
                                if four_maps else "")
        info(f"demo bench: faces at {face_size} px, every model trains on {trains_on}, {epochs or 'the recipe'} epochs "
             "(--demo-face-size, --demo-size, --features, --epochs; with --data each model reads its own input size, "
             "the recipe's epochs)")
        workers = demo_workers or min(4, os.cpu_count() or 1)
        conditions = _demo_conditions(demo_masks, features, params, face_size, workers, show_progress(),
                                      bool(four_maps))
    if weights is not None and (len(models) != 1 or n_seeds != 1):
        raise ConfigError("--weights evaluates the checkpoints of one model: give one MODEL and no --seeds")
    selection = _selection(selection, val_subjects, weights)
    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
             "val_subjects": val_subjects}
    base = TrainConfig()
    settings = Settings(
        protocol=protocol, labels=scheme, features=features,
        train=TrainConfig(**{k: base_value if given[k] is None else given[k]
                             for k, base_value in (("epochs", base.epochs), ("batch_size", base.batch_size),
                                                   ("lr", base.lr), ("weight_decay", base.weight_decay))},
                          device=device),
        hparams=parsed, val_subjects=val_subjects or 0, allow_partial=allow_partial, membership=membership,
        recipe=recipe or ("paper" if weights is not None else "default"),
        overrides=tuple(sorted([*(k for k, v in given.items() if v is not None), *(["selection"] if selection else [])])),
        weights=str(weights) if weights is not None else None, selection=selection or "last",
    )
    for model in models:
        resolved = settings.model_recipe(model)
        click.echo(f"{model}: recipe {settings.recipe} ({resolved.train.optimizer} lr {resolved.train.lr:g}, "
                   f"{resolved.train.epochs} epochs, batch {resolved.train.batch_size}, inputs "
                   f"{','.join(resolved.recipe.channels) if resolved.recipe.channels else 'in stored order'}, "
                   f"{resolved.recipe.input_normalisation})" + (f"; checkpoints from {weights}" if weights else
                                                                f"; selection: {selection_label(resolved.selection)}"))
    if is_leaky(settings.selection):
        click.echo(f"WARNING: --selection test-oracle: every number of this run is {LEAKY_LABEL}; it is not "
                   "comparable with honest numbers (docs/bench.md, 'Selection').", err=True)
    request = BenchRequest(
        models=list(models), conditions=conditions, settings=settings, out=out,
        seeds=list(range(seed, seed + n_seeds)), train_on=train_on, test_on=test_on,
        max_folds=max_folds, shard=shard_of_folds, executor=executor_options,
    )
    inputs = [path for paths in conditions.values() for path in paths]
    with guarded_output(out, inputs):  # OUT.lock: one bench per results directory
        run_bench(request, progress=show_progress(), echo=info, html=not no_html)
    report = out / "report.html"
    click.echo(f"results in {out}" + ("" if no_html else f"; report: {report.resolve()}"))


@dataclass(frozen=True)
class LongVideoOptions:
    """The options of `--task spot | str` (the long demo, the occluder placement, the conditions)."""

    folder: Path | None
    seconds: float
    subjects: int | None
    size: int | None
    placement: str
    masks: str
    spotter: str = DEFAULT_SPOTTER


def _long_video_bench(task: str, models: tuple[str, ...], options: LongVideoOptions, train: dict, hparams: tuple[str, ...],
                      seed: int, n_seeds: int, out: Path, html: bool, data: tuple[str, ...] = ()) -> None:
    """`--task spot | str`: the cached long demo (or --long-demo) under each --demo-masks occluder, or
    synthesized long-video files (--data, one condition each, read as stored)."""
    from occmer.bench.demo import DEMO_EPOCHS
    from occmer.bench.models import check_hparams, parse_hparams
    from occmer.bench.spotting import DEFAULT_STR_MODEL, SpotRequest, ensure_long_demo, run_spot_bench
    from occmer.bench.training import TrainConfig
    from occmer.demo.long_video import LongVideoParams, read_long_demo

    if task == "spot" and models:
        raise ConfigError(f"--task spot trains no model; drop {' '.join(models)} (or use --task str)")
    if len(models) > 1:
        raise ConfigError(f"--task str recognises with one model; got {' '.join(models)}")
    model = models[0] if models else DEFAULT_STR_MODEL
    parsed = parse_hparams(hparams)
    check_hparams([model], parsed)
    check_output(out)
    if data:
        files = _long_video_files(data, options)
        stored = {name: videos for name, (_, videos) in files.items()}
        conditions, videos = tuple(stored), next(iter(stored.values()))
        source = {"data": {name: str(path) for name, (path, _) in files.items()}}
    elif options.folder is not None:
        folder, source = options.folder, {"long_demo": str(options.folder)}
    else:
        params = LongVideoParams(subjects=options.subjects or 3, seconds=options.seconds, size=options.size or 128)
        info(f"long demo: {params.subjects} subjects x {params.seconds:g} s, {params.size} px (cached; --long-seconds, "
             "--demo-subjects, --demo-face-size)")
        folder, source = ensure_long_demo(params, progress=show_progress()), {"long_demo_params": vars(params)}
    if not data:
        stored, videos = {}, read_long_demo(folder)
        conditions = tuple("clean" if m.strip() == "none" else m.strip() for m in options.masks.split(",") if m.strip())
    base = TrainConfig()
    config = TrainConfig(epochs=train["epochs"] or DEMO_EPOCHS, batch_size=train["batch_size"] or base.batch_size,
                         lr=train["lr"] or base.lr, weight_decay=base.weight_decay if train["weight_decay"] is None
                         else train["weight_decay"], device=train["device"])
    request = SpotRequest(task=task, videos=videos, out=out, source=source, conditions=conditions,
                          placement=options.placement, model=model, seeds=tuple(range(seed, seed + n_seeds)),
                          train=config, hparams=parsed, stored=stored, spotter=options.spotter)
    with guarded_output(out, []):
        run_spot_bench(request, progress=show_progress(), html=html, echo=info)
    click.echo(f"results in {out} (table.md, metrics.json" + (", pages/" if html else "") + ")")


def _long_video_files(data: tuple[str, ...], options: LongVideoOptions) -> dict[str, tuple[Path, list]]:
    """--data of a spotting bench: condition name -> its long-video file and that file's videos (one file each)."""
    from occmer.bench.conditions import file_condition_name, parse_data_option
    from occmer.spotting.sources import read_long_video_file

    if options.folder is not None:
        raise ConfigError("--long-demo and --data both name the videos; give one of them")
    stored: dict[str, tuple[Path, list]] = {}
    for value in data:
        name, path = parse_data_option(value)
        name = name or file_condition_name(path)
        if name in stored:
            raise ConfigError(f"--data {value}: condition {name} is named twice; a spotting bench reads one long-video "
                              "file per condition")
        stored[name] = (path, read_long_video_file(path))
    return stored


def _selection(selection: str | None, val_subjects: int | None, weights: Path | None) -> str | None:
    """--selection checked against --val-subjects and --weights; --val-subjects K > 0 alone means val."""
    if weights is not None and selection not in (None, "last"):
        raise ConfigError(f"--selection {selection} chooses an epoch of training; --weights trains nothing")
    if val_subjects and selection in ("last", "test-oracle"):
        raise ConfigError(f"--val-subjects {val_subjects} carves validation subjects for --selection val; "
                          f"drop it with --selection {selection}")
    if selection == "val" and val_subjects == 0:
        raise ConfigError("--selection val needs --val-subjects K with K >= 1")
    return selection or ("val" if val_subjects else None)


def _demo_size(size: int | None, models: tuple[str, ...]) -> int:
    """The demo bench's input size: `size`, else DEMO_INPUT_SIZE, else 28 (HTNet, CausalNet) when every model
    builds at it; checked against every model."""
    from occmer.bench.demo import DEMO_INPUT_SIZE, TRANSFORMER_INPUT_SIZE
    from occmer.models import MODELS

    if size is None:
        for candidate in (DEMO_INPUT_SIZE, TRANSFORMER_INPUT_SIZE):
            if all(MODELS[m].accepts_input_size(candidate) for m in models):
                return candidate
        raise ConfigError(f"no one demo input size suits {', '.join(models)} ({DEMO_INPUT_SIZE} or "
                          f"{TRANSFORMER_INPUT_SIZE} px): bench them in separate runs, or pass --demo-size")
    for model in models:
        if size < MODELS[model].min_input_size:
            raise ConfigError(f"--demo-size {size}: {model} needs inputs of at least {MODELS[model].min_input_size} px")
        if not MODELS[model].accepts_input_size(size):
            raise ConfigError(f"--demo-size {size}: {model} does not build at {size} px "
                              f"({MODELS[model].accepts_input_size.__doc__}); try --demo-size {TRANSFORMER_INPUT_SIZE}")
    return size


def _demo_conditions(masks: str, features: str, params: dict[str, object], face_size: int, workers: int,
                     progress: bool, four_maps: bool = False) -> dict[str, tuple[Path]]:
    """The cached demo files for each mask (built on first use) with the flow feature set `features`
    (and its four maps, CausalNet's input, when `four_maps`)."""
    from occmer.bench.demo import ensure_demo_condition
    from occmer.features.spec import FOUR_MAPS

    method, _, size = features.removeprefix("flow4_").removeprefix("flow_").rpartition("_")
    specs = (f"{method}:{size}",) + ((f"{method}:{size}:{FOUR_MAPS}",) if four_maps else ())
    out = {}
    for mask in [m.strip() for m in masks.split(",") if m.strip()]:
        name = "clean" if mask == "none" else mask.replace(":", "-")
        info(f"demo condition {name}: building or reading the cache ...")
        out[name] = (ensure_demo_condition(mask, features=specs, progress=progress, demo_params=params,
                                           face_size=face_size, workers=workers),)
    return out


COMMANDS = [bench_command]
