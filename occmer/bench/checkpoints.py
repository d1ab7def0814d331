"""`occmer bench MODEL --weights DIR`: evaluate one published checkpoint per fold instead of training.

A fold is named after its held-out subject (`casme2/sub01`, `samm/006`, `smic-hs/s01`). Its
checkpoint is the first of these files that exists in DIR (suffix .pth, .pt or .pkl):
`<database>/<subject>.pth`, `<database>_<subject>.pth`, `<subject>.pth` (the releases'
own naming, e.g. STSTNet_Weights/sub01.pth). Files are read with
`torch.load(..., weights_only=True)` (tensors only, no code) and must be a state dict
(optionally under a "state_dict" or "model" key) whose names and shapes fit the model built
for the fold; otherwise the error names the first tensor that does not fit.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from occmer.bench.files import safe_name
from occmer.errors import BenchError

SUFFIXES = (".pth", ".pt", ".pkl")
OPTIONAL_BUFFERS = ("num_batches_tracked",)  # BatchNorm counters older releases may lack


def checkpoint_candidates(directory: Path, fold: str) -> list[Path]:
    """Files that would hold fold `fold`'s weights, in the order they are tried."""
    database, _, subject = fold.rpartition("/")
    stems = [f"{database}/{subject}", f"{database}_{subject}", subject] if database else [subject]
    stems.append(safe_name(fold))
    return [directory / f"{stem}{suffix}" for stem in dict.fromkeys(stems) for suffix in SUFFIXES]


def find_checkpoint(directory: Path, fold: str) -> Path:
    """The checkpoint of `fold` in `directory` (a BenchError listing the names tried when none exists)."""
    root = directory.resolve()
    for path in checkpoint_candidates(directory, fold):
        resolved = path.resolve()
        if resolved.is_file() and resolved.is_relative_to(root):
            return path
        if resolved.is_file() or path.is_symlink():
            raise BenchError(f"--weights {directory}: {path} is a symbolic link leading outside the folder "
                             f"(to {resolved}); copy the checkpoint into {directory}")
    tried = ", ".join(p.name if p.parent == directory else str(p.relative_to(directory))
                      for p in checkpoint_candidates(directory, fold)[::len(SUFFIXES)])
    raise BenchError(f"--weights {directory}: no checkpoint for held-out subject {fold} (tried {tried}, each with "
                     f"{'/'.join(SUFFIXES)}); name one file per fold as docs/bench.md says")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from `path`, loaded tensors-only on the CPU."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise BenchError(f"{path}: not a checkpoint occmer can read with weights_only=True ({exc})") from exc
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not all(torch.is_tensor(v) for v in loaded.values()):
        raise BenchError(f"{path}: expected a state dict (name -> tensor), found {type(loaded).__name__}")
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}


def load_into(model: nn.Module, path: Path) -> None:
    """Copy the checkpoint's tensors into `model`; BenchError naming the first that does not fit."""
    state = read_state_dict(path)
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            if name.rsplit(".", 1)[-1] in OPTIONAL_BUFFERS:
                state[name] = tensor
                continue
            raise BenchError(f"{path}: tensor {name} {tuple(tensor.shape)} of the model is missing from the "
                             f"checkpoint (it holds {', '.join(list(state)[:6])}{' ...' if len(state) > 6 else ''}); "
                             "is it a checkpoint of this model and variant?")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise BenchError(f"{path}: tensor {name} has shape {tuple(state[name].shape)} in the checkpoint but "
                             f"{tuple(tensor.shape)} in the model (classes, channels or input size differ?)")
    extra = [name for name in state if name not in expected]
    if extra:
        raise BenchError(f"{path}: tensor {extra[0]} of the checkpoint has no place in the model "
                         f"({len(extra)} unexpected); is it a checkpoint of this model and variant?")
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BenchError(f"{path}: tensor {name} holds values that are not finite (NaN or infinity); a model "
                             "with them predicts one class for everything: use a checkpoint of a finished training")
    model.load_state_dict(state, strict=True)
