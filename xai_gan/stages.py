"""The stages of a run, by name: what each runs, its help and the setting groups it reads.

One registry feeds the CLI (a sub-command per stage, with the flags of its groups), the main
job (:data:`MAIN_JOB`, in order) and the report. A setting's group is the ``group`` of its
field (:func:`xai_gan.settings.setting`); a field without one is read by every stage.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from . import pipeline, report, studies


class Stage(NamedTuple):
    run: Callable  # (config, splits=None) -> result
    help: str
    groups: tuple[str, ...] = ()  # the setting groups whose flags it takes


STAGES = {
    "train-classifiers": Stage(pipeline.train_classifiers, "train the CNN classifiers"),
    "build-representations": Stage(pipeline.build_representations,
                                   "per-layer Grad-CAMs and cumulative maps of every split",
                                   ("store",)),
    "train-gan": Stage(pipeline.train_gan, "train the SFT-cGAN on the run's representation "
                       "stores", ("gan",)),
    "evaluate": Stage(pipeline.evaluate, "score explainers with every metric on the test split",
                      ("gan", "evaluate", "checkpoint")),
    "studies": Stage(studies.run, "condition relevance, cross-architecture, cross-dataset and "
                     "real-photo generalisation of the run's GAN", ("gan", "study")),
    "report": Stage(report.write, "(re)write report.html from what the run folder holds",
                    ("gan", "study")),
}
# the main job's stages, in order (the report follows them)
MAIN_JOB = ("train-classifiers", "build-representations", "train-gan", "evaluate", "studies")
# what the main job reads: its stages' groups, but a single stage's own (a store shard, a
# checkpoint to evaluate)
MAIN_JOB_GROUPS = ("gan", "evaluate", "study")
