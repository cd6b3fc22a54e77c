"""What a run does: :class:`RunConfig`, the one source of every run setting.

Each field carries its help and, where it has them, its choices and the setting group that
says which CLI sub-commands take it (``xai_gan.cli`` builds its flags from these fields).
``None`` means "the profile's value", resolved once, in ``__post_init__``. The GAN's settings
are one nested :class:`~xai_gan.gan.TrainConfig`, ``gan``, whose fields are its flags; a run
derives from it, and from nothing else, what its GAN is (its folder, its resume check).
Every path of the run folder comes from :attr:`RunConfig.layout`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import data, explainers, gan, metrics, profiles, workers
from .io import as_json
from .layout import RunLayout, folder_name
from .settings import NO_FLAG, setting

# what a generator the GAN must beat changes from the GAN's own set-up
BASELINES = {"linear": {"generator": "linear"}, "image-only": {"inputs": "image"},
             "conditions-only": {"inputs": "conditions"}, "distil": {"objective": "distil"},
             "faithful": {"objective": "faithful"}}
# the GAN settings a profile sets, by their name in the profile
_GAN_PROFILE = {"epochs": "gan_epochs", "max_seconds": "gan_seconds", "objective": "objective"}


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
    workers: int | None = setting(
        None, "processes that share the evaluation's methods, each with its share of the "
        "threads (default: 2 on a CPU with two or more threads, outside Jupyter; else 1)",
        group="evaluate")
    models: list[str] | None = setting(
        None, "CNNs: zoo names, efficientnet_lite0 or torchvision:<name> (default: the "
        "profile's)")
    weights: str | None = setting(
        None, "pretrained weights of the full-size models: imagenet for efficientnet_lite0 "
        "(offline), e.g. DEFAULT for torchvision:<name> (downloaded once: online only); the "
        "model then normalises its input as the weights expect")
    cnn_epochs: int | None = setting(None, "CNN training epochs (default: the profile's)")
    cnn_batch_size: int | None = setting(None, "CNN training batch size (default: the "
                                         "profile's, else 64)")
    cnn_lr: float | None = setting(None, "CNN learning rate (default: the profile's, else 3e-3 "
                                   "for zoo CNNs and 1e-4 for full-size ones: a fine-tuning rate "
                                   "that deep nets without batch norm, like VGG16, survive)")
    n_train: int | None = setting(
        None, "training images (default: the profile's for shapes, all else)")
    n_eval: int | None = setting(
        None, "validation and test images each (default: the profile's for shapes, all else)")
    k: int = setting(8, "condition maps kept")
    teacher: str = setting("gradcam", "explainer whose maps the GAN learns to draw, and the "
                           "similarity metrics compare with", choices=explainers.baselines())
    gan: gan.TrainConfig | dict | None = setting(
        None, "the GAN's settings: a TrainConfig, or a dict of the fields that differ from "
        "the profile's (its flags are TrainConfig's)", group=NO_FLAG)
    gan_baselines: list[str] | None = setting(
        None, "generators the GAN must beat, trained beside it on the same stores and budget "
        "and evaluated as gan:<name>: linear (a learned 1x1 mix of the conditions), image-only "
        "and conditions-only (the other input zeroed), all with the GAN's objective, and the "
        "GAN with the other objective: distil (the paper's, drawn from the teacher) or "
        "faithful (no teacher); none for none (default: the profile's)",
        choices=[*BASELINES, "none"], group="gan")
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
                                        group="study")
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
                   "gan_baselines": self.settings["gan_baselines"],
                   "study_seconds": self.settings["study_seconds"],
                   "study_n": self.settings["n_study"],
                   "study_n_train": self.settings["study_n_train"],
                   "studies": list(self.settings["studies"]),
                   "weights": self.settings.get("weights"), "cnn_lr": self.settings.get("lr"),
                   "cnn_batch_size": self.settings.get("batch_size", 64)}
        if self.dataset == "shapes":  # generated: the profile sizes it; others keep every image
            profile.update(n_train=self.settings["n_train"], n_eval=self.settings["n_eval"])
        for name, value in profile.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if not isinstance(self.gan, gan.TrainConfig):
            self.gan = self.profile_gan(**(self.gan or {}))
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

    def profile_gan(self, **changes) -> gan.TrainConfig:
        """The GAN settings of this run's profile (epochs, budget, objective), with
        ``changes``; the run's seed and device."""
        known = {f.name for f in dataclasses.fields(gan.TrainConfig)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown GAN settings {unknown}; choose from {sorted(known)}")
        values = {name: self.settings[key] for name, key in _GAN_PROFILE.items()}
        return gan.TrainConfig(**{**values, **changes, "seed": self.seed, "device": self.device})

    def worker_count(self) -> int:
        """The processes the evaluation's methods are spread over: ``workers``, else
        :func:`xai_gan.workers.default_workers` for this run's device."""
        return self.workers or workers.default_workers(self.device)

    def with_gan(self, **changes) -> "RunConfig":
        """This run with its GAN's settings changed (e.g. ``max_seconds=60``)."""
        return self.replace(gan=dataclasses.replace(self.gan, **changes))

    def default_methods(self) -> list[str]:
        """The explainers evaluated when ``methods`` is not given: the profile's list (a
        full-size CNN on a CPU), else every baseline."""
        return list(self.settings.get("methods", explainers.baselines()))

    def replace(self, **changes) -> "RunConfig":
        """A derived configuration (``dataclasses.replace``); a new seed or device reaches the
        GAN's settings too."""
        derived = dataclasses.replace(self, **changes)
        if derived.gan.seed != derived.seed or derived.gan.device != derived.device:
            derived.gan = dataclasses.replace(derived.gan, seed=derived.seed,
                                              device=derived.device)
        return derived

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)

    def checkpoint(self, model: str) -> Path:
        return self.layout.classifier(model)

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
        return self.layout.store(self.teacher, model, split)

    def gan_settings(self, out_dir: Path | None = None) -> gan.TrainConfig:
        """The GAN's :class:`~xai_gan.gan.TrainConfig` as it trains: in ``out_dir`` (default
        :attr:`gan_dir`), through each CNN's checkpoint when its objective runs them."""
        classifier = None
        if self.gan.uses_classifier:  # each store's maps are scored by the CNN that made them
            classifier = [str(self.checkpoint(m)) for m in self.models]
            # one CNN: a plain path, as checkpoints made before joint training record it
            classifier = classifier[0] if len(classifier) == 1 else classifier
        return dataclasses.replace(self.gan, out_dir=out_dir or self.gan_dir,
                                   classifier=classifier)

    def gan_identity(self) -> dict:
        """What makes this run's GAN: its training identity
        (:func:`~xai_gan.gan.identity`), teacher, CNNs, k and map size."""
        return {**gan.identity(self.gan), "teacher": self.teacher, "models": self.models,
                "k": self.k, "map_size": self.map_size}

    @property
    def gan_dir(self) -> Path:
        """``gan/<generator>[-<inputs>-only][-class]-<preset>-<teacher>-<models>-<objective>-
        <hash>``: readable parts, then a short hash of :meth:`gan_identity` (the full settings
        are in the folder's ``config.json``)."""
        g = self.gan
        reads = (("" if g.inputs == "both" else f"-{g.inputs}-only")
                 + ("-class" if g.condition_on_class else ""))
        models = "+".join(folder_name(m) for m in self.models)
        return self.layout.gan(f"{g.generator}{reads}-{g.preset}-{self.teacher}-{models}-"
                               f"{g.objective}-{self.gan_digest}")

    @property
    def gan_digest(self) -> str:
        """A short hash of :meth:`gan_identity`: part of every GAN folder's name."""
        identity = json.dumps(as_json(self.gan_identity()), sort_keys=True)
        return hashlib.sha1(identity.encode()).hexdigest()[:8]

    def baseline(self, name: str) -> "RunConfig":
        """The configuration of GAN baseline ``name`` (:data:`BASELINES`): the run's GAN with
        one thing changed."""
        return self.with_gan(**BASELINES[name]).replace(gan_baselines=["none"])

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
        return (self.layout.gan(tag) if tag else self.gan_dir) / "best.pt"


__all__ = ["BASELINES", "RunConfig"]
