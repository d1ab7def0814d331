"""`occmer models`: the registered models, their input sizes and sizes in parameters."""

from __future__ import annotations

import click


@click.command("models")
@click.option("--classes", type=click.IntRange(2, 1000), default=3, show_default=True, help="Number of classes for the parameter count.")
@click.option("--channels", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Input channels per map (u, v, strain); models reading several maps (causalnet: 4) get that many times more.")
def models_command(classes: int, channels: int) -> None:
    """List the models `occmer bench` can train: default input size, whether the model
    reads facial regions or the occluder mask, parameter count and hyper-parameters.

    Details and citations: docs/models.md.
    """
    from occmer.models import MODELS, build_model, model_hparams

    click.echo(f"{'model':<16} {'input':>7} {'regions':>7} {'params':>11}  hyper-parameters (defaults)")
    for name in sorted(MODELS):
        cls = MODELS[name]
        model = build_model(name, num_classes=classes, in_channels=channels * cls.input_maps, seed=0)
        n_params = sum(p.numel() for p in model.parameters())
        hparams = ", ".join(f"{k}={v}" for k, v in model_hparams(name).items())
        size = f"{cls.input_maps}x{cls.default_input_size}" if cls.input_maps > 1 else str(cls.default_input_size)
        click.echo(f"{name:<16} {size:>7} {'yes' if cls.uses_regions else 'no':>7} {n_params:>11,}  {hparams}")


COMMANDS = [models_command]
