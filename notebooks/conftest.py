"""nbval reads a cell's outputs with a 5 s wait between messages once the cell has finished;
on a busy 2-core machine a kernel still flushing progress-bar updates can take longer, and
the cell then fails without having failed. Give it 60 s."""


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = 60
