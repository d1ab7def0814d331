"""Shared fixtures: a private cache folder and one small demo database per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SMALL_DEMO = {"subjects": 3, "clips_per_subject": 3, "frames": 12, "size": 160}
# The same with every distractor (blinks, head motion, flicker) off and a fixed 2.5 px amplitude:
# for tests that compare measured motion with the applied expression alone.
STILL_DEMO = {**SMALL_DEMO, "head_motion": 0.0, "blink_share": 0.0, "flicker": 0.0, "amplitude_median_px": 2.5,
              "amplitude_spread": 0.0}


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the demo cache of the test run away from the user's cache."""
    cache = tmp_path_factory.mktemp("occmer-cache")
    old = os.environ.get("OCCMER_CACHE")
    os.environ["OCCMER_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("OCCMER_CACHE", None)
    else:
        os.environ["OCCMER_CACHE"] = old


@pytest.fixture(autouse=True)
def _fresh_output_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with the default output choices: a command run by an earlier test
    (`--quiet`, `--no-progress`) sets them module-wide, as it does for one process."""
    import occmer.progress

    monkeypatch.setattr(occmer.progress, "_SETTINGS", occmer.progress.OutputSettings())


@pytest.fixture(scope="session")
def aligned_hopper():
    """(aligned 224 px RGB onset crop, its 478 landmarks) of the bundled Grace Hopper portrait,
    from one mediapipe run and the pipeline's own alignment."""
    import matplotlib.cbook as cbook
    import numpy as np
    from PIL import Image

    from occmer.faces.align import alignment_transform, transform_points, warp_frame
    from occmer.faces.landmarks import MediapipeBackend

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        image = np.array(Image.open(fh).convert("RGB"))
    backend = MediapipeBackend()
    try:
        landmarks = backend.detect(image)
    finally:
        backend.close()
    assert landmarks is not None, "mediapipe found no face in the bundled portrait"
    m = alignment_transform(landmarks, 224)
    return warp_frame(image, m, 224), transform_points(landmarks, m)


@pytest.fixture(scope="session")
def demo_portrait_landmarks():
    """(478, 2) landmarks of the demo's first identity (the astronaut), normalised as the demo does at 200 px."""
    from occmer.demo import faces
    from occmer.faces.landmarks import MediapipeBackend

    backend = MediapipeBackend()
    try:
        face = faces.prepare_face(faces.portrait_sources()[0], backend, 200)
    finally:
        backend.close()
    assert face is not None, "mediapipe found no face in the bundled astronaut portrait"
    return face.landmarks


@pytest.fixture(scope="session")
def small_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny demo database (3 subjects x 3 clips x 12 frames, 160 px) in the CASME II layout."""
    from occmer.demo import build_demo_database

    return build_demo_database(tmp_path_factory.mktemp("demo") / "db", seed=0, **SMALL_DEMO)


@pytest.fixture(scope="session")
def still_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SMALL_DEMO with no distractors (STILL_DEMO)."""
    from occmer.demo import build_demo_database

    return build_demo_database(tmp_path_factory.mktemp("still-demo") / "db", seed=0, **STILL_DEMO)


@pytest.fixture(scope="session")
def small_demo_clips(small_demo_root: Path):
    from occmer.databases.resolve import resolve_databases, scan_all

    result = scan_all(resolve_databases("demo", (str(small_demo_root),)))
    assert not result.problems
    return result.clips


@pytest.fixture(scope="session")
def block_file(tmp_path_factory: pytest.TempPathFactory, small_demo_clips) -> Path:
    """The small demo synthesized with a block occluder (seed 0, 96 px crops)."""
    from occmer.pipeline import SynthesisSettings, synthesize

    out = tmp_path_factory.mktemp("synth") / "block.h5"
    settings = SynthesisSettings(database="demo", mask="block", size=96, seed=0)
    synthesize(settings, small_demo_clips, out, progress=False)
    return out


@pytest.fixture(scope="session")
def grey_and_colour_file(tmp_path_factory: pytest.TempPathFactory, small_demo_clips) -> Path:
    """The small demo (two colour portraits, one grey LFW subject) under glasses, stored with
    `--color keep`: grey clips 1 channel, colour clips 3, as in a merged SAMM + CASME II file
    written that way; with TV-L1 flow at 28 px."""
    from occmer.features import add_features, parse_feature_spec
    from occmer.pipeline import SynthesisSettings, synthesize

    out = tmp_path_factory.mktemp("mixed") / "grey_and_colour.h5"
    settings = SynthesisSettings(database="demo", mask="glasses", size=96, seed=0, color="keep")
    synthesize(settings, small_demo_clips, out, progress=False)
    add_features(out, [parse_feature_spec("tvl1:28")], progress=False)
    return out
