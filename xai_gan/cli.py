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

from . import explain, explainers, gan, job, stages, studies
from .config import RunConfig
from .settings import NO_FLAG

# the sub-commands: the main job, then every stage
COMMANDS = {"run": stages.Stage(job.run, "the main job, end to end, with the HTML report",
                                stages.MAIN_JOB_GROUPS), **stages.STAGES}
GAN = "gan."  # the prefix of the GAN's settings among the parsed arguments
# choices only a later layer knows: the registered studies
CHOICES = {"studies": list(studies.STUDIES)}


def _settings() -> list[tuple[str, dataclasses.Field, object]]:
    """``(dest, field, type hint)`` of every setting with a flag: RunConfig's, then its GAN's
    (:class:`~xai_gan.gan.TrainConfig`, dest ``gan.<field>``)."""
    out = []
    for cls, prefix in ((RunConfig, ""), (gan.TrainConfig, GAN)):
        hints = typing.get_type_hints(cls)
        out += [(prefix + f.name, f, hints[f.name]) for f in dataclasses.fields(cls)
                if f.init and f.metadata.get("group") != NO_FLAG]
    return out


def flag_name(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def config_file(path: str | Path) -> dict:
    """The settings of a JSON file, by dest (keys as the flags' names, with _ or -)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {path} is not valid JSON: {err}") from None
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold one JSON object")
    dests = {flag_name(f)[2:].replace("-", "_"): dest for dest, f, _ in _settings()}
    values = {key.replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(values) - set(dests))
    if unknown:
        raise ValueError(f"config file {path}: unknown settings {unknown}; "
                         f"known: {sorted(dests)}")
    return {dests[key]: value for key, value in values.items()}


def add_setting(p: argparse.ArgumentParser, dest: str, f: dataclasses.Field, hint,
                choices: list | None = None) -> None:
    """The flag of a settings field ``f`` (type hint ``hint``): name, type, choices (the
    field's, or ``choices``), help. A GAN setting defaults to None: the run's profile, or
    TrainConfig's default, decides."""
    meta = f.metadata
    default = f.default if f.default is not dataclasses.MISSING else None
    shown = None if meta.get("profile") else default
    help_ = meta["help"] + (f" (default: {shown})" if shown not in (None, False) else "")
    options = {"dest": dest, "default": None if dest.startswith(GAN) else default,
               "help": help_.replace("%", "%%")}
    choices = meta["choices"] if choices is None else choices
    if choices is not None:
        options["choices"] = choices
    if hint is bool:
        p.add_argument(flag_name(f), action="store_true", **options)
        return
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = kinds[0]
    if typing.get_origin(kind) is list:
        options.update(nargs="+", type=typing.get_args(kind)[0])
        if "choices" in options and len(options["choices"]) > 8:
            options["metavar"] = f.name.upper().rstrip("S")
    else:
        options["type"] = kind
    p.add_argument(flag_name(f), **options)


def parser() -> argparse.ArgumentParser:
    """The ``xai-gan`` argument parser: each sub-command's flags are the settings of the
    groups it takes (:data:`COMMANDS`), with their help, choices and defaults."""
    parser = argparse.ArgumentParser(
        prog="xai-gan", description="Explain CNN predictions with a conditional GAN. Every "
        "stage reads and writes one run folder and resumes where it stopped.")
    sub = parser.add_subparsers(dest="command", required=True)
    parser.stages = {}
    for name, stage in COMMANDS.items():
        p = parser.stages[name] = sub.add_parser(name, help=stage.help)
        p.add_argument("--config", default=None, type=Path,
                       help="a JSON file of settings (flag names as keys); flags override it")
        for dest, f, hint in _settings():
            group = f.metadata.get("group")
            if group is None or group in stage.groups:
                add_setting(p, dest, f, hint, CHOICES.get(dest))
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


def run_config(args: dict) -> RunConfig:
    """The RunConfig of parsed settings: the GAN's given ones (``gan.<field>``) become its
    changes from the profile's GAN."""
    changes = {k[len(GAN):]: args.pop(k) for k in list(args) if k.startswith(GAN)}
    return RunConfig(**args, gan={k: v for k, v in changes.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(argv)
        command = args.pop("command")
        if command == "explain":
            print(f"wrote {explain.explain_file(args.pop('photo'), **args)}")
            return 0
        result = COMMANDS[command].run(run_config(args))
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
