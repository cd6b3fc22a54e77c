"""The run folder: every path and file name a run writes, in one place.

A run folder holds ``classifiers/``, ``representations/<teacher>/<model>/<split>/``,
``gan/<tag>/`` (each with ``config.json``), ``evaluation/<model>/``, ``studies/<name>/``,
``cross-dataset/<dataset>/`` (the other dataset's run), ``summary.json``,
``timings.json``, ``report.html``, ``quality_cost.png`` and ``results.md``. Model names
become folder names with ``:`` replaced (``torchvision:resnet18`` ->
``torchvision_resnet18``).
"""
from __future__ import annotations

from pathlib import Path


def folder_name(model: str) -> str:
    """A model name as a file or folder name."""
    return model.replace(":", "_")


def _top_level(name: str) -> property:
    """A read-only attribute: the path of file ``name`` at the top of the run folder."""
    return property(lambda layout: layout.run_dir / name)


class RunLayout:
    """The paths of the run folder ``run_dir``; nothing is created until a stage writes."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)

    def classifier(self, model: str) -> Path:
        return self.run_dir / "classifiers" / f"{folder_name(model)}.pt"

    @property
    def classifiers_table(self) -> Path:
        return self.run_dir / "classifiers" / "classifiers.csv"

    def store(self, teacher: str, model: str, split: str) -> Path:
        """One store per teacher, model and split: a run can hold several teachers."""
        return self.run_dir / "representations" / teacher / folder_name(model) / split

    def gan(self, tag: str) -> Path:
        return self.run_dir / "gan" / tag

    def gans(self) -> list[Path]:
        """The GAN folders the run holds, by name."""
        root = self.run_dir / "gan"
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []

    @staticmethod
    def gan_config(gan_dir: Path) -> Path:
        """The full settings of the GAN trained in ``gan_dir``."""
        return gan_dir / "config.json"

    def evaluation(self, model: str) -> Path:
        return self.run_dir / "evaluation" / folder_name(model)

    def evaluations(self) -> list[Path]:
        """The evaluation folders the run holds, by name."""
        root = self.run_dir / "evaluation"
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []

    def study(self, name: str) -> Path:
        return self.run_dir / "studies" / name

    def other_dataset(self, dataset: str) -> Path:
        """The run folder of the cross-dataset study's other dataset."""
        return self.run_dir / "cross-dataset" / dataset

    # the run's top-level files (quality_cost: the report's quality-against-cost figure)
    summary = _top_level("summary.json")
    timings = _top_level("timings.json")
    report = _top_level("report.html")
    quality_cost = _top_level("quality_cost.png")
    results = _top_level("results.md")
