"""Registry, shapes, gradients, overfitting, determinism and RI behaviour of occmer.models."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from occmer.errors import ModelError
from occmer.models import MODELS, ModelOutput, build_model, model_hparams, model_loss
from occmer.models.losses import region_biased_loss
from occmer.models.regions import REGION_NAMES, grid_boxes

torch.set_num_threads(1)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "models.md"
REGION_MODELS = ("rrrn", "rrrn-no-ri", "rrrn-no-rr", "ran")
WEIGHTED_MODELS = ("rrrn", "rrrn-no-rr", "ran")
# Small but architecture-preserving settings so CPU tests stay fast.
SMALL = {
    "rrrn": {"width": 8, "dim": 32},
    "rrrn-no-ri": {"width": 8, "dim": 32},
    "rrrn-no-rr": {"width": 8, "dim": 32},
    "rrrn-backbone": {"width": 8},
    "ran": {"width": 8},
    "resnet18": {"width": 8},
    "offapexnet": {"hidden": 64},
    "dual-inception": {"hidden": 64},
    "ststnet": {},
    "htnet": {"dim": 8, "block_repeats": (1, 1, 2)},
}
SMALL_SIZE = {"ststnet": 28, "offapexnet": 28, "dual-inception": 28, "htnet": 28}
MULTI_MAP = ("causalnet",)  # four maps per sample: tested in tests/test_models_transformers.py

# Boxes of a stylised face on the unit square, in REGION_NAMES order (global node last).
DEMO_BOXES = np.array(
    [
        [0.15, 0.10, 0.45, 0.30], [0.55, 0.10, 0.85, 0.30],  # brows
        [0.15, 0.25, 0.45, 0.45], [0.55, 0.25, 0.85, 0.45],  # eyes
        [0.35, 0.35, 0.65, 0.65],  # nose
        [0.25, 0.65, 0.75, 0.88],  # mouth
        [0.05, 0.45, 0.35, 0.75], [0.65, 0.45, 0.95, 0.75],  # cheeks
        [0.30, 0.82, 0.70, 1.00],  # chin
        [0.0, 0.0, 1.0, 1.0],  # face
    ],
    dtype=np.float32,
)
# Where each demo class moves: brows up, mouth corners out, cheeks up.
DEMO_MOTION = {0: ("right_brow", "left_brow"), 1: ("mouth",), 2: ("right_cheek", "left_cheek")}


def demo_batch(size: int, per_class: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """Flow-like maps (u, v, strain): a Gaussian motion blob in the class's regions plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    xs, labels = [], []
    for label, parts in DEMO_MOTION.items():
        for _ in range(per_class):
            flow = rng.normal(0, 0.05, size=(3, size, size))
            for part in parts:
                x0, y0, x1, y1 = DEMO_BOXES[REGION_NAMES.index(part)]
                cx, cy = (x0 + x1) / 2 + rng.normal(0, 0.02), (y0 + y1) / 2 + rng.normal(0, 0.02)
                blob = rng.uniform(0.7, 1.3) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 0.07**2))
                flow[0] += blob * np.sign(cx - 0.5) * (label == 1)
                flow[1] -= blob * (label != 1)
                flow[2] += blob
            xs.append(flow)
            labels.append(label)
    n = len(labels)
    return {
        "x": torch.tensor(np.array(xs), dtype=torch.float32),
        "regions": torch.from_numpy(DEMO_BOXES).expand(n, -1, -1).clone(),
        "occlusion": torch.zeros(n, 1, size, size),
        "label": torch.tensor(labels, dtype=torch.int64),
    }


def small_model(name: str, seed: int = 0, **extra):
    return build_model(name, 3, 3, SMALL_SIZE.get(name, 32), seed=seed, **{**SMALL[name], **extra})


def test_registry_lists_every_model_with_its_contract():
    assert set(MODELS) == set(SMALL) | set(MULTI_MAP)
    for name, cls in MODELS.items():
        assert cls.name == name
        assert isinstance(cls.default_input_size, int)
        assert isinstance(cls.uses_regions, bool) and isinstance(cls.uses_occlusion, bool)
    assert {n for n, c in MODELS.items() if c.uses_regions} == set(REGION_MODELS) | {"htnet"}
    assert MODELS["ststnet"].default_input_size == 28 and MODELS["rrrn"].default_input_size == 112


def test_unknown_model_and_hparam_are_model_errors():
    with pytest.raises(ModelError, match="rrrn"):
        build_model("nope", 3, 3)
    with pytest.raises(ModelError, match="accepts"):
        build_model("ststnet", 3, 3, depth=4)
    assert "gcn_layers" in model_hparams("rrrn")


@pytest.mark.parametrize(
    "name, size",
    [(n, s) for n in ("rrrn", "rrrn-no-ri", "rrrn-no-rr", "rrrn-backbone", "ran") for s in (28, 112)]
    + [("resnet18", 48), ("resnet18", 112)]
    + [(n, s) for n in ("ststnet", "offapexnet", "dual-inception") for s in (28, 48)],
)
def test_output_shapes(name, size):
    model = build_model(name, 5, 3, size, seed=1).eval()
    batch = demo_batch(size, per_class=1)
    with torch.no_grad():
        out = model(batch)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (3, 5) and torch.isfinite(out.logits).all()
    if name in WEIGHTED_MODELS:
        assert out.extras["region_weights"].shape == (3, len(REGION_NAMES))
    if name in ("rrrn", "rrrn-no-ri"):
        assert out.extras["adjacency"].shape == (3, len(REGION_NAMES), len(REGION_NAMES))
        torch.testing.assert_close(out.extras["adjacency"].sum(-1), torch.ones(3, len(REGION_NAMES)))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_gradients_reach_every_parameter(name):
    extra = {"use_occlusion": True} if name == "rrrn" else {}
    model = small_model(name, **extra).train()
    batch = demo_batch(model.input_size, per_class=2)
    batch["occlusion"][:, :, :8] = 1.0
    # margin 1 keeps the region-biased term active so its gradient path is exercised too
    model_loss(model, model(batch), batch, margin=1.0).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_overfits_a_tiny_demo_batch(name):
    model = small_model(name)
    batch = demo_batch(model.input_size, per_class=3, seed=3)
    torch.manual_seed(0)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    accuracy = 0.0
    for step in range(120):
        model.train()
        optim.zero_grad()
        model_loss(model, model(batch), batch).backward()
        optim.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                accuracy = (model(batch).logits.argmax(1) == batch["label"]).float().mean().item()
            if accuracy == 1.0:
                break
    assert accuracy == 1.0


@pytest.mark.parametrize("name", ["rrrn", "ran", "ststnet", "dual-inception"])
def test_same_seed_same_weights_and_outputs(name):
    a, b, c = small_model(name, seed=7).eval(), small_model(name, seed=7).eval(), small_model(name, seed=8).eval()
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(va, vb, msg=ka)
    batch = demo_batch(a.input_size, per_class=1)
    with torch.no_grad():
        torch.testing.assert_close(a(batch).logits, b(batch).logits)
        assert not torch.allclose(a(batch).logits, c(batch).logits)


def test_build_with_seed_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small_model("ststnet", seed=5)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", WEIGHTED_MODELS)
def test_region_weights_are_in_unit_interval_and_react_to_their_region(name):
    model = small_model(name, seed=2).eval()
    batch = demo_batch(model.input_size, per_class=1)
    with torch.no_grad():
        weights = model(batch).extras["region_weights"]
        assert ((weights > 0) & (weights < 1)).all()
        size = model.input_size
        for k in (REGION_NAMES.index("mouth"), REGION_NAMES.index("right_brow")):
            x0, y0, x1, y1 = (DEMO_BOXES[k] * size).round().astype(int)
            masked = dict(batch, x=batch["x"].clone())
            masked["x"][:, :, y0:y1, x0:x1] = 0
            changed = model(masked).extras["region_weights"]
            assert (changed[:, k] - weights[:, k]).abs().min() > 1e-6


def test_rrrn_with_occlusion_input_lowers_the_weight_of_covered_regions():
    model = small_model("rrrn", use_occlusion=True).eval()
    assert model.uses_occlusion and not MODELS["rrrn"].uses_occlusion
    batch = demo_batch(model.input_size, per_class=1)
    covered = dict(batch, occlusion=batch["occlusion"].clone())
    covered["occlusion"][:, :, : model.input_size // 2] = 1.0  # upper half: brows and eyes hidden
    with torch.no_grad():
        clear = model(batch).extras["region_weights"]
        hidden = model(covered).extras["region_weights"]
    for part in ("right_brow", "left_brow", "right_eye", "left_eye"):
        k = REGION_NAMES.index(part)
        assert (hidden[:, k] < clear[:, k]).all()
    chin = REGION_NAMES.index("chin")
    torch.testing.assert_close(hidden[:, chin], clear[:, chin], atol=1e-4, rtol=0)


def test_region_models_fall_back_to_a_grid_without_regions():
    model = small_model("rrrn").eval()
    batch = demo_batch(model.input_size, per_class=1)
    del batch["regions"]
    with torch.no_grad():
        assert model(batch).extras["region_weights"].shape == (3, 10)


@pytest.mark.parametrize(
    "name, change, match",
    [
        ("ststnet", {"x": torch.zeros(2, 3, 32, 32)}, "input_size"),
        ("ststnet", {"x": torch.zeros(2, 2, 28, 28)}, "in_channels"),
        ("rrrn", {"regions": torch.zeros(2, 10, 3)}, "regions"),
        ("rrrn", {"regions": torch.from_numpy(grid_boxes(2, 2)).expand(2, -1, -1)}, "prior"),
    ],
)
def test_bad_batches_raise_model_errors_with_the_fix(name, change, match):
    model = small_model(name).eval()
    batch = {**demo_batch(model.input_size, per_class=1), **change}
    batch["x"] = batch["x"][:2] if "x" not in change else batch["x"]
    batch["regions"] = batch["regions"][:2]
    with pytest.raises(ModelError, match=match):
        model(batch)


def test_prior_none_accepts_any_number_of_regions():
    model = small_model("rrrn", prior="none").eval()
    batch = demo_batch(model.input_size, per_class=1)
    batch["regions"] = torch.from_numpy(grid_boxes(2, 2)).expand(3, -1, -1)
    with torch.no_grad():
        assert model(batch).extras["region_weights"].shape == (3, 5)


@pytest.mark.parametrize("name, kwargs", [("offapexnet", {"in_channels": 1}), ("rrrn", {"prior": "ring"})])
def test_impossible_configurations_are_model_errors(name, kwargs):
    in_channels = kwargs.pop("in_channels", 3)
    with pytest.raises(ModelError):
        build_model(name, 3, in_channels, **kwargs)


def test_region_biased_loss_matches_its_definition():
    weights = torch.tensor([[0.2, 0.9, 0.5], [0.3, 0.31, 0.3]])
    # sample 1: 0.9 - 0.5 > margin -> 0; sample 2: 0.02 - (0.31 - 0.30) = 0.01
    assert region_biased_loss(weights, 0.02).item() == pytest.approx(0.005, abs=1e-6)


def test_loss_options_change_the_loss():
    model = small_model("rrrn").eval()
    batch = demo_batch(model.input_size, per_class=1)
    out = model(batch)
    terms = model.loss_terms(out, batch, margin=1.0)
    assert terms["total"].item() == pytest.approx((terms["ce"] + terms["region_bias"]).item(), rel=1e-5)
    assert model_loss(model, out, batch, region_bias=0.0).item() == pytest.approx(terms["ce"].item(), rel=1e-6)
    smoothed = model_loss(model, out, batch, region_bias=0.0, label_smoothing=0.3)
    weighted = model_loss(model, out, batch, region_bias=0.0, class_weights=torch.tensor([5.0, 1.0, 1.0]))
    assert smoothed.item() != pytest.approx(terms["ce"].item())
    assert weighted.item() != pytest.approx(terms["ce"].item())
    assert "region_bias" not in small_model("rrrn-no-ri").loss_terms(small_model("rrrn-no-ri")(batch), batch)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_models_run_under_bf16_autocast(name):
    model = small_model(name).train()
    batch = demo_batch(model.input_size, per_class=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
        loss = model_loss(model, out, batch)
    assert torch.isfinite(out.logits.float()).all() and loss.dtype == torch.float32
    loss.backward()


def _documented_counts() -> dict[str, int]:
    rows = re.findall(r"^\|\s*`([\w-]+)`\s*\|[^\n]*\|\s*([\d,]+)\s*\|\s*$", DOCS.read_text(), flags=re.M)
    return {name: int(count.replace(",", "")) for name, count in rows}


def test_parameter_counts_match_docs():
    documented = _documented_counts()
    assert set(documented) == set(MODELS), "docs/models.md must list every registered model"
    for name in MODELS:
        model = build_model(name, 3, 3 * MODELS[name].input_maps)
        assert sum(p.numel() for p in model.parameters()) == documented[name], name


def test_ststnet_reference_layout_matches_the_public_code():
    """conv1-3 (padding 2), bn1-3, fc as in christy1206/STSTNet main.py: ReLU before BN, 400 fc inputs."""
    model = build_model("ststnet", 3, 3, seed=0).eval()
    names = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert names["conv1.weight"] == (3, 3, 3, 3) and names["conv3.weight"] == (8, 3, 3, 3)
    assert names["fc.weight"] == (3, 400) and "bn2.running_var" in names
    assert model.conv1.padding == (2, 2)
    x = torch.randn(2, 3, 28, 28) * 50 + 128
    with torch.no_grad():
        s1 = model.maxpool(model.bn1(torch.relu(model.conv1(x))))
        s2 = model.maxpool(model.bn2(torch.relu(model.conv2(x))))
        s3 = model.maxpool(model.bn3(torch.relu(model.conv3(x))))
        expected = model.fc(model.avgpool(torch.cat([s1, s2, s3], 1)).flatten(1))
        torch.testing.assert_close(model({"x": x}).logits, expected)


def test_ststnet_paper_variant_and_bad_variant():
    paper = build_model("ststnet", 3, 3, variant="paper", seed=0)
    assert paper.conv1.padding == (1, 1)
    assert sum(p.numel() for p in paper.parameters()) == 1683
    with pytest.raises(ModelError, match="variant"):
        build_model("ststnet", 3, 3, variant="keras")
