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
