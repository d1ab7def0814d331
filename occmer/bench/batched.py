"""Train the folds of one (model, condition, seed) together as one batched model (`--batch-folds auto`).

Why: a small model such as STSTNet (1,683 parameters) pays, at every step of 32 samples, the
per-operator overhead of a forward, a backward and an optimiser step (Python, autograd, kernel
launch). Training F folds as one model pays it once per step for all of them. On an idle
2-core CPU that overhead is a small part of a step (one fold at a time runs at about the
speed of a plain fused training loop), so the measured gain there is about 1.6x with two
threads (benchmark/RESULTS.md, "Batched folds"); the larger gain is where launches dominate.

How: the folds' parameters and buffers are stacked along a new first dimension (F, ...), and a
step's batch holds B samples of every fold laid out as (F*B, ...). The model's own `forward`
runs unchanged: per-sample operations (ReLU, pooling, cat, flatten, channel slicing) do not care
which fold a row belongs to, and a `TorchFunctionMode` replaces the five operations that hold
parameters or mix samples (conv2d, linear, batch_norm, dropout, cross_entropy) with versions
that apply fold f's weights and statistics to fold f's rows only:

- conv2d: im2col (`unfold`) and one batched matrix product per fold (weights (F, O, C*k*k)),
  not a grouped convolution, whose CPU backward is slow;
- batch_norm: per-fold statistics over (B, H, W); padded rows are masked out;
- linear: `baddbmm` over the fold dimension;
- dropout: each fold draws its masks from its own generator, a copy of the global torch RNG
  taken right after that fold's model was built (as `train_fold` sees it), so the masks are
  the same as in one-by-one training;
- cross_entropy: per-fold mean over that fold's real rows; the sum over folds is what is
  differentiated, so each fold's gradient is its own.

Each fold keeps its own shuffling generator (seeded as in `train_fold`), its own AdamW moments
and step count (the update is torch.optim.AdamW's, single-tensor CPU form). Folds of different
sizes have different last-batch sizes and batch counts: a step pads the smaller batches
(masked) and folds that have finished their epoch's batches sit the step out (no update, no
weight decay, no running-statistics change). The result equals one-by-one training up to
float rounding (the batched reductions sum in another order); docs/bench.md gives the
tolerance the tests check.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode

from occmer.bench.selection import LEAKY, EpochChooser
from occmer.bench.training import (
    FoldOutput,
    FoldTensors,
    LossFn,
    ModelFactory,
    TrainConfig,
    _batch,
    _batches,
    predict,
    predict_classes,
    resolve_device,
    to_device,
    train_step,
)
from occmer.errors import BenchError
from occmer.models.shallow import Inception

# Models `--batch-folds auto` trains batched: their layers are all supported below and the equality with
# one-by-one training is tested; speed against one fold at a time: benchmark/RESULTS.md (1.2x to 2.9x on 2 CPU cores).
BATCHED_MODELS = frozenset({"ststnet"})
# Module types whose forward only uses the operations the fold mode handles (or per-sample ones).
_CONTAINERS = (nn.Sequential, nn.ModuleList, Inception)
_PER_SAMPLE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Identity, nn.Dropout)
# Estimated working set (stacked parameters, optimiser state, activations) of one group of folds.
# Above about 0.5 GiB the batched step leaves the CPU caches: on an idle 2-core machine 64 STSTNet
# folds as one group took 1.9x the time of two groups of 32 (benchmark/RESULTS.md, "Batched folds").
GROUP_BYTES = 512 * 1024**2
_BETAS = (0.9, 0.999)
_EPS = 1e-8


def unsupported_layer(model: nn.Module) -> str | None:
    """The first submodule the batched path cannot train, described; None when every layer is supported."""
    for name, module in model.named_modules():
        if module is model or isinstance(module, _CONTAINERS + _PER_SAMPLE):
            continue
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
                return f"{name}: Conv2d with groups, padding mode or string padding"
        elif isinstance(module, nn.BatchNorm2d):
            if not module.track_running_stats or module.momentum is None:
                return f"{name}: BatchNorm2d without running statistics or with cumulative momentum"
        elif not isinstance(module, nn.Linear):
            return f"{name}: {type(module).__name__}"
    return None


class _FoldMode(TorchFunctionMode):
    """While active, conv2d/linear/batch_norm/dropout/cross_entropy act per fold on (F*B, ...) rows."""

    def __init__(self, generators: Sequence[torch.Generator]) -> None:
        super().__init__()
        self.generators = list(generators)
        self.folds = len(self.generators)
        self.sizes: list[int] = []
        self.rows = 0  # B: rows per fold in this step (the largest fold batch)
        self.mask: torch.Tensor | None = None  # (F, B) float, None when every fold has B real rows
        self.counts = torch.zeros(self.folds)
        self.active = torch.zeros(self.folds, dtype=torch.bool)
        self.fold_losses: torch.Tensor | None = None
        self._cols: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}  # im2col of one input, shared by its convs
        self.handlers = {
            F.conv2d: self._conv2d, torch.conv2d: self._conv2d,
            F.linear: self._linear, torch._C._nn.linear: self._linear,
            F.batch_norm: self._batch_norm, F.dropout: self._dropout, F.cross_entropy: self._cross_entropy,
        }

    def set_step(self, sizes: Sequence[int]) -> None:
        self.sizes = list(sizes)
        self.rows = max(self.sizes)
        self.counts = torch.tensor(self.sizes, dtype=torch.float32)
        self.active = self.counts > 0
        self._cols.clear()
        if all(n == self.rows for n in self.sizes):
            self.mask = None
        else:
            self.mask = (torch.arange(self.rows)[None, :] < self.counts[:, None]).float()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        handler = self.handlers.get(func)
        return (handler or func)(*args, **(kwargs or {}))

    def _conv2d(self, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        if groups != 1 or isinstance(padding, str):
            raise BenchError("batched folds: a convolution with groups or string padding is not supported")
        folds, out_ch = weight.shape[:2]
        kernel = tuple(weight.shape[-2:])
        key = (id(input), kernel, _pair(stride), _pair(padding), _pair(dilation))
        cached = self._cols.get(key)
        if cached is not None and cached[0] is input:  # STSTNet's three streams read the same input
            cols = cached[1]
        else:
            cols = _im2col(input, kernel, _pair(stride), _pair(padding), _pair(dilation))  # (F*B, C*k*k, L)
            self._cols[key] = (input, cols)
        h, w = (_conv_size(input.shape[-2 + i], kernel[i], _pair(stride)[i], _pair(padding)[i], _pair(dilation)[i])
                for i in range(2))
        cols = cols.view(folds, -1, cols.shape[1], cols.shape[2])
        out = torch.matmul(weight.reshape(folds, 1, out_ch, -1), cols)  # (F, B, O, L)
        if bias is not None:
            out = out + bias.view(folds, 1, out_ch, 1)
        return out.view(-1, out_ch, h, w)

    def _linear(self, input, weight, bias=None):
        folds = weight.shape[0]
        x = input.reshape(folds, -1, input.shape[-1])
        if bias is None:
            out = torch.bmm(x, weight.transpose(1, 2))
        else:
            out = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
        return out.reshape(*input.shape[:-1], weight.shape[1])

    def _batch_norm(self, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5):
        folds, channels = self.folds, input.shape[1]
        x = input.reshape(folds, -1, channels, input[0, 0].numel())  # (F, B, C, HW)
        if training:
            if self.mask is None:
                var, mean = torch.var_mean(x, dim=(1, 3), correction=0)
                count = torch.full((folds,), float(x.shape[1] * x.shape[3]))
            else:
                m = self.mask[:, :, None, None]
                count = self.counts * x.shape[3]
                denominator = count.clamp(min=1)[:, None]
                mean = (x * m).sum((1, 3)) / denominator
                var = (((x - mean[:, None, :, None]) * m) ** 2).sum((1, 3)) / denominator
            if running_mean is not None:
                with torch.no_grad():
                    unbiased = var.detach() * (count / (count - 1).clamp(min=1))[:, None]
                    keep = ~self.active[:, None]
                    new_mean = momentum * mean.detach() + (1 - momentum) * running_mean
                    new_var = momentum * unbiased + (1 - momentum) * running_var
                    running_mean.copy_(torch.where(keep, running_mean, new_mean))
                    running_var.copy_(torch.where(keep, running_var, new_var))
        else:
            mean, var = running_mean, running_var
        scale = torch.rsqrt(var + eps)
        if weight is not None:
            scale = scale * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        return torch.addcmul(shift[:, None, :, None], x, scale[:, None, :, None]).view(input.shape)

    def _dropout(self, input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return input
        if p == 1:
            return input * 0
        rest = tuple(input.shape[1:])
        noise = torch.ones((self.folds, self.rows, *rest), dtype=input.dtype)
        for f, (n, generator) in enumerate(zip(self.sizes, self.generators, strict=True)):
            if n:  # the draw `F.dropout` makes on CPU: empty_like(x).bernoulli_(1 - p), from this fold's RNG
                noise[f, :n] = torch.empty((n, *rest), dtype=input.dtype).bernoulli_(1 - p, generator=generator)
        noise.div_(1 - p)
        return input * noise.view(input.shape)

    def _cross_entropy(self, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                       reduction="mean", label_smoothing=0.0):
        if weight is not None or size_average is not None or reduce is not None or reduction != "mean":
            raise BenchError("batched folds: only the mean cross-entropy without class weights is supported")
        losses = F.cross_entropy(input, target, ignore_index=ignore_index, reduction="none",
                                 label_smoothing=label_smoothing).view(self.folds, -1)
        if self.mask is None:
            per_fold = losses.mean(1)
        else:
            per_fold = (losses * self.mask).sum(1) / self.counts.clamp(min=1)
        self.fold_losses = per_fold.detach()
        return per_fold.sum()


def _im2col(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
            dilation: tuple[int, int]) -> torch.Tensor:
    """`F.unfold`, as one strided copy of the padded input: tens of times faster than aten::im2col on CPU."""
    if dilation != (1, 1):
        return F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)
    padded = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    windows = padded.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])  # (N, C, Ho, Wo, kh, kw)
    n, c, h, w = windows.shape[:4]
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kernel[0] * kernel[1], h * w)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class _StackedAdamW:
    """torch.optim.AdamW (single-tensor CPU form) on (F, ...) parameters, with a step count per fold.

    `step()` (the optimiser interface of `train_step`) updates from the parameters' gradients the
    folds that `active()` names: those with rows in this step.
    """

    def __init__(self, params: Sequence[torch.Tensor], lr: float, weight_decay: float,
                 active: Callable[[], torch.Tensor] | None = None) -> None:
        self.params = list(params)
        self.lr, self.weight_decay = lr, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = torch.zeros(self.params[0].shape[0], dtype=torch.float64)
        self.active = active or (lambda: torch.ones(self.params[0].shape[0], dtype=torch.bool))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        self.update([p.grad for p in self.params], self.active())

    @torch.no_grad()
    def update(self, grads: Sequence[torch.Tensor], active: torch.Tensor) -> None:
        """One AdamW step of the folds where `active` (F,) is True, from the gradients `grads`."""
        beta1, beta2 = _BETAS
        every = bool(active.all())
        index = None if every else active.nonzero().squeeze(1)
        self.steps[active] += 1
        steps = self.steps if every else self.steps[index]
        step_size = (self.lr / (1 - beta1**steps)).float()
        bias2_sqrt = ((1 - beta2**steps) ** 0.5).float()
        for i, param in enumerate(self.params):
            tensors = [param, grads[i], self.exp_avg[i], self.exp_avg_sq[i]]
            if not every:
                tensors = [t.index_select(0, index) for t in tensors]
            p, g, m, v = tensors
            shape = (-1,) + (1,) * (p.dim() - 1)
            p.mul_(1 - self.lr * self.weight_decay)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / bias2_sqrt.view(shape)).add_(_EPS)
            p.add_((-step_size).view(shape) * m / denom)
            if not every:
                for target, value in zip((param, self.exp_avg[i], self.exp_avg_sq[i]), (p, m, v), strict=True):
                    target.index_copy_(0, index, value)


@dataclass
class _Fold:
    positions: torch.Tensor  # rows of the source tensors that are this fold's training set
    shuffle: torch.Generator
    dropout: torch.Generator
    model: nn.Module


def _build_folds(factory: ModelFactory, source: FoldTensors, positions: Sequence[np.ndarray], num_classes: int,
                 seeds: Sequence[int]) -> list[_Fold]:
    """Each fold's model, shuffle and dropout generators, exactly as `train_fold` would make them."""
    folds = []
    with torch.random.fork_rng(devices=[]):
        for rows, seed in zip(positions, seeds, strict=True):
            if len(rows) < 2:
                raise BenchError(f"a fold has {len(rows)} training sample(s); the protocol left too little data")
            torch.manual_seed(seed)
            model = factory(num_classes, int(source.x.shape[1]), int(source.x.shape[-1]))
            dropout = torch.Generator()
            dropout.set_state(torch.get_rng_state())
            folds.append(_Fold(torch.as_tensor(np.asarray(rows), dtype=torch.long),
                               torch.Generator().manual_seed(seed), dropout, model))
    return folds


def _epoch_batches(folds: Sequence[_Fold], batch_size: int) -> list[list[torch.Tensor]]:
    """Per fold, this epoch's batches as source rows (the same shuffle and batch cut as `train_fold`)."""
    cpu = torch.device("cpu")
    return [[fold.positions[index] for index in _batches(len(fold.positions), batch_size, fold.shuffle, cpu)]
            for fold in folds]


def _step_rows(batches: Sequence[Sequence[torch.Tensor]], step: int) -> tuple[torch.Tensor, list[int]]:
    """Source rows (F*B) of one step and each fold's real batch size; short folds are padded with their own rows."""
    parts = [b[step] if step < len(b) else b[0][:0] for b in batches]
    sizes = [int(p.shape[0]) for p in parts]
    rows = max(sizes)
    padded = []
    for part, fold_batches in zip(parts, batches, strict=True):
        if part.shape[0] < rows:
            filler = fold_batches[0][:1].expand(rows - part.shape[0])
            part = torch.cat([part, filler])
        padded.append(part)
    return torch.cat(padded), sizes


def _stack_state(models: Sequence[nn.Module]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    params = {name: torch.stack([dict(m.named_parameters())[name].detach() for m in models]).requires_grad_()
              for name, _ in models[0].named_parameters()}
    buffers = {name: torch.stack([dict(m.named_buffers())[name] for m in models]).clone()
               for name, _ in models[0].named_buffers()}
    return params, buffers


def group_size(factory: ModelFactory, source: FoldTensors, num_classes: int, batch_size: int, folds: int) -> int:
    """How many folds train as one batched model within `GROUP_BYTES` (parameters, AdamW state, activations).

    The groups are balanced: the fewest groups that fit, of (nearly) equal size.
    """
    model = factory(num_classes, int(source.x.shape[1]), int(source.x.shape[-1]))
    params = sum(p.numel() for p in model.parameters())
    activations = [0]

    def count(_module, _inputs, output) -> None:
        if torch.is_tensor(output):
            activations[0] += output.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        model.eval()
        with torch.no_grad():
            model({"x": torch.zeros((1, *source.x.shape[1:]), dtype=torch.float32)})
    finally:
        for handle in handles:
            handle.remove()
    # parameters, gradients, two moments; about three saved tensors per activation plus im2col buffers
    per_fold = 4 * (4 * params + 4 * (batch_size + 1) * activations[0])
    cap = max(1, min(folds, GROUP_BYTES // max(per_fold, 1)))
    groups = max(1, -(-folds // cap))
    return max(1, -(-folds // groups))  # balanced: 68 folds under a cap of 31 train as 23 + 23 + 22


def train_folds(
    factory: ModelFactory,
    loss_fn: LossFn,
    source: FoldTensors,
    positions: Sequence[np.ndarray],
    tests: Sequence[FoldTensors],
    num_classes: int,
    config: TrainConfig,
    seeds: Sequence[int],
    selection: str = "last",
    record_epochs: bool = True,
) -> list[FoldOutput]:
    """Train one model per fold (training rows `positions[i]` of `source`, seed `seeds[i]`) as one batched model.

    Gives what `train_fold` gives for each fold alone (CPU, no validation set), to float tolerance,
    with the same per-epoch record and `selection` (last or test-oracle). The wall time is shared
    equally among the folds in `train_seconds`.
    """
    if resolve_device(config.device).type != "cpu":
        raise BenchError(f"batched folds run on the CPU only (got --device {config.device}); use --batch-folds off")
    if selection == "val":
        raise BenchError("batched folds have no validation subjects: the val selection trains one fold at a time")
    if not record_epochs and selection != "last":
        raise BenchError(f"the {selection} selection needs the per-epoch predictions (record_epochs=True)")
    cpu = torch.device("cpu")
    folds = _build_folds(factory, source, positions, num_classes, seeds)
    carrier = folds[0].model
    viewer = copy.deepcopy(carrier)  # predicts each fold's test subject between epochs; the folds' models stay put
    carrier.train()
    params, buffers = _stack_state([f.model for f in folds])
    mode = _FoldMode([f.dropout for f in folds])
    optimizer = _StackedAdamW(list(params.values()), config.lr, config.weight_decay, active=lambda: mode.active)
    stacked = {**params, **buffers}
    data = to_device(source, cpu)
    test_data = [to_device(test, cpu) for test in tests]
    choosers = [EpochChooser(selection, test.y if selection == LEAKY else None) for test in tests]
    chosen: list[FoldOutput | None] = [None] * len(folds)
    recording = 0.0
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        batches = _epoch_batches(folds, config.batch_size)
        for step in range(max(len(b) for b in batches)):
            rows, sizes = _step_rows(batches, step)
            batch = _batch(data, rows)
            mode.set_step(sizes)
            train_step(carrier, loss_fn, batch, optimizer, mode,
                       forward=lambda b: functional_call(carrier, stacked, (b,)))
        if not record_epochs:
            continue
        before = time.perf_counter()
        for f, test in enumerate(test_data):
            viewer.load_state_dict(_fold_state(stacked, optimizer, f))
            if choosers[f].add(epoch, predict_classes(viewer, test, config.batch_size, cpu)) and selection != "last":
                chosen[f] = predict(viewer, test, config.batch_size, cpu)  # a newly chosen epoch's full output
        recording += time.perf_counter() - before
    seconds = time.perf_counter() - start
    share = seconds / len(folds)
    outputs = []
    for f, (fold, test) in enumerate(zip(folds, test_data, strict=True)):
        output = chosen[f]
        if output is None:  # the last epoch's weights (the `last` selection, or no per-epoch record)
            fold.model.load_state_dict(_fold_state(stacked, optimizer, f))
            output = predict(fold.model, test, config.batch_size, cpu)
        output.epochs = choosers[f].epoch or config.epochs
        output.record = choosers[f].record if record_epochs else None
        output.record_seconds = recording / len(folds)
        output.train_seconds = share
        output.samples_per_s = len(fold.positions) * config.epochs / share if share > 0 else 0.0
        outputs.append(output)
    return outputs


def _fold_state(stacked: dict[str, torch.Tensor], optimizer: _StackedAdamW, f: int) -> dict[str, torch.Tensor]:
    """Fold f's parameters and buffers, cut from the stacked ones (its BatchNorm step count from the optimiser)."""
    state = {name: value[f].detach().clone() for name, value in stacked.items()}
    for name in state:
        if name.endswith("num_batches_tracked"):
            state[name] = optimizer.steps[f].to(torch.long)
    return state
