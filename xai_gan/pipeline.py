"""The stages of a run, shared by the CLI and the notebooks.

Every stage reads and writes one run folder, so the CLI, a notebook and a Colab session can
each pick up where another stopped. Finished work is skipped on a re-run; an interrupted
training resumes from its last epoch, an interrupted store build from its last chunk.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from . import classifiers, data, explainers, gan, metrics, plotting, representation
from .io import atomic_path, save_json
from .profiles import lookup, profile_settings


@dataclass
class RunConfig:
    """What a run does; ``None`` fields take the profile's value."""

    run_dir: Path = Path("runs/default")
    dataset: str = "shapes"
    data_root: str | None = None
    download: bool = False
    image_size: int | None = None
    profile: str | None = None
    device: str | None = None
    seed: int = 0
    models: list[str] | None = None
    epochs: int | None = None
    batch_size: int = 64
    lr: float = 3e-3
    n_train: int | None = None
    k: int = 8
    target: str = "gradcam"
    checkpoint_path: Path | None = None
    methods: list[str] | None = None
    metrics: list[str] | None = None
    n_explain: int | None = None
    reference: str | None = None
    generator: str = "msft"
    preset: str = "tiny"
    gan_epochs: int | None = None
    gan_seconds: float | None = None
    l1_weight: float = 100.0
    adversarial_weight: float = 1.0
    gan_loss: str = "bce"
    faithfulness_weight: float = 0.0
    settings: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.settings = profile_settings(self.profile)
        self.models = self.models or self.settings["models"]
        self.image_size = self.image_size or lookup(self.settings["image_size"], self.dataset)
        self.n_explain = self.n_explain or self.settings["n_explain"]
        self.gan_epochs = self.gan_epochs or self.settings["gan_epochs"]
        self.gan_seconds = self.gan_seconds or self.settings["gan_seconds"]

    def checkpoint(self, model: str) -> Path:
        return self.run_dir / "classifiers" / f"{model.replace(':', '_')}.pt"

    def store_dir(self, model: str, split: str) -> Path:
        """One store per teacher, model and split: a run can hold several teachers."""
        return self.run_dir / "representations" / self.target / model.replace(":", "_") / split

    @property
    def gan_dir(self) -> Path:
        """One GAN per generator, preset, teacher, CNNs trained on and loss set-up."""
        models = "+".join(m.replace(":", "_") for m in self.models)
        tag = f"{self.generator}-{self.preset}-{self.target}-{models}"
        if self.adversarial_weight == 0:
            tag += "-l1only"
        if self.faithfulness_weight > 0:
            tag += f"-faith{self.faithfulness_weight:g}"
        return self.run_dir / "gan" / tag


def datasets(config: RunConfig) -> dict:
    """The train, val and test splits the configuration asks for."""
    kwargs = {}
    if config.data_root:
        kwargs["root"] = config.data_root
    if config.download:
        kwargs["download"] = True
    out = {}
    for split in data.SPLITS:
        if config.dataset == "shapes":
            n = config.n_train or config.settings["n_train"] if split == "train" \
                else config.settings["n_eval"]
            kwargs.update(seed=config.seed, n=n)
        out[split] = data.load(config.dataset, split, config.image_size, **kwargs)
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
        epochs = config.epochs or lookup(config.settings["epochs"], config.dataset, name)
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
            store = representation.build(model, ds, config.store_dir(name, split), k=config.k,
                                         target=config.target, device=config.device)
            rows.append({"model": name, "split": split, "n": len(store), "k": store.k,
                         "layers": len(store.metadata["layers"]),
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
    train_store = representation.combine([config.store_dir(m, "train") for m in config.models])
    val_store = representation.combine([config.store_dir(m, "val") for m in config.models])
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
        seed=config.seed, device=config.device))
    return result.history


def _models_to_evaluate(config: RunConfig):
    """``(name, model)`` of ``--checkpoint`` if given, else of every classifier of the run."""
    if config.checkpoint_path is not None:
        path = Path(config.checkpoint_path)
        yield path.stem, classifiers.load_checkpoint(path, device=config.device)["model"]
        return
    for name in config.models:
        yield name.replace(":", "_"), load_classifier(config, name)


def gan_checkpoint(config: RunConfig, name: str) -> Path | None:
    """``best.pt`` of the GAN an explainer name means: ``gan`` is the run's GAN of this
    configuration (``gan_dir``), ``gan:<tag>`` the one in ``gan/<tag>/``; else None."""
    if name != "gan" and not name.startswith("gan:"):
        return None
    tag = name.partition(":")[2]
    return (config.run_dir / "gan" / tag if tag else config.gan_dir) / "best.pt"


def explainer(config: RunConfig, name: str) -> explainers.Explainer:
    """An explainer by name, ``gan`` and ``gan:<tag>`` included (see :func:`gan_checkpoint`)."""
    path = gan_checkpoint(config, name)
    return explainers.get(name) if path is None else explainers.GANExplainer.from_checkpoint(path)


def evaluate(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Every method x every metric on the test split, per classifier.

    Writes into ``evaluation/<model>/``: ``per_image.csv`` (tidy, one row per method, metric
    and image), ``summary.csv`` (means, std, n, direction, rank), ``metric_bars.png`` and
    ``rank_table.png``. A model whose folder holds a finished evaluation with the same
    settings is skipped.
    """
    test = (splits or datasets(config))["test"]
    methods = config.methods or explainers.baselines()
    if config.methods is None and (config.gan_dir / "best.pt").exists():
        methods = methods + ["gan"]
    # a retrained GAN is a new method: its checkpoint's time stamp is part of the settings
    gans = {m: path.stat().st_mtime_ns for m in methods
            if (path := gan_checkpoint(config, m)) is not None and path.exists()}
    settings = {"dataset": config.dataset, "image_size": config.image_size, "methods": methods,
                "gans": gans, "metrics": config.metrics or "all", "n": config.n_explain,
                "reference": config.reference, "seed": config.seed}
    summaries = []
    for name, model in _models_to_evaluate(config):
        out = config.run_dir / "evaluation" / name
        done = out / "settings.json"
        if done.exists() and json.loads(done.read_text()) == {**settings, "model": name}:
            summaries.append(pd.read_csv(out / "summary.csv"))
            continue
        named = {m: explainer(config, m) for m in methods}
        table = metrics.evaluate(model, test, named, config.metrics or "all",
                                 n=config.n_explain, reference=config.reference,
                                 device=config.device, seed=config.seed)
        summary = metrics.summarise(table).assign(model=name)
        for filename, frame in [("per_image.csv", table), ("summary.csv", summary)]:
            with atomic_path(out / filename) as tmp:
                frame.to_csv(tmp, index=False)
        for filename, figure in [("metric_bars.png", plotting.metric_bars(table)),
                                 ("rank_table.png", plotting.rank_table(summary))]:
            with atomic_path(out / filename) as tmp:
                figure.savefig(tmp, dpi=120, format="png")
            plotting.plt.close(figure)
        save_json({**settings, "model": name}, done)  # last: marks the evaluation finished
        summaries.append(summary)
    return pd.concat(summaries, ignore_index=True)


def run(config: RunConfig) -> dict:
    """The main job: every stage in order; writes ``summary.json`` into the run folder."""
    splits = datasets(config)
    seconds, tables = {}, {}
    for stage, func in [("train-classifiers", train_classifiers),
                        ("build-representations", build_representations)]:
        tic = time.perf_counter()
        tables[stage] = func(config, splits)
        seconds[stage] = time.perf_counter() - tic
    summary = {"profile": config.settings["name"],
               "config": {k: v for k, v in asdict(config).items() if k != "settings"},
               "stage_seconds": seconds,
               "classifiers": tables["train-classifiers"].drop(columns="checkpoint")
               .to_dict("records"),
               "representations": tables["build-representations"].to_dict("records")}
    save_json(summary, config.run_dir / "summary.json")
    return summary
