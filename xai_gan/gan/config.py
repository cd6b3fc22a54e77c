"""The GAN's training settings: :class:`TrainConfig` (a run's ``RunConfig.gan``), the
objectives it may train with, and :func:`identity`, what makes two trainings the same run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import NO_FLAG, setting
from .augment import AUGMENTATIONS
from .generators import INPUTS, available
from .losses import LOSSES, RECIPES

# what makes a run: a checkpoint with other values is refused (the run's identity)
RUN_FIELDS = ("generator", "preset", "inputs", "condition_on_class", "generator_options",
              "batch_size", "lr", "beta1", "augment", "objective", "recipe", "distil_weight",
              "correlation_weight", "adversarial_weight", "gan_loss", "disc_width",
              "faithfulness_weight", "deletion_weight", "classifier", "seed")
# distil: draw the teacher's map (the recipe's term, and the adversarial one unless its
# weight is 0);
# faithful: no teacher, the faithfulness objective through the frozen CNN; both: all terms
OBJECTIVES = ("distil", "faithful", "both")
_GAN, _PROFILE = "gan", {"profile": True}  # the flags' group; a default the profile sets


@dataclass
class TrainConfig:
    """How to train a generator: ``objective`` picks the terms (:data:`OBJECTIVES`),
    ``recipe`` the form of the distillation term, the weights scale them;
    ``adversarial_weight=0`` distils without a discriminator. A run's GAN settings
    (``RunConfig.gan``); the fields with a group are the CLI's GAN flags."""

    out_dir: Path = setting(Path("runs/gan"), group=NO_FLAG)
    generator: str = setting("msft", "generator architecture", choices=available(), group=_GAN)
    preset: str = setting("tiny", "generator size", choices=["tiny", "paper"], group=_GAN)
    inputs: str = setting("both", "what the generator reads: both, or only the image or only "
                          "the conditions (the other zeroed: the ablation that measures what "
                          "each contributes)", choices=list(INPUTS), group=_GAN)
    condition_on_class: bool = setting(
        False, "also tell the generator which class each map explains (one-hot planes beside "
        "the condition maps): a teacher that treats some classes differently (Score-CAM on "
        "some CNNs) becomes learnable", group=_GAN)
    generator_options: dict = setting(group=NO_FLAG, factory=dict)  # preset overrides
    epochs: int = setting(10, "GAN epochs (default: the profile's)", group=_GAN,
                          flag="--gan-epochs", **_PROFILE)
    batch_size: int = setting(32, "GAN training batch size", group=_GAN,
                              flag="--gan-batch-size")
    lr: float = setting(2e-4, "GAN learning rate (generator and critic)", group=_GAN,
                        flag="--gan-lr")
    beta1: float = setting(0.5, group=NO_FLAG)
    augment: str = setting("none", "a random symmetry per training item, applied alike to its "
                           "image, conditions and teacher map: flip (left-right) or dihedral "
                           "(flips and quarter turns: only for classes that survive them)",
                           choices=list(AUGMENTATIONS), group=_GAN)
    objective: str = setting("distil", "what the generator learns: distil (the teacher's map), "
                             "faithful (deletion and insertion through the frozen CNN, no "
                             "teacher) or both (default: the profile's)",
                             choices=list(OBJECTIVES), group=_GAN, **_PROFILE)
    recipe: str = setting("cross-entropy", "the distillation term: cross-entropy (to the "
                          "teacher map as a soft label, on the generator's logits: learns "
                          "sparse teachers too) or paper (L1 to the teacher map, the published "
                          "recipe: on teachers whose maps are mostly near 0 it can collapse to "
                          "a constant map)", choices=list(RECIPES), group=_GAN)
    distil_weight: float = setting(100.0, "weight of the distillation term (the paper: L1 at "
                                   "100)", group=_GAN)
    correlation_weight: float = setting(0.0, "weight of 1 - Pearson to the teacher map, beside "
                                        "the distillation term", group=_GAN)
    adversarial_weight: float = setting(1.0, "0: L1 only", group=_GAN)
    gan_loss: str = setting("bce", "adversarial loss", choices=list(LOSSES), group=_GAN)
    disc_width: int = setting(32, group=NO_FLAG)
    faithfulness_weight: float = setting(1.0, "weight of the faithfulness objective (objective "
                                         "faithful or both)", group=_GAN)
    deletion_weight: float = setting(
        0.0, "weight of the faithfulness objective's deletion term beside its insertion term "
        "(0: insertion alone, which scored as well or a little better, at half the CNN "
        "passes)", group=_GAN)
    # classifier checkpoint(s) the faithfulness term runs: one, or one per store of a
    # combined train store (``xai_gan.store.combine``), in its order
    classifier: str | list[str] | None = setting(None, group=NO_FLAG)
    seed: int = setting(0, group=NO_FLAG)
    device: str | None = setting(None, group=NO_FLAG)
    # bf16 autocast; default on CUDA GPUs with native bf16
    amp: bool | None = setting(None, group=NO_FLAG)
    channels_last: bool | None = setting(None, group=NO_FLAG)  # default on CUDA
    compile: bool = setting(False, group=NO_FLAG)
    distributed: bool = setting(False, "train the GAN with DistributedDataParallel over "
                                "torchrun's processes (torchrun --nproc_per_node N -m xai_gan "
                                "train-gan --distributed)", group=_GAN)
    # training budget over the whole run (resumes included)
    max_seconds: float | None = setting(None, "GAN training budget in seconds (default: the "
                                        "profile's)", group=_GAN, flag="--gan-seconds",
                                        **_PROFILE)
    num_workers: int = setting(0, group=NO_FLAG)
    progress: bool = setting(True, group=NO_FLAG)

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose from {OBJECTIVES}")
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose from {list(RECIPES)}")
        if self.inputs not in INPUTS:
            raise ValueError(f"unknown inputs {self.inputs!r}; choose from {INPUTS}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {self.augment!r}; choose from "
                             f"{AUGMENTATIONS}")

    @property
    def uses_teacher(self) -> bool:
        return self.objective != "faithful"

    @property
    def uses_classifier(self) -> bool:
        return self.objective != "distil"


def identity(config: TrainConfig | dict) -> dict:
    """What makes a training run: the :data:`RUN_FIELDS` of ``config`` (a TrainConfig, or a
    checkpoint's record of one, where a field it lacks takes today's default). A distilled
    run leaves out the faithfulness settings, which it never uses."""
    if isinstance(config, TrainConfig):
        config = {name: getattr(config, name) for name in RUN_FIELDS}
    defaults = TrainConfig()
    out = {name: config.get(name, getattr(defaults, name)) for name in RUN_FIELDS}
    if out["objective"] == "distil":
        for name in ("faithfulness_weight", "deletion_weight", "classifier"):
            del out[name]
    return out
