"""Check occmer's HTNet and CausalNet against the authors' code: same weights, same inputs, same outputs.

Local only, never in CI (it needs the authors' repositories and einops, which occmer does not
depend on). Run it from a scratch environment that has occmer's packages plus einops:

    python benchmark/suites/reference_check.py --htnet PATH/TO/HTNet --causalnet PATH/TO/CausalNet

Each PATH is a local copy of the repository (wangzhifengharrison/HTNet, tony19980810/CausalNet);
its model module (Model.py / Models.py) is imported from there, built with the settings of the
authors' training script, and its state dict is copied into occmer's model. The key mapping is
the identity (occmer keeps the authors' attribute names; the check fails if the key sets or
shapes differ). Inputs are random tiles in the 0..255 range the authors feed, in train and eval
mode (dropout is 0 in their settings). With `--crop`, CausalNet's main_train.py block cutter
(needs the repository's datasets/ and CSV) is compared with occmer's tile_blocks on the
release's maps. Prints the max absolute output difference and the parameter counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import torch

from occmer.models import build_model
from occmer.models.landmark_blocks import fallback_points, tile_blocks

HTNET_SETTINGS = {"image_size": 28, "patch_size": 7, "dim": 256, "heads": 3, "num_hierarchies": 3,
                  "block_repeats": (2, 2, 10), "num_classes": 3}  # main_HTNet.py
CAUSALNET_SETTINGS = {"image_size": 28, "patch_size": 7, "dim": 256, "heads": 3, "num_hierarchies": 3,
                      "block_repeats": (3, 3, 9), "num_classes": 3, "gamma": 0.5}  # main_train.py


def load_module(repo: Path, filename: str, name: str):
    spec = importlib.util.spec_from_file_location(name, repo / filename)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(repo))
    spec.loader.exec_module(module)
    return module


def copy_weights(reference: torch.nn.Module, ours: torch.nn.Module) -> None:
    """Identity key mapping: every key and shape must match."""
    theirs, mine = reference.state_dict(), ours.state_dict()
    if set(theirs) != set(mine):
        raise SystemExit(f"key sets differ: only theirs {sorted(set(theirs) - set(mine))[:5]}, "
                         f"only ours {sorted(set(mine) - set(theirs))[:5]}")
    bad = [k for k in theirs if theirs[k].shape != mine[k].shape]
    if bad:
        raise SystemExit(f"shapes differ at {bad[:5]}")
    ours.load_state_dict(theirs)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def compare(label: str, reference: torch.nn.Module, ours, inputs: torch.Tensor) -> float:
    worst = 0.0
    for mode in ("eval", "train"):
        reference.train(mode == "train")
        ours.train(mode == "train")
        with torch.no_grad():
            a, b = reference(inputs), ours.classify(inputs)
        diff = float((a - b).abs().max())
        worst = max(worst, diff)
        print(f"{label:<10} {mode:<5} logits max |diff| {diff:.3e} (max |logit| {float(a.abs().max()):.3e})")
    print(f"{label:<10} parameters: authors {count(reference):,}  occmer {count(ours):,}")
    return worst


def check_htnet(repo: Path, batch: int, seed: int) -> float:
    module = load_module(repo, "Model.py", "htnet_reference")
    torch.manual_seed(seed)
    reference = module.HTNet(**HTNET_SETTINGS)
    ours = build_model("htnet", num_classes=3, in_channels=3)
    copy_weights(reference, ours)
    tiles = torch.rand(batch, 3, 28, 28, generator=torch.Generator().manual_seed(seed)) * 255
    return compare("htnet", reference, ours, tiles)


def check_causalnet(repo: Path, batch: int, seed: int) -> float:
    module = load_module(repo, "Models.py", "causalnet_reference")
    torch.manual_seed(seed)
    reference = module.CausalNet(**CAUSALNET_SETTINGS)
    ours = build_model("causalnet", num_classes=3, in_channels=12)
    copy_weights(reference, ours)
    tiles = torch.rand(batch, 4, 3, 28, 28, generator=torch.Generator().manual_seed(seed)) * 255
    return compare("causalnet", reference, ours, tiles)


def check_crop(repo: Path, limit: int) -> int:
    """main_train.py's block cutter on the release's maps vs tile_blocks at the same points; differing pixels."""
    import cv2

    here = Path.cwd()
    os.chdir(repo)  # the authors' functions read the CSV and datasets/ from the working directory
    try:
        script = load_module(repo, "main_train.py", "causalnet_train")
        parts = script.crop_optical_flow_block()
    finally:
        os.chdir(here)
    differing = 0
    names = sorted(parts)[:limit]
    for name in names:
        blocks = parts[name]
        theirs = cv2.vconcat([cv2.hconcat([blocks[0], blocks[1]]), cv2.hconcat([blocks[3], blocks[4]])])
        flow = cv2.imread(str(repo / "datasets" / "STSNet_whole_norm_u_v_os" / name))
        x = torch.from_numpy(flow.transpose(2, 0, 1)[None].astype(np.float32))
        mine = tile_blocks(x, fallback_points(1, 28))[0].numpy().transpose(1, 2, 0)
        differing += int((mine != theirs).sum())
    print(f"crop       {len(names)} maps: {differing} pixel values differ from main_train.py's blocks")
    return differing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--htnet", type=Path, help="local copy of wangzhifengharrison/HTNet")
    parser.add_argument("--causalnet", type=Path, help="local copy of tony19980810/CausalNet")
    parser.add_argument("--crop", action="store_true", help="also compare CausalNet's block cutter (needs datasets/)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    worst = 0.0
    if args.htnet:
        worst = max(worst, check_htnet(args.htnet, args.batch, args.seed))
    if args.causalnet:
        worst = max(worst, check_causalnet(args.causalnet, args.batch, args.seed))
        if args.crop and check_crop(args.causalnet, limit=10_000):
            raise SystemExit("the block cutter differs from the authors'")
    if worst > args.tolerance:
        raise SystemExit(f"max |diff| {worst:.3e} exceeds {args.tolerance}")
    print(f"OK: max |diff| {worst:.3e} <= {args.tolerance}")


if __name__ == "__main__":
    main()
