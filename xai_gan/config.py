"""What a run does: :class:`RunConfig`, the one source of every run setting.

Each field carries its help and, where it has them, its choices and the CLI sub-commands
that take it (``xai_gan.cli`` builds its flags from these fields). ``None`` means "the
profile's value", resolved once, in ``__post_init__``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from . import data, explainers, gan, metrics, profiles

STUDIES = ("condition-relevance", "cross-architecture", "cross-dataset", "real-photos")
DEFAULT_STUDIES = STUDIES[:3]  # unless the profile names its own
# what a generator the GAN must beat changes from the GAN's own set-up
BASELINES = {"linear": {"generator": "linear"}, "image-only": {"inputs": "image"},
             "conditions-only": {"inputs": "conditions"}, "distil": {"objective": "distil"},
             "faithful": {"objective": "faithful"}}
_GAN = gan.TrainConfig  # the GAN's defaults live there once

# which CLI sub-commands take a group's flags (every other field: every sub-command)
GROUPS = {"gan": ("run", "train-gan", "evaluate", "studies", "report"),
          "evaluate": ("run", "evaluate"), "checkpoint": ("evaluate",),
          "store": ("build-representations",),
          "study": ("run", "studies", "report")}


def setting(default=None, help: str = "", *, choices=None, group: str | None = None,
            flag: str | None = None, factory=None):
    """A RunConfig field with what its CLI flag needs: help, choices, group, flag name."""
    meta = {"help": help, "choices": choices, "group": group, "flag": flag}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    """What a run does; ``None`` fields take the profile's value."""

    run_dir: Path = setting(Path("runs/default"), "run folder shared by every stage")
    dataset: str = setting("shapes", "dataset to explain", choices=data.available())
    data_root: str | None = setting(None, "dataset folder (fashion-mnist, cifar10, imagefolder)")
    download: bool = setting(False, "allow dataset download (online)")
    image_size: int | None = setting(None, "image side in px, 32 to 512: the CNN's input "
                                     "(default: the profile's)")
    map_size: int | None = setting(None, "side of the stored maps and of the GAN (default: the "
                                   "image size up to 64 px, else 64, the paper's choice; up to "
                                   "32 px in the main profile, where the GAN then costs under "
                                   "2x Grad-CAM)")
    channels: int | None = setting(None, "convert the images to grey (1) or colour (3)",
                                   choices=[1, 3])
    profile: str | None = setting(
        None, "sizes: 'main' (the 15-minute main job), 'full' (the notebooks' size) or 'ci' "
        f"(a quick check) (default: ${profiles.PROFILE_ENV}, else "
        f"{profiles.MAIN_JOB_PROFILE})", choices=sorted(profiles.PROFILES))
    device: str | None = setting(None, "cpu, cuda, cuda:1 (default: CUDA if any)")
    seed: int = setting(0, "seed of every random choice of the run")
    models: list[str] | None = setting(
        None, "CNNs: zoo names, efficientnet_lite0 or torchvision:<name> (default: the "
        "profile's)")
    weights: str | None = setting(
        None, "pretrained weights of the full-size models: imagenet for efficientnet_lite0 "
        "(offline), e.g. DEFAULT for torchvision:<name> (downloaded once: online only); the "
        "model then normalises its input as the weights expect")
    epochs: int | None = setting(None, "CNN training epochs (default: the profile's)")
    batch_size: int | None = setting(None, "CNN training batch size (default: the profile's, "
                                     "else 64)")
    lr: float | None = setting(None, "CNN learning rate (default: the profile's, else 3e-3 for "
                               "zoo CNNs and 1e-4 for full-size ones: a fine-tuning rate that "
                               "deep nets without batch norm, like VGG16, survive)")
    n_train: int | None = setting(
        None, "training images (default: the profile's for shapes, all else)")
    n_eval: int | None = setting(
        None, "validation and test images each (default: the profile's for shapes, all else)")
    k: int = setting(8, "condition maps kept")
    teacher: str = setting("gradcam", "explainer whose maps the GAN learns to draw, and the "
                           "similarity metrics compare with", choices=explainers.baselines())
    generator: str = setting(_GAN.generator, "generator architecture",
                             choices=gan.available(), group="gan")
    preset: str = setting(_GAN.preset, "generator size", choices=["tiny", "paper"],
                          group="gan")
    inputs: str = setting("both", "what the generator reads: both, or only the image or only "
                          "the conditions (the other zeroed: the ablation that measures what "
                          "each contributes)", choices=list(gan.INPUTS), group="gan")
    condition_on_class: bool = setting(
        False, "also tell the generator which class each map explains (one-hot planes beside "
        "the condition maps): a teacher that treats some classes differently (Score-CAM on "
        "some CNNs) becomes learnable", group="gan")
    augment: str = setting(_GAN.augment, "a random symmetry per training item, applied alike "
                           "to its image, conditions and teacher map: flip (left-right) or "
                           "dihedral (flips and quarter turns: only for classes that survive "
                           "them)", choices=list(gan.AUGMENTATIONS), group="gan")
    gan_epochs: int | None = setting(None, "GAN epochs (default: the profile's)", group="gan")
    distributed: bool = setting(False, "train the GAN with DistributedDataParallel over "
                                "torchrun's processes (torchrun --nproc_per_node N -m xai_gan "
                                "train-gan --distributed)", group="gan")
    gan_seconds: float | None = setting(
        None, "GAN training budget in seconds (default: the profile's)", group="gan")
    objective: str | None = setting(None, "what the generator learns: distil (the teacher's "
                                    "map), faithful (deletion and insertion through the frozen "
                                    "CNN, no teacher) or both (default: the profile's)",
                                    choices=list(gan.OBJECTIVES), group="gan")
    gan_baselines: list[str] | None = setting(
        None, "generators the GAN must beat, trained beside it on the same stores and budget "
        "and evaluated as gan:<name>: linear (a learned 1x1 mix of the conditions), image-only "
        "and conditions-only (the other input zeroed), all with the GAN's objective, and the "
        "GAN with the other objective: distil (the paper's, drawn from the teacher) or "
        "faithful (no teacher); none for none (default: the profile's)",
        choices=[*BASELINES, "none"], group="gan")
    recipe: str = setting(_GAN.recipe, "the distillation term: cross-entropy (to the teacher "
                          "map as a soft label, on the generator's logits: learns sparse "
                          "teachers too) or paper (L1 to the teacher map, the published "
                          "recipe: on teachers whose maps are mostly near 0 it can collapse "
                          "to a constant map)", choices=list(gan.RECIPES), group="gan")
    distil_weight: float = setting(_GAN.distil_weight, "weight of the distillation term",
                                   group="gan")
    correlation_weight: float = setting(
        _GAN.correlation_weight, "weight of 1 - Pearson to the teacher map, beside the "
        "distillation term", group="gan")
    adversarial_weight: float = setting(_GAN.adversarial_weight, "0: L1 only", group="gan")
    gan_loss: str = setting(_GAN.gan_loss, "adversarial loss", choices=list(gan.LOSSES),
                            group="gan")
    faithfulness_weight: float = setting(
        _GAN.faithfulness_weight, "weight of the faithfulness objective (objective faithful or "
        "both)", group="gan")
    deletion_weight: float = setting(
        _GAN.deletion_weight, "weight of the faithfulness objective's deletion term beside its "
        "insertion term (0: insertion alone, which scored as well or a little better, at half "
        "the CNN passes)", group="gan")
    shard: str | None = setting(
        None, "i/n: build only share i (from 0) of every store's chunks, to split an expensive "
        "teacher across n processes (run one per i; any of them finishes the store)",
        group="store")
    methods: list[str] | None = setting(
        None, f"explainers (default: all of {explainers.baselines()}, and gan when the run has "
        "a trained GAN); gan:<tag> names the GAN in gan/<tag>/ of the run, to compare several",
        group="evaluate")
    metrics: list[str] | None = setting(
        None, "metrics (default: all the data allow)", choices=metrics.available(),
        group="evaluate")
    n_explain: int | None = setting(None, "test images to explain (default: the profile's)",
                                    group="evaluate", flag="--n")
    checkpoint_path: Path | None = setting(
        None, "a classifier checkpoint to evaluate (default: the run's --models)",
        group="checkpoint", flag="--checkpoint")
    studies: list[str] | None = setting(None, "studies to run (default: the profile's; the "
                                        "first three but in the pretrained profile)",
                                        choices=list(STUDIES), group="study")
    other_dataset: str = setting("fashion-mnist", "the cross-dataset study's second dataset",
                                 choices=data.available(), group="study")
    study_seconds: float | None = setting(
        None, "training budget of each study GAN (default: the profile's)", group="study")
    study_n: int | None = setting(
        None, "test images per CNN of every study (default: the profile's)", group="study")
    study_n_train: int | None = setting(
        None, "training images of the cross-dataset study's other dataset (default: the "
        "profile's)", group="study")
    settings: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.profile = profiles.profile_name(self.profile, profiles.MAIN_JOB_PROFILE)
        self.settings = profiles.profile_settings(self.profile)
        profile = {"models": self.settings["models"],
                   "image_size": profiles.lookup(self.settings["image_size"], self.dataset),
                   "n_explain": self.settings["n_explain"],
                   "gan_epochs": self.settings["gan_epochs"],
                   "gan_seconds": self.settings["gan_seconds"],
                   "objective": self.settings["objective"],
                   "gan_baselines": self.settings["gan_baselines"],
                   "study_seconds": self.settings["study_seconds"],
                   "study_n": self.settings["n_study"],
                   "study_n_train": self.settings["study_n_train"],
                   "studies": list(self.settings.get("studies", DEFAULT_STUDIES)),
                   "weights": self.settings.get("weights"), "lr": self.settings.get("lr"),
                   "batch_size": self.settings.get("batch_size", 64)}
        if self.dataset == "shapes":  # generated: the profile sizes it; others keep every image
            profile.update(n_train=self.settings["n_train"], n_eval=self.settings["n_eval"])
        for name, value in profile.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.map_size is None:  # 64 px (the paper's) unless the profile says otherwise
            self.map_size = min(self.image_size, self.settings.get("map_size", 64))
        if not 8 <= self.map_size <= self.image_size:
            raise ValueError(f"map_size must be from 8 to the image size ({self.image_size}), "
                             f"got {self.map_size}")
        if self.shard is not None:
            self.shard_share()  # checked now, not after the CNNs have trained
        self.gan_baselines = [b for b in self.gan_baselines if b != "none"]
        unknown = sorted(set(self.gan_baselines) - set(BASELINES))
        if unknown:
            raise ValueError(f"unknown GAN baselines {unknown}; choose from {list(BASELINES)}")
        unknown = sorted(set(self.studies) - set(STUDIES))
        if unknown:
            raise ValueError(f"unknown studies {unknown}; choose from {list(STUDIES)}")

    def default_methods(self) -> list[str]:
        """The explainers evaluated when ``methods`` is not given: the profile's list (a
        full-size CNN on a CPU), else every baseline."""
        return list(self.settings.get("methods", explainers.baselines()))

    def replace(self, **changes) -> "RunConfig":
        """A derived configuration (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def checkpoint(self, model: str) -> Path:
        return self.run_dir / "classifiers" / f"{model.replace(':', '_')}.pt"

    def shard_share(self) -> tuple[int, int]:
        """``shard`` as ``(index, count)`` (``(0, 1)``: the whole store)."""
        if self.shard is None:
            return 0, 1
        try:
            index, count = (int(part) for part in self.shard.split("/"))
        except ValueError:
            raise ValueError(f"shard must look like i/n (e.g. 0/4), got {self.shard!r}"
                             ) from None
        if not 0 <= index < count:
            raise ValueError(f"shard i/n needs 0 <= i < n, got {self.shard!r}")
        return index, count

    def store_dir(self, model: str, split: str) -> Path:
        """One store per teacher, model and split: a run can hold several teachers."""
        return self.run_dir / "representations" / self.teacher / model.replace(":", "_") / split

    @property
    def reads(self) -> str:
        """What the generator reads, when not the default, as part of a folder name."""
        return (("" if self.inputs == "both" else f"-{self.inputs}-only")
                + ("-class" if self.condition_on_class else ""))

    @property
    def gan_dir(self) -> Path:
        """One GAN per generator, preset, teacher, CNNs trained on and loss set-up."""
        models = "+".join(m.replace(":", "_") for m in self.models)
        tag = f"{self.generator}{self.reads}-{self.preset}-{self.teacher}-{models}"
        if self.objective != "faithful":
            if self.recipe != _GAN.recipe:
                tag += f"-{self.recipe}"
            if self.adversarial_weight == 0:
                tag += "-noadv"
            if self.correlation_weight:
                tag += f"-corr{self.correlation_weight:g}"
        if self.augment != "none":
            tag += f"-{self.augment}"
        if self.objective != "distil":
            tag += f"-{self.objective}"
            if self.faithfulness_weight != _GAN.faithfulness_weight:
                tag += f"{self.faithfulness_weight:g}"
            if self.deletion_weight != _GAN.deletion_weight:
                tag += f"-delete{self.deletion_weight:g}"
        return self.run_dir / "gan" / tag

    def baseline(self, name: str) -> "RunConfig":
        """The configuration of GAN baseline ``name`` (:data:`BASELINES`): the run's GAN with
        one thing changed."""
        return self.replace(**BASELINES[name], gan_baselines=["none"])

    def baselines(self) -> dict[str, "RunConfig"]:
        """``gan:<name>`` of each of the run's GAN baselines, with its configuration (the
        distilled one is left out when the GAN itself is distilled)."""
        configs = {f"gan:{name}": self.baseline(name) for name in self.gan_baselines}
        return {name: c for name, c in configs.items() if c.gan_dir != self.gan_dir}

    def gan_checkpoint(self, name: str) -> Path | None:
        """``best.pt`` of the GAN an explainer name means: ``gan`` is the run's GAN of this
        configuration (:attr:`gan_dir`), ``gan:<baseline>`` one of :data:`BASELINES` trained
        beside it, ``gan:<tag>`` the one in ``gan/<tag>/``; else None."""
        if name != "gan" and not name.startswith("gan:"):
            return None
        tag = name.partition(":")[2]
        if tag in BASELINES:
            return self.baseline(tag).gan_dir / "best.pt"
        return (self.run_dir / "gan" / tag if tag else self.gan_dir) / "best.pt"


__all__ = ["BASELINES", "DEFAULT_STUDIES", "GROUPS", "RunConfig", "STUDIES", "setting"]
