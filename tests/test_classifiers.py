import pytest
import torch
from torch import nn

import xai_gan as xg
from xai_gan.zoo import ZOO

TORCHVISION = {  # name: (conv layers in eval-mode forward order, first, last)
    "resnet18": (20, "conv1", "layer4.1.conv2"),
    "vgg11": (8, "features.0", "features.18"),
    "densenet121": (120, "features.conv0", "features.denseblock4.denselayer16.conv2"),
    "mobilenet_v3_small": (52, "features.0.0", "features.12.0"),
    "efficientnet_b0": (81, "features.0.0", "features.8.0"),
    "inception_v3": (94, "Conv2d_1a_3x3.conv", "Mixed_7c.branch_pool.conv"),
}


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3), (128, 3)])
def test_zoo_models_classify_any_supported_size(name, size, channels):
    torch.manual_seed(0)
    model = xg.classifiers.build(name, num_classes=7, in_channels=channels).eval()
    with torch.no_grad():
        assert model(torch.rand(2, channels, size, size)).shape == (2, 7)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_conv_layers_are_all_convs_in_forward_order(name):
    model = xg.classifiers.build(name, num_classes=6)
    layers = xg.classifiers.conv_layers(model)
    all_convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert sorted(n for n, _ in layers) == sorted(all_convs)  # every conv runs in forward
    assert layers[0][0] == "features.0.0"  # the stem
    assert all(isinstance(m, nn.Conv2d) for _, m in layers)
    # forward order: the top-level stage index never decreases
    stages = [int(n.split(".")[1]) for n, _ in layers]
    assert stages == sorted(stages) and len(layers) >= 8


def test_conv_layers_follow_execution_not_registration():
    class Backwards(nn.Module):
        def __init__(self):
            super().__init__()
            self.late = nn.Conv2d(4, 4, 3, padding=1)
            self.early = nn.Conv2d(3, 4, 3, padding=1)
            self.unused = nn.Conv2d(3, 4, 1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.late(self.early(x)).mean((2, 3)))

    model = Backwards().train()
    assert [n for n, _ in xg.classifiers.conv_layers(model, image_size=32)] == ["early", "late"]
    assert model.training, "conv_layers must restore the model's mode"


@pytest.mark.parametrize("arch", sorted(TORCHVISION))
def test_torchvision_conv_layers(arch):
    torch.manual_seed(0)
    model = xg.classifiers.build(f"torchvision:{arch}", num_classes=5)
    count, first, last = TORCHVISION[arch]
    names = [n for n, _ in xg.classifiers.conv_layers(model)]
    assert (len(names), names[0], names[-1]) == (count, first, last)
    assert len(set(names)) == count and not any("AuxLogits" in n for n in names)


def test_torchvision_head_and_grey_input():
    model = xg.classifiers.build("torchvision:resnet18", num_classes=4, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 64, 64)).shape == (2, 4)


def test_torchvision_weights_are_passed_through(monkeypatch):
    """Online users' ``weights=``, tested with a local stand-in for the ImageNet download."""
    import torchvision
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(num_classes=1000).eval()
    urls = []

    def fake_download(url, *args, **kwargs):
        urls.append(url)
        return reference.state_dict()

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", fake_download)
    model = xg.classifiers.build("torchvision:resnet18", 3, weights="IMAGENET1K_V1").eval()
    assert len(urls) == 1 and urls[0].endswith(".pth")
    assert torch.equal(model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert model.fc.out_features == 3
    # grey input: the averaged stem sees a grey image as the colour model sees it in RGB
    grey = xg.classifiers.build("torchvision:resnet18", 3, in_channels=1,
                                weights="IMAGENET1K_V1").eval()
    x = torch.rand(2, 1, 64, 64)
    features = nn.Sequential(*list(reference.children())[:-1])
    grey_features = nn.Sequential(*list(grey.children())[:-1])
    with torch.no_grad():
        torch.testing.assert_close(grey_features(x), features(x.expand(-1, 3, -1, -1)),
                                   atol=1e-4, rtol=1e-4)


def test_unknown_classifier_is_refused():
    with pytest.raises(ValueError, match="unknown classifier 'alexnet'"):
        xg.classifiers.build("alexnet")
    with pytest.raises(ValueError, match="torchvision has no classification model"):
        xg.classifiers.build("torchvision:not_a_model")
    with pytest.raises(ValueError, match="no pretrained weights"):
        xg.classifiers.build("vgg", weights="DEFAULT")


# ----------------------------------------------------------------------------- training

@pytest.fixture(scope="module")
def tiny_shapes():
    return (xg.data.load("shapes", "train", 32, n=96, seed=5),
            xg.data.load("shapes", "val", 32, n=48, seed=5))


def test_training_is_seeded(tiny_shapes):
    train, val = tiny_shapes
    runs = []
    for _ in range(2):
        model = xg.classifiers.build("vgg", 6, seed=4)
        history = xg.classifiers.train(model, train, val, epochs=1, batch_size=32, seed=11,
                                       progress=False)
        runs.append((model.state_dict(), history))
    for key, value in runs[0][0].items():
        assert torch.equal(value, runs[1][0][key]), key
    assert runs[0][1][0]["train_loss"] == runs[1][1][0]["train_loss"]


def test_training_leaves_the_global_rng_alone_and_a_spent_budget_finishes_the_run(tiny_shapes,
                                                                               tmp_path):
    train, val = tiny_shapes
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    model = xg.classifiers.build("vgg", 6, seed=4)
    history = xg.classifiers.train(model, train, val, epochs=3, batch_size=32, seed=1,
                                   max_seconds=0, checkpoint=tmp_path / "c.pt", progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert len(history) == 1 and history[0]["epoch"] == 1  # stopped after the first batch
    assert xg.io.load_torch(tmp_path / "c.pt")["stopped_by_budget"]
    again = xg.classifiers.train(xg.classifiers.build("vgg", 6, seed=4), train, val, epochs=3,
                                 batch_size=32, seed=1, max_seconds=0,
                                 checkpoint=tmp_path / "c.pt", progress=False)
    assert again == history  # a resumed run whose budget was spent trains no more
    longer = xg.classifiers.train(xg.classifiers.build("vgg", 6, seed=4), train, val, epochs=3,
                                  batch_size=32, seed=1, max_seconds=None,
                                  checkpoint=tmp_path / "c.pt", progress=False)
    assert [row["epoch"] for row in longer] == [1, 2, 3]  # unless its budget grows


def test_resume_after_interruption_continues_the_same_run(tiny_shapes, tmp_path, interrupting):
    train, val = tiny_shapes
    settings = dict(epochs=3, batch_size=32, seed=2, progress=False)
    full = xg.classifiers.build("resnet", 6, seed=4)
    full_history = xg.classifiers.train(full, train, val, **settings)
    ckpt = tmp_path / "resnet.pt"
    killed = interrupting(train, len(train) + 40)  # in the middle of epoch 2
    with pytest.raises(KeyboardInterrupt):
        xg.classifiers.train(xg.classifiers.build("resnet", 6, seed=4), killed, val,
                             checkpoint=ckpt, **settings)
    assert xg.classifiers.load_checkpoint(ckpt)["epoch"] == 1
    assert not list(tmp_path.glob(".*tmp")), "no temporary file left behind"
    resumed = xg.classifiers.build("resnet", 6)
    history = xg.classifiers.train(resumed, train, val, checkpoint=ckpt, **settings)
    assert [h["train_loss"] for h in history] == [h["train_loss"] for h in full_history]
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    with pytest.raises(ValueError, match="pass resume=False"):
        xg.classifiers.train(xg.classifiers.build("resnet", 6), train, val, checkpoint=ckpt,
                             **{**settings, "seed": 3})


def test_checkpoint_round_trip_and_mismatch(tiny_shapes, tmp_path):
    train, _ = tiny_shapes
    model = xg.classifiers.build("mobilenet", 6)
    xg.classifiers.train(model, train, epochs=1, batch_size=32, checkpoint=tmp_path / "m.pt",
                         progress=False)
    # plain torch.load with weights_only=True reads it: no pickled code inside
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert raw["spec"] == {"name": "mobilenet", "num_classes": 6, "in_channels": 3}
    state = xg.classifiers.load_checkpoint(tmp_path / "m.pt")
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(state["model"](x), model.eval()(x))
    with pytest.raises(ValueError, match="holds .*'mobilenet'.* but the model is .*'vgg'"):
        xg.classifiers.load_checkpoint(tmp_path / "m.pt", xg.classifiers.build("vgg", 6))
    with pytest.raises(ValueError, match="num_classes"):
        xg.classifiers.load_checkpoint(tmp_path / "m.pt", xg.classifiers.build("mobilenet", 5))
    (tmp_path / "other.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):
        xg.classifiers.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        xg.classifiers.load_checkpoint(tmp_path / "missing.pt")


def test_bad_training_input_is_refused(tiny_shapes):
    train, _ = tiny_shapes

    class Broken(torch.utils.data.Dataset):
        def __init__(self, fault):
            self.fault = fault

        def __len__(self):
            return 32

        def __getitem__(self, i):
            item = dict(train[i])
            item["image"] = (item["image"] * float("nan") if self.fault == "nan"
                             else item["image"][:1])
            return item

    with pytest.raises(ValueError, match="NaN"):
        xg.classifiers.train(xg.classifiers.build("vgg", 6), Broken("nan"), epochs=1,
                             batch_size=32, progress=False)
    with pytest.raises(ValueError, match="expects 3 channels, images have 1"):
        xg.classifiers.train(xg.classifiers.build("vgg", 6), Broken("grey"), epochs=1,
                             batch_size=32, progress=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        xg.classifiers.train(xg.classifiers.build("vgg", 6), train, epochs=1, batch_size=500,
                             progress=False)


@pytest.mark.slow
def test_a_zoo_cnn_learns_shapes(shapes_cnn):
    model, _ = shapes_cnn  # the session's zoo VGG, trained once for every test that needs one
    result = xg.classifiers.evaluate(model, xg.data.load("shapes", "test", 64, n=300, seed=0))
    assert result["n"] == 300
    assert result["accuracy"] > 0.9  # chance is 1/6


def test_two_processes_on_one_checkpoint_take_turns(tiny_shapes, tmp_path, waits_for_lock):
    train, _ = tiny_shapes
    ckpt = tmp_path / "vgg.pt"
    history = waits_for_lock(ckpt, lambda data: xg.classifiers.train(
        xg.classifiers.build("vgg", 6), data, epochs=1, batch_size=32, checkpoint=ckpt,
        progress=False), train)
    # the second one in finds the first's finished run and trains no more
    again = xg.classifiers.train(xg.classifiers.build("vgg", 6), train, epochs=1,
                                 batch_size=32, checkpoint=ckpt, progress=False)
    assert again == history
