"""The per-fold training function: learns, is deterministic, validates without touching the test set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from occmer.bench.training import FoldTensors, TrainConfig, _batches, resolve_device, train_fold
from occmer.errors import BenchError
from occmer.models import MODELS, ModelOutput

torch.set_num_threads(1)


class Linear(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, size: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels * size * size, num_classes)

    def forward(self, batch):
        return ModelOutput(self.fc(batch["x"].flatten(1)), {"score": batch["x"].mean(dim=(1, 2, 3))})


def _loss(model, output, batch):
    return nn.functional.cross_entropy(output.logits, batch["label"])


def _data(n: int, seed: int) -> FoldTensors:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 0.3, size=(n, 2, 6, 6)).astype(np.float32)
    x[np.arange(n), 0, y, y] += 3.0  # one bright pixel per class
    return FoldTensors(x=x, y=y.astype(np.int64), occlusion=np.zeros((n, 6, 6), np.float32))


def test_learns_a_separable_problem_and_returns_extras():
    config = TrainConfig(epochs=30, batch_size=8, lr=0.05, device="cpu")
    test = _data(30, 2)
    out = train_fold(Linear, _loss, _data(60, 1), test, 3, config, seed=0)
    assert out.probabilities.shape == (30, 3)
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1, atol=1e-5)
    assert (out.probabilities.argmax(1) == test.y).mean() > 0.9
    assert out.extras["score"].shape == (30,)
    assert out.epochs == 30 and out.samples_per_s > 0


def test_same_seed_same_numbers_other_seed_other_numbers():
    config = TrainConfig(epochs=3, batch_size=8, lr=0.01)
    runs = [train_fold(Linear, _loss, _data(40, 1), _data(9, 2), 3, config, seed=s).probabilities for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_validation_picks_an_epoch_within_the_budget():
    config = TrainConfig(epochs=6, batch_size=8, lr=0.05)
    out = train_fold(Linear, _loss, _data(40, 1), _data(9, 2), 3, config, seed=0, val=_data(12, 3))
    assert 1 <= out.epochs <= 6


def test_batches_never_leave_a_single_sample():
    sizes = [len(b) for b in _batches(9, 4, torch.Generator().manual_seed(0), torch.device("cpu"))]
    assert sizes == [4, 5] and sum(sizes) == 9


def test_settings_and_device_errors():
    with pytest.raises(BenchError):
        TrainConfig(epochs=0)
    with pytest.raises(BenchError, match="auto, cpu, cuda"):
        resolve_device("tpu")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(BenchError, match="no CUDA"):
            resolve_device("cuda")
        assert resolve_device("auto").type == "cpu"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_trains_and_predicts_under_bf16_autocast(model, monkeypatch):
    """The CUDA path runs under bf16 autocast; CPU autocast runs the same mixed-precision code here.

    No GPU is available to CI (or was to this project's sessions): this keeps the dtype handling
    of every model (region pooling, graph attention, the losses) honest without one.
    """
    from occmer.bench import training
    from occmer.bench.models import factory_and_loss

    monkeypatch.setattr(training, "_autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))
    size = min(MODELS[model].default_input_size, 32)  # 28 for the flow baselines, 32 for the 112-px models
    channels = 3 * MODELS[model].input_maps
    rng = np.random.default_rng(0)
    n = 12
    train = FoldTensors(rng.normal(size=(n, channels, size, size)).astype(np.float32),
                        (np.arange(n) % 3).astype(np.int64), occlusion=np.zeros((n, size, size), np.float32))
    narrow = {"dim": 8} if model in ("htnet", "causalnet") else {}  # the transformers at full width are 140M+ params
    factory, loss_fn = factory_and_loss(model, narrow)
    out = train_fold(factory, loss_fn, train, train.subset(np.arange(4)), 3,
                     TrainConfig(epochs=1, batch_size=6, device="cpu"), seed=0)
    assert out.probabilities.dtype == np.float32 and np.isfinite(out.probabilities).all()
    assert np.allclose(out.probabilities.sum(axis=1), 1.0, atol=1e-3)
