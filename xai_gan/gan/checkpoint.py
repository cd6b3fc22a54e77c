"""The generator file format: what ``best.pt`` and ``last.pt`` of a GAN run hold, written and
read in one place."""
from __future__ import annotations

from dataclasses import asdict, is_dataclass
from pathlib import Path

from torch import nn

from ..io import as_json, load_torch
from .generators import build_generator

GENERATOR_FORMAT = "xai-gan-generator/1"


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
    state = load_torch(path)
    if not isinstance(state, dict) or state.get("format") != GENERATOR_FORMAT:
        raise ValueError(f"{path} is not an xai-gan generator checkpoint")
    if "map_size" not in state:  # checkpoints before map_size called it image_size
        state["map_size"] = state.pop("image_size")
    for name, asked in (("k", k), ("map_size", map_size)):
        if asked is not None and asked != state[name]:
            raise ValueError(f"{path} was trained with {name} = {state[name]}, "
                             f"not {name} = {asked}")
    generator = build_generator(seed=None, **state["spec"])
    generator.load_state_dict(state.pop("state"))
    if device is not None:
        generator.to(device)
    return generator.eval(), state
