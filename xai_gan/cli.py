"""The ``xai-gan`` command (also ``python -m xai_gan``).

Every stage reads and writes one run folder (default ``runs/default``), so the CLI, a
notebook and a Colab session can each pick up where another stopped. Finished stages are
skipped on a re-run; an interrupted training resumes from its last epoch checkpoint.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from . import classifiers, data
from .io import atomic_path, save_json
from .profiles import lookup, profile_settings


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", default="runs/default", type=Path,
                   help="run folder shared by every stage (default: runs/default)")
    p.add_argument("--dataset", default="shapes", choices=sorted(data._LOADERS))
    p.add_argument("--data-root", default=None,
                   help="dataset folder (fashion-mnist, cifar10, imagefolder)")
    p.add_argument("--image-size", type=int, default=None,
                   help="image side in px (default: the profile's)")
    p.add_argument("--profile", default=None, choices=["full", "ci"],
                   help="'ci' = small sizes for a quick check (default: $XAI_GAN_PROFILE or full)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA if present)")
    p.add_argument("--seed", type=int, default=0)


def _add_classifier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=None,
                   help=f"zoo names {classifiers.available()} or torchvision:<name>")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--n-train", type=int, default=None, help="shapes only: training images")
    p.add_argument("--download", action="store_true", help="allow dataset download (online)")


def _datasets(args, settings) -> dict:
    """The train, val and test splits the arguments and the profile ask for."""
    kwargs = {}
    if args.data_root:
        kwargs["root"] = args.data_root
    if args.download:
        kwargs["download"] = True
    size = args.image_size or lookup(settings["image_size"], args.dataset)
    out = {}
    for split in data.SPLITS:
        if args.dataset == "shapes":
            n = args.n_train or settings["n_train"] if split == "train" else settings["n_eval"]
            kwargs.update(seed=args.seed, n=n)
        out[split] = data.load(args.dataset, split, size, **kwargs)
    return out


def train_classifiers(args) -> pd.DataFrame:
    """Train (or resume) each classifier; write checkpoints and ``classifiers.csv``."""
    settings = profile_settings(args.profile)
    splits = _datasets(args, settings)
    folder = args.run_dir / "classifiers"
    rows = []
    for name in args.models or settings["models"]:
        epochs = args.epochs or lookup(settings["epochs"], args.dataset, name)
        ds = splits["train"]
        model = classifiers.build(name, num_classes=len(ds.classes), in_channels=ds.channels,
                                  seed=args.seed)
        path = folder / f"{name.replace(':', '_')}.pt"
        history = classifiers.train(model, ds, splits["val"], epochs=epochs,
                                    batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                    device=args.device, checkpoint=path)
        test = classifiers.evaluate(model, splits["test"], device=args.device)
        rows.append({"model": name, "dataset": args.dataset, "image_size": ds.image_size,
                     "epochs": history[-1]["epoch"], "train_seconds": history[-1]["seconds"],
                     "val_accuracy": history[-1].get("val_accuracy"),
                     "test_accuracy": test["accuracy"], "n_test": test["n"],
                     "parameters": classifiers.count_parameters(model),
                     "checkpoint": str(path)})
        print(f"{name}: test accuracy {test['accuracy']:.4f} "
              f"after {history[-1]['seconds']:.0f} s of training", flush=True)
    table = pd.DataFrame(rows)
    with atomic_path(folder / "classifiers.csv") as tmp:
        table.to_csv(tmp, index=False)
    return table


def run(args) -> None:
    """The main job, on the embedded default (shapes) unless told otherwise."""
    tic = time.perf_counter()
    table = train_classifiers(args)
    summary = {"stage_seconds": {"train-classifiers": time.perf_counter() - tic},
               "classifiers": table.drop(columns="checkpoint").to_dict("records"),
               "profile": profile_settings(args.profile)["name"]}
    save_json(summary, args.run_dir / "summary.json")
    print(table.drop(columns="checkpoint").to_string(index=False))
    print(f"run folder: {args.run_dir}")


def parser() -> argparse.ArgumentParser:
    """The ``xai-gan`` argument parser (sub-commands set ``func``)."""
    parser = argparse.ArgumentParser(prog="xai-gan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_ in [("run", run, "the main job, end to end"),
                              ("train-classifiers", train_classifiers,
                               "train the CNN classifiers")]:
        p = sub.add_parser(name, help=help_)
        _add_common(p)
        _add_classifier_options(p)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"xai-gan {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
