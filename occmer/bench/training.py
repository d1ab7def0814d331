"""One fold's training and prediction: a pure function of (tensors, model, settings, seed).

The fold's tensors are moved to the device once; batches are index selections on the
device, the running loss stays on the device (one host sync per epoch, for the log line),
and CUDA runs under bf16 autocast. On CPU the same seed gives bit-identical predictions.
After every epoch the fold predicts its test subject (and its validation subjects) in eval
mode, which draws no random numbers and leaves BatchNorm statistics alone, so training is the
same with or without it; the predicted classes are kept (occmer.bench.selection.EpochRecord).
Which epoch's predictions the fold reports is the selection: the last epoch (default), the
best validation UF1 when validation samples (carved from the training subjects) are given, or,
only when asked for and labelled leaky, the best accuracy on the test subject.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from occmer.bench.selection import LEAKY, EpochChooser, EpochRecord
from occmer.errors import BenchError

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every fold of a run."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    device: str = "cpu"
    optimizer: str = "adamw"  # adamw | adam (Adam with L2 weight decay, as torch.optim.Adam)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise BenchError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise BenchError(
                f"invalid training settings epochs={self.epochs} batch_size={self.batch_size} lr={self.lr} "
                f"weight_decay={self.weight_decay}: epochs and batch size must be >= 1, lr > 0"
            )


@dataclass
class FoldTensors:
    """The arrays of one side of a fold, in the model batch contract (docs/architecture.md)."""

    x: np.ndarray  # float32 (N, C, S, S)
    y: np.ndarray  # int64 (N,)
    regions: np.ndarray | None = None  # float32 (N, R, 4)
    occlusion: np.ndarray | None = None  # float32 (N, S, S)
    points: np.ndarray | None = None  # float32 (N, 5, 2) five facial points on the grid (HTNet's blocks)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, positions: np.ndarray) -> FoldTensors:
        return FoldTensors(
            x=self.x[positions],
            y=self.y[positions],
            regions=None if self.regions is None else self.regions[positions],
            occlusion=None if self.occlusion is None else self.occlusion[positions],
            points=None if self.points is None else self.points[positions],
        )


@dataclass
class FoldOutput:
    """Test-set probabilities and per-sample extras (such as region attention) of one fold."""

    probabilities: np.ndarray  # float32 (N_test, K)
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # per-sample arrays, first dim N_test
    epochs: int = 0  # epochs whose weights were used for prediction
    train_seconds: float = 0.0
    samples_per_s: float = 0.0
    record: EpochRecord | None = None  # predicted classes after every epoch (None: not trained here)
    record_seconds: float = 0.0  # of train_seconds, the time spent predicting the test subject per epoch


LossFn = Callable[[nn.Module, Any, dict[str, torch.Tensor]], torch.Tensor]
ModelFactory = Callable[[int, int, int], nn.Module]  # (num_classes, in_channels, input_size) -> model


class Optimiser(Protocol):
    """What a training step needs of an optimiser: a torch.optim one, or the batched folds' stacked AdamW."""

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> Any: ...


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when torch sees a GPU, else the CPU; an unavailable CUDA is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {name}: torch sees no CUDA device on this machine; use --device cpu or auto")
    if name != "cpu" and not name.startswith("cuda"):
        raise BenchError(f"--device {name!r} is not one of auto, cpu, cuda")
    return torch.device(name)


def to_device(tensors: FoldTensors, device: torch.device) -> dict[str, torch.Tensor]:
    """All arrays of one fold side, moved to the device once (pinned first for an async copy)."""
    arrays = {"x": tensors.x, "label": tensors.y}
    if tensors.regions is not None:
        arrays["regions"] = tensors.regions
    if tensors.occlusion is not None:
        arrays["occlusion"] = tensors.occlusion[:, None]
    if tensors.points is not None:
        arrays["points"] = tensors.points
    out = {}
    for key, array in arrays.items():
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if device.type == "cuda":
            tensor = tensor.pin_memory().to(device, non_blocking=True)
        out[key] = tensor
    return out


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def _batch(data: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    return {key: value.index_select(0, index) for key, value in data.items()}


def _batches(n: int, batch_size: int, generator: torch.Generator | None, device: torch.device):
    """Index tensors per batch; a trailing batch of one sample joins the previous one (BatchNorm)."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    order = order.to(device, non_blocking=True)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else n
        yield order[start:stop]


def train_step(model: nn.Module, loss_fn: LossFn, batch: dict[str, torch.Tensor], optimizer: Optimiser,
               context: AbstractContextManager | None = None,
               forward: Callable[[dict[str, torch.Tensor]], Any] | None = None) -> torch.Tensor:
    """One optimisation step (forward and loss under `context`, backward, update); the step's loss.

    The one step of both training loops, so they cannot drift apart: `train_fold` passes its
    autocast; the batched loop (occmer.bench.batched) its fold mode, a forward on the stacked
    parameters, and its stacked AdamW.
    """
    with context or nullcontext():
        output = model(batch) if forward is None else forward(batch)
        loss = loss_fn(model, output, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def predict(model: nn.Module, data: dict[str, torch.Tensor], batch_size: int, device: torch.device,
            autocast: bool = True) -> FoldOutput:
    """Softmax probabilities and per-sample extras for every sample of `data`, in order."""
    model.eval()
    n = int(data["x"].shape[0])
    logits, extras = [], {}
    with torch.no_grad(), _autocast(device) if autocast else nullcontext():
        for index in _batches(n, max(batch_size, 1) * 4, None, device):
            output = model(_batch(data, index))
            logits.append(output.logits.float())
            for key, value in (getattr(output, "extras", None) or {}).items():
                if torch.is_tensor(value) and value.dim() >= 1 and value.shape[0] == index.shape[0]:
                    extras.setdefault(key, []).append(value.float())
    probabilities = torch.softmax(torch.cat(logits), dim=1).cpu().numpy().astype(np.float32)
    return FoldOutput(
        probabilities=probabilities,
        extras={key: torch.cat(parts).cpu().numpy().astype(np.float32) for key, parts in extras.items()},
    )


def predict_classes(model: nn.Module, data: dict[str, torch.Tensor], batch_size: int, device: torch.device) -> np.ndarray:
    """The class `predict` would give every sample of `data`, and nothing else: the per-epoch record's pass.

    Bounds what keeping every epoch costs (issue 26): no gradient tracking (inference mode), no
    copy of a test subject that fits one batch, no probabilities or extras leaving the device.
    The argmax is taken on the softmax, as `predict`'s callers take it, so ties resolve alike.
    """
    model.eval()
    n = int(data["x"].shape[0])
    step = max(batch_size, 1) * 4
    with torch.inference_mode(), _autocast(device):
        if n <= step:
            logits = model(data).logits.float()
        else:
            logits = torch.cat([model(_batch(data, index)).logits.float() for index in _batches(n, step, None, device)])
    return torch.softmax(logits, dim=1).argmax(1).cpu().numpy()


def _val_score(y_true: np.ndarray, predicted: np.ndarray) -> float:
    return float(f1_score(y_true, predicted, labels=np.unique(y_true), average="macro", zero_division=0))


def train_fold(
    factory: ModelFactory,
    loss_fn: LossFn,
    train: FoldTensors,
    test: FoldTensors,
    num_classes: int,
    config: TrainConfig,
    seed: int,
    val: FoldTensors | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
    selection: str = "last",
    record_epochs: bool = True,
) -> FoldOutput:
    """Train a fresh model on `train` and return its predictions on `test` at the `selection`'s epoch.

    The model is built after `torch.manual_seed(seed)`, and shuffling uses a generator seeded
    from the same value, so the result depends only on the arguments. The test labels reach the
    epoch choice only under `selection="test-oracle"`. `record_epochs=False` (the benchmark of
    the record's cost, benchmark/perf/epoch_record.py) skips the per-epoch test predictions.
    """
    if len(train) < 2:
        raise BenchError(f"a fold has {len(train)} training sample(s); the protocol left too little data")
    if not record_epochs and selection != "last":
        raise BenchError(f"the {selection} selection needs the per-epoch predictions (record_epochs=True)")
    device = resolve_device(config.device)
    if device.type == "cuda":  # cheap for these small models, and repeatable numbers on one GPU
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    torch.manual_seed(seed)
    model = factory(num_classes, int(train.x.shape[1]), int(train.x.shape[-1])).to(device)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    train_data = to_device(train, device)
    test_data = to_device(test, device)
    val_data = to_device(val, device) if val is not None and len(val) else None
    chooser = EpochChooser(selection, test.y if selection == LEAKY else None)
    chosen: FoldOutput | None = None
    n = len(train)
    recording = 0.0
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        total = torch.zeros((), device=device)
        for index in _batches(n, config.batch_size, generator, device):
            loss = train_step(model, loss_fn, _batch(train_data, index), optimizer, _autocast(device))
            total = total + loss.detach().float() * index.shape[0]
        if on_epoch is not None:
            on_epoch(epoch, float(total) / n)
        val_codes = val_score = None
        if val_data is not None:
            val_codes = predict_classes(model, val_data, config.batch_size, device)
            val_score = _val_score(val.y, val_codes)
        if not record_epochs:
            continue
        before = time.perf_counter()
        codes = predict_classes(model, test_data, config.batch_size, device)
        if chooser.add(epoch, codes, val_score, val_codes, None if val is None else val.y) and selection != "last":
            chosen = predict(model, test_data, config.batch_size, device)  # a newly chosen epoch's full output
        recording += time.perf_counter() - before
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if chosen is None:  # the last epoch's weights (the `last` selection, or no per-epoch record)
        chosen = predict(model, test_data, config.batch_size, device)
        if not record_epochs:
            chooser.best = (0.0, config.epochs)
    chosen.epochs = chooser.epoch
    chosen.record = chooser.record if record_epochs else None
    chosen.record_seconds = recording
    chosen.train_seconds = seconds
    chosen.samples_per_s = n * config.epochs / seconds if seconds > 0 else 0.0
    return chosen


def evaluate_fold(
    factory: ModelFactory, load_weights: Callable[[nn.Module], None], test: FoldTensors, num_classes: int,
    config: TrainConfig,
) -> FoldOutput:
    """Predictions of a model whose weights come from `load_weights` (a published checkpoint), no training.

    Runs in float32 (no autocast) so a checkpoint gives the predictions its authors logged.
    """
    device = resolve_device(config.device)
    model = factory(num_classes, int(test.x.shape[1]), int(test.x.shape[-1]))
    load_weights(model)
    model.to(device)
    output = predict(model, to_device(test, device), config.batch_size, device, autocast=False)
    output.epochs = 0
    return output
