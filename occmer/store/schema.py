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

# What each per-clip dataset holds, written as its "description" attribute (and "units" where it
# has them) so a reader without occmer's docs (HDFView, MATLAB, h5dump) knows the conventions.
CLIP_DATASET_NOTES: dict[str, dict[str, str]] = {
    "frames": {"description": "face frames with the occluder drawn in, (T, H, W, C) uint8, RGB or one grey "
                              "channel, aligned face crop; frame t is frame_numbers[t] of the source clip",
               "units": "8-bit pixel values"},
    "occlusion": {"description": "occluder alpha per frame, (T, H, W) uint8: 0 = face visible, 255 = covered",
                  "units": "0..255 coverage"},
    "landmarks": {"description": "face landmarks per frame, (T, K, 2) float32 in (x, y) order (column, row), "
                                 "in the stored frames' pixel coordinates",
                  "units": "pixels"},
    "frame_numbers": {"description": "the source clip's frame number of each stored frame, (T,) int32"},
    "head_motion": {"description": "rigid head motion, (T, 2, 3) float64 affine maps from the onset frame to "
                                   "frame t, applied to (x, y) points: [x', y'] = A[:, :2] @ [x, y] + A[:, 2]",
                    "units": "pixels"},
}

SAMPLES = "samples"
CLIPS = "clips"
FEATURES = "features"
SPLITS = "splits"  # v1 extension: /splits/<protocol>/ (occmer.store.splits, docs/hdf5-format.md)

# /features/<name> groups are written under this prefix, then renamed (readers skip them).
FEATURE_TMP_PREFIX = ".partial-"

# Long videos (issue 29; occmer.store.long_video, docs/hdf5-format.md): root attribute
# contents="long-videos", one group per video under /videos/<video_id>.
LONG_VIDEOS = "long-videos"
VIDEOS = "videos"
VIDEO_DATASETS = ("frames", "occlusion", "frame_numbers")
TRACK = "track"  # /videos/<id>/track/<dataset>: the per-frame face track record
TRACK_DATASETS = ("state", "transform", "anchor")
INTERVALS = "intervals"  # /videos/<id>/intervals/<column>: one row per annotated expression
INTERVAL_INT_COLUMNS = ("onset", "apex", "offset")
INTERVAL_STRING_COLUMNS = ("kind", "emotion", "objective_class", "action_units")
VIDEO_ATTRS = ("video_id", "database", "subject", "fps", "first_frame", "n_frames", "complete")
# /videos/<id>/track/state values: what happened to the face on each frame.
TRACK_STATES = {
    0: "tracked",  # followed from the anchor frame by the rigid point tracker
    1: "placed",  # face found and the occluder placed on this frame (the video's first placement)
    2: "lost",  # no face: no occluder drawn (alpha 0), transform = the last one known
    3: "reacquired",  # face found again (after a loss or a drifted track): occluder placed again here
    4: "checked",  # tracked, and the periodic landmark detection agreed with the track
}
LONG_DATASET_NOTES: dict[str, dict[str, str]] = {
    "frames": {"description": "the whole video with the occluder drawn in, (T, H, W, C) uint8, C 1 (grey) or 3 (RGB); "
                              "frame t is frame_numbers[t] of the source video", "units": "8-bit pixel values"},
    "occlusion": {"description": "occluder alpha per frame, (T, H, W) uint8: 0 = face visible, 255 = covered",
                  "units": "0..255 coverage"},
    "frame_numbers": {"description": "the source video's frame number of each stored frame, (T,) int32"},
    "state": {"description": "face track per frame, (T,) uint8: 0 tracked, 1 placed, 2 lost (no occluder), "
                             "3 re-acquired (occluder placed again), 4 tracked and confirmed by landmark detection"},
    "transform": {"description": "(T, 2, 3) float64 rigid map from the anchor frame to frame t that moved the occluder, "
                                 "applied to (x, y): [x', y'] = A[:, :2] @ [x, y] + A[:, 2]", "units": "pixels"},
    "anchor": {"description": "(T,) int32 frame number of the frame the occluder in use was placed on; -1 = none yet"},
}
