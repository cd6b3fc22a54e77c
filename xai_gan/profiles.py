"""Run sizes: ``full`` (the real thing) and ``ci`` (minutes on a CPU, for tests and nbval).

The profile is chosen by argument, else by the environment variable ``XAI_GAN_PROFILE``.
"""
from __future__ import annotations

import os

PROFILE_ENV = "XAI_GAN_PROFILE"
PROFILES = {
    # the main job: three CNN families, every explainer and metric, the GAN and the studies in
    # under 15 minutes on a 2-core CPU (each zoo model trains in about a minute)
    "full": {"image_size": {"shapes": 64, "default": 32}, "n_train": 3000, "n_eval": 500,
             "n_explain": 8, "gan_epochs": 30, "gan_seconds": 90,
             "n_study": 200, "study_n_train": 2000, "study_seconds": 30,
             "models": ["vgg", "resnet", "mobilenet"],
             "epochs": {"shapes": {"vgg": 8, "resnet": 7, "mobilenet": 10, "default": 8},
                        "fashion-mnist": {"vgg": 5, "mobilenet": 4, "default": 3},
                        "default": {"default": 5}}},
    # ci: a CNN that still learns shapes (about 80 % test accuracy) in well under a minute
    "ci": {"image_size": {"shapes": 64, "default": 32}, "n_train": 2000, "n_eval": 200,
           "n_explain": 12, "gan_epochs": 2, "gan_seconds": 60,
           "n_study": 50, "study_n_train": 500, "study_seconds": 10,
           "models": ["vgg", "resnet"], "epochs": {"default": {"default": 6}}},
}


def profile_name(name: str | None = None) -> str:
    name = name or os.environ.get(PROFILE_ENV, "full")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (from ${PROFILE_ENV}?): "
                         f"choose from {sorted(PROFILES)}")
    return name


def profile_settings(name: str | None = None) -> dict:
    """The settings of profile ``name`` (default: ``$XAI_GAN_PROFILE``, else ``full``)."""
    name = profile_name(name)
    return {"name": name, **PROFILES[name]}


def lookup(table: dict, *keys: str):
    """``table[k1][k2]...``, falling back to the ``"default"`` entry at each level."""
    for key in keys:
        table = table.get(key, table["default"])
    return table
