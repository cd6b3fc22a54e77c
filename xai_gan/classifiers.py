"""CNN classifiers: the small zoo, any torchvision model, training, evaluation, checkpoints.

Every model made by :func:`build` carries ``model.xai_gan_spec`` (name, num_classes,
in_channels, and its input normalisation when it has one), which checkpoints record, so
:func:`load_checkpoint` can rebuild it and refuse weights from another architecture.

Preprocessing belongs to the model: a model built with pretrained ``weights`` (or an explicit
``mean``/``std``) normalises its own input, so it is fed images in [0, 1] like every other
model here.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .backbones import (ARCHITECTURES, offline_model, offline_normalisation, torchvision_model,
                        weights_enum, weights_normalisation)
from .checks import check_images
from .devices import bf16_autocast, follows_model, place, resolve_device, seeded
from .inputs import set_input_transform
from .io import exclusive, load_torch, save_torch
from .layers import TORCHVISION_PREFIX, conv_layers, count_parameters
from .progress import progress_bar
from .scoped import eval_mode
from .training import budget_spent, check_finite, check_same_run, run_epoch
from .zoo import ZOO

CHECKPOINT_FORMAT = "xai-gan-classifier/1"


def available() -> list[str]:
    """Names accepted by :func:`build` (plus ``torchvision:<any classification model>``)."""
    return sorted([*ZOO, *ARCHITECTURES])


def build(name: str, num_classes: int = 10, in_channels: int = 3, weights=None,
          seed: int | None = None, mean=None, std=None, *, load_weights: bool = True
          ) -> nn.Module:
    """Build a classifier by name.

    Parameters
    ----------
    name : str
        A zoo name (``vgg``, ``resnet``, ``mobilenet``, ``densenet``, ``inception``),
        ``efficientnet_lite0``, or ``torchvision:<model>`` for any torchvision classification
        model.
    num_classes, in_channels : int
    weights : str or torchvision WeightsEnum, optional
        ``"imagenet"`` for ``efficientnet_lite0``: ImageNet weights from an installed package,
        offline. For torchvision models: passed to ``torchvision.models.get_model`` (needs
        internet the first time). A ``num_classes`` other than the weights' replaces the
        head (for fine-tuning); for ``in_channels != 3`` the stem's filters are averaged over
        colour channels. The model then normalises its input with the weights' mean and std,
        and :func:`class_names` knows its classes.
    seed : int, optional
        Seed of the random initialisation (the global RNG is left untouched).
    mean, std : sequence of float, optional
        Per-channel input normalisation the model applies to its [0, 1] input (default: the
        weights', else none).
    load_weights : bool
        False builds the architecture that ``weights`` describe (and records them) without
        loading them: what :func:`load_checkpoint` does before loading its own.
    """
    if seed is not None:
        with seeded(seed):
            return build(name, num_classes, in_channels, weights, mean=mean, std=std,
                         load_weights=load_weights)
    model, weights, mean, std = _architecture(name, num_classes, in_channels, weights, mean, std,
                                              load_weights)
    model.xai_gan_spec = {"name": name, "num_classes": num_classes, "in_channels": in_channels}
    if weights is not None:
        model.xai_gan_spec["weights"] = weights
    _normalise_input(model, mean, std, in_channels)
    return model


def _architecture(name: str, num_classes: int, in_channels: int, weights, mean, std,
                  load_weights: bool) -> tuple[nn.Module, str | None, list | None, list | None]:
    """The model ``name`` names, the name its ``weights`` are recorded by, and the mean and std
    it normalises its input with: ``mean`` and ``std`` when given, else its weights'."""
    if name.startswith(TORCHVISION_PREFIX):
        arch = name[len(TORCHVISION_PREFIX):]
        model, weights = torchvision_model(arch, num_classes, in_channels, weights, load_weights)
        if weights is not None and mean is None:
            mean, std = weights_normalisation(arch, weights, in_channels)
    elif name in ARCHITECTURES:
        model = offline_model(name, num_classes, in_channels, weights, load_weights)
        if weights is not None and mean is None:
            mean, std = offline_normalisation(name, weights, in_channels)
    elif name in ZOO:
        if weights is not None:
            raise ValueError(f"zoo model {name!r} has no pretrained weights")
        model = ZOO[name](num_classes, in_channels)
    else:
        raise ValueError(f"unknown classifier {name!r}: choose from {available()} "
                         f"or '{TORCHVISION_PREFIX}<name>' (e.g. torchvision:resnet18)")
    return model, weights, mean, std


def _normalise_input(model: nn.Module, mean, std, in_channels: int) -> None:
    """Make ``model`` normalise its own input with ``mean`` and ``std`` (neither: no
    normalisation), and record them in its spec."""
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither")
    if mean is not None:
        mean, std = [float(v) for v in mean], [float(v) for v in std]
        if len(mean) != in_channels or len(std) != in_channels:
            raise ValueError(f"mean and std need {in_channels} values (one per channel), "
                             f"got {len(mean)} and {len(std)}")
        set_input_transform(model, mean, std)
        model.xai_gan_spec.update(mean=mean, std=std)  # checkpoints record it, loading restores it


def class_names(model: nn.Module) -> list[str]:
    """The names of the model's output classes: its weights' (ImageNet for
    ``weights="imagenet"`` or torchvision weights, when the head was kept), else
    ``["class 0", ...]``."""
    spec = getattr(model, "xai_gan_spec", {})
    weights, name, n = spec.get("weights"), spec.get("name", ""), spec.get("num_classes")
    if weights is not None:
        if name.startswith(TORCHVISION_PREFIX):
            names = weights_enum(name[len(TORCHVISION_PREFIX):], weights).meta["categories"]
        else:
            from .data import imagenet_classes

            names = imagenet_classes()
        if len(names) == n:
            return list(names)
    if n is None:
        n = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
    return [f"class {i}" for i in range(n)]


def _batches(dataset: Dataset, batch_size: int, shuffle: bool, seed: int,
             num_workers: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, drop_last=shuffle)


@follows_model
@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities, (B, num_classes), for [0, 1] images on any device (returned on
    theirs); the model runs in eval mode where it is."""
    check_images(images)
    with eval_mode(model):
        return model(images).float().softmax(1)


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, batch_size: int = 256, device=None,
             num_workers: int = 0, progress: bool = False) -> dict:
    """Mean cross-entropy and accuracy of ``model`` on ``dataset``, computed where the model
    is (or on ``device``, where it is moved).

    Returns
    -------
    dict with ``loss``, ``accuracy`` and ``n``.
    """
    device = place(model, device)
    loss_sum, correct, n = 0.0, 0, 0
    with eval_mode(model):
        for batch in progress_bar(_batches(dataset, batch_size, False, 0, num_workers),
                                  desc="evaluate", disable=not progress, leave=False):
            images, labels = batch["image"].to(device), batch["label"].to(device)
            logits = model(images).float()
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            n += len(labels)
    return {"loss": loss_sum / max(n, 1), "accuracy": correct / max(n, 1), "n": n}


def train(model: nn.Module, train_ds: Dataset, val_ds: Dataset | None = None, epochs: int = 5,
          *, batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 5e-4,
          label_smoothing: float = 0.05, augment: bool = True, seed: int = 0, device=None,
          checkpoint: str | Path | None = None, resume: bool = True,
          max_seconds: float | None = None, num_workers: int = 0,
          progress: bool = True) -> list[dict]:
    """Train a classifier with AdamW and a one-cycle learning rate.

    Seeded (weights, data order, augmentation); the data order of epoch ``e`` depends only on
    ``(seed, e)``, so a run resumed from a checkpoint continues exactly as if never stopped.
    The caller's global RNG is left as it was. On CUDA it uses bf16 autocast where the GPU
    computes in bf16 natively; everywhere
    channels_last, which is faster on CPU too.

    Parameters
    ----------
    checkpoint : path, optional
        Written atomically after every epoch. If it exists and ``resume`` is true, training
        continues from it (it must come from the same architecture and settings); a run
        that its budget stopped is finished, unless ``max_seconds`` is now larger.
    max_seconds : float, optional
        Stop after the first batch that passes this much training time (over the whole
        run, resumes included).

    Returns
    -------
    list of dict, one per epoch: ``epoch``, ``train_loss``, ``train_accuracy``,
    ``val_loss``, ``val_accuracy`` (when ``val_ds`` is given), ``seconds`` (cumulative).
    """
    device = resolve_device(device)
    lock = exclusive(checkpoint) if checkpoint is not None else nullcontext()
    with lock, seeded(seed, device):
        return _train(model, train_ds, val_ds, epochs, device, checkpoint, resume, max_seconds,
                      num_workers, progress, batch_size=batch_size, lr=lr,
                      weight_decay=weight_decay, label_smoothing=label_smoothing,
                      augment=augment, seed=seed)


def _train(model, train_ds, val_ds, epochs, device, checkpoint, resume, max_seconds,
           num_workers, progress, **config) -> list[dict]:
    spec = getattr(model, "xai_gan_spec", {"name": type(model).__name__})
    config = {"epochs": epochs, **config}
    batch_size, seed = config["batch_size"], config["seed"]
    model.to(device, memory_format=torch.channels_last)
    optimizer, scheduler = _optimizer(model, len(train_ds), config)
    history, start = [], 0
    if checkpoint is not None and resume and Path(checkpoint).exists():
        history, start = _resume(checkpoint, model, optimizer, scheduler, config, max_seconds)
    autocast = bf16_autocast(device)
    elapsed = history[-1]["seconds"] if history else 0.0
    for epoch in range(start, epochs):
        model.train()
        step = _training_step(model, optimizer, scheduler, autocast, device, spec, config, epoch)
        result = run_epoch(_batches(train_ds, batch_size, True, seed * 1000 + epoch, num_workers),
                           step, spent=elapsed, max_seconds=max_seconds, progress=progress,
                           desc=f"{spec['name']} epoch {epoch + 1}/{epochs}")
        elapsed += result.seconds
        row = {"epoch": epoch + 1, "train_loss": result.means["loss"],
               "train_accuracy": result.means["acc"], "seconds": elapsed}
        if val_ds is not None:
            val = evaluate(model, val_ds, device=device, num_workers=num_workers)
            row.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
        history.append(row)
        if progress:
            tqdm.write(f"{spec['name']} epoch {epoch + 1}: " + ", ".join(
                f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"))
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, config=config, history=history,
                            epoch=epoch + 1, optimizer=optimizer, scheduler=scheduler,
                            stopped_by_budget=result.out_of_time)
        if result.out_of_time:
            break
    model.eval()
    return history


def _optimizer(model: nn.Module, n_train: int, config: dict):
    """AdamW and its one-cycle learning rate over every step of the run."""
    batch_size, lr = config["batch_size"], config["lr"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=config["weight_decay"])
    steps = config["epochs"] * (n_train // batch_size)
    if steps == 0:
        raise ValueError(f"{n_train} training images are fewer than one batch "
                         f"of {batch_size}")
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps,
                                                    pct_start=0.2)
    return optimizer, scheduler


def _resume(checkpoint, model, optimizer, scheduler, config: dict,
            max_seconds: float | None) -> tuple[list[dict], int]:
    """Load the run's ``checkpoint`` into the model, optimizer and scheduler; the history so
    far and the epoch to start from (the last one when the budget was spent)."""
    state = load_checkpoint(checkpoint, model)
    check_same_run(state["config"], config, checkpoint,
                   "pass resume=False to start again (CLI: use another --run-dir)")
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    start = config["epochs"] if budget_spent(state, max_seconds) else state["epoch"]
    return state["history"], start


def _training_step(model, optimizer, scheduler, autocast, device, spec: dict, config: dict,
                   epoch: int):
    """The step :func:`run_epoch` runs on each batch of ``epoch`` (from 0); its flips are
    drawn from a generator seeded by the run's seed and the epoch."""
    aug = torch.Generator().manual_seed(config["seed"] * 1000 + epoch)
    lr = config["lr"]

    def step(batch):
        images, labels = batch["image"], batch["label"]
        check_images(images, spec.get("in_channels"))
        if config["augment"]:  # horizontal flips: label-preserving for every dataset here
            flip = torch.rand(len(images), generator=aug) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        images = images.to(device, memory_format=torch.channels_last)
        labels = labels.to(device)
        with autocast:
            logits = model(images)
        loss = F.cross_entropy(logits.float(), labels,
                               label_smoothing=config["label_smoothing"])
        check_finite(loss, "training loss", epoch + 1, f"; lower lr (now {lr})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return {"loss": loss.item(), "acc": (logits.argmax(1) == labels).float().mean().item()}

    return step


def save_checkpoint(path: str | Path, model: nn.Module, **extra) -> None:
    """Atomically save the model's weights and spec, plus ``extra`` entries."""
    spec = getattr(model, "xai_gan_spec", None)
    if spec is None:
        raise ValueError("only models made by xai_gan.classifiers.build can be checkpointed")
    state = {"format": CHECKPOINT_FORMAT, "spec": spec, "model": model.state_dict(), **extra}
    for key in ("optimizer", "scheduler"):
        if key in state:
            state[key] = state[key].state_dict()
    save_torch(state, path)


def load_checkpoint(path: str | Path, model: nn.Module | None = None, device=None) -> dict:
    """Load a classifier checkpoint (``weights_only=True``).

    If ``model`` is None it is rebuilt from the checkpoint's spec. Returns the checkpoint
    dict with ``"model"`` replaced by the loaded ``nn.Module`` (in eval mode).
    """
    state = load_torch(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an xai-gan classifier checkpoint")
    spec = state["spec"]
    if model is None:
        model = build(**spec, load_weights=False)
    elif getattr(model, "xai_gan_spec", spec) != spec:
        raise ValueError(f"checkpoint {path} holds {spec}, but the model is "
                         f"{model.xai_gan_spec}")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit this {type(model).__name__}: "
                         f"{str(err).splitlines()[0]}") from None
    state["model"] = model.to(resolve_device(device)).eval()
    return state


__all__ = ["available", "build", "class_names", "conv_layers", "train", "evaluate", "predict",
           "save_checkpoint", "load_checkpoint", "count_parameters"]
