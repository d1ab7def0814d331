"""Per-sample random generators, so results do not depend on worker count or order."""

from __future__ import annotations

import hashlib

import numpy as np

MAX_SEED = 2**32 - 1  # the largest --seed: numpy seeds and the files' `seed` attribute are 32-bit unsigned


def stable_hash(text: str) -> int:
    """A 63-bit integer from text that is the same on every machine and Python run."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 1


def sample_rng(seed: int, sample_id: str, stream: str = "") -> np.random.Generator:
    """The generator for one sample: derived from (global seed, sample id, stream name)."""
    return np.random.default_rng([int(seed), stable_hash(sample_id), stable_hash(stream)])
