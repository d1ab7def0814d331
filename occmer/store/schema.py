"""HDF5 format v1: the names every writer, reader and checker of occmer files share.

docs/hdf5-format.md is the human description of the same contract.
"""

from __future__ import annotations

FORMAT_NAME = "occmer"
SCHEMA_VERSION = 1

# Root attributes (all required in a complete v1 file).
ROOT_ATTRS = (
    "format", "schema_version", "occmer_version", "database", "occluder",
    "seed", "created_utc", "command", "complete",
)

# /samples/<column>: one row per clip, all in the same order.
STRING_COLUMNS = (
    "sample_id", "database", "subject", "filename", "emotion", "objective_class",
    "composite", "action_units", "apex_source",
    "objective_source", "fixes",  # v1 extensions: "given"/"derived"/"", JSON list of annotation fixes
    "offset_source",  # v1 extension: "annotated", "fixed" or the policy that filled a missing offset
)
INT_COLUMNS = ("onset", "apex", "offset", "n_frames")
FLOAT_COLUMNS = ("occlusion_ratio",)
SAMPLE_COLUMNS = STRING_COLUMNS + INT_COLUMNS + FLOAT_COLUMNS

# /clips/<sample_id>/<dataset>
CLIP_DATASETS = ("frames", "occlusion", "landmarks", "frame_numbers")

SAMPLES = "samples"
CLIPS = "clips"
FEATURES = "features"
SPLITS = "splits"  # v1 extension: /splits/<protocol>/ (occmer.store.splits, docs/hdf5-format.md)

# /features/<name> groups are written under this prefix, then renamed (readers skip them).
FEATURE_TMP_PREFIX = ".partial-"
