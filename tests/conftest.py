import gzip
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as Fashion-MNIST ships them (gzip, uint8)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_fake_fashion(root: Path, n_train: int, n_test: int) -> dict:
    """Random Fashion-MNIST stand-in files under ``root``; returns the arrays written."""
    from xai_gan import data

    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10),
              "test": (rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test) % 10)}
    root.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in arrays.items():
        image_file, label_file = data.FASHION_MNIST_FILES[split]
        write_idx(root / image_file, images)
        write_idx(root / label_file, labels)
    return arrays


class Wrapping(torch.utils.data.Dataset):
    """A dataset that reads through to ``dataset``: subclasses watch or break the reads."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[index]

    def __getattr__(self, name):  # name, split, classes... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


class Interrupting(Wrapping):
    """Raises KeyboardInterrupt once ``after`` items were read: a kill."""

    def __init__(self, dataset, after: int):
        super().__init__(dataset)
        self.after, self.reads = after, 0

    def __getitem__(self, index):
        self.reads += 1
        if self.reads > self.after:
            raise KeyboardInterrupt
        return super().__getitem__(index)


class Watched(Wrapping):
    """Sets ``read`` when its first item is read."""

    def __init__(self, dataset):
        super().__init__(dataset)
        self.read = threading.Event()

    def __getitem__(self, index):
        self.read.set()
        return super().__getitem__(index)


def assert_waits_for_lock(lock_path, run, watched: Watched):
    """While this process holds the lock on ``lock_path`` (as another process would),
    ``run(watched)`` in a thread does not start reading ``watched``; once released, it
    finishes. Returns what it returned."""
    import xai_gan as xg

    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(run(watched)))
    with xg.io.exclusive(lock_path):
        thread.start()
        assert not watched.read.wait(1.0), "started while another process held the lock"
    thread.join(120)
    assert not thread.is_alive() and watched.read.is_set() and outcome, "never finished"
    return outcome[0]


# The files that `make test`'s two workers (one file at a time, in this order) take first.
# Notebook 01 trains the notebooks' CNN and 02 builds their stores and GAN, so they come first,
# one after the other, while the other worker runs what needs none of it (test_explainers
# trains the tests' CNN); then the longest notebooks and the teacher x CNN matrix, so that no
# worker is left with a long file at the end. Out of order, the run is still right (the
# notebooks take turns through file locks), only slower: a notebook that needs the GAN would
# wait for it. The longest test files come next, so that the files left for the end are short
# and the two workers finish together.
FIRST = ["notebooks/01_representations.ipynb", "tests/test_explainers.py",
         "notebooks/02_train_gan.ipynb", "notebooks/00_quickstart.ipynb",
         "notebooks/02b_distillation.ipynb", "notebooks/08_your_own_model.ipynb",
         "notebooks/00b_pretrained_photos.ipynb",
         "notebooks/04_quantitative.ipynb", "notebooks/06_generalisation.ipynb",
         "notebooks/05_interpret_the_gan.ipynb", "notebooks/03_qualitative.ipynb",
         "notebooks/07_explorer.ipynb", "notebooks/09_conclusion.ipynb",
         "tests/test_distillation.py", "tests/test_cli.py", "tests/test_gan.py",
         "tests/test_metrics.py", "tests/test_representation.py"]


def pytest_collection_modifyitems(config, items):
    """Files in the order :data:`FIRST` gives (a stable sort: cells stay in order), the rest
    after them as collected. ``gpu`` tests run only where CUDA is. nbval reads a finished
    cell's outputs with a 5 s wait between messages: on a busy 2-core machine a kernel still
    flushing progress-bar updates can take longer, and the cell then fails without having
    failed, so the notebooks' cells (this hook sees them too) wait up to 60 s."""
    def rank(item):
        path = item.nodeid.split("::")[0]
        return FIRST.index(path) if path in FIRST else len(FIRST)

    items.sort(key=rank)
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = 60
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def interrupting():
    return Interrupting


@pytest.fixture
def waits_for_lock():
    return lambda lock_path, run, dataset: assert_waits_for_lock(lock_path, run, Watched(dataset))


@pytest.fixture(scope="session")
def shapes_cnn(tmp_path_factory):
    """A zoo VGG trained on shapes at 64 px (about 98 % test accuracy), with 48 test items.
    Trained once per test run (about a minute): under xdist its checkpoint lies in the run's
    folder that holds every worker's temporary folder, and the second worker waits for it
    and loads it."""
    import xai_gan as xg

    run_root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_root = run_root.parent
    train = xg.data.load("shapes", "train", 64, n=3000, seed=0)
    model = xg.classifiers.build("vgg", 6, seed=0)
    xg.classifiers.train(model, train, epochs=8, batch_size=32, progress=False,
                         checkpoint=run_root / "shapes_cnn.pt")
    test = xg.data.load("shapes", "test", 64, n=48, seed=0)
    return model.eval(), [test[i] for i in range(48)]

