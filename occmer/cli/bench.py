"""`occmer bench`: train and score models on occluded conditions under a published protocol."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.bench.protocols import PROTOCOLS
from occmer.errors import ConfigError
from occmer.labels import LABEL_SCHEMES

DEMO_MASKS_DEFAULT = "none,glasses,surgical"


def _protocol_help() -> str:
    return "; ".join(f"{p.name}: {p.description}" for p in PROTOCOLS.values())


@click.command("bench")
@click.argument("models", nargs=-1, required=True)
@click.option("--data", "data", multiple=True, metavar="[NAME=]FILE",
              help="An occmer file (repeatable). Files of one condition (e.g. CASME II and SAMM, both clean) "
                   "share a NAME; without NAME the file's occluder names it ('clean' for none). "
                   "Without --data: the demo database under --demo-masks, built and cached on first use.")
@click.option("--demo-masks", default=DEMO_MASKS_DEFAULT, show_default=True,
              help="Occluders of the demo conditions used when no --data is given (comma-separated).")
@click.option("--demo-subjects", type=click.IntRange(min=2), default=None,
              help="Subjects of the demo database (default: the demo's own default); e.g. 47 for a MEGC 2018 size.")
@click.option("--demo-clips", type=click.IntRange(min=1), default=None,
              help="Clips per subject of the demo database (default: the demo's own default).")
@click.option("--protocol", type=click.Choice(list(PROTOCOLS)), default="loso", show_default=True,
              help=_protocol_help())
@click.option("--labels", type=click.Choice(list(LABEL_SCHEMES)), default=None,
              help="Label scheme (default: the protocol's own; emotion for loso).")
@click.option("--features", default=None, metavar="NAME",
              help="Feature set to train on (e.g. flow_tvl1_28). Default: flow of each model's input size.")
@click.option("--train-on", "train_on", multiple=True, metavar="CONDITION",
              help="Train only on these conditions (repeatable); each is tested on every --test-on condition "
                   "(all conditions when --test-on is not given).")
@click.option("--test-on", "test_on", multiple=True, metavar="CONDITION",
              help="Test only on these conditions (repeatable), e.g. --train-on clean --test-on glasses.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True,
              help="Fixed epoch budget per fold (no selection on the test subject).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Training batch size (a last batch of one sample joins the previous batch).")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="AdamW learning rate.")
@click.option("--weight-decay", type=float, default=1e-4, show_default=True, help="AdamW weight decay.")
@click.option("--val-subjects", type=click.IntRange(min=0), default=0, show_default=True,
              help="Carve K subjects from each fold's training subjects and keep the epoch with the best "
                   "validation UF1 (0: use the last epoch).")
@click.option("--hparam", "hparams", multiple=True, metavar="KEY=VALUE",
              help="Model hyper-parameter (repeatable): KEY for every model that has it, MODEL.KEY for one, "
                   "loss.KEY for the loss (label_smoothing, region_bias, margin).")
@click.option("--seed", type=int, default=0, show_default=True, help="First seed.")
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
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where folds train: local (one after the other in this process) or ray (each fold a Ray task; "
                   "needs `pip install 'occmer[ray]'`). Both write the same result files.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="With --executor ray: the cluster to join (e.g. 10.0.0.5:6379 or auto); default a local Ray on "
                   "this machine. --out must be a path every node sees.")
@click.option("--cpus-per-task", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="With --executor ray: CPUs each fold declares (torch uses that many threads).")
@click.option("--gpus-per-task", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="With --executor ray: GPUs each fold declares; fractions share a GPU (0.25 = four small "
                   "models per GPU). Use with --device cuda.")
@click.option("--batch-folds", type=click.Choice(["auto", "off"]), default="off", show_default=True,
              help="auto: with the local executor on the CPU, train the folds of one (model, condition, seed) "
                   "together as one batched model where the model supports it (STSTNet; not with --val-subjects): "
                   "same predictions as one by one to float rounding; faster only where measured so (see benchmark/RESULTS.md). off: one fold at a "
                   "time (bit-identical to --executor ray).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar (per-fold lines are still printed).")
@click.option("--allow-partial", is_flag=True,
              help="Run a MEGC protocol although the data lacks clips of its official list (recorded in "
                   "config.json and the table title; such numbers are not comparable with published ones).")
@click.option("--membership", type=click.Choice(["official", "rules"]), default="official", show_default=True,
              help="MEGC protocols: official = the shipped official list decides which clips and labels take part "
                   "(SMIC-HS, CASME II, SAMM); rules = the published rules on the labels stored in the files "
                   "(for re-annotated or other data; recorded, not comparable with published numbers).")
def bench_command(models: tuple[str, ...], data: tuple[str, ...], demo_masks: str, demo_subjects: int | None,
                  demo_clips: int | None, protocol: str,
                  labels: str | None, features: str | None, train_on: tuple[str, ...], test_on: tuple[str, ...],
                  epochs: int, batch_size: int, lr: float, weight_decay: float, val_subjects: int,
                  hparams: tuple[str, ...], seed: int, n_seeds: int, device: str, out: Path,
                  shard: str, max_folds: int | None, executor: str, ray_address: str | None, cpus_per_task: float,
                  gpus_per_task: float, batch_folds: str, no_progress: bool, allow_partial: bool = False,
                  membership: str = "official") -> None:
    """Train each MODEL on each condition and print one table (rows models, columns conditions,
    cells UF1 / UAR / accuracy pooled over folds, mean ± std over seeds).

    \b
    Examples:
      occmer bench rrrn                                   # demo data, clean and occluded
      occmer bench rrrn ststnet ran --data clean.h5 --data glasses.h5 --data mask.h5 --seeds 5
      occmer bench ststnet --data clean.h5 --data mask.h5 --train-on clean --test-on mask
      occmer bench rrrn --protocol megc2018-cde --data clean=casme2.h5 --data clean=samm.h5
    """
    from occmer.bench.conditions import group_conditions
    from occmer.bench.executors import ExecutorOptions
    from occmer.bench.models import check_hparams, model_spec, parse_hparams
    from occmer.bench.runner import BenchRequest, Settings, Shard, resolve_scheme, run_bench
    from occmer.bench.training import TrainConfig

    executor_options = ExecutorOptions(executor, ray_address, cpus_per_task, gpus_per_task, batch_folds)
    specs = [model_spec(m) for m in models]
    if len(set(models)) != len(models):
        raise ConfigError(f"a model is listed twice in {' '.join(models)}")
    parsed = parse_hparams(hparams)
    check_hparams(list(models), parsed)
    scheme = resolve_scheme(PROTOCOLS[protocol].label_scheme, labels)
    if data:
        conditions = group_conditions(data)
    else:
        params = {k: v for k, v in (("subjects", demo_subjects), ("clips_per_subject", demo_clips)) if v is not None}
        conditions = _demo_conditions(demo_masks, features, {s.input_size for s in specs}, params, not no_progress)
    settings = Settings(
        protocol=protocol, labels=scheme, features=features,
        train=TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, device=device),
        hparams=parsed, val_subjects=val_subjects, allow_partial=allow_partial,
        membership=membership,
    )
    request = BenchRequest(
        models=list(models), conditions=conditions, settings=settings, out=out,
        seeds=list(range(seed, seed + n_seeds)), train_on=train_on, test_on=test_on,
        max_folds=max_folds, shard=Shard.parse(shard), executor=executor_options,
    )
    run_bench(request, progress=not no_progress, echo=click.echo)
    click.echo(f"results in {out}")


def _demo_conditions(masks: str, features: str | None, sizes: set[int], params: dict[str, int],
                     progress: bool) -> dict[str, tuple[Path]]:
    """The cached demo files for each mask (built on first use) with flow at every size the models need."""
    from occmer.pipeline import ensure_demo_condition

    specs = tuple(sorted({f"tvl1:{s}" for s in sizes}))
    if features:
        method, _, size = features.removeprefix("flow_").rpartition("_")
        specs = (f"{method}:{size}",)
    out = {}
    for mask in [m.strip() for m in masks.split(",") if m.strip()]:
        name = "clean" if mask == "none" else mask.replace(":", "-")
        click.echo(f"demo condition {name}: building or reading the cache ...")
        out[name] = (ensure_demo_condition(mask, features=specs, progress=progress, demo_params=params),)
    return out


COMMANDS = [bench_command]
