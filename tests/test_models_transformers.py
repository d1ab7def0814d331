"""HTNet and CausalNet: shapes, the landmark blocks at the image border, the four-map import, a few training steps."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from occmer.bench.recipes import resolve_recipe
from occmer.cli import cli
from occmer.errors import ModelError
from occmer.faces import topology as topo
from occmer.features import read_features
from occmer.models import MODELS, build_model, model_loss
from occmer.models.landmark_blocks import (
    FALLBACK_POINTS,
    block_corners,
    five_points,
    points_from_region_boxes,
    tile_blocks,
)
from occmer.models.regions import region_boxes
from occmer.official import official_list

torch.set_num_threads(1)
SMALL = {"htnet": {"dim": 8, "block_repeats": (1, 1, 2)}, "causalnet": {"dim": 16, "block_repeats": (1, 1, 2)}}


def _model(name: str, seed: int = 0) -> torch.nn.Module:
    return build_model(name, 3, 3 * MODELS[name].input_maps, seed=seed, **SMALL[name])


def _batch(name: str, n: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    channels = 3 * MODELS[name].input_maps
    labels = np.arange(n) % 3
    x = rng.normal(0, 0.1, size=(n, channels, 28, 28))
    x[np.arange(n), :, 5 + 6 * labels, :] += 1.0  # a class-specific stripe
    return {"x": torch.tensor(x, dtype=torch.float32), "label": torch.tensor(labels)}


def _reference_tiles(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """main_HTNet.py's cutting, restated: clamp to [7, 21], truncate, rows from x, tiles [[0, 1], [3, 4]]."""
    p = np.clip(points.astype(np.float64), 7, 21).astype(int)
    blocks = [flow[p[i][0] - 7:p[i][0] + 7, p[i][1] - 7:p[i][1] + 7] for i in range(5)]
    return np.vstack([np.hstack([blocks[0], blocks[1]]), np.hstack([blocks[3], blocks[4]])])


@pytest.mark.parametrize("name", ["htnet", "causalnet"])
def test_output_shapes(name):
    model = _model(name).eval()
    with torch.no_grad():
        out = model(_batch(name, n=4))
    assert out.logits.shape == (4, 3) and torch.isfinite(out.logits).all()


@pytest.mark.parametrize("points", [
    [[0, 0], [27, 27], [14, 14], [-9, 40], [6.9, 21.99]],  # corners, outside the grid, just inside the clamp
    FALLBACK_POINTS.tolist(),
    [[7, 21], [21, 7], [3, 3], [21, 21], [7, 7]],
])
def test_landmark_blocks_at_the_border_match_the_reference_cutting(points):
    rng = np.random.default_rng(1)
    flow = rng.integers(0, 255, size=(28, 28, 3)).astype(np.float32)
    points = np.array(points, dtype=np.float32)
    x = torch.from_numpy(flow.transpose(2, 0, 1)[None].copy())
    mine = tile_blocks(x, torch.from_numpy(points)[None])[0].numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(mine, _reference_tiles(flow, points))
    corners = block_corners(torch.from_numpy(points)[None], 28)
    assert int(corners.min()) >= 0 and int(corners.max()) <= 14  # every block lies inside the grid
    drawn = tile_blocks(x, torch.from_numpy(points)[None], axes="image")[0].numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(drawn, _reference_tiles(flow, points[:, ::-1]))  # rows from y


def test_five_points_from_mediapipe_landmarks_on_the_flow_grid():
    landmarks = np.full((topo.N_POINTS, 2), 100.0)
    wanted = {topo.RIGHT_IRIS_CENTER: (60, 80), topo.LEFT_IRIS_CENTER: (140, 80), topo.NOSE_TIP: (100, 120),
              topo.MOUTH_RIGHT_CORNER: (70, 160), topo.MOUTH_LEFT_CORNER: (130, 160)}
    for index, point in wanted.items():
        landmarks[index] = point
    points = five_points(landmarks, (224, 224), 28)
    np.testing.assert_allclose(points, np.array(list(wanted.values())) / 8.0)
    with pytest.raises(ModelError, match="468"):
        five_points(landmarks[:68], 224)


def test_points_from_region_boxes_land_near_the_landmark_points():
    rng = np.random.default_rng(0)
    landmarks = np.zeros((topo.N_POINTS, 2))
    # a stylised frontal face: every landmark near its group's place, the five points exact
    landmarks[:] = rng.uniform(40, 184, size=(topo.N_POINTS, 2))
    oval = np.linspace(0, 2 * np.pi, len(topo.FACE_OVAL), endpoint=False)
    landmarks[list(topo.FACE_OVAL)] = np.stack([112 + 90 * np.cos(oval), 112 + 105 * np.sin(oval)], axis=1)
    for group, centre, half in ((topo.RIGHT_EYE, (72, 90), (18, 6)), (topo.LEFT_EYE, (152, 90), (18, 6)),
                                (topo.MOUTH, (112, 165), (32, 10)), (topo.NOSE, (112, 112), (14, 30))):
        angles = np.linspace(0, 2 * np.pi, len(group), endpoint=False)
        landmarks[list(group)] = np.stack([centre[0] + half[0] * np.cos(angles),
                                           centre[1] + half[1] * np.sin(angles)], axis=1)
    landmarks[topo.RIGHT_IRIS_CENTER], landmarks[topo.LEFT_IRIS_CENTER] = (72, 90), (152, 90)
    landmarks[topo.MOUTH_RIGHT_CORNER], landmarks[topo.MOUTH_LEFT_CORNER] = (80, 165), (144, 165)
    exact = five_points(landmarks, 224, 28)
    boxes = torch.from_numpy(region_boxes(landmarks, (224, 224)))[None]
    derived = points_from_region_boxes(boxes, 28)[0].numpy()
    assert np.abs(derived - exact)[[0, 1, 3, 4]].max() < 0.6  # the blocks the model reads: within a grid cell


def test_htnet_reads_points_then_regions_then_the_fallback():
    model = _model("htnet").eval()
    batch = _batch("htnet", n=2)
    with torch.no_grad():
        fallback = model(batch).logits
        same = model({**batch, "points": torch.from_numpy(FALLBACK_POINTS).expand(2, -1, -1)}).logits
        moved = model({**batch, "points": torch.full((2, 5, 2), 14.0)}).logits
    torch.testing.assert_close(fallback, same)
    assert not torch.allclose(fallback, moved)


@pytest.mark.parametrize("name", ["htnet", "causalnet"])
def test_a_few_training_steps_lower_the_loss(name):
    model = _model(name).train()
    batch = _batch(name, n=9, seed=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
        optimiser.zero_grad()
        loss = model_loss(model, model(batch), batch)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("name", ["htnet", "causalnet"])
def test_bf16_autocast_on_cpu(name):
    model = _model(name).train()
    batch = _batch(name, n=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
        loss = model_loss(model, out, batch)
    assert torch.isfinite(out.logits.float()).all() and loss.dtype == torch.float32
    loss.backward()


def test_causalnet_needs_four_maps():
    with pytest.raises(ModelError, match="4 maps"):
        build_model("causalnet", 3, 6)
    with pytest.raises(ModelError, match="in_channels"):
        _model("causalnet")({"x": torch.zeros(2, 3, 28, 28)})


def test_recipes_state_the_authors_settings():
    htnet, causal = resolve_recipe("htnet", "paper"), resolve_recipe("causalnet", "paper")
    assert (htnet.optimizer, htnet.lr, htnet.epochs, htnet.batch_size) == ("adam", 5e-5, 800, 256)
    assert (causal.optimizer, causal.lr, causal.epochs, causal.batch_size) == ("adam", 5e-5, 200, 1024)
    assert causal.channels[:4] == ("strain", "v", "u", "strain_1") and len(causal.channels) == 12
    assert resolve_recipe("htnet", "default").hparams == {"dim": 32}


# ---------------------------------------------------------------- the four-map import (synthetic stand-ins)

RELEASE = [("casme2", "sub01", "EP02_01f"), ("samm", "006", "006_1_2"), ("smic", "s01", "s01_po_01")]
CODES = {"negative": 0, "positive": 1, "surprise": 2}


@pytest.fixture()
def maps_release(tmp_path: Path) -> Path:
    listed = official_list("megc2019")
    with open(tmp_path / "combined.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label", "apex"])
        for dataset, subject, clip in RELEASE:
            label = listed.label({"smic": "smic-hs"}.get(dataset, dataset), subject, clip) or "negative"
            writer.writerow([dataset, subject, clip, CODES[label], ""])
    folder = tmp_path / "STSNet_whole_norm_u_v_os"
    folder.mkdir()
    for number, (_, subject, clip) in enumerate(RELEASE):
        for m, suffix in enumerate(("", "_1", "_2", "_3")):
            planes = np.full((28, 28, 3), 10 * number + m, dtype=np.uint8)
            planes[..., 1] += 100
            assert cv2.imwrite(str(folder / f"{subject}_{clip}{suffix} .png"), planes)  # trailing space as released
    return tmp_path


def _import(root: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["import", str(root / "STSNet_whole_norm_u_v_os"), "--csv",
                                    str(root / "combined.csv"), "--db-map", "smic=smic-hs", "--out", str(out),
                                    *extra], catch_exceptions=False)


def test_four_map_import_stacks_the_maps_in_order(maps_release, tmp_path):
    result = _import(maps_release, tmp_path / "maps.h5")
    assert result.exit_code == 0, result.output
    features = read_features(tmp_path / "maps.h5", "imported_28")
    assert features.channels[:4] == ["u", "v", "strain", "u_1"] and len(features.channels) == 12
    data = np.asarray(features.data)
    assert data.shape == (3, 12, 28, 28)
    for number in range(3):
        for m in range(4):
            # the default pixel order names the R, G, B planes u, v, strain; map m's come at 3m..3m+2
            assert data[number, 3 * m, 0, 0] == 10 * number + m and data[number, 3 * m + 1, 0, 0] == 100 + 10 * number + m
    model = _model("causalnet").eval()
    with torch.no_grad():
        assert model({"x": torch.from_numpy(data / 255.0).float()}).logits.shape == (3, 3)


def test_four_map_import_names_a_missing_map(maps_release, tmp_path):
    (maps_release / "STSNet_whole_norm_u_v_os" / "006_006_1_2_2 .png").unlink()
    result = _import(maps_release, tmp_path / "maps.h5", "--layout", "maps")
    assert result.exit_code != 0 and "006_006_1_2_2" in result.output and "line 3" in result.output, result.output


def test_four_map_import_checks_the_official_labels(maps_release, tmp_path):
    rows = (maps_release / "combined.csv").read_text().splitlines()
    head, first = rows[0], rows[1].split(",")
    first[3] = str((int(first[3]) + 1) % 3)
    (maps_release / "combined.csv").write_text("\n".join([head, ",".join(first), *rows[2:]]) + "\n")
    result = _import(maps_release, tmp_path / "maps.h5")
    assert result.exit_code != 0 and "official" in result.output.lower()
