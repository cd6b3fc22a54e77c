import pytest
import torch

import xai_gan as xg

CAMS = ["gradcam", "gradcam++", "xgradcam", "layercam", "eigencam", "scorecam"]


@pytest.fixture(scope="module")
def setup():
    ds = xg.data.load("shapes", "test", 32, n=4, seed=0)
    images = torch.stack([ds[i]["image"] for i in range(4)])
    return xg.classifiers.build("vgg", 6, seed=0), images


@pytest.mark.parametrize("name", CAMS)
def test_cam_family_shape_range_and_hooks(name, setup):
    model, images = setup
    heat = xg.explainers.get(name)(model, images)
    assert heat.shape == (4, 32, 32) and heat.dtype == torch.float32
    assert heat.min() >= 0 and heat.max() <= 1
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_gradcam_equals_the_last_layer_of_layer_gradcams(setup):
    model, images = setup
    heat = xg.explainers.get("gradcam")(model, images)
    maps = xg.representation.layer_gradcams(model, images)
    for b in range(len(images)):
        a, c = heat[b].flatten(), maps[b, -1].flatten()
        if a.max() > 0:
            assert torch.corrcoef(torch.stack([a, c]))[0, 1] > 0.99


def test_target_layer_can_be_chosen(setup):
    model, images = setup
    first = xg.classifiers.conv_layers(model)[0][0]
    shallow = xg.explainers.get("gradcam", target_layer=first)(model, images)
    assert not torch.allclose(shallow, xg.explainers.get("gradcam")(model, images))


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown explainer 'magic'"):
        xg.explainers.get("magic")
    with pytest.raises(ValueError, match="registered twice"):
        xg.explainers.register("gradcam")(type("Again", (xg.explainers.Explainer,), {}))
    assert set(CAMS) <= set(xg.explainers.available())
