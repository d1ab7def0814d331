"""`--batch-folds auto`: the folds of one (model, condition, seed) trained as one batched model.

Batched training must give what one-by-one training gives, to float rounding: the same shuffles,
dropout masks, AdamW updates and BatchNorm statistics per fold, including folds of unequal size.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_bench_support import write_tiny

from occmer.bench import jobs
from occmer.bench.batched import _StackedAdamW, train_folds, unsupported_layer
from occmer.bench.executors import ExecutorOptions, local_groups
from occmer.bench.models import factory_and_loss
from occmer.bench.training import FoldTensors, TrainConfig, train_fold
from occmer.cli import cli
from occmer.errors import ConfigError
from occmer.models import build_model

# Adam turns the rounding noise on the conv biases that BatchNorm cancels into +-lr steps, so batched and
# one-by-one probabilities differ by about 1e-4..1e-3 after a few epochs: as much as 1 vs 2 torch threads.
TOLERANCE = 2e-3


def _grid() -> tuple[FoldTensors, list[np.ndarray], list[FoldTensors]]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50).astype(np.int64)
    x = (0.3 * rng.standard_normal((50, 3, 28, 28))).astype(np.float32)
    x[np.arange(50), y, 8:14, 8:14] += 1.0
    source = FoldTensors(x, y)
    # unequal folds: 37, 33 and 41 rows give different last batches (5, 1 -> merged, 9) and batch counts
    positions = [np.arange(0, 37), np.arange(2, 35), np.arange(0, 41)]
    tests = [source.subset(np.arange(41, 50))] * 3
    return source, positions, tests


# dual-inception (not batched by `auto`) covers convolutions whose input needs a gradient: slow run only
@pytest.mark.parametrize("model", ["ststnet", pytest.param("dual-inception", marks=pytest.mark.slow)])
def test_batched_folds_predict_as_one_by_one(model):
    torch.set_num_threads(1)
    source, positions, tests = _grid()
    factory, loss = factory_and_loss(model, {"hidden": 16} if model == "dual-inception" else {})
    config = TrainConfig(epochs=3, batch_size=8)
    seeds = [5, 6, 7]
    batched = train_folds(factory, loss, source, positions, tests, 3, config, seeds)
    for rows, test, seed, output in zip(positions, tests, seeds, batched, strict=True):
        alone = train_fold(factory, loss, source.subset(rows), test, 3, config, seed)
        assert output.probabilities.shape == alone.probabilities.shape
        np.testing.assert_allclose(output.probabilities, alone.probabilities, atol=TOLERANCE)
        assert output.epochs == 3 and output.train_seconds > 0


def test_stacked_adamw_is_torch_adamw_per_fold_with_idle_folds():
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(3, 4, 5, generator=generator)
    grads = [torch.randn(3, 4, 5, generator=generator) for _ in range(4)]
    active = [torch.tensor(a) for a in ([True, True, True], [True, False, True], [False, True, True],
                                        [True, True, False])]
    stacked = start.clone()
    optimizer = _StackedAdamW([stacked], lr=0.01, weight_decay=0.1)
    for grad, mask in zip(grads, active, strict=True):
        optimizer.update([grad], mask)
    for f in range(3):
        param = torch.nn.Parameter(start[f].clone())
        reference = torch.optim.AdamW([param], lr=0.01, weight_decay=0.1)
        for grad, mask in zip(grads, active, strict=True):
            if mask[f]:
                param.grad = grad[f].clone()
                reference.step()
        torch.testing.assert_close(stacked[f], param.detach(), rtol=0, atol=1e-7)


def test_unsupported_layers_are_named():
    assert unsupported_layer(build_model("ststnet", 3, 3)) is None
    assert unsupported_layer(build_model("resnet18", 3, 3)) is not None


def _bench(args: list[str]):
    return CliRunner().invoke(cli, ["bench", "ststnet", "--batch-size", "4", "--epochs", "3", "--no-progress",
                                    *args], catch_exceptions=False)


def _folds(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): json.loads(p.read_text()) for p in sorted((out / "folds").rglob("*.json"))}


def test_batch_folds_auto_matches_off_on_a_tiny_grid(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    # 3 subjects with 1 clip per class and 2 with 2: LOSO folds of 12 or 9 training clips (batches 4+4+4, 4+5)
    first = write_tiny(tmp_path / "a.h5", subjects=3, database="demo")
    second = write_tiny(tmp_path / "b.h5", subjects=2, clips_per_class=2, database="casme2", seed=1)
    data = ["--data", f"clean={first}", "--data", f"clean={second}"]
    auto = _bench([*data, "--out", str(tmp_path / "auto"), "--batch-folds", "auto"])
    assert auto.exit_code == 0, auto.output
    assert "batched with 4 other folds" in auto.output

    def never(*_args, **_kwargs):
        raise AssertionError("--batch-folds off must train one fold at a time")

    monkeypatch.setattr(jobs, "train_folds", never)
    off = _bench([*data, "--out", str(tmp_path / "off"), "--batch-folds", "off"])
    assert off.exit_code == 0, off.output
    batched, alone = _folds(tmp_path / "auto"), _folds(tmp_path / "off")
    assert batched.keys() == alone.keys() and len(batched) == 5
    assert len({record["n_train"] for record in batched.values()}) == 2
    for key in batched:
        assert batched[key]["batched_folds"] == 5 and "batched_folds" not in alone[key]
        assert batched[key]["sample_id"] == alone[key]["sample_id"]
        assert batched[key]["fold_seed"] == alone[key]["fold_seed"]
        np.testing.assert_allclose(batched[key]["probabilities"], alone[key]["probabilities"], atol=TOLERANCE)
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["executor"]["batch_folds"] == "auto"


def test_batching_applies_only_where_supported(tmp_path):
    settings = jobs.Settings(protocol="loso", labels="emotion", features=None, train=TrainConfig(epochs=1))
    assert jobs.can_batch_folds("ststnet", settings)
    assert not jobs.can_batch_folds("rrrn", settings)
    with_val = jobs.Settings(protocol="loso", labels="emotion", features=None, train=TrainConfig(epochs=1),
                             val_subjects=1)
    assert not jobs.can_batch_folds("ststnet", with_val)
    paper = jobs.Settings(protocol="loso", labels="emotion", features=None, train=TrainConfig(epochs=1),
                          recipe="paper")  # Adam, no weight decay: the stacked AdamW takes the same steps
    assert jobs.can_batch_folds("ststnet", paper)
    decayed = replace(paper, train=TrainConfig(epochs=1, weight_decay=1e-4), overrides=("weight_decay",))
    assert not jobs.can_batch_folds("ststnet", decayed)  # Adam's L2 is not AdamW's decay: one by one
    assert local_groups([], settings, "auto") == []
    with pytest.raises(ConfigError, match="--batch-folds"):
        ExecutorOptions(batch_folds="always")


def test_fold_groups_are_balanced_and_stay_within_the_cache_budget():
    """68 STSTNet folds at batch 32 train as three near-equal groups, not 31 + 31 + 6 or one of 68."""
    from occmer.bench.batched import GROUP_BYTES, group_size

    factory, _ = factory_and_loss("ststnet", {})
    source = FoldTensors(np.zeros((4, 3, 28, 28), np.float32), np.zeros(4, np.int64))
    size = group_size(factory, source, 3, 32, 68)
    assert size == 23 and GROUP_BYTES <= 512 * 1024**2
    assert group_size(factory, source, 3, 32, 8) == 8
    assert group_size(factory, source, 3, 32, 0) == 1
