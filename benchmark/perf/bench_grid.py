"""One (model, condition, seed) grid trained one fold at a time vs all folds batched vs the arithmetic floor.

The default is the STSTNet MEGC 2019 composite grid: 68 folds of about 374 training clips (the
fold sizes differ, as LOSO folds do), 30 epochs, batch 32, random inputs of the real shape
(3, 28, 28). Three figures, measured in the same run with the same torch thread count, each as wall seconds
and as process CPU seconds (the fairer figure on a shared, loaded machine):

- one-by-one: `occmer.bench.training.train_fold` per fold, as `--batch-folds off` runs it;
  `--single-folds K` times the first K folds and scales to the grid (K = all folds by default);
- batched: `occmer.bench.batched.train_folds` on every fold, as `--batch-folds auto` runs it;
- floor: one plain model trained with native fused operators on batches of (folds x batch size)
  rows, over the same number of samples: what the grid's arithmetic costs without per-fold
  bookkeeping.

    OMP_NUM_THREADS=2 python benchmark/perf/bench_grid.py --threads 2
    python benchmark/perf/bench_grid.py --folds 8 --epochs 3 --single-folds 2   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from occmer.bench.batched import group_size, train_folds
from occmer.bench.models import factory_and_loss
from occmer.bench.training import FoldTensors, TrainConfig, train_fold


class Clock:
    """Wall and process CPU seconds since creation: on a shared machine CPU seconds say what the work cost."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def grid_data(folds: int, train_clips: int, classes: int, seed: int) -> tuple[FoldTensors, list[np.ndarray], list]:
    """A random dataset and LOSO-like folds: each fold trains on all clips but its subject's (1 to 12 clips)."""
    rng = np.random.default_rng(seed)
    test_sizes = rng.integers(1, 13, folds)
    total = train_clips + int(np.round(test_sizes.mean()))
    x = rng.standard_normal((total, 3, 28, 28)).astype(np.float32)
    y = rng.integers(0, classes, total).astype(np.int64)
    source = FoldTensors(x, y)
    positions, tests = [], []
    for size in test_sizes:
        start = int(rng.integers(0, total - size))
        test = np.arange(start, start + size)
        positions.append(np.setdiff1d(np.arange(total), test))
        tests.append(source.subset(test))
    return source, positions, tests


def run_floor(factory, loss_fn, source: FoldTensors, samples: int, rows: int, classes: int, config: TrainConfig
              ) -> float:
    """Seconds for one native model to train on `samples` rows in batches of `rows` (forward, backward, AdamW)."""
    torch.manual_seed(0)
    model = factory(classes, 3, 28)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    data = {"x": torch.from_numpy(source.x), "label": torch.from_numpy(source.y)}
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    done = 0
    while done < samples:
        n = min(rows, samples - done)
        index = torch.randint(0, len(source), (n,), generator=generator)
        batch = {key: value.index_select(0, index) for key, value in data.items()}
        loss = loss_fn(model, model(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done += n
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ststnet")
    parser.add_argument("--folds", type=int, default=68)
    parser.add_argument("--train-clips", type=int, default=374, help="clips in the dataset minus a mean test fold")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads for all three measurements")
    parser.add_argument("--single-folds", type=int, default=None,
                        help="time only the first K folds one by one and scale to the grid (default: all)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    factory, loss_fn = factory_and_loss(args.model, {})
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size)
    source, positions, tests = grid_data(args.folds, args.train_clips, args.classes, 0)
    seeds = [1000 + i for i in range(args.folds)]
    samples = int(sum(len(p) for p in positions)) * args.epochs

    group = group_size(factory, source, args.classes, args.batch_size, args.folds)
    clock = Clock()
    for first in range(0, args.folds, group):
        chosen = slice(first, first + group)
        train_folds(factory, loss_fn, source, positions[chosen], tests[chosen], args.classes, config, seeds[chosen])
    batched, batched_cpu = clock.read()

    clock = Clock()
    run_floor(factory, loss_fn, source, samples, min(group, args.folds) * args.batch_size, args.classes, config)
    floor, floor_cpu = clock.read()

    timed = min(args.single_folds or args.folds, args.folds)
    clock = Clock()
    for i in range(timed):
        train_fold(factory, loss_fn, source.subset(positions[i]), tests[i], args.classes, config, seeds[i])
    single, single_cpu = (value * args.folds / timed for value in clock.read())

    figures = {
        "model": args.model, "folds": args.folds, "train_clips_mean": float(np.mean([len(p) for p in positions])),
        "epochs": args.epochs, "batch_size": args.batch_size, "threads": args.threads, "fold_group": group,
        "samples": samples, "single_folds_timed": timed,
        "one_by_one_s": round(single, 2), "batched_s": round(batched, 2), "floor_s": round(floor, 2),
        "speedup_batched_vs_one_by_one": round(single / batched, 2),
        "batched_over_floor": round(batched / floor, 2),
        "samples_per_s": {"one_by_one": round(samples / single), "batched": round(samples / batched),
                          "floor": round(samples / floor)},
        "cpu_s": {"one_by_one": round(single_cpu, 2), "batched": round(batched_cpu, 2), "floor": round(floor_cpu, 2)},
        "cpu_speedup_batched_vs_one_by_one": round(single_cpu / batched_cpu, 2),
        "cpu_batched_over_floor": round(batched_cpu / floor_cpu, 2),
        "load_average": os.getloadavg(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    print(json.dumps(figures, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=1)


if __name__ == "__main__":
    main()
