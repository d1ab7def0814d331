"""Per-fold training speed of a small model: the harness (`train_fold`) against the bare step cost.

One MEGC 2019 fold of STSTNet trains on about 374 clips. This measures, in the same process
and on the same synthetic fold (28x28x3, 3 classes):

- `bare step`: forward + backward + optimiser step on ready batches in a tight loop (the
  floor any harness pays),
- `train_fold`: occmer's fold training (shuffling, batch selection, loss, logging sync),

and prints samples/s of both and their ratio (harness overhead = 1 - ratio). Interleaved
repeats, the median reported, so a loaded machine affects both alike.

    python benchmark/perf/fold_speed.py --model ststnet --train 374 --epochs 5 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch

from occmer.bench import models as bench_models
from occmer.bench.training import FoldTensors, TrainConfig, train_fold
from occmer.models import build_model, model_loss


def synthetic_fold(n: int, size: int, seed: int = 0) -> FoldTensors:
    rng = np.random.default_rng(seed)
    return FoldTensors(x=(rng.random((n, 3, size, size)) * 255).astype(np.float32),
                       y=rng.integers(0, 3, n).astype(np.int64), occlusion=np.zeros((n, size, size), np.float32))


def bare_steps(model_name: str, fold: FoldTensors, config: TrainConfig) -> float:
    """samples/s of forward + backward + step over pre-built batches (one epoch's worth, `epochs` times)."""
    torch.manual_seed(0)
    model = build_model(model_name, 3, 3, input_size=fold.x.shape[-1]).train()
    optim = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    x, y = torch.from_numpy(fold.x), torch.from_numpy(fold.y)
    batches = [{"x": x[i:i + config.batch_size], "label": y[i:i + config.batch_size]}
               for i in range(0, len(fold), config.batch_size)]
    start = time.perf_counter()
    for _ in range(config.epochs):
        for batch in batches:
            optim.zero_grad(set_to_none=True)
            model_loss(model, model(batch), batch).backward()
            optim.step()
    return len(fold) * config.epochs / (time.perf_counter() - start)


def harness(model_name: str, fold: FoldTensors, test: FoldTensors, config: TrainConfig) -> float:
    factory, loss = bench_models.factory_and_loss(model_name, {})
    return train_fold(factory, loss, fold, test, 3, config, seed=0).samples_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ststnet")
    parser.add_argument("--train", type=int, default=374, help="training clips in the fold")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = 28
    fold, test = synthetic_fold(args.train, size), synthetic_fold(8, size, seed=1)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu")
    bare, full = [], []
    harness(args.model, fold, test, TrainConfig(epochs=1, batch_size=args.batch_size))  # warm-up
    for _ in range(args.repeats):
        bare.append(bare_steps(args.model, fold, config))
        full.append(harness(args.model, fold, test, config))
    record = {
        "model": args.model, "train_clips": args.train, "epochs": args.epochs, "batch_size": args.batch_size,
        "threads": args.threads, "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
        "bare_samples_per_s": round(statistics.median(bare), 1),
        "train_fold_samples_per_s": round(statistics.median(full), 1),
    }
    record["ratio"] = round(record["train_fold_samples_per_s"] / record["bare_samples_per_s"], 3)
    print(f"{args.model}, {args.train} clips, batch {args.batch_size}, {args.threads} thread(s): bare step "
          f"{record['bare_samples_per_s']:.0f} samples/s, train_fold {record['train_fold_samples_per_s']:.0f} "
          f"samples/s, ratio {record['ratio']:.2f} (median of {args.repeats})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)


if __name__ == "__main__":
    main()
