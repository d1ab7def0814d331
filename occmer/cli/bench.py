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
@click.option("--recipe", type=click.Choice(["default", "paper"]), default=None,
              help="Training recipe per model: default (AdamW 1e-3, weight decay 1e-4, 30 epochs, batch 32, inputs as "
                   "stored) or paper (optimiser, lr, epochs, batch, input channels and normalisation as the model's "
                   "reference code or paper states; docs/models.md). Options below override it. Default: default, "
                   "or paper with --weights (the checkpoints' own input convention).")
@click.option("--weights", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Evaluate published checkpoints instead of training: one file per fold in this folder, named "
                   "after the held-out subject (sub01.pth, casme2_sub01.pth or casme2/sub01.pth; docs/bench.md). "
                   "One model, one seed.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Fixed epoch budget per fold (no selection on the test subject). [recipe: 30 by default]")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Training batch size (a last batch of one sample joins the previous batch). [recipe: 32]")
@click.option("--lr", type=float, default=None, help="Learning rate. [recipe: 1e-3]")
@click.option("--weight-decay", type=float, default=None, help="Weight decay. [recipe: 1e-4]")
@click.option("--val-subjects", type=click.IntRange(min=0), default=None,
              help="Carve K subjects from each fold's training subjects and keep the epoch with the best "
                   "validation UF1 (0: use the last epoch). [recipe: 0]")
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
@click.option("--no-progress", is_flag=True, help="Hide the progress bar (per-fold lines are still printed).")
def bench_command(models: tuple[str, ...], data: tuple[str, ...], demo_masks: str, demo_subjects: int | None,
                  demo_clips: int | None, protocol: str,
                  labels: str | None, features: str | None, train_on: tuple[str, ...], test_on: tuple[str, ...],
                  recipe: str | None, weights: Path | None, epochs: int | None, batch_size: int | None,
                  lr: float | None, weight_decay: float | None, val_subjects: int | None,
                  hparams: tuple[str, ...], seed: int, n_seeds: int, device: str, out: Path,
                  shard: str, max_folds: int | None, no_progress: bool) -> None:
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
    """
    from occmer.bench.conditions import group_conditions
    from occmer.bench.models import check_hparams, model_spec, parse_hparams
    from occmer.bench.runner import BenchRequest, Settings, Shard, resolve_scheme, run_bench
    from occmer.bench.training import TrainConfig

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
    if weights is not None and (len(models) != 1 or n_seeds != 1):
        raise ConfigError("--weights evaluates the checkpoints of one model: give one MODEL and no --seeds")
    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
             "val_subjects": val_subjects}
    base = TrainConfig()
    settings = Settings(
        protocol=protocol, labels=scheme, features=features,
        train=TrainConfig(**{k: base_value if given[k] is None else given[k]
                             for k, base_value in (("epochs", base.epochs), ("batch_size", base.batch_size),
                                                   ("lr", base.lr), ("weight_decay", base.weight_decay))},
                          device=device),
        hparams=parsed, val_subjects=val_subjects or 0,
        recipe=recipe or ("paper" if weights is not None else "default"),
        overrides=tuple(sorted(k for k, v in given.items() if v is not None)),
        weights=str(weights) if weights is not None else None,
    )
    for model in models:
        resolved = settings.model_recipe(model)
        click.echo(f"{model}: recipe {settings.recipe} ({resolved.train.optimizer} lr {resolved.train.lr:g}, "
                   f"{resolved.train.epochs} epochs, batch {resolved.train.batch_size}, inputs "
                   f"{','.join(resolved.recipe.channels) if resolved.recipe.channels else 'in stored order'}, "
                   f"{resolved.recipe.input_normalisation})" + (f"; checkpoints from {weights}" if weights else ""))
    request = BenchRequest(
        models=list(models), conditions=conditions, settings=settings, out=out,
        seeds=list(range(seed, seed + n_seeds)), train_on=train_on, test_on=test_on,
        max_folds=max_folds, shard=Shard.parse(shard),
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
