"""The generator file format: what ``best.pt`` and ``last.pt`` of a GAN run hold, written and
read in one place.

Format 2 holds ``map_size`` and a training config with its ``objective``, ``recipe`` and
``deletion_weight``; :func:`migrate` brings format 1 files (some written before those
existed) up to it, and refuses anything else.
"""
from __future__ import annotations

from dataclasses import asdict, is_dataclass
from pathlib import Path

from torch import nn

from ..io import as_json, load_torch
from .generators import build_generator

GENERATOR_FORMAT = "xai-gan-generator/2"
_FORMAT_1 = "xai-gan-generator/1"


def migrate(state, path: str | Path) -> dict:
    """A loaded checkpoint ``state`` at :data:`GENERATOR_FORMAT`; raises ValueError for a
    file that is no generator checkpoint, or one of a format this xai_gan does not know."""
    found = state.get("format") if isinstance(state, dict) else None
    if found == GENERATOR_FORMAT:
        return state
    if found != _FORMAT_1:
        known = f" ({found}: written by a newer xai_gan?)" if found else ""
        raise ValueError(f"{path} is not an xai-gan generator checkpoint of format "
                         f"{GENERATOR_FORMAT}{known}")
    if "image_size" in state:  # before map_size
        state["map_size"] = state.pop("image_size")
    config = state["config"] = dict(state.get("config", {}))
    if "objective" not in config:  # before objectives: a weight > 0 was a term since replaced
        config["objective"] = ("distil" if not config.get("faithfulness_weight")
                               else "distil with the replaced keep/remove term")
    if "recipe" not in config:  # before recipes: L1 on the map, the paper's
        config.update(recipe="paper", distil_weight=config.pop("l1_weight", 100.0))
    if config["objective"] != "distil":  # before its weight, the deletion term was always on
        config.setdefault("deletion_weight", 1.0)
    options = config["generator_options"] = dict(config.get("generator_options", {}))
    if "inputs" in options:  # before they were settings of their own
        config["inputs"] = options.pop("inputs")
    if options.pop("classes", 0):
        config["condition_on_class"] = True
    state["format"] = GENERATOR_FORMAT
    return state


def generator_state(generator: nn.Module, shape: dict, config, **extra) -> dict:
    """A checkpoint dict: the generator's spec and weights, the data ``shape`` (k,
    map_size, image_channels) it was trained on, the training ``config`` and ``extra``."""
    config = as_json(asdict(config) if is_dataclass(config) else config)
    return {"format": GENERATOR_FORMAT, "spec": generator.spec, "state": generator.state_dict(),
            **shape, "config": config, **extra}


def load_generator(path: str | Path, k: int | None = None, map_size: int | None = None,
                   device=None) -> tuple[nn.Module, dict]:
    """Rebuild the generator of a checkpoint (``weights_only=True``), in eval mode.

    ``k`` and ``map_size``, when given, must be what it was trained with. Returns the
    generator and the checkpoint's other entries (``k``, ``map_size``, ``teacher``, ...).
    """
    state = migrate(load_torch(path), path)
    for name, asked in (("k", k), ("map_size", map_size)):
        if asked is not None and asked != state[name]:
            raise ValueError(f"{path} was trained with {name} = {state[name]}, "
                             f"not {name} = {asked}")
    generator = build_generator(seed=None, **state["spec"])
    generator.load_state_dict(state.pop("state"))
    if device is not None:
        generator.to(device)
    return generator.eval(), state
