"""Pretrained-style models and large photos: the model owns its input transform, the CNN's
input size and the GAN's map size are separate."""
import copy

import pytest
import torch
import torchvision

import xai_gan as xg
from xai_gan.gan import TrainConfig, train

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def wrapped_and_bare():
    """The same weights twice: one model normalises its [0, 1] input, one does not."""
    wrapped = xg.classifiers.build("resnet", 6, seed=0, mean=MEAN, std=STD).eval()
    bare = xg.classifiers.build("resnet", 6, seed=0).eval()
    bare.load_state_dict(wrapped.state_dict())
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return wrapped, bare, images


def normalised(images):
    return (images - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


@pytest.mark.parametrize("method", xg.explainers.baselines())
def test_wrapped_model_explains_like_a_bare_copy_fed_normalised_images(wrapped_and_bare, method):
    wrapped, bare, images = wrapped_and_bare
    targets = torch.tensor([0, 3, 5])
    explain = xg.explainers.get(method)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ours = explain(wrapped, images, targets)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        theirs = explain(bare, normalised(images), targets)
    assert ours.abs().amax() > 0  # not two empty maps agreeing
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=0)


def test_wrapped_model_gives_the_same_logits_and_layer_maps(wrapped_and_bare):
    wrapped, bare, images = wrapped_and_bare
    torch.testing.assert_close(xg.classifiers.predict(wrapped, images),
                               xg.classifiers.predict(bare, normalised(images)))
    torch.testing.assert_close(xg.representation.layer_gradcams(wrapped, images, 1),
                               xg.representation.layer_gradcams(bare, normalised(images), 1),
                               atol=1e-5, rtol=0)


def test_pre_normalised_images_are_refused_by_a_wrapped_model(wrapped_and_bare):
    wrapped, _, images = wrapped_and_bare
    with pytest.raises(ValueError, match=r"normalises its own input.*pass images in \[0, 1\]"):
        xg.explainers.get("gradcam")(wrapped, normalised(images))


def test_checkpoint_records_the_transform_and_loading_restores_it(wrapped_and_bare, tmp_path):
    wrapped, _, images = wrapped_and_bare
    xg.classifiers.save_checkpoint(tmp_path / "m.pt", wrapped)
    loaded = xg.classifiers.load_checkpoint(tmp_path / "m.pt", device="cpu")["model"]
    assert loaded.xai_gan_spec["mean"] == MEAN and loaded.xai_gan_spec["std"] == STD
    torch.testing.assert_close(xg.classifiers.predict(loaded, images),
                               xg.classifiers.predict(wrapped, images))
    assert "xai_gan_input.mean" not in loaded.state_dict()  # the spec holds it, not the weights
    with pytest.raises(ValueError, match="holds"):  # a bare model of the same name is another
        xg.classifiers.load_checkpoint(tmp_path / "m.pt", xg.classifiers.build("resnet", 6))
    with pytest.raises(ValueError, match="both mean and std"):
        xg.classifiers.build("resnet", 6, mean=MEAN)
    with pytest.raises(ValueError, match="need 1 values"):
        xg.classifiers.build("resnet", 6, in_channels=1, mean=MEAN, std=STD)


def test_a_deep_copy_keeps_the_transform(wrapped_and_bare):
    wrapped, _, images = wrapped_and_bare
    twin = copy.deepcopy(wrapped)  # the randomisation metrics copy the model
    torch.testing.assert_close(twin(images), wrapped(images))


@pytest.fixture
def offline_weights(monkeypatch):
    """torchvision's weights without the download: a seeded random state dict of the
    1000-class model stands in for the file (the stand-in Colab's users never see)."""
    def state_dict(self, *args, **kwargs):
        arch = self.url.rsplit("/", 1)[-1].split("-")[0]
        torch.manual_seed(0)
        return torchvision.models.get_model(arch, weights=None).state_dict()
    monkeypatch.setattr(torchvision.models._api.WeightsEnum, "get_state_dict", state_dict)


@pytest.mark.parametrize("channels, mean", [(3, MEAN), (1, [sum(MEAN) / 3])])
def test_torchvision_weights_set_the_transform_and_a_new_head(offline_weights, channels, mean):
    model = xg.classifiers.build("torchvision:resnet18", 4, channels, weights="DEFAULT", seed=0)
    assert model.fc.out_features == 4 and model.xai_gan_spec["mean"] == pytest.approx(mean)
    images = torch.rand(2, channels, 64, 64)
    probs = xg.classifiers.predict(model, images)
    assert probs.shape == (2, 4) and torch.allclose(probs.sum(1), torch.ones(2))
    inner = model.xai_gan_input
    with xg.inputs.model_input(model, images) as inputs:  # what the first conv sees
        torch.testing.assert_close(inputs, (images - inner.mean) / inner.std)
    assert xg.classifiers.build("torchvision:resnet18", 4, seed=0).xai_gan_spec.get("mean") is None


# ------------------------------------------------------------------ input size vs map size

@pytest.fixture(scope="module")
def big_images():
    return xg.data.load("shapes", "val", 96, n=12, seed=3)


def test_store_runs_the_cnn_at_its_size_and_keeps_maps_at_map_size(big_images, tmp_path):
    model = xg.classifiers.build("resnet", 6, seed=0)
    store = xg.store.build(model, big_images, tmp_path / "s", k=4, map_size=32,
                           batch_size=6, progress=False)
    item = store[0]
    assert store.image_size == 96 and store.map_size == 32
    assert item["image"].shape == (3, 32, 32) and item["conditions"].shape == (4, 32, 32)
    assert item["teacher_map"].shape == (32, 32) and item["mask"].shape == (32, 32)
    images = torch.stack([big_images[i]["image"] for i in range(2)])
    full = xg.representation.layer_gradcams(model, images)  # at 96 px, then shrunk
    small = xg.representation.layer_gradcams(model, images, size=32)
    assert full.shape[-1] == 96 and small.shape[-1] == 32
    deepest = xg.representation.cumulative_maps(small, 4)[:, 0]
    torch.testing.assert_close(store[0]["conditions"][0], deepest[0], atol=2e-3, rtol=0)
    assert (xg.maps.pearson(xg.maps.resize(full[:, -1], 32), small[:, -1]) > 0.95).all()


def test_gan_trains_at_map_size_and_explains_at_the_callers_size(big_images, tmp_path):
    model = xg.classifiers.build("resnet", 6, seed=0)
    stores = [xg.store.build(model, big_images, tmp_path / name, k=4, map_size=32,
                             batch_size=6, progress=False) for name in ("train", "val")]
    result = train(stores[0], stores[1], TrainConfig(out_dir=tmp_path / "gan", epochs=1,
                                                     batch_size=4, progress=False))
    gan = xg.gan.GANExplainer.from_checkpoint(result.best_path)
    assert gan.map_size == 32 and gan.k == 4
    images = torch.stack([big_images[i]["image"] for i in range(3)])
    assert gan(model, images).shape == (3, 96, 96)
    assert gan(model, xg.maps.resize(images, 64)).shape == (3, 64, 64)
    with pytest.raises(ValueError, match="map_size = 32, not map_size = 16"):
        xg.gan.GANExplainer.from_checkpoint(result.best_path, map_size=16)


@pytest.mark.parametrize("size, expected", [(48, 48), (64, 64), (224, 64)])
def test_map_size_defaults_to_the_image_size_up_to_64(size, expected):
    config = xg.RunConfig(dataset="imagefolder", image_size=size, profile="full")
    assert config.map_size == expected
    with pytest.raises(ValueError, match="map_size must be from 8"):
        xg.RunConfig(image_size=48, map_size=96, profile="full")
    # the main job's profile works at 32 px maps, where the GAN costs under 2x Grad-CAM, and
    # so does ci's (a quarter of the GAN's training time)
    for profile in ("main", "ci"):
        assert xg.RunConfig(dataset="imagefolder", image_size=size, profile=profile).map_size == 32


def test_resize_keeps_the_range_and_leaves_same_size_alone():
    maps = torch.rand(2, 5, 50, 50)
    assert xg.maps.resize(maps, 50) is maps
    small = xg.maps.resize(maps, 17)
    assert small.shape == (2, 5, 17, 17) and small.min() >= 0 and small.max() <= 1


def test_the_transform_is_not_a_child_module(wrapped_and_bare):
    wrapped, bare, _ = wrapped_and_bare
    assert len(list(wrapped.children())) == len(list(bare.children()))
    assert wrapped.state_dict().keys() == bare.state_dict().keys()
