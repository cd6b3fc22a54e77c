import pytest
import torch


class Interrupting(torch.utils.data.Dataset):
    """Wraps a dataset and raises KeyboardInterrupt once ``after`` items were read: a kill."""

    def __init__(self, dataset, after: int):
        self.dataset, self.after, self.reads = dataset, after, 0

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads > self.after:
            raise KeyboardInterrupt
        return self.dataset[index]

    def __getattr__(self, name):  # name, split, classes... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


@pytest.fixture
def interrupting():
    return Interrupting


@pytest.fixture(scope="session")
def shapes_cnn():
    """A zoo VGG trained on shapes at 64 px in the test session (about a minute on 2 cores;
    about 98 % test accuracy), with 48 test items."""
    import xai_gan as xg

    train = xg.data.load("shapes", "train", 64, n=3000, seed=0)
    model = xg.classifiers.build("vgg", 6, seed=0)
    xg.classifiers.train(model, train, epochs=8, batch_size=32, progress=False)
    test = xg.data.load("shapes", "test", 64, n=48, seed=0)
    return model.eval(), [test[i] for i in range(48)]
