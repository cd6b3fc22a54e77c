"""The ``xai-gan`` command (also ``python -m xai_gan``).

Every stage reads and writes one run folder (default ``runs/default``), so the CLI, a
notebook and a Colab session can each pick up where another stopped. Finished stages are
skipped on a re-run; an interrupted stage resumes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd

from . import classifiers, data, explainers, gan, metrics, pipeline, profiles, report

STAGES = {
    "run": (pipeline.run, "the main job, end to end, with the HTML report"),
    "train-classifiers": (pipeline.train_classifiers, "train the CNN classifiers"),
    "build-representations": (pipeline.build_representations,
                              "per-layer Grad-CAMs and cumulative maps of every split"),
    "train-gan": (pipeline.train_gan, "train the SFT-cGAN on the run's representation stores"),
    "evaluate": (pipeline.evaluate, "score explainers with every metric on the test split"),
    "studies": (pipeline.studies, "condition relevance, cross-architecture and cross-dataset "
                "generalisation of the run's GAN"),
    "report": (report.write, "(re)write report.html from what the run folder holds"),
}
GAN_STAGES = ("run", "train-gan", "evaluate", "studies", "report")


def add_study_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--studies", nargs="+", default=None, choices=pipeline.STUDIES,
                   help="default: all three")
    p.add_argument("--other-dataset", default="fashion-mnist", choices=sorted(data._LOADERS),
                   help="the cross-dataset study's second dataset (default fashion-mnist)")
    p.add_argument("--study-seconds", type=float, default=None,
                   help="training budget of each study GAN (default: the profile's)")


def config_file(path: str | Path) -> dict:
    """The RunConfig fields of a JSON file (keys as the flags' names, with _ or -)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {path} is not valid JSON: {err}") from None
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold one JSON object")
    values = {key.replace("-", "_"): value for key, value in values.items()}
    fields = {f.name for f in dataclasses.fields(pipeline.RunConfig) if f.init}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"config file {path}: unknown settings {unknown}; "
                         f"known: {sorted(fields)}")
    return values


def add_gan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--generator", default="msft", choices=gan.available())
    p.add_argument("--preset", default="tiny", choices=["tiny", "paper"])
    p.add_argument("--gan-epochs", type=int, default=None, help="default: the profile's")
    p.add_argument("--gan-seconds", type=float, default=None,
                   help="training budget in seconds (default: the profile's)")
    p.add_argument("--l1-weight", type=float, default=100.0)
    p.add_argument("--adversarial-weight", type=float, default=1.0, help="0: L1 only")
    p.add_argument("--gan-loss", default="bce", choices=gan.LOSSES)
    p.add_argument("--faithfulness-weight", type=float, default=0.0,
                   help="learned GFI objective through the frozen CNN (default off)")


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--methods", nargs="+", default=None,
                   help=f"explainers (default: all of {explainers.baselines()}, "
                        "and gan when the run has a trained GAN); gan:<tag> names the GAN "
                        "in gan/<tag>/ of the run, to compare several")
    p.add_argument("--metrics", nargs="+", default=None, choices=list(metrics.METRICS),
                   metavar="METRIC",
                   help=f"default: all the data allow, of {list(metrics.METRICS)}")
    p.add_argument("--n", dest="n_explain", type=int, default=None,
                   help="test images to explain (default: the profile's)")
    p.add_argument("--reference", default=None, choices=explainers.baselines(),
                   help="explainer whose map the similarity metrics (ssim, mae, pearson) use")


def parser() -> argparse.ArgumentParser:
    """The ``xai-gan`` argument parser; each sub-command's options fill a RunConfig."""
    parser = argparse.ArgumentParser(
        prog="xai-gan", description="Explain CNN predictions with a conditional GAN. Every "
        "stage reads and writes one run folder and resumes where it stopped.")
    sub = parser.add_subparsers(dest="command", required=True)
    parser.stages = {}
    for name, (_, help_) in STAGES.items():
        p = parser.stages[name] = sub.add_parser(name, help=help_)
        p.add_argument("--config", default=None, type=Path,
                       help="a JSON file of settings (flag names as keys); flags override it")
        p.add_argument("--run-dir", default="runs/default", type=Path,
                       help="run folder shared by every stage (default: runs/default)")
        p.add_argument("--dataset", default="shapes", choices=sorted(data._LOADERS))
        p.add_argument("--data-root", default=None,
                       help="dataset folder (fashion-mnist, cifar10, imagefolder)")
        p.add_argument("--download", action="store_true",
                       help="allow dataset download (online)")
        p.add_argument("--image-size", type=int, default=None,
                       help="image side in px (default: the profile's)")
        fallback = profiles.MAIN_JOB_PROFILE if name == "run" else "full"
        p.add_argument("--profile", default=None, choices=sorted(profiles.PROFILES),
                       help="sizes: 'full', 'main' (the 15-minute main job) or 'ci' (a quick "
                            f"check) (default: $XAI_GAN_PROFILE, else {fallback})")
        p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA if any)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--models", nargs="+", default=None,
                       help=f"zoo names {classifiers.available()} or torchvision:<name>")
        p.add_argument("--epochs", type=int, default=None)
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--lr", type=float, default=3e-3)
        p.add_argument("--n-train", type=int, default=None,
                       help="training images (default: the profile's for shapes, all else)")
        p.add_argument("--n-eval", type=int, default=None,
                       help="validation and test images each (default: the profile's "
                            "for shapes, all else)")
        p.add_argument("--channels", type=int, default=None, choices=[1, 3],
                       help="convert the images to grey (1) or colour (3)")
        p.add_argument("--k", type=int, default=8, help="condition maps kept (default 8)")
        p.add_argument("--target", default="gradcam", choices=explainers.baselines(),
                       help="explainer that makes the GAN's target map")
        if name in GAN_STAGES:
            add_gan_options(p)  # the others: which trained GAN to use
        if name in ("run", "evaluate"):
            add_evaluate_options(p)
        if name == "evaluate":
            p.add_argument("--checkpoint", dest="checkpoint_path", type=Path, default=None,
                           help="a classifier checkpoint to evaluate (default: the run's "
                                "--models)")
        if name in ("run", "studies", "report"):
            add_study_options(p)
    return parser


def parse(argv: list[str] | None = None) -> dict:
    """Parse ``argv``; a ``--config`` file's values become the defaults that flags override."""
    p = parser()
    args = vars(p.parse_args(argv))
    if args["config"] is not None:
        p.stages[args["command"]].set_defaults(**config_file(args["config"]))
        args = vars(p.parse_args(argv))
    args.pop("config")
    fallback = profiles.MAIN_JOB_PROFILE if args["command"] == "run" else "full"
    args["profile"] = profiles.profile_name(args["profile"], fallback)
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(argv)
        command = args.pop("command")
        result = STAGES[command][0](pipeline.RunConfig(**args))
    except (ValueError, FileNotFoundError) as err:
        print(f"xai-gan: error: {err}", file=sys.stderr)
        return 2
    if command == "evaluate":
        print(result.pivot_table(index=["model", "method"], columns="metric", values="mean",
                                 sort=False).to_string(float_format="%.3g"))
    elif isinstance(result, pd.DataFrame):
        print(result.to_string(index=False))
    elif command == "run":
        print(pd.DataFrame(result["classifiers"]).to_string(index=False))
        print("seconds per stage:", {k: round(v, 1) for k, v in result["stage_seconds"].items()})
        print(f"report: {result['report']}")
    elif command == "report":
        print(f"report: {result}")
    print(f"run folder: {args['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
