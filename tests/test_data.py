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


@pytest.mark.parametrize("size", [16, 31, 513, 64.0, "64"])
def test_unsupported_image_size_is_refused(size):
    with pytest.raises(ValueError, match="image_size must be an integer from 32 to 512"):
        xg.data.load("shapes", "train", size)


def test_large_image_sizes_are_accepted(tmp_path):
    write_folder(tmp_path, per_class=3)
    for size in (224, 299, 512):
        item = xg.data.load("imagefolder", "test", size, root=tmp_path)[0]
        assert item["image"].shape == (3, size, size)


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
    folder = root / data.archives.CIFAR10_FOLDER
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


def test_cifar10_resized_when_read_gives_the_same_pixels(tmp_path, monkeypatch):
    write_cifar(tmp_path)
    up_front = xg.data.load("cifar10", "test", 224, root=tmp_path)
    monkeypatch.setattr(data.common, "RESIZE_UP_FRONT_BYTES", 0)  # as for the full set at 224 px
    when_read = xg.data.load("cifar10", "test", 224, root=tmp_path)
    assert when_read.images.shape[1] == 32 and up_front.images.shape[1] == 224
    for i in range(4):
        assert torch.equal(up_front[i]["image"], when_read[i]["image"])
    assert when_read[-1]["image"].shape == (3, 224, 224)


def test_cifar10_missing_and_download(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"load\('cifar10', 'test', .*download=True"):
        xg.data.load("cifar10", "test", root=tmp_path)
    calls = []

    class FakeCIFAR10:  # stands in for torchvision's downloader
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            write_cifar(Path(root))

    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    root = tmp_path / "dl"
    assert len(xg.data.load("cifar10", "test", root=root, download=True)) == 4
    assert calls == [(str(root), False, True)]
    assert len(xg.data.load("cifar10", "train", root=root, download=True, val_size=4)) == 16
    assert len(calls) == 1  # already there: not fetched again


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
    # no val folder: one image per class is held out of training as val
    train = xg.data.load("imagefolder", "train", root=tmp_path)
    val = xg.data.load("imagefolder", "val", root=tmp_path)
    assert (len(train), len(val)) == (9, 3) and val.classes == tuple(COLOURS)
    assert not {p for p, _ in train.samples} & {p for p, _ in val.samples}
    test = xg.data.load("imagefolder", "test", root=tmp_path, channels=1)
    assert len(test) == 6 and test[0]["image"].shape == (1, 64, 64)
    write_folder(tmp_path / "val", per_class=1)
    assert len(xg.data.load("imagefolder", "train", root=tmp_path)) == 12


def test_imagefolder_labels_follow_the_training_classes(tmp_path):
    write_folder(tmp_path / "train", per_class=2)
    (tmp_path / "test" / "fish").mkdir(parents=True)  # a test folder lacking two classes
    Image.new("RGB", (8, 8), COLOURS["fish"]).save(tmp_path / "test" / "fish" / "0.png")
    test = xg.data.load("imagefolder", "test", 32, root=tmp_path, val_fraction=0)
    assert test.classes == tuple(COLOURS) and test[0]["label"] == 2
    (tmp_path / "test" / "eels").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "test" / "eels" / "0.png")
    with pytest.raises(ValueError, match=r"\['eels'\].*no counterpart"):
        xg.data.load("imagefolder", "test", 32, root=tmp_path)


def test_empty_imagefolder_is_refused(tmp_path):
    (tmp_path / "cats").mkdir()
    with pytest.raises(ValueError, match="no images"):
        xg.data.load("imagefolder", "train", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        xg.data.load("imagefolder", "train", root=tmp_path / "missing")
    with pytest.raises(ValueError, match="imagefolder needs root="):
        xg.data.load("imagefolder", "train")


def test_corrupt_image_error_names_the_file(tmp_path):
    write_folder(tmp_path / "train", per_class=2)
    broken = tmp_path / "train" / "dogs" / "1.png"
    broken.write_bytes(broken.read_bytes()[:60])  # truncated mid-file
    (tmp_path / "train" / "fish" / "1.png").write_bytes(b"not an image at all")
    ds = xg.data.load("imagefolder", "train", 32, root=tmp_path, val_fraction=0, test_fraction=0)
    assert ds[0]["image"].shape == (3, 32, 32)  # the good files still load
    for path in (broken, tmp_path / "train" / "fish" / "1.png"):
        index = [p for p, _ in ds.samples].index(path)
        with pytest.raises(OSError, match=rf"cannot read image {path}.*Delete or replace"):
            ds[index]


def test_empty_class_folder_error_names_the_folder(tmp_path):
    write_folder(tmp_path, per_class=3)
    (tmp_path / "eels").mkdir()
    (tmp_path / "eels" / "readme.txt").write_text("no pictures here")
    (tmp_path / ".ipynb_checkpoints").mkdir()  # hidden folders are never classes
    with pytest.raises(ValueError, match=rf"class folder {tmp_path / 'eels'} holds no images"):
        xg.data.load("imagefolder", "train", root=tmp_path)


def test_class_too_small_to_split_is_named(tmp_path):
    write_folder(tmp_path, per_class=3)
    # three images: one for each split, however small the fractions
    assert len(xg.data.load("imagefolder", "test", root=tmp_path, test_fraction=0.01)) == 3
    for path in sorted((tmp_path / "dogs").iterdir())[1:]:
        path.unlink()
    with pytest.raises(ValueError, match="class 'dogs' has 1 image.*too few to split"):
        xg.data.load("imagefolder", "train", root=tmp_path)


def test_image_modes_are_converted(tmp_path):
    folder = tmp_path / "train" / "modes"
    folder.mkdir(parents=True)

    def halves(mode, left, right, **info):
        image = Image.new(mode, (32, 32), left)
        image.paste(right, (16, 0, 32, 32))
        return image

    halves("L", 100, 200).save(folder / "a_grey.png")
    halves("RGBA", (200, 10, 10, 0), (10, 200, 10, 255)).save(folder / "b_rgba.png")
    halves("LA", (50, 0), (50, 255)).save(folder / "c_la.png")
    palette = halves("P", 0, 1)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.save(folder / "d_palette.png")
    palette.save(folder / "e_palette_transparent.png", transparency=0)
    halves("I;16", 0, 65535).save(folder / "f_16bit.png")
    expected = {"a_grey": ((100,) * 3, (200,) * 3), "b_rgba": ((255,) * 3, (10, 200, 10)),
                "c_la": ((255,) * 3, (50,) * 3), "d_palette": ((255, 0, 0), (0, 0, 255)),
                "e_palette_transparent": ((255,) * 3, (0, 0, 255)),
                "f_16bit": ((0,) * 3, (255,) * 3)}
    for channels in (3, 1):
        ds = xg.data.load("imagefolder", "train", 32, root=tmp_path, channels=channels,
                          val_fraction=0, test_fraction=0)
        for (path, _), item in zip(ds.samples, ds):
            image = (item["image"] * 255).round().int()
            assert image.shape == (channels, 32, 32)
            for x, colour in zip((4, 28), expected[path.stem]):
                if channels == 1:  # ITU-R 601-2 luma, as PIL computes it
                    colour = (round(0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]),)
                assert tuple(image[:, 16, x].tolist()) == colour, (path.stem, channels, x)


def test_a_phone_photo_is_read_upright(tmp_path):
    """EXIF orientation 6 (the camera was turned): a viewer rotates the stored pixels 90
    degrees clockwise, so the stored left half (red) is shown on top; so do we."""
    photo = Image.new("RGB", (40, 20), (0, 0, 255))
    photo.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "turned.jpg", exif=exif, quality=95)
    image = xg.data.read_image(tmp_path / "turned.jpg", 16)
    top, bottom = image[:, 2, 8], image[:, 13, 8]
    assert top[0] > 0.9 and top[2] < 0.1 and bottom[2] > 0.9 and bottom[0] < 0.1


# ----------------------------------------------------------------------------- imagenette

IMAGENETTE_WNIDS = {"n01440764": "tench", "n02102040": "English springer",
                    "n03888257": "parachute"}


def write_imagenette(root: Path, size: str = "160px", per_class=(5, 2)) -> None:
    """A tiny tree laid out as torchvision's Imagenette expects it after download."""
    for source, count in zip(("train", "val"), per_class):
        for k, wnid in enumerate(IMAGENETTE_WNIDS):
            folder = root / data.IMAGENETTE_FOLDERS[size] / source / wnid
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (40, 30), (80 * k, 10 * i, 0)).save(
                    folder / f"{wnid}_{i}.JPEG", quality=95)


def test_imagenette_reads_torchvision_layout(tmp_path):
    write_imagenette(tmp_path)
    splits = {s: xg.data.load("imagenette", s, 48, root=tmp_path) for s in data.SPLITS}
    assert {s: len(d) for s, d in splits.items()} == {"train": 12, "val": 3, "test": 6}
    assert splits["train"].classes == tuple(IMAGENETTE_WNIDS.values())
    files = [{p for p, _ in d.samples} for d in splits.values()]
    assert not (files[0] & files[1] or files[0] & files[2] or files[1] & files[2])
    assert sorted(label for _, label in splits["val"].samples) == [0, 1, 2]
    item = splits["test"][0]
    assert item["image"].shape == (3, 48, 48) and 0 <= item["image"].min() <= 1
    red = (item["image"][0, 24, 24] * 255).round().item()
    assert abs(red - 80 * item["label"]) <= 3  # the class's colour, through JPEG
    assert xg.data.load("imagenette", "test", root=tmp_path)[0]["image"].shape == (3, 224, 224)
    assert len({l for _, l in xg.data.load("imagenette", "train", 32, root=tmp_path,
                                           n=6).samples}) > 1  # n= takes a mix of classes


def test_imagenette_missing_names_the_download_call(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r"load\('imagenette', 'val', .*size='320px', download=True\)"):
        xg.data.load("imagenette", "val", root=tmp_path, size="320px")
    with pytest.raises(ValueError, match="imagenette size must be one of"):
        xg.data.load("imagenette", "val", root=tmp_path, size="64px")


def test_imagenette_download_is_passed_to_torchvision(tmp_path, monkeypatch):
    import torchvision.datasets
    calls = []
    real = torchvision.datasets.Imagenette

    def fake(root, split, size, download, loader):  # "downloads" the stand-in tree
        calls.append((root, split, size, download))
        if download and not (Path(root) / data.IMAGENETTE_FOLDERS[size]).exists():
            write_imagenette(Path(root), size)
        return real(root, split=split, size=size, download=False, loader=loader)

    monkeypatch.setattr(torchvision.datasets, "Imagenette", fake)
    ds = xg.data.load("imagenette", "test", 32, root=tmp_path, size="full", download=True)
    assert len(ds) == 6 and calls == [(str(tmp_path), "val", "full", True)]


# ----------------------------------------------------------------------------- sample photos

def test_sample_photos_is_a_loadable_deterministic_folder(tmp_path):
    pytest.importorskip("skimage")
    first = data.sample_photos(tmp_path / "a", per_class=5, size=224, seed=3)
    second = data.sample_photos(tmp_path / "b", per_class=5, size=224, seed=3)
    files = sorted(p.relative_to(first) for p in first.rglob("*.jpg"))
    assert len(files) == 20
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.jpg"))
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    train = xg.data.load("imagefolder", "train", 224, root=first)
    assert train.classes == tuple(sorted(data.SAMPLE_PHOTOS)) and len(train) == 12
    for i in (0, len(train) - 1):
        image = train[i]["image"]
        assert image.shape == (3, 224, 224) and 0 <= image.min() and image.max() <= 1
        assert image.std() > 0.02  # a photo, not a flat colour
    stamp = (first / "cat" / "0000.jpg").stat().st_mtime_ns
    assert data.sample_photos(first, per_class=5, size=224, seed=3) == first
    assert (first / "cat" / "0000.jpg").stat().st_mtime_ns == stamp  # same set: no rewrite
    other = data.sample_photos(first, per_class=3, size=64, seed=4)  # our own set: replaced
    assert len(list(other.rglob("*.jpg"))) == 12
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_sample_photos_refuses_foreign_folders_and_missing_skimage(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not written by sample_photos"):
        data.sample_photos(tmp_path)
    monkeypatch.setattr(data.photos.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install scikit-image"):
        data.sample_photos(tmp_path / "new")


# ----------------------------------------------------------------------------- every loader

def stand_ins(root: Path) -> dict:
    """Each registered source's split, root and options, with small offline stand-in files."""
    write_fake_fashion(root / "fashion", 30, 10)
    write_cifar(root / "cifar")
    write_folder(root / "folder")
    write_imagenette(root / "imagenette")
    unused = root / "unused"  # generated or bundled: no root is read
    return {"shapes": dict(split="test", root=unused),
            "fashion-mnist": dict(split="val", root=root / "fashion", val_size=8),
            "cifar10": dict(split="train", root=root / "cifar", val_size=4),
            "imagefolder": dict(split="train", root=root / "folder"),
            "imagenette": dict(split="train", root=root / "imagenette"),
            "photos": dict(split="test", root=unused)}


def items(dataset) -> list:
    """Each item's pixels and label, and its file where it has one (the stand-in images of a
    class folder share one colour)."""
    samples = getattr(dataset, "samples", None)
    return [(digest(item["image"]), item["label"], samples and samples[i][0])
            for i, item in enumerate(dataset)]


def test_every_loader_takes_the_common_arguments(tmp_path):
    sources = stand_ins(tmp_path)
    assert sorted(sources) == data.available()  # a new source needs a stand-in here
    for name, source in sources.items():
        def load(n, seed=1):
            return xg.data.load(name, image_size=32, channels=3, download=False, n=n,
                                seed=seed, **source)

        whole, first = load(n=8 if name == "shapes" else None), load(n=3)
        assert len(first) == 3 and items(first) == items(whole)[:3], name  # the first n
        assert items(load(n=3)) == items(first), name  # the same seed: the same data
        assert first[0]["image"].shape == (3, 32, 32), name
        assert len(load(n=0)) == 0, name
    with pytest.raises(ValueError, match="n must be at least 0"):
        xg.data.load("shapes", n=-1)


def test_download_is_a_no_op_where_nothing_can_be_fetched(tmp_path):
    sources = stand_ins(tmp_path)
    for name in ("shapes", "imagefolder", "photos"):
        fetched = xg.data.load(name, image_size=32, download=True, n=2, **sources[name])
        assert items(fetched) == items(xg.data.load(name, image_size=32, n=2, **sources[name]))
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        xg.data.load("imagefolder", root=tmp_path / "missing", download=True)


def test_seed_chooses_the_random_splits_and_nothing_else(tmp_path):
    sources = stand_ins(tmp_path)
    for name, source in sources.items():
        by_seed = [items(xg.data.load(name, image_size=32, n=6, seed=seed, **source))
                   for seed in (0, 1)]
        random = name in ("shapes", "imagefolder", "imagenette")
        assert (by_seed[0] != by_seed[1]) == random, name
    folder = sources["imagefolder"]["root"]
    default = xg.data.load("imagefolder", "val", root=folder)
    assert default.samples == xg.data.load("imagefolder", "val", root=folder, seed=0).samples
    assert default.samples != xg.data.load("imagefolder", "val", root=folder, seed=1).samples


def test_root_none_means_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar(Path(data.archives.CIFAR10_ROOT))
    write_imagenette(Path(data.files.IMAGENETTE_ROOT))
    monkeypatch.setenv(data.FASHION_MNIST_ENV, str(tmp_path / "fashion"))
    write_fake_fashion(tmp_path / "fashion", 30, 10)
    assert len(xg.data.load("cifar10", "test", root=None)) == 4
    assert len(xg.data.load("imagenette", "test", root=None)) == 6
    assert len(xg.data.load("fashion-mnist", "test", root=None)) == 10
    with pytest.raises(ValueError, match="imagefolder needs root"):
        xg.data.load("imagefolder", root=None)
