"""The stages of a run, shared by the CLI and the notebooks.

Every stage reads and writes one run folder, so the CLI, a notebook and a Colab session can
each pick up where another stopped. Finished work is skipped on a re-run; an interrupted
training resumes from its last epoch, an interrupted store build from its last chunk. The
studies are in :mod:`xai_gan.studies`, the main job in :mod:`xai_gan.job`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch.utils.data import default_collate

from . import classifiers, data, explainers, gan, metrics, plotting, profiles, store
from .config import RunConfig
from .io import atomic_path
from .profiles import lookup
from .results import finished, save


def datasets(config: RunConfig) -> dict:
    """The train, val and test splits the configuration asks for.

    Shapes is generated at the profile's sizes; Fashion-MNIST and CIFAR-10 keep every image
    unless ``n_train`` / ``n_eval`` are given (the first n of each split).
    """
    kwargs = {"channels": config.channels}
    if config.data_root:
        kwargs["root"] = config.data_root
    if config.download:
        kwargs["download"] = True
    out = {}
    if config.dataset == "shapes":
        kwargs["seed"] = config.seed
    for split in data.SPLITS:
        n = config.n_train if split == "train" else config.n_eval
        sized = {"n": n} if n is not None and config.dataset != "imagefolder" else {}
        out[split] = data.load(config.dataset, split, config.image_size, **kwargs, **sized)
    return out


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
        epochs = (lookup(config.settings["epochs"], config.dataset, name) if config.epochs is None
                  else config.epochs)
        model = classifiers.build(name, num_classes=len(train.classes),
                                  in_channels=train.channels, seed=config.seed)
        path = config.checkpoint(name)
        history = classifiers.train(model, train, splits["val"], epochs=epochs,
                                    batch_size=config.batch_size, lr=config.lr,
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
    with atomic_path(config.run_dir / "classifiers" / "classifiers.csv") as tmp:
        table.to_csv(tmp, index=False)
    return table


def build_representations(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Build the representation store of every split for each trained classifier."""
    splits = splits or datasets(config)
    rows = []
    for name in config.models:
        model = load_classifier(config, name)
        for split, ds in splits.items():
            tic = time.perf_counter()
            built = store.build(model, ds, config.store_dir(name, split), k=config.k,
                                teacher=config.teacher, device=config.device)
            rows.append({"model": name, "split": split, "n": len(built), "k": built.k,
                         "layers": len(built.metadata["layers"]),
                         "seconds": time.perf_counter() - tic})
    return pd.DataFrame(rows)


def train_gan(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Train the GAN on the train stores of every classifier of the run (jointly), validating
    on their val stores; writes ``gan/<generator>-<preset>-<teacher>/`` and resumes there."""
    missing = [config.store_dir(m, s) for m in config.models for s in ("train", "val")
               if not (config.store_dir(m, s) / "metadata.json").exists()]
    if missing:
        raise FileNotFoundError(f"no representation store {missing[0]}: run "
                                f"`xai-gan build-representations` first")
    train_store = store.combine([config.store_dir(m, "train") for m in config.models])
    val_store = store.combine([config.store_dir(m, "val") for m in config.models])
    classifier = None
    if config.faithfulness_weight > 0:
        if len(config.models) > 1:
            raise ValueError("the faithfulness term runs the CNN that made each map: train it "
                             "with one --models entry")
        classifier = str(config.checkpoint(config.models[0]))
    result = gan.train(train_store, val_store, gan.TrainConfig(
        out_dir=config.gan_dir, generator=config.generator, preset=config.preset,
        epochs=config.gan_epochs, max_seconds=config.gan_seconds, l1_weight=config.l1_weight,
        adversarial_weight=config.adversarial_weight, gan_loss=config.gan_loss,
        faithfulness_weight=config.faithfulness_weight, classifier=classifier,
        seed=config.seed, device=config.device, distributed=config.distributed))
    return result.history


def _models_to_evaluate(config: RunConfig):
    """``(name, model)`` of ``--checkpoint`` if given, else of every classifier of the run."""
    if config.checkpoint_path is not None:
        path = Path(config.checkpoint_path)
        yield path.stem, classifiers.load_checkpoint(path, device=config.device)["model"]
        return
    for name in config.models:
        yield name.replace(":", "_"), load_classifier(config, name)


def explainer(config: RunConfig, name: str) -> explainers.Explainer:
    """An explainer by name, ``gan`` and ``gan:<tag>`` included (see
    :meth:`RunConfig.gan_checkpoint`)."""
    path = config.gan_checkpoint(name)
    return explainers.get(name) if path is None else gan.GANExplainer.from_checkpoint(path)


def _examples(model, test, named: dict, n: int = 4):
    """The first ``n`` test images explained by every method, as a figure."""
    batch = default_collate([test[i] for i in range(min(n, len(test)))])
    with torch.no_grad():
        classes = model(batch["image"]).argmax(1)
    maps = {name: explain(model, batch["image"], classes) for name, explain in named.items()}
    titles = [f"pred: {test.classes[c]}" for c in classes.tolist()]
    return plotting.method_grid(batch["image"], maps, batch.get("mask"), titles)


def evaluate(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Every method x every metric on the test split, per classifier.

    Writes into ``evaluation/<model>/``: ``per_image.csv`` (tidy, one row per method, metric
    and image), ``summary.csv`` (means, std, n, direction, rank), ``metric_bars.png``,
    ``rank_table.png`` and ``examples.png`` (four test images explained by every method). A
    model whose folder holds a finished evaluation with the same settings is skipped.
    """
    test = (splits or datasets(config))["test"]
    methods = config.methods or explainers.baselines()
    if config.methods is None and (config.gan_dir / "best.pt").exists():
        methods = methods + ["gan"]
    # a retrained GAN is a new method: its checkpoint's time stamp is part of the settings
    gans = {m: path.stat().st_mtime_ns for m in methods
            if (path := config.gan_checkpoint(m)) is not None and path.exists()}
    settings = {"dataset": config.dataset, "image_size": config.image_size, "methods": methods,
                "gans": gans, "metrics": config.metrics or "all", "n": config.n_explain,
                "teacher": config.teacher, "seed": config.seed}
    summaries = []
    for name, model in _models_to_evaluate(config):
        out = config.run_dir / "evaluation" / name
        if finished(out, {**settings, "model": name}):
            summaries.append(pd.read_csv(out / "summary.csv"))
            continue
        print(f"evaluating {len(methods)} explainers on {name}", flush=True)
        named = {m: explainer(config, m) for m in methods}
        table = metrics.evaluate(model, test, named, config.metrics or "all",
                                 n=config.n_explain, teacher=config.teacher,
                                 device=config.device, seed=config.seed)
        summary = metrics.summarise(table).assign(model=name)
        save(out, {"per_image.csv": table, "summary.csv": summary},
              {"metric_bars.png": plotting.metric_bars(table),
               "rank_table.png": plotting.rank_table(summary),
               "examples.png": _examples(model.cpu(), test, named)},
              {**settings, "model": name})
        summaries.append(summary)
    return pd.concat(summaries, ignore_index=True)


# --------------------------------------------------------------------------- the notebooks

def notebook_config(models=("resnet",), profile: str | None = None, root: str | Path = "runs",
                    **changes) -> RunConfig:
    """The notebook series' run, ``<root>/notebooks-<profile>``, shared by every notebook.

    ``profile`` defaults to ``$XAI_GAN_PROFILE``, else ``full`` (the size the stored outputs
    were made at; CI runs the notebooks with ``ci``); ``changes`` are other RunConfig fields.
    """
    profile = profiles.profile_name(profile)
    return RunConfig(run_dir=Path(root) / f"notebooks-{profile}", models=list(models),
                     profile=profile, **changes)


class NotebookSetup(NamedTuple):
    config: RunConfig
    splits: dict
    model: torch.nn.Module
    test: object


def notebook_setup(models=("resnet",), profile: str | None = None) -> NotebookSetup:
    """What notebooks 03-07 start from: :func:`notebook_config`'s run with its first CNN
    trained, its stores built and its GAN trained. Each stage skips what notebooks 00-02 (or
    an earlier run) already did, so this is quick after them and still works without them."""
    config = notebook_config(models, profile)
    splits = datasets(config)
    train_classifiers(config, splits)
    build_representations(config, splits)
    train_gan(config, splits)
    return NotebookSetup(config, splits, load_classifier(config, config.models[0]),
                         splits["test"])
