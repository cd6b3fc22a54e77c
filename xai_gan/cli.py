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
import typing
from pathlib import Path

import pandas as pd

from . import explain, explainers, gan, job, pipeline, report, studies
from .config import GROUPS, RunConfig

STAGES = {
    "run": (job.run, "the main job, end to end, with the HTML report"),
    "train-classifiers": (pipeline.train_classifiers, "train the CNN classifiers"),
    "build-representations": (pipeline.build_representations,
                              "per-layer Grad-CAMs and cumulative maps of every split"),
    "train-gan": (pipeline.train_gan, "train the SFT-cGAN on the run's representation stores"),
    "evaluate": (pipeline.evaluate, "score explainers with every metric on the test split"),
    "studies": (studies.run, "condition relevance, cross-architecture, cross-dataset and "
                "real-photo generalisation of the run's GAN"),
    "report": (report.write, "(re)write report.html from what the run folder holds"),
}


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
    fields = {f.name for f in dataclasses.fields(RunConfig) if f.init}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"config file {path}: unknown settings {unknown}; "
                         f"known: {sorted(fields)}")
    return values


def add_setting(p: argparse.ArgumentParser, f: dataclasses.Field, hint) -> None:
    """The flag of RunConfig field ``f`` (type hint ``hint``): name, type, choices, help."""
    meta = f.metadata
    flag = meta["flag"] or "--" + f.name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING else None
    help_ = meta["help"] + (f" (default: {default})" if default not in (None, False) else "")
    options = {"dest": f.name, "default": default, "help": help_.replace("%", "%%")}
    if meta["choices"] is not None:
        options["choices"] = meta["choices"]
    if hint is bool:
        p.add_argument(flag, action="store_true", **options)
        return
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = kinds[0]
    if typing.get_origin(kind) is list:
        options.update(nargs="+", type=typing.get_args(kind)[0])
        if "choices" in options and len(options["choices"]) > 8:
            options["metavar"] = f.name.upper().rstrip("S")
    else:
        options["type"] = kind
    p.add_argument(flag, **options)


def parser() -> argparse.ArgumentParser:
    """The ``xai-gan`` argument parser: each sub-command's flags are RunConfig's fields
    (those of the groups it takes), with their help, choices and defaults."""
    parser = argparse.ArgumentParser(
        prog="xai-gan", description="Explain CNN predictions with a conditional GAN. Every "
        "stage reads and writes one run folder and resumes where it stopped.")
    sub = parser.add_subparsers(dest="command", required=True)
    parser.stages = {}
    hints = typing.get_type_hints(RunConfig)
    for name, (_, help_) in STAGES.items():
        p = parser.stages[name] = sub.add_parser(name, help=help_)
        p.add_argument("--config", default=None, type=Path,
                       help="a JSON file of settings (flag names as keys); flags override it")
        for f in dataclasses.fields(RunConfig):
            group = f.metadata.get("group") if f.init else "not a setting"
            if group is None or name in GROUPS.get(group, ()):
                add_setting(p, f, hints[f.name])
    p = sub.add_parser("explain", help="one photo: the CNN's top classes and every quick "
                       "method's map, in one PNG (no run folder)")
    p.add_argument("photo", type=Path, help="an image file (any size; the centre square is used)")
    p.add_argument("--out", type=Path, help="the PNG to write (default: <photo>-explained.png)")
    p.add_argument("--model", type=Path, help="a classifier checkpoint (default: the offline "
                   "ImageNet EfficientNet-Lite0)")
    p.add_argument("--methods", nargs="+", choices=explainers.baselines(),
                   metavar="METHOD", help=f"default: {' '.join(explainers.quick())}")
    p.add_argument("--target", help="the class to explain, by name or index (default: the top)")
    p.add_argument("--image-size", type=int, default=224)
    return parser


def parse(argv: list[str] | None = None) -> dict:
    """Parse ``argv``; a ``--config`` file's values become the defaults that flags override."""
    p = parser()
    args = vars(p.parse_args(argv))
    if args["command"] == "explain":
        return args
    if args["config"] is not None:
        p.stages[args["command"]].set_defaults(**config_file(args["config"]))
        args = vars(p.parse_args(argv))
    args.pop("config")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(argv)
        command = args.pop("command")
        if command == "explain":
            print(f"wrote {explain.explain_file(args.pop('photo'), **args)}")
            return 0
        result = STAGES[command][0](RunConfig(**args))
    except (ValueError, OSError, gan.GeneratorCollapsed) as err:
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
        minutes, secs = divmod(round(result["total_seconds"]), 60)
        print(f"the main job took {minutes} min {secs} s (Python's start and the set-up "
              "not counted)")
    elif command == "report":
        print(f"report: {result}")
    print(f"run folder: {args['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
