"""The stages of a run, shared by the CLI and the notebooks.

Every stage reads and writes one run folder, so the CLI, a notebook and a Colab session can
each pick up where another stopped. Finished work is skipped on a re-run; an interrupted
training resumes from its last epoch, an interrupted store build from its last chunk.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import default_collate

from . import classifiers, data, explainers, gan, interpret, metrics, plotting, representation
from .io import atomic_path, save_json
from .profiles import lookup, profile_settings

STUDIES = ("condition-relevance", "cross-architecture", "cross-dataset")


class StudySkipped(ValueError):
    """A study that cannot run with this configuration or on this machine (one CNN, a dataset
    that is not installed); the main job records the reason and goes on."""


@dataclass
class RunConfig:
    """What a run does; ``None`` fields take the profile's value."""

    run_dir: Path = Path("runs/default")
    dataset: str = "shapes"
    data_root: str | None = None
    download: bool = False
    image_size: int | None = None
    channels: int | None = None
    profile: str | None = None
    device: str | None = None
    seed: int = 0
    models: list[str] | None = None
    epochs: int | None = None
    batch_size: int = 64
    lr: float = 3e-3
    n_train: int | None = None
    n_eval: int | None = None
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
    studies: list[str] | None = None
    other_dataset: str = "fashion-mnist"
    study_seconds: float | None = None
    settings: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.settings = profile_settings(self.profile)
        self.models = self.models or self.settings["models"]
        self.image_size = self.image_size or lookup(self.settings["image_size"], self.dataset)
        self.n_explain = self.n_explain or self.settings["n_explain"]
        self.gan_epochs = self.gan_epochs or self.settings["gan_epochs"]
        self.gan_seconds = self.gan_seconds or self.settings["gan_seconds"]
        self.study_seconds = self.study_seconds or self.settings["study_seconds"]
        self.studies = list(STUDIES) if self.studies is None else self.studies
        unknown = sorted(set(self.studies) - set(STUDIES))
        if unknown:
            raise ValueError(f"unknown studies {unknown}; choose from {list(STUDIES)}")

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
        if config.dataset == "shapes":
            n = n or config.settings["n_train" if split == "train" else "n_eval"]
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


def _finished(out: Path, settings: dict) -> bool:
    """Whether ``out`` holds a finished result made with these settings."""
    marker = out / "settings.json"
    return marker.exists() and json.loads(marker.read_text()) == \
        json.loads(json.dumps(settings, default=str))


def _save(out: Path, tables: dict | None = None, figures: dict | None = None,
          settings: dict | None = None) -> None:
    """Write tables (csv) and figures (png) atomically, then ``settings.json`` last: it marks
    the result finished, so an interruption before it only means the work is redone."""
    for filename, frame in (tables or {}).items():
        with atomic_path(out / filename) as tmp:
            frame.to_csv(tmp, index=False)
    for filename, figure in (figures or {}).items():
        with atomic_path(out / filename) as tmp:
            figure.savefig(tmp, dpi=110, format="png")
        plotting.plt.close(figure)
    if settings is not None:
        save_json(settings, out / "settings.json")


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
            if (path := gan_checkpoint(config, m)) is not None and path.exists()}
    settings = {"dataset": config.dataset, "image_size": config.image_size, "methods": methods,
                "gans": gans, "metrics": config.metrics or "all", "n": config.n_explain,
                "reference": config.reference, "seed": config.seed}
    summaries = []
    for name, model in _models_to_evaluate(config):
        out = config.run_dir / "evaluation" / name
        if _finished(out, {**settings, "model": name}):
            summaries.append(pd.read_csv(out / "summary.csv"))
            continue
        print(f"evaluating {len(methods)} explainers on {name}", flush=True)
        named = {m: explainer(config, m) for m in methods}
        table = metrics.evaluate(model, test, named, config.metrics or "all",
                                 n=config.n_explain, reference=config.reference,
                                 device=config.device, seed=config.seed)
        summary = metrics.summarise(table).assign(model=name)
        _save(out, {"per_image.csv": table, "summary.csv": summary},
              {"metric_bars.png": plotting.metric_bars(table),
               "rank_table.png": plotting.rank_table(summary),
               "examples.png": _examples(model.cpu(), test, named)},
              {**settings, "model": name})
        summaries.append(summary)
    return pd.concat(summaries, ignore_index=True)


# --------------------------------------------------------------------------- studies

def _trained_gan(config: RunConfig) -> Path:
    path = config.gan_dir / "best.pt"
    if not path.exists():
        raise FileNotFoundError(f"no trained GAN {path}: run `xai-gan train-gan` first")
    return path


def _generator(path: Path):
    return explainers.GANExplainer.from_checkpoint(path).generator


def _test_stores(config: RunConfig) -> dict:
    return {m: representation.RepresentationStore(config.store_dir(m, "test"))
            for m in config.models}


def condition_relevance(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Remove each condition map in turn and measure how much the run's GAN changes, on each
    CNN's test store; writes ``studies/condition-relevance/``."""
    path = _trained_gan(config)
    out = config.run_dir / "studies" / "condition-relevance"
    n = config.settings["n_study"]
    settings = {"gan": str(path), "stamp": path.stat().st_mtime_ns, "n": n,
                "models": config.models}
    if _finished(out, settings):
        return pd.read_csv(out / "per_image.csv")
    generator = _generator(path)
    table = pd.concat([interpret.condition_relevance(generator, store, n=n).assign(model=m)
                       for m, store in _test_stores(config).items()], ignore_index=True)
    verdict = interpret.shallow_vs_deep(table)
    print(verdict["verdict"], flush=True)
    save_json(verdict, out / "verdict.json")
    summary = pd.concat([interpret.relevance_summary(table).assign(model="all")] + [
        interpret.relevance_summary(group).assign(model=m) for m, group in table.groupby("model")])
    _save(out, {"per_image.csv": table, "summary.csv": summary},
          {"bars.png": plotting.condition_bars(table)}, settings)
    return table


def _transfer_study(out: Path, generators: dict[str, Path], stores: dict, seen: dict,
                    n: int) -> pd.DataFrame:
    settings = {"gans": {name: [str(p), p.stat().st_mtime_ns] for name, p in generators.items()},
                "stores": {name: str(store.path) for name, store in stores.items()}, "n": n}
    if _finished(out, settings):
        return pd.read_csv(out / "transfer.csv")
    table = interpret.transfer({name: _generator(p) for name, p in generators.items()}, stores,
                               n=n)
    gap = interpret.generalisation_gap(table, seen)
    _save(out, {"transfer.csv": table, "gap.csv": gap},
          {"pearson.png": plotting.transfer_heatmap(table, "pearson"),
           "ssim.png": plotting.transfer_heatmap(table, "ssim")}, settings)
    return table


def cross_architecture(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Leave one CNN out: for each CNN of the run, train a GAN on the others' stores
    (``study_seconds`` each) and test it on every CNN's test store; writes
    ``studies/cross-architecture/``."""
    if len(config.models) < 2:
        raise StudySkipped("the cross-architecture study leaves one CNN out: give at least two "
                         "--models")
    generators, seen = {}, {}
    for held_out in config.models:
        others = [m for m in config.models if m != held_out]
        sub = replace(config, models=others, gan_seconds=config.study_seconds)
        print(f"cross-architecture: a GAN without {held_out}", flush=True)
        train_gan(sub)
        generators[f"without {held_out}"] = sub.gan_dir / "best.pt"
        seen[f"without {held_out}"] = others
    return _transfer_study(config.run_dir / "studies" / "cross-architecture", generators,
                           _test_stores(config), seen, config.settings["n_study"])


def other_dataset_config(config: RunConfig, channels: int) -> RunConfig:
    """The run of ``config.other_dataset`` the cross-dataset study trains: the first CNN of
    ``config``, at the same image size, channels and k, in ``cross-dataset/<dataset>/``."""
    settings = config.settings
    return RunConfig(
        run_dir=config.run_dir / "cross-dataset" / config.other_dataset,
        dataset=config.other_dataset, image_size=config.image_size, channels=channels,
        profile=settings["name"], device=config.device, seed=config.seed,
        models=config.models[:1], batch_size=config.batch_size, lr=config.lr,
        n_train=settings["study_n_train"], n_eval=settings["n_study"], k=config.k,
        target=config.target, generator=config.generator, preset=config.preset,
        gan_seconds=config.study_seconds, l1_weight=config.l1_weight,
        adversarial_weight=config.adversarial_weight, gan_loss=config.gan_loss)


def cross_dataset(config: RunConfig, splits: dict | None = None) -> pd.DataFrame:
    """Train on one dataset, test on the other, both ways: the run's GAN against a GAN
    trained (``study_seconds``) on the same architecture as the run's first CNN, trained on
    ``other_dataset``; each is tested on the first CNN's test store of both datasets. Writes
    ``studies/cross-dataset/``."""
    if config.other_dataset == config.dataset:
        raise StudySkipped(f"the cross-dataset study needs another dataset than "
                           f"{config.dataset}: set --other-dataset")
    channels = (splits or datasets(config))["test"].channels
    other = other_dataset_config(config, channels)
    try:
        other_splits = datasets(other)  # a missing dataset stops here, before any training
    except FileNotFoundError as err:
        raise StudySkipped(str(err)) from None
    source = _trained_gan(config)
    print(f"cross-dataset: {other.models[0]} on {other.dataset}", flush=True)
    train_classifiers(other, other_splits)
    build_representations(other, other_splits)
    train_gan(other)
    generators = {config.dataset: source, other.dataset: other.gan_dir / "best.pt"}
    stores = {config.dataset: _test_stores(config)[config.models[0]],
              other.dataset: _test_stores(other)[other.models[0]]}
    return _transfer_study(config.run_dir / "studies" / "cross-dataset", generators, stores,
                           {name: [name] for name in generators}, config.settings["n_study"])


STUDY_STAGES = {"condition-relevance": condition_relevance,
                "cross-architecture": cross_architecture, "cross-dataset": cross_dataset}


def studies(config: RunConfig, splits: dict | None = None) -> dict:
    """Run the configuration's studies; a study that cannot run here (a dataset that is not
    installed, a single CNN) is recorded with its reason rather than failing the others."""
    splits = splits or datasets(config)
    results = {}
    for name in config.studies:
        try:
            results[name] = STUDY_STAGES[name](config, splits)
        except StudySkipped as err:
            print(f"{name} skipped: {err}", flush=True)
            results[name] = str(err)
    return results


# --------------------------------------------------------------------------- the main job

MAIN_STAGES = [("train-classifiers", train_classifiers),
               ("build-representations", build_representations),
               ("train-gan", train_gan), ("evaluate", evaluate), ("studies", studies)]


def _record_time(config: RunConfig, stage: str, seconds: float) -> dict:
    """Add ``seconds`` to the stage's total in ``timings.json`` (over every invocation)."""
    path = config.run_dir / "timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    entry = timings.setdefault(stage, {"total_seconds": 0.0, "runs": 0})
    entry.update(total_seconds=entry["total_seconds"] + seconds, runs=entry["runs"] + 1,
                 last_seconds=seconds)
    save_json(timings, path)
    return timings


def run(config: RunConfig) -> dict:
    """The main job: every stage in order, then the HTML report.

    Each stage skips or resumes finished work, so an interrupted job re-run loses nothing.
    Writes ``summary.json``, ``timings.json`` and ``report.html`` into the run folder.
    """
    from . import report

    config = replace(config, reference=config.reference or config.target)
    splits = datasets(config)
    seconds, results = {}, {}
    for i, (stage, func) in enumerate(MAIN_STAGES, 1):
        print(f"== {i}/{len(MAIN_STAGES) + 1} {stage} ==", flush=True)
        tic = time.perf_counter()
        results[stage] = func(config, splits)
        seconds[stage] = time.perf_counter() - tic
        _record_time(config, stage, seconds[stage])
    print(f"== {len(MAIN_STAGES) + 1}/{len(MAIN_STAGES) + 1} report ==", flush=True)
    summary = {"profile": config.settings["name"],
               "config": {k: v for k, v in asdict(config).items() if k != "settings"},
               "stage_seconds": seconds,
               "classifiers": results["train-classifiers"].drop(columns="checkpoint")
               .to_dict("records"),
               "representations": results["build-representations"].to_dict("records"),
               "gan": results["train-gan"].to_dict("records"),
               "studies": {name: value if isinstance(value, str) else "done"
                           for name, value in results["studies"].items()}}
    save_json(summary, config.run_dir / "summary.json")
    summary["report"] = str(report.write(config))
    return summary
