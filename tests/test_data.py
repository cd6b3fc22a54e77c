import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import xai_gan as xg
from conftest import write_fake_fashion, write_idx
from xai_gan import data


def digest(image: torch.Tensor) -> str:
    return hashlib.sha1(image.numpy().tobytes()).hexdigest()


# ----------------------------------------------------------------------------- shapes

def test_shapes_same_seed_gives_identical_tensors():
    a = xg.data.load("shapes", "train", 64, n=12, seed=3)
    b = xg.data.load("shapes", "train", 64, n=12, seed=3)
    for i in range(12):
        assert torch.equal(a[i]["image"], b[i]["image"])
        assert torch.equal(a[i]["mask"], b[i]["mask"])
        assert a[i]["label"] == b[i]["label"]
    c = xg.data.load("shapes", "train", 64, n=12, seed=4)
    assert not torch.equal(a[0]["image"], c[0]["image"])


def test_shapes_item_format_and_classes():
    ds = xg.data.load("shapes", "val", 48, n=12)
    item = ds[5]
    assert item["image"].shape == (3, 48, 48) and item["image"].dtype == torch.float32
    assert 0 <= item["image"].min() and item["image"].max() <= 1
    assert item["mask"].shape == (48, 48)
    assert len(ds.classes) >= 6 and ds.channels == 3 and ds.image_size == 48
    assert sorted(ds[i]["label"] for i in range(12)) == sorted(list(range(6)) * 2)
    assert xg.data.load("shapes", "val", 48, n=2, channels=1)[0]["image"].shape == (1, 48, 48)
    with pytest.raises(IndexError):
        ds[12]


def test_shapes_splits_are_disjoint():
    hashes = {split: {digest(xg.data.load("shapes", split, 32, n=300)[i]["image"])
                      for i in range(300)} for split in data.SPLITS}
    assert all(len(h) == 300 for h in hashes.values()), "duplicate images inside a split"
    assert not hashes["train"] & hashes["val"]
    assert not hashes["train"] & hashes["test"]
    assert not hashes["val"] & hashes["test"]


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes_mask_sits_on_the_object(size):
    ds = xg.data.load("shapes", "test", size, n=24)
    for i in range(len(ds)):
        item = ds[i]
        mask, image = item["mask"], item["image"]
        solid = mask >= 0.999
        # the object is drawn last in one flat colour: every fully covered pixel has it
        colours = image[:, solid]
        assert (colours.max(1).values - colours.min(1).values).max() <= 1.5 / 255
        # area between the smallest and largest object the generator draws
        area = mask.sum().item() / size ** 2
        assert 0.02 < area < 0.2, area
        # pixels well away from the object are not all that colour (the mask is not elsewhere)
        far = torch.nn.functional.max_pool2d(mask[None, None], 5, 1, 2)[0, 0] == 0
        assert (image[:, far] - colours[:, :1]).abs().amax(0).gt(0.05).float().mean() > 0.5


@pytest.mark.parametrize("size", [16, 31, 129, 64.0, "64"])
def test_unsupported_image_size_is_refused(size):
    with pytest.raises(ValueError, match="image_size must be an integer from 32 to 128"):
        xg.data.load("shapes", "train", size)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        xg.data.load("mnist")
    with pytest.raises(ValueError, match="split must be one of"):
        xg.data.load("shapes", "training")
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        xg.data.load("shapes", channels=2)


# ----------------------------------------------------------------------------- fashion-mnist

@pytest.fixture
def fake_fashion(tmp_path):
    return tmp_path, write_fake_fashion(tmp_path, 30, 10)


def test_fashion_mnist_reads_idx_files(fake_fashion):
    root, arrays = fake_fashion
    train = xg.data.load("fashion-mnist", "train", root=root, val_size=5)
    val = xg.data.load("fashion-mnist", "val", root=root, val_size=5)
    test = xg.data.load("fashion-mnist", "test", root=root)
    assert (len(train), len(val), len(test)) == (25, 5, 10)
    item = val[2]
    assert item["image"].shape == (1, 28, 28) and "mask" not in item
    assert torch.equal(item["image"][0] * 255, torch.from_numpy(arrays["train"][0][27]).float())
    assert item["label"] == 27 % 10
    assert len(train.classes) == 10


def test_fashion_mnist_resizes_and_converts_channels(fake_fashion, monkeypatch):
    root, _ = fake_fashion
    monkeypatch.setenv(data.FASHION_MNIST_ENV, str(root))
    item = xg.data.load("fashion-mnist", "test", 64, channels=3)[0]
    assert item["image"].shape == (3, 64, 64)
    assert torch.equal(item["image"][0], item["image"][2])
    assert 0 <= item["image"].min() and item["image"].max() <= 1


def test_missing_fashion_mnist_names_the_install_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        xg.data.load("fashion-mnist", "train", root=tmp_path)


def test_fashion_mnist_download_only_when_allowed(fake_fashion, tmp_path, monkeypatch):
    source, _ = fake_fashion
    calls = []

    class FakeFashionMNIST:  # stands in for torchvision's downloader
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            raw = Path(root) / "FashionMNIST" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            for f in source.glob("*.gz"):
                (raw / f.name).write_bytes(f.read_bytes())

    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    root = tmp_path / "download"
    with pytest.raises(FileNotFoundError):
        xg.data.load("fashion-mnist", "test", root=root)
    assert not calls
    assert len(xg.data.load("fashion-mnist", "test", root=root, download=True)) == 10
    assert calls == [(str(root), False, True)]


def test_corrupt_idx_is_refused(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01\x00\x00\x00\x01x"))
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        data.read_idx(tmp_path / "bad.gz")
    write_idx(tmp_path / "short.gz", np.zeros((4, 4)))
    raw = gzip.decompress((tmp_path / "short.gz").read_bytes())[:-3]
    (tmp_path / "short.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(ValueError, match="header says"):
        data.read_idx(tmp_path / "short.gz")


@pytest.mark.skipif(not Path(data.FASHION_MNIST_DIR, "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian():
    sizes = {s: len(xg.data.load("fashion-mnist", s)) for s in data.SPLITS}
    assert sizes == {"train": 55000, "val": 5000, "test": 10000}
    test = xg.data.load("fashion-mnist", "test", 32)
    assert test[0]["image"].shape == (1, 32, 32)
    assert np.bincount(test.labels).tolist() == [1000] * 10


# ----------------------------------------------------------------------------- cifar10

def write_cifar(root: Path, per_batch: int = 4) -> dict:
    folder = root / data.CIFAR10_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, per_batch).tolist()}
        batches[name] = batch
        (folder / name).write_bytes(pickle.dumps(batch))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    return batches


def test_cifar10_reads_python_batches(tmp_path):
    batches = write_cifar(tmp_path)
    train = xg.data.load("cifar10", "train", root=tmp_path, val_size=4)
    val = xg.data.load("cifar10", "val", root=tmp_path, val_size=4)
    test = xg.data.load("cifar10", "test", 64, root=tmp_path)
    assert (len(train), len(val), len(test)) == (16, 4, 4)
    first = batches["data_batch_1"]
    expected = torch.from_numpy(first["data"][1].reshape(3, 32, 32)).float() / 255
    assert torch.equal(train[1]["image"], expected)  # channel-first, row-major as CIFAR stores
    assert train[1]["label"] == first["labels"][1]
    assert test[0]["image"].shape == (3, 64, 64) and train.classes[0] == "airplane"
    assert xg.data.load("cifar10", "test", root=tmp_path, channels=1)[0]["image"].shape[0] == 1


def test_cifar10_missing_and_download(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="download=True"):
        xg.data.load("cifar10", "test", root=tmp_path)
    calls = []

    def fake_download(url, root, md5):  # stands in for torchvision's downloader
        calls.append(url)
        write_cifar(Path(root))

    import torchvision.datasets.utils
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download)
    assert len(xg.data.load("cifar10", "test", root=tmp_path / "dl", download=True)) == 4
    assert len(calls) == 1 and calls[0].endswith("cifar-10-python.tar.gz")


# ----------------------------------------------------------------------------- imagefolder

COLOURS = {"cats": (255, 0, 0), "dogs": (0, 255, 0), "fish": (0, 0, 255)}


def write_folder(root: Path, per_class: int = 10) -> None:
    for cls, colour in COLOURS.items():
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (20 + i, 30), colour).save(root / cls / f"{i}.png")


def test_imagefolder_flat_tree_is_split_deterministically(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    splits = {s: xg.data.load("imagefolder", s, 32, root=tmp_path) for s in data.SPLITS}
    assert {s: len(d) for s, d in splits.items()} == {"train": 24, "val": 3, "test": 3}
    files = [{p for p, _ in d.samples} for d in splits.values()]
    assert not (files[0] & files[1] or files[0] & files[2] or files[1] & files[2])
    assert len(set.union(*files)) == 30
    again = xg.data.load("imagefolder", "val", 32, root=tmp_path)
    assert again.samples == splits["val"].samples
    for i in range(3):
        item = splits["test"][i]
        colour = tuple((item["image"][:, 5, 5] * 255).round().int().tolist())
        assert colour == COLOURS[splits["test"].classes[item["label"]]]
        assert item["image"].shape == (3, 32, 32)


def test_imagefolder_uses_split_folders(tmp_path):
    write_folder(tmp_path / "training", per_class=4)
    write_folder(tmp_path / "evaluation", per_class=2)
    assert len(xg.data.load("imagefolder", "train", root=tmp_path)) == 12
    test = xg.data.load("imagefolder", "test", root=tmp_path, channels=1)
    assert len(test) == 6 and test[0]["image"].shape == (1, 64, 64)


def test_empty_imagefolder_is_refused(tmp_path):
    (tmp_path / "cats").mkdir()
    with pytest.raises(ValueError, match="no images"):
        xg.data.load("imagefolder", "train", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        xg.data.load("imagefolder", "train", root=tmp_path / "missing")
    with pytest.raises(ValueError, match="imagefolder needs root="):
        xg.data.load("imagefolder", "train")
