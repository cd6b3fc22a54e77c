"""The studies of a run's GAN: which conditions it relies on, and whether it transfers to
CNNs, datasets and real photos it never saw. Each writes ``studies/<name>/`` of the run folder
and is skipped on a re-run with the same settings; the measurements are
:mod:`xai_gan.interpret`'s and :mod:`xai_gan.metrics`'.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, NamedTuple

import pandas as pd
from torch.utils.data import default_collate

from . import classifiers, data, explainers, gan, interpret, metrics, plotting, store
from .config import RunConfig
from .io import save_json
from .layout import folder_name
from .pipeline import build_representations, datasets, train_classifiers, train_generator
from .results import finished, save


class Study(NamedTuple):
    title: str  # what the report's section is called
    run: Callable[[RunConfig, dict | None], pd.DataFrame]


STUDIES: dict[str, Study] = {}


def study(name: str, title: str):
    """Decorator: register ``run(config, splits) -> table`` as study ``name``."""
    def decorate(run):
        STUDIES[name] = Study(title, run)
        return run
    return decorate


def check(names: list[str]) -> None:
    """Raise ValueError for a study name that is not registered (before any training)."""
    unknown = sorted(set(names) - set(STUDIES))
    if unknown:
        raise ValueError(f"unknown studies {unknown}; choose from {list(STUDIES)}")


class StudySkipped(ValueError):
    """A study that cannot run with this configuration or on this machine (one CNN, a dataset
    that is not installed); the main job records the reason and goes on."""


def transfer_config(config: RunConfig) -> RunConfig:
    """The GAN set-up the transfer studies train and test: the run's, distilled from its
    teacher (they score how close the maps stay to the teacher's on what the GAN never saw,
    which only means something for a GAN that learned the teacher)."""
    return config if config.gan.objective == "distil" else config.baseline("distil")


def _trained_gan(config: RunConfig) -> Path:
    path = config.gan_dir / "best.pt"
    failure = gan.collapse.recorded(config.gan_dir)
    if failure is not None:
        raise StudySkipped(f"the GAN it studies collapsed: {failure}")
    if not path.exists():
        raise FileNotFoundError(f"no trained GAN {path}: run `xai-gan train-gan` first")
    return path


def _generator(path: Path):
    return gan.load_generator(path)[0]


def _test_stores(config: RunConfig) -> dict:
    return {m: store.RepresentationStore(config.store_dir(m, "test"))
            for m in config.models}


@study("condition-relevance", "Condition relevance")
def condition_relevance(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Remove each condition map in turn and measure how much the run's GAN changes, on each
    CNN's test store; writes ``studies/condition-relevance/``."""
    path = _trained_gan(config)
    out = config.layout.study("condition-relevance")
    n = config.study_n
    settings = {"gan": str(path), "stamp": path.stat().st_mtime_ns, "n": n,
                "models": config.models}
    if finished(out, settings):
        return pd.read_csv(out / "per_image.csv")
    generator = _generator(path)
    table = pd.concat([interpret.condition_relevance(generator, test, n=n).assign(model=m)
                       for m, test in _test_stores(config).items()], ignore_index=True)
    verdict = interpret.shallow_vs_deep(table)
    print(verdict["verdict"], flush=True)
    save_json(verdict, out / "verdict.json")
    summary = pd.concat([interpret.relevance_summary(table).assign(model="all")] + [
        interpret.relevance_summary(group).assign(model=m) for m, group in table.groupby("model")])
    save(out, {"per_image.csv": table, "summary.csv": summary},
          {"bars.png": plotting.condition_bars(table)}, settings)
    return table


def _transfer_study(out: Path, generators: dict[str, Path], stores: dict, seen: dict,
                    n: int) -> pd.DataFrame:
    settings = {"gans": {name: [str(p), p.stat().st_mtime_ns] for name, p in generators.items()},
                "stores": {name: str(test.path) for name, test in stores.items()}, "n": n}
    if finished(out, settings):
        return pd.read_csv(out / "transfer.csv")
    table = interpret.transfer({name: _generator(p) for name, p in generators.items()}, stores,
                               n=n)
    gap = interpret.generalisation_gap(table, seen)
    save(out, {"transfer.csv": table, "gap.csv": gap},
          {"pearson.png": plotting.transfer_heatmap(table, "pearson"),
           "ssim.png": plotting.transfer_heatmap(table, "ssim")}, settings)
    return table


@study("cross-architecture", "Cross-architecture generalisation")
def cross_architecture(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Leave one CNN out: for each CNN of the run, train a GAN on the others' stores
    (``study_seconds`` each) and test it on every CNN's test store; writes
    ``studies/cross-architecture/``, the GANs in its ``gan/without-<cnn>-<hash>/`` (the hash
    of the study GAN's settings, :attr:`RunConfig.gan_digest`): never a GAN the run trained
    on the same CNNs with another
    budget (two CNNs: the other CNN's own GAN)."""
    if len(config.models) < 2:
        raise StudySkipped("the cross-architecture study leaves one CNN out: give at least two "
                         "--models")
    out = config.layout.study("cross-architecture")
    generators, seen = {}, {}
    for held_out in config.models:
        others = [m for m in config.models if m != held_out]
        sub = transfer_config(config).with_gan(max_seconds=config.study_seconds)
        sub = sub.replace(models=others)
        print(f"cross-architecture: a GAN without {held_out}", flush=True)
        gan_dir = out / "gan" / f"without-{folder_name(held_out)}-{sub.gan_digest}"
        train_generator(sub, gan_dir)
        generators[f"without {held_out}"] = gan_dir / "best.pt"
        seen[f"without {held_out}"] = others
    return _transfer_study(out, generators, _test_stores(config), seen, config.study_n)


def other_dataset_config(config: RunConfig, channels: int) -> RunConfig:
    """The run of ``config.other_dataset`` the cross-dataset study trains: the first CNN of
    ``config``, at the same image size, channels and k, in ``cross-dataset/<dataset>/``, with
    the study's sizes and budget; what only the main run needs is left at its default."""
    return config.replace(
        run_dir=config.layout.other_dataset(config.other_dataset),
        dataset=config.other_dataset, data_root=None, channels=channels,
        models=config.models[:1], cnn_epochs=None, n_train=config.study_n_train,
        n_eval=config.study_n, gan=dataclasses.replace(
            config.gan, epochs=config.settings["gan_epochs"], max_seconds=config.study_seconds,
            objective="distil"),
        gan_baselines=["none"], methods=None, metrics=None,
        n_explain=None, checkpoint_path=None, studies=[])


@study("cross-dataset", "Cross-dataset generalisation")
def cross_dataset(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Train on one dataset, test on the other, both ways: the run's GAN against a GAN
    trained (``study_seconds``) on the same architecture as the run's first CNN, trained on
    ``other_dataset``; each is tested on the first CNN's test store of both datasets. Writes
    ``studies/cross-dataset/``."""
    if config.other_dataset == config.dataset:
        raise StudySkipped(f"the cross-dataset study needs another dataset than "
                           f"{config.dataset}: set --other-dataset")
    if config.gan.condition_on_class:
        raise StudySkipped("the cross-dataset study tests each GAN on the other dataset's "
                           "classes, which a GAN told the class (--condition-on-class) has "
                           "no meaning for")
    channels = (splits or datasets(config))["test"].channels
    other = other_dataset_config(config, channels)
    try:
        other_splits = datasets(other)  # a missing dataset stops here, before any training
    except FileNotFoundError as err:
        raise StudySkipped(str(err)) from None
    source = transfer_config(config)
    if source is not config:  # a faithful run's distilled GAN: a baseline it may have trained
        train_generator(source)
    source = _trained_gan(source)
    print(f"cross-dataset: {other.models[0]} on {other.dataset}", flush=True)
    train_classifiers(other, other_splits)
    build_representations(other, other_splits)
    train_generator(other)
    generators = {config.dataset: source, other.dataset: other.gan_dir / "best.pt"}
    stores = {config.dataset: _test_stores(config)[config.models[0]],
              other.dataset: _test_stores(other)[other.models[0]]}
    return _transfer_study(config.layout.study("cross-dataset"), generators, stores,
                           {name: [name] for name in generators}, config.study_n)


PHOTO_METHODS = ("gan", "gradcam", "centre", "random")
PHOTO_SIZE = 224
# the report's opening figure: off-centre crops among them, where a centred map misses
PHOTO_FIGURE = ("shuttle", "espresso-left", "rocket-left", "tripod-right")


@study("real-photos", "Real photos")
def real_photos(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """The run's GAN on a CNN and images it never saw: the offline ImageNet
    EfficientNet-Lite0 on the bundled real photos at 224 px, each map explaining the photo's
    labelled class (its boxes are drawn for that class; the CNN ranks it in its top 5 on
    every photo). Scored against the boxes (pointing game, energy-based pointing game) and
    against Grad-CAM (Pearson), beside Grad-CAM and the ``centre`` and ``random`` references.
    Writes ``studies/real-photos/`` (``photos.png`` opens the report)."""
    path = _trained_gan(config)
    learned = explainers.get("gan", checkpoint=path)
    if learned.image_channels != 3:
        raise StudySkipped("the real-photos study needs a GAN trained on colour images "
                           f"(this one read {learned.image_channels} channel)")
    try:
        model = classifiers.build("efficientnet_lite0", 1000, weights="imagenet")
    except ModuleNotFoundError as err:
        raise StudySkipped(str(err)) from None
    out = config.layout.study("real-photos")
    settings = {"gan": str(path), "stamp": path.stat().st_mtime_ns, "size": PHOTO_SIZE}
    if finished(out, settings):
        return pd.read_csv(out / "per_image.csv")
    photos = data.load("photos", image_size=PHOTO_SIZE)
    named = {m: learned if m == "gan" else explainers.get(m) for m in PHOTO_METHODS}
    table = metrics.evaluate(model, photos, named, ["pointing_game", "energy_pointing_game",
                                                    "pearson"],
                             batch_size=len(photos), classes="label", teacher="gradcam",
                             progress=False)
    table["photo"] = table["image"].map(dict(enumerate(photos.names)))
    summary = metrics.intervals(table)
    save(out, {"per_image.csv": table, "summary.csv": summary},
         {"photos.png": _photo_figure(model, photos, named)}, settings)
    return table


def _photo_figure(model, photos, named):
    """:data:`PHOTO_FIGURE`'s photos, each explained by every method, boxes outlined."""
    batch = default_collate([photos[photos.names.index(name)] for name in PHOTO_FIGURE])
    labels = batch["label"]
    maps = {name: explain(model, batch["image"], labels) for name, explain in named.items()}
    names = classifiers.class_names(model)
    return plotting.method_grid(batch["image"], maps, batch["mask"],
                                [names[y].split(",")[0] for y in labels.tolist()], size=2.0)


def run(config: RunConfig, splits: dict | None = None) -> dict:
    """Run the configuration's studies; a study that cannot run here (a dataset that is not
    installed, a single CNN) is recorded with its reason rather than failing the others."""
    check(config.studies)
    splits = splits or datasets(config)
    results = {}
    for name in config.studies:
        try:
            results[name] = STUDIES[name].run(config, splits)
        except (StudySkipped, gan.GeneratorCollapsed) as err:
            print(f"{name} skipped: {err}", flush=True)
            results[name] = str(err)
    return results
