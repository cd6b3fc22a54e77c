"""Test accuracy and training time of every zoo CNN on shapes (64 px) and Fashion-MNIST (32 px).

Each model trains with the full profile's epoch budget (under 3 minutes each on a 2-core CPU)
through the same code path as ``xai-gan train-classifiers``. Prints a markdown table.

    python benchmarks/zoo_accuracy.py [--datasets shapes fashion-mnist] [--run-dir runs/zoo]
"""
import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

from xai_gan import pipeline
from xai_gan.zoo import ZOO


def markdown(table: pd.DataFrame) -> str:
    rows = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r] for r in table.values]
    lines = [list(table.columns), ["---"] * table.shape[1], *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["shapes", "fashion-mnist"])
    parser.add_argument("--models", nargs="+", default=sorted(ZOO))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/zoo"))
    args = parser.parse_args()
    tables = []
    for dataset in args.datasets:
        config = pipeline.RunConfig(run_dir=args.run_dir / dataset, dataset=dataset,
                                    profile="full", models=args.models)
        tables.append(pipeline.train_classifiers(config))
    table = pd.concat(tables)[["dataset", "model", "image_size", "epochs", "train_seconds",
                               "test_accuracy", "parameters"]]
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads")
    print(markdown(table))


if __name__ == "__main__":
    sys.exit(main())
