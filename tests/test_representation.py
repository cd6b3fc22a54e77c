import json
import threading

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

import xai_gan as xg
from xai_gan import representation as rep
from xai_gan.zoo import ZOO


def hooks_left(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


@pytest.fixture(scope="module")
def images():
    ds = xg.data.load("shapes", "test", 32, n=6, seed=1)
    return torch.stack([ds[i]["image"] for i in range(6)])


@pytest.mark.parametrize("name", sorted(ZOO) + ["torchvision:resnet18", "torchvision:vgg11",
                                                "torchvision:densenet121",
                                                "torchvision:mobilenet_v3_small",
                                                "torchvision:efficientnet_b0"])
def test_layer_gradcams_shape_range_and_hooks(name, images):
    model = xg.classifiers.build(name, num_classes=6, seed=0)
    maps = rep.layer_gradcams(model, images)
    n_layers = len(rep.representation_layers(model, image_size=32))
    assert maps.shape == (6, n_layers, 32, 32)
    assert maps.min() >= 0 and maps.max() <= 1 and torch.isfinite(maps).all()
    nonzero = maps.amax((2, 3)) > 0
    assert nonzero.any()  # random weights leave some maps without positive evidence
    torch.testing.assert_close(maps.amax((2, 3))[nonzero], torch.ones(int(nonzero.sum())))
    torch.testing.assert_close(maps.amin((2, 3)), torch.zeros(6, n_layers))  # min-max scaled
    assert hooks_left(model) == 0


def test_layer_gradcams_on_inception_v3():
    model = xg.classifiers.build("torchvision:inception_v3", num_classes=4, seed=0)
    maps = rep.layer_gradcams(model, torch.rand(2, 3, 96, 96))
    assert maps.shape == (2, 95, 96, 96)  # 94 conv layers and Mixed_7c


def test_one_forward_and_one_backward(images):
    model = xg.classifiers.build("resnet", 6, seed=0)
    calls = {"forward": 0, "backward": 0}

    def count_forward(module, args, output):
        calls["forward"] += 1
        output.register_hook(lambda grad: calls.__setitem__("backward", calls["backward"] + 1))

    handle = model.register_forward_hook(count_forward)
    rep.layer_gradcams(model, images)
    handle.remove()
    assert calls == {"forward": 1, "backward": 1}


def test_targets_default_to_the_predicted_class(images):
    model = xg.classifiers.build("vgg", 6, seed=3).eval()
    with torch.no_grad():
        predicted = model(images).argmax(1)
    default = rep.layer_gradcams(model, images)
    torch.testing.assert_close(default, rep.layer_gradcams(model, images, targets=predicted))
    other = (predicted + 1) % 6
    assert not torch.allclose(default, rep.layer_gradcams(model, images, targets=other))
    single = rep.layer_gradcams(model, images[:1], targets=int(predicted[0]))
    torch.testing.assert_close(single, default[:1], atol=1e-5, rtol=1e-4)


def test_frozen_model_under_no_grad_gives_the_same_maps(images):
    model = xg.classifiers.build("mobilenet", 6, seed=0).train()
    expected = rep.layer_gradcams(model, images)
    assert model.training, "the model's mode is restored"
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        frozen = rep.layer_gradcams(model, images)
    torch.testing.assert_close(frozen, expected)
    assert all(p.grad is None for p in model.parameters())


def test_hooks_are_removed_when_an_error_is_raised(images):
    model = xg.classifiers.build("densenet", 6, seed=0)
    with pytest.raises(ValueError, match="3 targets for 6 images"):
        rep.layer_gradcams(model, images, targets=[0, 1, 2])
    assert hooks_left(model) == 0
    with pytest.raises(ValueError, match="NaN"):
        rep.layer_gradcams(model, images * float("nan"))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        rep.layer_gradcams(model, images, layers=["nope"])


@pytest.mark.parametrize("name", ["vgg", "resnet", "mobilenet", "densenet", "inception",
                                  "torchvision:resnet18", "torchvision:vgg11"])
def test_agrees_with_pytorch_grad_cam_layer_by_layer(name, images):
    model = xg.classifiers.build(name, num_classes=6, seed=2).eval()
    layers = rep.representation_layers(model, image_size=32)
    ours = rep.layer_gradcams(model, images)
    with torch.no_grad():
        predicted = model(images).argmax(1)
    targets = [ClassifierOutputTarget(int(t)) for t in predicted]
    worst = 1.0
    for index, (_, layer) in enumerate(layers):
        with GradCAM(model=model, target_layers=[layer]) as cam:
            reference = torch.from_numpy(cam(input_tensor=images, targets=targets))
        for b in range(len(images)):
            if reference[b].max() > 0 and ours[b, index].max() > 0:
                worst = min(worst, pearson(ours[b, index], reference[b]))
            else:  # no positive evidence: both must be empty
                assert reference[b].max() == 0 and ours[b, index].max() == 0
    assert worst >= 0.99


@pytest.mark.parametrize("name", sorted(ZOO) + ["torchvision:resnet18"])
def test_the_deepest_map_is_the_gradcam_explainers_map(name):
    """Condition map 0 and the Grad-CAM explainer read the same layer: the block the head
    pools, not the last Conv2d (the zoo ResNet's is a skip projection, before its BatchNorm).
    64 px: at 32 px torchvision's ResNet ends in 1 x 1 maps; seed 1: every one of these
    random-init CNNs has positive evidence for some images."""
    data = xg.data.load("shapes", "test", 64, n=12, seed=1)
    images = torch.stack([data[i]["image"] for i in range(12)])
    model = xg.classifiers.build(name, num_classes=6, seed=1).eval()
    names = [n for n, _ in rep.representation_layers(model, image_size=64)]
    convs = xg.classifiers.conv_layers(model, image_size=64)
    assert names[:-1] == [n for n, _ in convs]
    assert names[-1] == ("layer4" if name.startswith("torchvision") else "features")
    deepest = rep.layer_gradcams(model, images)[:, -1]
    gradcam = xg.explainers.get("gradcam")(model, images)
    scaled = deepest / deepest.amax((1, 2), keepdim=True).clamp_min(1e-12)
    kept = gradcam.amax((1, 2)) > 0
    assert kept.sum() >= 3
    for ours, theirs in zip(scaled[kept], gradcam[kept]):
        assert pearson(ours, theirs) > 0.99


def test_cumulative_positions_follow_the_paper():
    assert rep.cumulative_positions(20, 8) == [0, 3, 6, 9, 12, 14, 17, 19]
    assert rep.cumulative_positions(101, 8) == [0, 15, 29, 43, 58, 72, 86, 100]
    assert rep.cumulative_positions(3, 8) == [0, 1, 1, 1, 2, 2, 2, 2]  # L < k: repeats
    assert rep.cumulative_positions(20, 1) == [19]
    with pytest.raises(ValueError):
        rep.cumulative_positions(0, 8)


def test_cumulative_maps_are_deepest_first_running_means():
    torch.manual_seed(0)
    maps = torch.rand(2, 20, 8, 8)
    conditions = rep.cumulative_maps(maps, k=8)
    assert conditions.shape == (2, 8, 8, 8)
    torch.testing.assert_close(conditions[:, 0], maps[:, -1])  # deepest layer alone
    torch.testing.assert_close(conditions[:, -1], maps.mean(1))  # all layers
    torch.testing.assert_close(conditions[:, 1], maps[:, -4:].mean(1))  # position 3: 4 deepest
    assert rep.cumulative_maps(torch.full((1, 5, 4, 4), 0.3), k=8).sub(0.3).abs().max() < 1e-6
    assert rep.cumulative_maps(maps[:, :3], k=8).shape == (2, 8, 8, 8)


# ----------------------------------------------------------------------------- the store

@pytest.fixture(scope="module")
def store_setup():
    dataset = xg.data.load("shapes", "val", 32, n=70, seed=2)
    model = xg.classifiers.build("vgg", 6, seed=0)
    return model, dataset


def build(model, dataset, path, **kw):
    options = dict(k=4, batch_size=16, chunk_size=32, progress=False)
    return xg.store.build(model, dataset, path, **{**options, **kw})


def test_store_holds_what_the_representation_says(store_setup, tmp_path):
    model, dataset = store_setup
    store = build(model, dataset, tmp_path / "s")
    assert len(store) == 70 and store.k == 4 and store.image_size == 32
    meta = store.metadata
    assert meta["model"]["name"] == "vgg" and meta["teacher"] == "gradcam"
    assert meta["model_hash"] == xg.store.model_hash(model) and len(meta["layers"]) == 10  # 9 convs and the block
    images = torch.stack([dataset[i]["image"] for i in range(64, 70)])
    expected = rep.cumulative_maps(rep.layer_gradcams(model, images), 4)
    teacher_map = xg.explainers.get("gradcam")(model, images)
    predicted = xg.classifiers.predict(model, images).argmax(1)
    assert model.training  # building a store leaves the caller's model in its own mode
    for j, i in enumerate(range(64, 70)):
        item = store[i]
        assert set(item) == {"image", "conditions", "teacher_map", "label", "pred", "correct", "mask"}
        assert (item["image"] - dataset[i]["image"]).abs().max() <= 0.5 / 255 + 1e-6
        torch.testing.assert_close(item["conditions"], expected[j], atol=2e-3, rtol=0)
        torch.testing.assert_close(item["teacher_map"], teacher_map[j], atol=2e-3, rtol=0)
        torch.testing.assert_close(item["mask"], dataset[i]["mask"], atol=2e-3, rtol=0)
        assert item["label"] == dataset[i]["label"] and item["pred"] == int(predicted[j])
        assert item["correct"] == (item["pred"] == item["label"])


def test_interrupted_build_resumes_to_the_same_store(store_setup, tmp_path, interrupting):
    model, dataset = store_setup
    whole = build(model, dataset, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):  # killed inside the second chunk
        build(model, interrupting(dataset, 50), tmp_path / "resumed")
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == [
        "chunk-00000", "metadata.json"]
    with pytest.raises(ValueError, match="incomplete"):
        xg.store.RepresentationStore(tmp_path / "resumed")
    resumed = build(model, dataset, tmp_path / "resumed")
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == [
        "chunk-00000", "chunk-00001", "chunk-00002", "metadata.json"]
    for i in range(len(whole)):
        a, b = whole[i], resumed[i]
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), (i, key)


def test_shards_build_their_own_chunks_into_one_store(store_setup, tmp_path):
    model, dataset = store_setup
    whole = build(model, dataset, tmp_path / "whole")
    assert build(model, dataset, tmp_path / "split", shard=(1, 2)) is None  # shard 0 still to do
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == [
        "chunk-00001", "metadata.json"]
    (tmp_path / "split" / ".chunk-00000.tmp").mkdir()  # shard 0 was interrupted once
    split = build(model, dataset, tmp_path / "split", shard=(0, 2))
    assert len(split) == len(whole) and not list((tmp_path / "split").glob(".chunk-*"))
    for i in (0, 33, 69):
        assert torch.equal(split[i]["conditions"], whole[i]["conditions"])
    with pytest.raises(ValueError, match="shard must be"):
        build(model, dataset, tmp_path / "split", shard=(2, 2))
    first = xg.store.RepresentationStore(tmp_path / "whole", limit=40)
    assert len(first) == 40 and first.teacher == "gradcam"
    assert torch.equal(first[39]["teacher_map"], whole[39]["teacher_map"])
    with pytest.raises(IndexError):
        first[40]
    with pytest.raises(ValueError, match="limit must be from 1 to the store's 70 items"):
        xg.store.RepresentationStore(tmp_path / "whole", limit=71)


def test_a_format_1_store_is_read_under_the_new_names_and_never_extended(store_setup, tmp_path):
    model, dataset = store_setup
    store = build(model, dataset, tmp_path / "s")
    old = {v: k for k, v in xg.store.FORMAT_1["fields"].items()}  # what format 1 called them
    for chunk in (tmp_path / "s").glob("chunk-*"):
        for new, name in old.items():
            (chunk / f"{new}.npy").rename(chunk / f"{name}.npy")
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    meta["format"] = xg.store.FORMAT_1["format"]
    meta["target"] = meta.pop("teacher")
    (tmp_path / "s" / "metadata.json").write_text(json.dumps(meta))
    legacy = xg.store.RepresentationStore(tmp_path / "s")
    assert legacy.teacher == "gradcam" and legacy.metadata["teacher"] == "gradcam"
    for key, value in store[3].items():
        assert torch.equal(torch.as_tensor(legacy[3][key]), torch.as_tensor(value)), key
    with pytest.raises(ValueError, match="format-1 store: delete the folder and build it again"):
        build(model, dataset, tmp_path / "s")
    meta["format"] = "xai-gan-representation/0"
    (tmp_path / "s" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="unknown store format"):
        xg.store.RepresentationStore(tmp_path / "s")


def test_store_refuses_other_settings(store_setup, tmp_path):
    model, dataset = store_setup
    build(model, dataset, tmp_path / "s")
    with pytest.raises(ValueError, match="k 4 != 8"):
        build(model, dataset, tmp_path / "s", k=8)
    with pytest.raises(ValueError, match="teacher 'gradcam' != 'gradcam\\+\\+'"):
        build(model, dataset, tmp_path / "s", teacher="gradcam++")
    other = xg.classifiers.build("vgg", 6, seed=1)
    with pytest.raises(ValueError, match="model_hash"):
        build(other, dataset, tmp_path / "s")
    with pytest.raises(ValueError, match="map_size 32 != 16"):
        build(model, dataset, tmp_path / "s", map_size=16)
    with pytest.raises(ValueError, match=r"map_size must be from 8 to the image size \(32\)"):
        build(model, dataset, tmp_path / "t", map_size=64)
    with pytest.raises(ValueError, match="unknown explainer 'sise2'"):
        build(model, dataset, tmp_path / "u", teacher="sise2")
    with pytest.raises(FileNotFoundError, match="not a representation store"):
        xg.store.RepresentationStore(tmp_path)


def test_stores_combine_for_joint_training(store_setup, tmp_path):
    model, dataset = store_setup
    a = build(model, dataset, tmp_path / "a")
    b = build(xg.classifiers.build("resnet", 6, seed=0), dataset, tmp_path / "b")
    joint = xg.store.combine([a, tmp_path / "b"])
    assert len(joint) == 140
    batch = torch.utils.data.default_collate([joint[0], joint[100]])
    assert batch["conditions"].shape == (2, 4, 32, 32)
    c = build(model, dataset, tmp_path / "c", k=8)
    with pytest.raises(ValueError, match="differ in"):
        xg.store.combine([a, c])
    assert np.isclose(b.metadata["positions"][-1], len(b.metadata["layers"]) - 1)


def test_two_processes_on_one_shard_take_turns(store_setup, tmp_path, waits_for_lock):
    model, dataset = store_setup
    out = tmp_path / "store"
    built = waits_for_lock(tmp_path / "store.shard-0-of-1", lambda data: build(model, data, out),
                           dataset)
    assert len(built) == len(dataset)
    # another shard of the same store is not held up by it
    shard = threading.Thread(target=build, args=(model, dataset, tmp_path / "split"),
                             kwargs={"shard": (1, 2)})
    with xg.io.exclusive(tmp_path / "split.shard-0-of-2"):
        shard.start()
        shard.join(60)
        assert not shard.is_alive()
    assert (tmp_path / "split" / "chunk-00001").is_dir()
