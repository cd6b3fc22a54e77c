import pytest
import torch
from torch.utils.data import default_collate

import xai_gan as xg
from xai_gan.explainers.lrp import batchnorm_pairs
from xai_gan.hooks import activations_and_gradients
from xai_gan.maps import gaussian_blur, minmax, otsu_threshold

METHODS = ["gradcam", "gradcam++", "xgradcam", "layercam", "eigencam", "scorecam", "lrp",
           "sise", "gfi", "gradcam-lrp", "random", "edge"]
# a few masks, steps and channels: the code paths run, at a fraction of the cost
FAST = {"sise": {"max_masks": 8}, "gfi": {"stage1_steps": 2, "stage2_steps": 3},
        "scorecam": {"max_channels": 16}}
EXPLAINERS = [m for m in METHODS if m not in ("random", "edge")]  # the reference maps ignore the CNN


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


def test_reference_maps_ignore_the_model_and_edges_follow_the_outline():
    data = xg.data.load("shapes", "test", 64, n=4, seed=0)
    images = torch.stack([data[i]["image"] for i in range(4)])
    masks = torch.stack([data[i]["mask"] for i in range(4)]).float()
    one, other = (xg.classifiers.build(name, 6, seed=0).eval() for name in ("vgg", "resnet"))
    for name in ("random", "edge"):
        explain = xg.explainers.get(name)
        torch.testing.assert_close(explain(one, images, 0), explain(other, images, 5))
    assert not torch.equal(xg.explainers.get("random", seed=1)(one, images),
                           xg.explainers.get("random")(one, images))
    # the outline: mask pixels with a background neighbour (or the reverse)
    grown = torch.nn.functional.max_pool2d(masks[:, None], 3, 1, 1)[:, 0]
    shrunk = -torch.nn.functional.max_pool2d(-masks[:, None], 3, 1, 1)[:, 0]
    outline = (grown - shrunk).clamp(0, 1)
    edge = xg.explainers.get("edge")(one, images)
    share, area = energy(edge, outline), outline.mean((1, 2))
    # above the outline's share of the image on every image, three times it on average (the
    # shapes' textured backgrounds have edges too)
    assert (share > area).all() and share.sum() > 2.5 * area.sum(), (share, area)


@pytest.mark.parametrize("arch", ["resnet18", "vgg11", "densenet121", "mobilenet_v3_small"])
def test_every_method_runs_on_torchvision_models(arch):
    model = xg.classifiers.build(f"torchvision:{arch}", 6, seed=0).eval()
    # 64 px: at 32 px these models' last maps are 1 x 1, which the explainers refuse
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for name in METHODS:
        heat = xg.explainers.get(name, **FAST.get(name, {}))(model, images)
        assert heat.shape == (1, 64, 64) and 0 <= heat.min() and heat.max() <= 1, name
        assert heat.amax() > heat.amin(), f"{name}: a constant map"


def test_energy_based_pointing_game_beats_a_uniform_map(shapes_cnn):
    model, items = shapes_cnn
    batch = default_collate(items[:24])
    uniform = batch["mask"].mean((1, 2)).mean()  # a uniform map's score
    for name in EXPLAINERS:
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


@pytest.mark.parametrize("name", [m for m in EXPLAINERS if m != "eigencam"])
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


def test_copy_is_the_representations_first_map(shapes_cnn):
    model, items = shapes_cnn
    images = torch.stack([item["image"] for item in items[:4]])
    targets = model(images).argmax(1)
    first = xg.representation.cumulative_maps(
        xg.representation.layer_gradcams(model, images, targets), 4)[:, 0]
    expected = first / first.amax((1, 2), keepdim=True).clamp_min(1e-12)
    torch.testing.assert_close(xg.explainers.get("copy")(model, images, targets), expected,
                               atol=1e-5, rtol=0)
    assert "copy" in xg.explainers.baselines()


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


# Issue 14, item 6: every explainer on every torchvision family gives a usable map or refuses.

def usable(heat):
    """(B,) bool: finite and not constant."""
    flat = heat.flatten(1)
    return torch.isfinite(flat).all(1) & (flat.amax(1) - flat.amin(1) > 1e-6)


def seeded_images(count, size):
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("arch", ["efficientnet_b0", "mobilenet_v3_large", "convnext_tiny"])
def test_lrp_conserves_relevance_through_gates_skips_and_layer_norms(arch):
    """Random-init EfficientNet-B0's activations fall to ~1e-13, and zennit's fixed 1e-6
    stabiliser let relevance underflow to exactly 0 (an all-zero map, no error);
    MobileNetV3's relevance fell to ~1e-18 and ConvNeXt's to ~1e-9 (skip sums copied to both
    branches, gates and layer scales scaling it, LayerNorm's gradient removing it). One unit
    of relevance enters at the target logit; about one must reach the input (some is lost
    where no input contributes positively)."""
    model = xg.classifiers.build(f"torchvision:{arch}", 10, seed=0).eval()
    images = seeded_images(2, 64)
    targets = torch.tensor([0, 3])
    lrp = xg.explainers.get("lrp")
    with torch.no_grad():
        before = model(images)
    total = lrp.relevance(model, images, targets).sum((1, 2, 3))
    assert ((total > 0.7) & (total < 1.3)).all(), total
    assert usable(lrp(model, images, targets)).all()
    with torch.no_grad():  # the canonizers' forwards and merged batch norms are undone
        torch.testing.assert_close(model(images), before)


def test_gradcam_lrp_hybrid_is_not_all_zero_on_efficientnet():
    model = xg.classifiers.build("torchvision:efficientnet_b0", 10, seed=0).eval()
    heat = xg.explainers.get("gradcam-lrp")(model, seeded_images(2, 64))
    assert usable(heat).all()


def test_lrp_refuses_when_no_relevance_reaches_the_input():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                                torch.nn.LazyLinear(3))
    model(seeded_images(1, 16))
    with torch.no_grad():
        model[2].weight.zero_()  # nothing flows back from the logits
    with pytest.raises(ValueError, match="no relevance reached the input for 2 of 2 images"):
        xg.explainers.get("lrp")(model, seeded_images(2, 16), torch.tensor([0, 1]))


@pytest.fixture(scope="module")
def inception():
    return xg.classifiers.build("torchvision:inception_v3", 10, seed=0).eval()


@pytest.mark.parametrize("name", ["gradcam", "eigencam", "scorecam", "gfi", "gradcam-lrp"])
def test_single_pixel_layers_are_refused_not_returned_as_zero_maps(name, inception):
    """At 96 px inception_v3's last layers are 1x1: the maps were silently all zero."""
    with pytest.raises(ValueError, match="1x1 output for 96x96 px images"):
        xg.explainers.get(name, **FAST.get(name, {}))(inception, seeded_images(1, 96))


def one_pixel_head(size=32):
    """A conv, then a conv whose output is a single pixel, then a dense layer."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 8, size // 2), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(8, 3)).eval()


def test_sise_skips_single_pixel_layers_instead_of_fusing_them():
    """A 1x1 layer's masks are constant: its layer map was flat (and then zeroed the fused map)
    or float noise scaled up to [0, 1]. Now the map is that of the other layer alone."""
    model, images = one_pixel_head(), seeded_images(3, 32)
    sise = xg.explainers.get("sise")
    heat = sise(model, images)
    _, activations, gradients, targets = activations_and_gradients(model, images)
    for b in range(len(images)):
        first_layer = sise._layer_map(model, images[b], int(targets[b]), activations[0][b],
                                      gradients[0][b])
        torch.testing.assert_close(heat[b], first_layer)
    only_one_pixel = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 32), torch.nn.Flatten(),
                                         torch.nn.Linear(4, 3))
    with pytest.raises(ValueError, match="single-pixel output for 32x32 px"):
        sise(only_one_pixel, seeded_images(1, 32))


def test_sise_refuses_when_every_masked_image_scores_the_same():
    """Random-init inception_v3's logits reach 1e11: the softmax gave every masked image
    probability 1, every layer map was flat, and the map was all zeros."""
    model = one_pixel_head()
    with torch.no_grad():
        model[-1].bias.copy_(torch.tensor([1e9, 0.0, 0.0]))  # class 0 wins, saturated
    with pytest.raises(ValueError, match="for 3 of 3 images on Sequential every masked image "
                                         "got the same class probability"):
        xg.explainers.get("sise")(model, seeded_images(3, 32))


def test_scorecam_top_variance_channels_and_no_progress_bar_per_image(tiny, capfd):
    model, images = tiny
    full = xg.explainers.get("scorecam")(model, images)
    assert capfd.readouterr().err == ""  # pytorch-grad-cam's own bars are silenced
    import pytorch_grad_cam.score_cam as score_cam
    assert score_cam.tqdm.__name__ == "tqdm"  # and its tqdm given back
    channels = xg.classifiers.conv_layers(model)[-1][1].out_channels
    every = xg.explainers.get("scorecam", max_channels=channels, batch_size=7)(model, images)
    torch.testing.assert_close(every, full)  # keeping all channels is plain Score-CAM
    few = xg.explainers.get("scorecam", max_channels=4)(model, images)
    assert torch.isfinite(few).all() and not torch.allclose(few, full)


@pytest.mark.parametrize("name", ["gradcam", "layercam", "lrp", "gradcam-lrp"])
def test_gradient_explainers_work_under_no_grad(name, tiny):
    model, images = tiny
    expected = xg.explainers.get(name)(model, images)
    with torch.no_grad():
        torch.testing.assert_close(xg.explainers.get(name)(model, images), expected)


def test_cam_default_layer_of_torchvision_models_is_the_pooled_feature_block():
    """DenseNet's last conv is one 32-channel branch of the 1024 channels its head reads: at
    224 px Grad-CAM on it gave all-zero maps for every one of these random-init images."""
    from xai_gan.layers import feature_block

    densenet = xg.classifiers.build("torchvision:densenet121", 10, seed=0).eval()
    inception = xg.classifiers.build("torchvision:inception_v3", 10, seed=0)
    resnet = xg.classifiers.build("torchvision:resnet18", 10, seed=0)
    assert feature_block(densenet) == ("features", densenet.features)
    assert feature_block(inception) == ("Mixed_7c", inception.Mixed_7c)
    assert feature_block(resnet) == ("layer4", resnet.layer4)
    vgg = xg.classifiers.build("torchvision:vgg11", 10, seed=0)
    assert feature_block(vgg) == ("features.19", vgg.features[-2])  # the last ReLU, not the pool
    zoo = xg.classifiers.build("resnet", 6, seed=0)  # its last conv is a skip projection
    assert feature_block(zoo) == ("features", zoo.features)
    assert feature_block(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))) is None
    noise = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    smooth = minmax(gaussian_blur(noise, 14.0))  # blobs, as benchmarks/families.py uses
    assert usable(xg.explainers.get("gradcam")(densenet, smooth)).all()
