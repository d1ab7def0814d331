"""What keeping every epoch's test predictions costs a fold (issue 26): with and without, same process.

A fold of the demo bench (8 subjects x 12 clips: 84 training and 12 test clips, 3 classes,
32x32 flow, 20 epochs, batch 32; `occmer bench` on the demo) is trained with `record_epochs`
off and on, interleaved, `--repeats` times; the median fold times and their ratio are printed,
and the share of the recorded fold's time spent predicting (`record_seconds`, measured inside
the loop, which a loaded machine disturbs less than the ratio). `--batched` times the demo's 8
LOSO folds of STSTNet as one batched model (`--batch-folds auto`) the same way. The tensors are
synthetic with the demo's shapes (`--subjects 68 --clips 7 --size 28` is about a MEGC 2019
fold), or the first LOSO fold of `--data FILE` (an occmer file).

    python benchmark/perf/epoch_record.py --models ststnet rrrn --repeats 5 --batched
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from occmer.bench import models as bench_models
from occmer.bench.batched import train_folds
from occmer.bench.training import FoldTensors, TrainConfig, train_fold


def demo_shaped(subjects: int, clips: int, size: int, seed: int = 0) -> tuple[FoldTensors, np.ndarray]:
    """Tensors of the demo bench's shape (a class-dependent blob plus noise) and each clip's subject."""
    rng = np.random.default_rng(seed)
    n = subjects * clips
    y = np.arange(n) % 3
    x = (0.3 * rng.standard_normal((n, 3, size, size))).astype(np.float32)
    x[np.arange(n), y, size // 4:size // 2, size // 4:size // 2] += 1.0
    return FoldTensors(x, y.astype(np.int64), occlusion=np.zeros((n, size, size), np.float32)), np.repeat(
        np.arange(subjects), clips)


def from_file(path: Path, feature: str) -> tuple[FoldTensors, np.ndarray]:
    from occmer.bench.conditions import load_condition

    data = load_condition("data", [path], "emotion", feature, False)
    classes = sorted(set(data.table["label"]))
    y = np.array([classes.index(label) for label in data.table["label"]], dtype=np.int64)
    subjects = np.unique(data.table["subject"], return_inverse=True)[1]
    return FoldTensors(data.x, y, occlusion=data.occlusion), subjects


def one_fold(model: str, data: FoldTensors, subjects: np.ndarray, config: TrainConfig, record: bool) -> tuple[float, float]:
    factory, loss = bench_models.factory_and_loss(model, {})
    test = subjects == subjects[0]
    start = time.perf_counter()
    out = train_fold(factory, loss, data.subset(np.flatnonzero(~test)), data.subset(np.flatnonzero(test)),
                     int(data.y.max()) + 1, config, seed=0, record_epochs=record)
    return time.perf_counter() - start, out.record_seconds


def batched_folds(data: FoldTensors, subjects: np.ndarray, config: TrainConfig, record: bool) -> tuple[float, float]:
    factory, loss = bench_models.factory_and_loss("ststnet", {})
    names = np.unique(subjects)[:8]
    positions = [np.flatnonzero(subjects != s) for s in names]
    tests = [data.subset(np.flatnonzero(subjects == s)) for s in names]
    start = time.perf_counter()
    outs = train_folds(factory, loss, data, positions, tests, int(data.y.max()) + 1, config,
                       list(range(len(names))), record_epochs=record)
    return time.perf_counter() - start, sum(o.record_seconds for o in outs)


def measure(run, repeats: int) -> dict[str, float]:
    run(False)  # warm-up
    plain, recorded, shares = [], [], []
    for _ in range(repeats):
        plain.append(run(False)[0])
        seconds, predicting = run(True)
        recorded.append(seconds)
        shares.append(predicting / seconds)
    return {"without_s": round(statistics.median(plain), 4), "with_s": round(statistics.median(recorded), 4),
            "ratio": round(statistics.median(recorded) / statistics.median(plain), 4),
            "predicting_share": round(statistics.median(shares), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["ststnet", "rrrn"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batched", action="store_true", help="also time the 8 STSTNet folds batched")
    parser.add_argument("--subjects", type=int, default=8, help="subjects of the synthetic data (demo: 8)")
    parser.add_argument("--clips", type=int, default=12, help="clips per subject (demo: 12)")
    parser.add_argument("--size", type=int, default=32, help="input size (demo bench: 32)")
    parser.add_argument("--data", type=Path, default=None, help="an occmer file instead of demo-shaped tensors")
    parser.add_argument("--feature", default="flow_tvl1_32")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data, subjects = from_file(args.data, args.feature) if args.data else demo_shaped(args.subjects, args.clips, args.size)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu")
    results = {}
    for model in args.models:
        results[model] = measure(lambda record, m=model: one_fold(m, data, subjects, config, record), args.repeats)
        print(model, json.dumps(results[model]), flush=True)
    if args.batched:
        results["ststnet batched (8 folds)"] = measure(lambda record: batched_folds(data, subjects, config, record),
                                                       args.repeats)
        print("ststnet batched (8 folds)", json.dumps(results["ststnet batched (8 folds)"]), flush=True)
    summary = {"subjects": args.subjects, "clips_per_subject": args.clips, "size": args.size, "epochs": args.epochs, "batch_size": args.batch_size, "threads": args.threads, "clips": len(data),
               "data": str(args.data or "demo-shaped"), "platform": platform.platform(), "torch": torch.__version__,
               "loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
               "results": results}
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
