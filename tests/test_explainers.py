import pytest
import torch
from torch.utils.data import default_collate

import xai_gan as xg
from xai_gan.explainers.lrp import batchnorm_pairs
from xai_gan.maps import gaussian_blur, minmax, otsu_threshold

METHODS = ["gradcam", "gradcam++", "xgradcam", "layercam", "eigencam", "scorecam", "lrp",
           "sise", "gfi", "gradcam-lrp"]
FAST = {"sise": {"max_masks": 8}, "gfi": {"stage1_steps": 2, "stage2_steps": 3}}


def energy(heat, mask):
    return (heat * mask).sum((1, 2)) / heat.sum((1, 2)).clamp_min(1e-12)


@pytest.fixture(scope="module")
def tiny():
    ds = xg.data.load("shapes", "test", 32, n=3, seed=0)
    return xg.classifiers.build("resnet", 6, seed=0).eval(), torch.stack([ds[i]["image"]
                                                                          for i in range(3)])


def test_registry_lists_every_method():
    assert set(METHODS) <= set(xg.explainers.available())
    with pytest.raises(ValueError, match="unknown explainer 'magic'"):
        xg.explainers.get("magic")
    with pytest.raises(ValueError, match="registered twice"):
        xg.explainers.register("gradcam")(type("Again", (xg.explainers.Explainer,), {}))


@pytest.mark.parametrize("name", METHODS)
def test_shape_range_determinism_and_clean_model(name, tiny):
    model, images = tiny
    with torch.no_grad():
        before = model(images)
    explain = xg.explainers.get(name, **FAST.get(name, {}))
    heat = explain(model, images)
    assert heat.shape == (3, 32, 32) and heat.dtype == torch.float32
    assert heat.min() >= 0 and heat.max() <= 1 and torch.isfinite(heat).all()
    torch.testing.assert_close(heat, explain(model, images))  # deterministic
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                for m in model.modules())
    assert hooks == 0, "hooks were left on the model"
    with torch.no_grad():
        torch.testing.assert_close(model(images), before)  # e.g. LRP's BN merge is undone
    with pytest.raises(ValueError, match="NaN"):
        explain(model, images * float("nan"))


@pytest.mark.parametrize("arch", ["resnet18", "vgg11", "densenet121", "mobilenet_v3_small"])
def test_every_method_runs_on_torchvision_models(arch):
    model = xg.classifiers.build(f"torchvision:{arch}", 6, seed=0).eval()
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for name in METHODS:
        heat = xg.explainers.get(name, **FAST.get(name, {}))(model, images)
        assert heat.shape == (1, 32, 32) and 0 <= heat.min() and heat.max() <= 1, name


def test_energy_based_pointing_game_beats_a_uniform_map(shapes_cnn):
    model, items = shapes_cnn
    batch = default_collate(items[:24])
    uniform = batch["mask"].mean((1, 2)).mean()  # a uniform map's score
    for name in METHODS:
        heat = xg.explainers.get(name)(model, batch["image"])
        assert energy(heat, batch["mask"]).mean() > uniform, name


def two_object_images(items, count=12):
    """Class A's scene with class B's object pasted where it overlaps nothing of A's."""
    pairs = [(a, b) for i, a in enumerate(items) for b in items[i + 1:]
             if a["label"] != b["label"] and (a["mask"] * b["mask"]).sum() == 0][:count]
    images = torch.stack([a["image"] * (1 - b["mask"]) + b["image"] * b["mask"]
                          for a, b in pairs])
    stack = lambda key, j: torch.stack([p[j][key] for p in pairs])  # noqa: E731
    return images, (stack("mask", 0), stack("mask", 1)), (
        torch.tensor([p[0]["label"] for p in pairs]), torch.tensor([p[1]["label"] for p in pairs]))


@pytest.mark.parametrize("name", [m for m in METHODS if m != "eigencam"])
def test_explaining_each_class_points_at_its_own_object(name, shapes_cnn):
    model, items = shapes_cnn
    images, (mask_a, mask_b), (class_a, class_b) = two_object_images(items)
    explain = xg.explainers.get(name)
    heat_a, heat_b = explain(model, images, class_a), explain(model, images, class_b)
    assert (heat_a - heat_b).abs().mean() > 0.01  # different maps for different classes
    own = (energy(heat_a, mask_a) - energy(heat_a, mask_b)).mean()
    own += (energy(heat_b, mask_b) - energy(heat_b, mask_a)).mean()
    assert own > 0, "on average each map should sit nearer the object of its class"


def test_eigencam_is_class_agnostic_by_design(shapes_cnn):
    """EigenCAM is the first principal component of the activations: the target plays no part."""
    model, items = shapes_cnn
    images, _, (class_a, class_b) = two_object_images(items, count=4)
    explain = xg.explainers.get("eigencam")
    torch.testing.assert_close(explain(model, images, class_a), explain(model, images, class_b))


def test_cam_target_layer_can_be_chosen(tiny):
    model, images = tiny
    first = xg.classifiers.conv_layers(model)[0][0]
    shallow = xg.explainers.get("gradcam", target_layer=first)(model, images)
    assert not torch.allclose(shallow, xg.explainers.get("gradcam")(model, images))


def test_gradcam_equals_the_last_layer_of_layer_gradcams(tiny):
    model, images = tiny
    heat = xg.explainers.get("gradcam")(model, images)
    maps = xg.representation.layer_gradcams(model, images)
    for b in range(len(images)):
        if heat[b].max() > 0:
            pair = torch.stack([heat[b].flatten(), maps[b, -1].flatten()])
            assert torch.corrcoef(pair)[0, 1] > 0.99


def test_hybrid_threshold_and_blur_are_exposed(shapes_cnn):
    model, items = shapes_cnn
    images = default_collate(items[:4])["image"]
    default = xg.explainers.get("gradcam-lrp")(model, images)
    sharp = xg.explainers.get("gradcam-lrp", sigma=0)(model, images)
    strict = xg.explainers.get("gradcam-lrp", threshold=0.9)(model, images)
    assert not torch.allclose(default, sharp) and not torch.allclose(default, strict)
    assert (strict > 0).float().mean() < (default > 0).float().mean()


def test_lrp_merges_only_batch_norms_that_normalise_their_layer():
    densenet = xg.classifiers.build("torchvision:densenet121", 6, seed=0)
    assert batchnorm_pairs(densenet) == [(("features.conv0",), "features.norm0")]
    vgg = xg.classifiers.build("vgg", 6, seed=0)
    assert len(batchnorm_pairs(vgg)) == len(xg.classifiers.conv_layers(vgg))


def test_ops():
    torch.manual_seed(0)
    bimodal = torch.cat([torch.rand(1, 32, 16) * 0.2, 0.7 + torch.rand(1, 32, 16) * 0.3], -1)
    threshold = float(otsu_threshold(bimodal))
    assert 0.2 <= threshold < 0.7
    flat = torch.full((1, 3, 16, 16), 0.4)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)
    blurred = gaussian_blur(torch.rand(1, 1, 16, 16), 1.5)
    assert blurred.std() < 0.2
    assert minmax(torch.full((2, 4, 4), 3.0)).abs().max() == 0
    scaled = minmax(torch.rand(2, 5, 5))
    assert scaled.amin((1, 2)).eq(0).all() and scaled.amax((1, 2)).eq(1).all()
