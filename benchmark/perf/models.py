"""Training throughput of every registered model: samples/s of forward + backward + Adam step.

Synthetic inputs at each model's default input size (regions: the 3x3 grid + global node).
Prints one line per (model, device, precision) and, with --json, writes the records.

    python benchmark/perf/models.py --device cpu --iters 5
    python benchmark/perf/models.py --device cuda --amp bf16 --batch-size 64 --json cuda.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass

import torch

from occmer.models import MODELS, build_model, model_loss
from occmer.models.regions import grid_boxes

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Result:
    model: str
    device: str
    device_name: str
    precision: str
    batch_size: int
    input_size: int
    parameters: int
    iters: int
    samples_per_s: float


def synthetic_batch(batch_size: int, channels: int, size: int, classes: int, device: str) -> dict[str, torch.Tensor]:
    """Random flow-like inputs in the model contract's batch format."""
    gen = torch.Generator().manual_seed(0)
    return {
        "x": torch.randn(batch_size, channels, size, size, generator=gen).to(device),
        "regions": torch.from_numpy(grid_boxes(3, 3)).expand(batch_size, -1, -1).contiguous().to(device),
        "occlusion": torch.zeros(batch_size, 1, size, size, device=device),
        "label": torch.randint(0, classes, (batch_size,), generator=gen).to(device),
    }


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def measure(name: str, device: str, amp: str, batch_size: int, iters: int, warmup: int,
            channels: int = 3, classes: int = 3) -> Result:
    """Time `iters` training steps after `warmup` untimed ones."""
    model = build_model(name, classes, channels, seed=0).to(device).train()
    batch = synthetic_batch(batch_size, channels, model.input_size, classes, device)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtype = AMP_DTYPES[amp]
    scaler = torch.amp.GradScaler(device, enabled=amp == "fp16")

    def step() -> None:
        optim.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model_loss(model, model(batch), batch)
        scaler.scale(loss).backward()
        scaler.step(optim)
        scaler.update()

    for _ in range(warmup):
        step()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    elapsed = time.perf_counter() - start
    return Result(
        name, device, device_name(device), amp, batch_size, model.input_size,
        sum(p.numel() for p in model.parameters()), iters, batch_size * iters / elapsed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=sorted(MODELS), help="models to time (default: all)")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                        help="'all' = cpu, plus cuda when available")
    parser.add_argument("--amp", choices=sorted(AMP_DTYPES), default=None,
                        help="autocast dtype (default: none on CPU, bf16 on CUDA)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if not devices:
        raise SystemExit("no CUDA device available; run with --device cpu")
    if "cuda" in devices:
        torch.backends.cudnn.benchmark = True
    results = []
    header = ("model", "device", "precision", "batch", "size", "params", "samples/s")
    print(f"{header[0]:<15} {header[1]:<6} {header[2]:<9} {header[3]:>5} {header[4]:>4} {header[5]:>11} {header[6]:>10}"
          "  device name")
    for device in devices:
        amp = args.amp or ("bf16" if device == "cuda" else "none")
        for name in args.models:
            r = measure(name, device, amp, args.batch_size, args.iters, args.warmup)
            results.append(r)
            print(f"{r.model:<15} {r.device:<6} {r.precision:<9} {r.batch_size:>5} {r.input_size:>4} "
                  f"{r.parameters:>11,} {r.samples_per_s:>10.1f}  {r.device_name}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"torch": torch.__version__, "results": [asdict(r) for r in results]}, fh, indent=2)


if __name__ == "__main__":
    main()
