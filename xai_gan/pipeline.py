"""The stages of a run, shared by the CLI and the notebooks.

Every stage reads and writes one run folder, so the CLI, a notebook and a Colab session can
each pick up where another stopped. Finished work is skipped on a re-run; an interrupted
training resumes from its last epoch, an interrupted store build from its last chunk. The
studies are in :mod:`xai_gan.studies`, the main job in :mod:`xai_gan.job`.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch.utils.data import default_collate

from . import classifiers, data, explainers, gan, metrics, plotting, profiles, store, workers
from .config import RunConfig
from .io import atomic_path, save_json
from .layers import TORCHVISION_PREFIX
from .layout import folder_name
from .profiles import lookup
from .results import finished, save


def datasets(config: RunConfig) -> dict:
    """The train, val and test splits the configuration asks for.

    Shapes is generated at the profile's sizes; the others keep every image unless
    ``n_train`` / ``n_eval`` are given (the first n of each split).
    """
    return {split: data.load(config.dataset, split, config.image_size, channels=config.channels,
                             root=config.data_root, download=config.download,
                             n=config.n_train if split == "train" else config.n_eval,
                             seed=config.seed)
            for split in data.SPLITS}


def load_classifier(config: RunConfig, model: str):
    """A trained classifier of the run (eval mode)."""
    path = config.checkpoint(model)
    if not path.exists():
        raise FileNotFoundError(f"no classifier checkpoint {path}: run "
                                f"`xai-gan train-classifiers --models {model}` first")
    return classifiers.load_checkpoint(path, device=config.device)["model"]


def train_classifiers(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Train (or resume, or reload) each classifier; write ``classifiers/classifiers.csv``."""
    splits = splits or datasets(config)
    train = splits["train"]
    rows = []
    for name in config.models:
        epochs = (lookup(config.settings["epochs"], config.dataset, name)
                  if config.cnn_epochs is None else config.cnn_epochs)
        full_size = name.startswith(TORCHVISION_PREFIX) or name in classifiers.ARCHITECTURES
        weights = config.weights if full_size else None  # the zoo has no pretrained weights
        lr = config.cnn_lr or (1e-4 if full_size else 3e-3)
        model = classifiers.build(name, num_classes=len(train.classes),
                                  in_channels=train.channels, weights=weights, seed=config.seed)
        path = config.checkpoint(name)
        history = classifiers.train(model, train, splits["val"], epochs=epochs,
                                    batch_size=config.cnn_batch_size, lr=lr,
                                    seed=config.seed, device=config.device, checkpoint=path)
        test = classifiers.evaluate(model, splits["test"], device=config.device)
        rows.append({"model": name, "dataset": config.dataset, "image_size": train.image_size,
                     "epochs": history[-1]["epoch"], "train_seconds": history[-1]["seconds"],
                     "val_accuracy": history[-1].get("val_accuracy"),
                     "test_accuracy": test["accuracy"], "n_test": test["n"],
                     "parameters": classifiers.count_parameters(model),
                     "checkpoint": str(path)})
        print(f"{name}: test accuracy {test['accuracy']:.4f} "
              f"after {history[-1]['seconds']:.0f} s of training", flush=True)
    table = pd.DataFrame(rows)
    with atomic_path(config.layout.classifiers_table) as tmp:
        table.to_csv(tmp, index=False)
    return table


def build_representations(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Build the representation store of every split for each trained classifier (this
    process's share of it with ``--shard i/n``)."""
    splits = splits or datasets(config)
    rows = []
    for name in config.models:
        model = load_classifier(config, name)
        for split, ds in splits.items():
            tic = time.perf_counter()
            built = store.build(model, ds, config.store_dir(name, split), k=config.k,
                                map_size=config.map_size, teacher=config.teacher,
                                device=config.device, shard=config.shard_share())
            if built is None:
                print(f"{name} {split}: shard {config.shard} done, others still to finish",
                      flush=True)
                continue
            rows.append({"model": name, "split": split, "n": len(built), "k": built.k,
                         "layers": len(built.metadata["layers"]),
                         "seconds": time.perf_counter() - tic})
            print(f"{name} {split}: a store of {len(built)} items, {rows[-1]['seconds']:.0f} s",
                  flush=True)
    return pd.DataFrame(rows)


def train_gan(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """The stage: the run's GAN (:func:`train_generator`), then each of its
    ``gan_baselines`` on the same stores and budget; returns the GAN's history. A generator
    that collapses is recorded in its folder and left out of the evaluation; the others
    still train, and the GAN's own collapse is raised after them."""
    collapsed = None
    try:
        history = train_generator(config)
    except gan.GeneratorCollapsed as err:
        print(f"GAN: {err}", flush=True)
        collapsed = err
    for name, baseline in config.baselines().items():
        print(f"GAN baseline {name}: {baseline.gan_dir.name}", flush=True)
        try:
            train_generator(baseline)
        except gan.GeneratorCollapsed as err:
            print(f"GAN baseline {name} is left out: {err}", flush=True)
    if collapsed is not None:
        raise collapsed
    return history


def train_generator(config: RunConfig, out_dir: Path | None = None) -> pd.DataFrame:
    """Train one generator on the train stores of every classifier of the run (jointly),
    validating on their val stores; writes ``out_dir`` (default ``gan/<tag>/``,
    :attr:`RunConfig.gan_dir`), its settings in ``config.json``, and resumes there."""
    missing = [config.store_dir(m, s) for m in config.models for s in ("train", "val")
               if not store.is_built(config.store_dir(m, s))]
    if missing:
        raise FileNotFoundError(f"no representation store {missing[0]}: run "
                                f"`xai-gan build-representations` first")
    train_store = store.combine([config.store_dir(m, "train") for m in config.models])
    val_store = store.combine([config.store_dir(m, "val") for m in config.models])
    settings = config.gan_settings(out_dir)
    save_json({"run": config.gan_identity(), "train": asdict(settings)},
              config.layout.gan_config(settings.out_dir))
    return gan.train(train_store, val_store, settings).history


def _models_to_evaluate(config: RunConfig) -> list[str]:
    """The folder names of the CNNs evaluated: ``--checkpoint``'s if given, else the run's."""
    if config.checkpoint_path is not None:
        return [Path(config.checkpoint_path).stem]
    return [folder_name(name) for name in config.models]


def _evaluated_model(config: RunConfig, folder: str):
    """The CNN evaluated into ``evaluation/<folder>/`` (eval mode)."""
    if config.checkpoint_path is not None:
        return classifiers.load_checkpoint(config.checkpoint_path, device=config.device)["model"]
    return load_classifier(config, next(m for m in config.models if folder_name(m) == folder))


def explainer(config: RunConfig, name: str) -> explainers.Explainer:
    """An explainer by name, ``gan`` and ``gan:<tag>`` included (see
    :meth:`RunConfig.gan_checkpoint`)."""
    path = config.gan_checkpoint(name)
    if path is None:
        return explainers.get(name)
    failure = gan.collapse.recorded(path.parent)
    if failure is not None:
        raise ValueError(f"{name} has no map to evaluate: {failure}")
    return gan.GANExplainer.from_checkpoint(path)


def _score_method(config: RunConfig, test, folder: str, method: str, n_examples: int):
    """One method on one CNN: its rows of the metric table, and its maps of the first
    ``n_examples`` test images (the example grid's)."""
    model, explain = _evaluated_model(config, folder), explainer(config, method)
    table = metrics.evaluate(model, test, {method: explain}, config.metrics or "all",
                             n=config.n_explain, teacher=config.teacher, device=config.device,
                             options=metrics.for_every("seed", config.seed))
    images = _first_images(test, n_examples)["image"]
    return table, explain(model, images, classifiers.predict(model, images).argmax(1))


def _timed_alone(config: RunConfig, model, test, methods: list[str],
                 table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its cost rows timed again here, one method after another: a time taken
    beside another worker says as much about what that worker was doing."""
    cost = table.category == "cost"
    if not cost.any():
        return table
    timed = metrics.evaluate(model, test, {m: explainer(config, m) for m in methods},
                             list(table.metric[cost].unique()), n=config.n_explain,
                             device=config.device)
    return pd.concat([table[~cost], timed], ignore_index=True)


def _first_images(test, n: int) -> dict:
    return default_collate([test[i] for i in range(min(n, len(test)))])


def _examples(model, test, maps: dict, n: int):
    """The first ``n`` test images and every method's ``maps`` of them, as a figure."""
    batch = _first_images(test, n)
    classes = classifiers.predict(model, batch["image"]).argmax(1)
    titles = [f"pred: {test.classes[c]}" for c in classes.tolist()]
    return plotting.method_grid(batch["image"], maps, batch.get("mask"), titles)


def evaluate(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Every method x every metric on the test split, per classifier.

    Writes into ``evaluation/<model>/``: ``per_image.csv`` (tidy, one row per method, metric
    and image), ``summary.csv`` (means, std, n, direction, rank), ``metric_bars.png``,
    ``rank_table.png`` and ``examples.png`` (the first four test images scored, explained by
    every method). A model whose folder holds a finished evaluation with the same settings is
    skipped. A CNN's methods are scored side by side on a CPU (:mod:`xai_gan.workers`), and
    then timed here one after another, nothing else running.
    """
    test = (splits or datasets(config))["test"]
    methods = config.methods or config.default_methods()
    if config.methods is None:  # and the run's GANs that are trained
        methods = methods + [m for m in ("gan", *config.baselines())
                             if config.gan_checkpoint(m).exists()]
    # a retrained GAN is a new method: its folder (its settings' hash) and its checkpoint's
    # time stamp are part of the settings
    gans = {m: [path.parent.name, path.stat().st_mtime_ns] for m in methods
            if (path := config.gan_checkpoint(m)) is not None and path.exists()}
    settings = {"dataset": config.dataset, "image_size": config.image_size,
                "weights": config.weights, "methods": methods,
                "gans": gans, "metrics": config.metrics or "all", "n": config.n_explain,
                "teacher": config.teacher, "seed": config.seed}
    n_examples = min(4, config.n_explain or 4)
    # the slow methods first, so that the quick ones fill the workers' ends evenly
    methods_first = sorted(methods, key=lambda m: getattr(explainers.REGISTRY.get(m),
                                                          "quick", True))
    n_workers = config.worker_count()
    summaries = []
    for folder in _models_to_evaluate(config):
        out = config.layout.evaluation(folder)
        if finished(out, {**settings, "model": folder}):
            summaries.append(pd.read_csv(out / "summary.csv"))
            continue
        print(f"evaluating {len(methods)} explainers on {folder}", flush=True)
        scored = dict(zip(methods_first, workers.run(
            _score_method, [(config, test, folder, m, n_examples) for m in methods_first],
            n_workers)))
        model = _evaluated_model(config, folder)
        table = pd.concat([scored[m][0] for m in methods], ignore_index=True)
        if n_workers > 1:
            table = _timed_alone(config, model, test, methods, table)
        summary = metrics.summarise(table).assign(model=folder)
        save(out, {"per_image.csv": table, "summary.csv": summary},
             {"metric_bars.png": plotting.metric_bars(table),
              "rank_table.png": plotting.rank_table(
                  summary, *metrics.not_rankings(summary, config.teacher)),
              "examples.png": _examples(model, test, {m: scored[m][1] for m in methods},
                                        n_examples)},
             {**settings, "model": folder})
        summaries.append(summary)
    return pd.concat(summaries, ignore_index=True)


# --------------------------------------------------------------------------- the notebooks

def notebook_config(models=("resnet",), profile: str | None = None,
                    root: str | Path | None = None, **changes) -> RunConfig:
    """The notebook series' run, ``<root>/notebooks-<profile>``, shared by every notebook.

    ``root`` defaults to ``$XAI_GAN_RUNS``, else, on Colab, ``xai-gan/runs`` in Google Drive
    (mounted here, so what one notebook trains outlives the session and the next notebook
    reuses it), else ``runs`` (``notebooks/runs`` for a notebook run from its folder).
    ``profile`` defaults to ``$XAI_GAN_PROFILE``, else ``full`` (the size the stored outputs
    were made at; CI runs the notebooks with ``ci``); ``changes`` are other RunConfig fields.
    """
    import os
    import sys

    drive, shared = "/content/drive", "/content/drive/MyDrive/xai-gan/runs"
    colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
    root = Path(root or os.environ.get("XAI_GAN_RUNS") or (shared if colab else "runs"))
    if colab and root.is_relative_to(drive) and not os.path.isdir(f"{drive}/MyDrive"):
        try:
            from google.colab import drive as google_drive

            google_drive.mount(drive)
        except Exception as err:  # not mounted (refused, or not quite Colab): a local folder
            print(f"Google Drive not mounted ({type(err).__name__}: {err}); the run folder is "
                  "runs/ on this machine and is lost when the session ends", flush=True)
            root = Path("runs")
    profile = profiles.profile_name(profile)
    config = RunConfig(run_dir=root / f"notebooks-{profile}", models=list(models),
                       profile=profile, **changes)
    if colab:
        print(f"run folder: {config.run_dir} (shared by notebooks 00-07 and 09)", flush=True)
    return config


class NotebookSetup(NamedTuple):
    config: RunConfig
    splits: dict
    model: torch.nn.Module
    test: object


def notebook_setup(models=("resnet",), profile: str | None = None) -> NotebookSetup:
    """What notebooks 03-07 and 09 start from: :func:`notebook_config`'s run with its first CNN
    trained, its stores built and its GAN trained. Each stage reuses what notebooks 01 and 02
    (or an earlier run) made, so this is quick after them; what is missing is made here, and
    a line says so and names the notebook that normally makes it.

    The GAN is the one notebook 02 trained: the paper-size ``gsft`` it trains on a GPU if
    there is one, else this configuration's (``msft`` tiny, what it trains on a CPU), else any
    other generator and preset of the run's teacher and CNNs. Only this configuration's own
    GAN is trained (or resumed) here; another one is used as it is.
    """
    config = notebook_config(models, profile)
    splits = datasets(config)
    untrained = [m for m in config.models if not config.checkpoint(m).exists()]
    if untrained:
        print(f"no trained {', '.join(untrained)} in {config.run_dir}: training it now "
              "(notebook 01 normally does)", flush=True)
    train_classifiers(config, splits)
    if any(not store.is_built(config.store_dir(m, split))
           for m in config.models for split in splits):
        print("building the missing representation stores now (notebook 02 normally does)",
              flush=True)
    build_representations(config, splits)
    setups = [("gsft", "paper"), (config.gan.generator, config.gan.preset)] + [
        (name, preset) for preset in ("paper", "tiny") for name in gan.available()]
    trained = [config.with_gan(generator=name, preset=preset) for name, preset in setups]
    trained = [c for c in trained if (c.gan_dir / "best.pt").exists()]
    if trained and trained[0].gan_dir != config.gan_dir:
        config = trained[0]
        print(f"using the GAN notebook 02 trained: {config.gan_dir}", flush=True)
    else:
        if not trained:
            print(f"no trained GAN in {config.gan_dir.parent}: training "
                  f"{config.gan.generator}-{config.gan.preset} now, at most "
                  f"{config.gan.max_seconds:.0f} s "
                  "(notebook 02 normally does; run it on a GPU for the paper-size GAN)",
                  flush=True)
        train_gan(config, splits)
    return NotebookSetup(config, splits, load_classifier(config, config.models[0]),
                         splits["test"])
