"""Training the SFT-cGAN on representation stores: resumable, seeded, optionally distributed.

With ``TrainConfig(distributed=True)`` under ``torchrun --nproc_per_node N`` it trains with
DistributedDataParallel (NCCL on GPUs, gloo on CPUs); only rank 0 validates and writes.
"""
from __future__ import annotations

import math
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from .. import classifiers
from ..io import atomic_path, exclusive, load_torch, save_torch
from ..devices import bf16_autocast, resolve_device, seeded
from ..store import model_hash, num_classes
from ..training import budget_spent, check_finite, check_same_run, run_epoch
from . import collapse, stores
from .augment import augment
from .checkpoint import generator_state, migrate
from .collapse import GeneratorCollapsed, average_maps, describe, is_collapsed, stuck
from .discriminator import PatchDiscriminator
from .config import TrainConfig, identity
from .generators import build_generator
from .losses import set_requires_grad
from .objectives import Adversarial, Step, objectives
from .validation import validate


@dataclass
class TrainResult:
    generator: torch.nn.Module
    history: pd.DataFrame
    best_path: Path
    last_path: Path


def _agree(flag: bool, world: int, device) -> bool:
    """Rank 0's ``flag`` on every rank (after a barrier: rank 0 has validated)."""
    if world == 1:
        return flag
    decided = torch.tensor([float(flag)], device=device)
    dist.broadcast(decided, 0)
    return bool(decided.item())


def _distributed(asked: bool) -> tuple[int, int]:
    """Rank and world size; the process group is started here only when ``asked``."""
    if asked and int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if asked and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(train_store: Dataset, val_store: Dataset, config: TrainConfig) -> TrainResult:
    """Train a generator (and its discriminator) to draw the stores' teacher maps.

    Writes into ``config.out_dir``: ``last.pt`` (everything needed to resume, every epoch),
    ``best.pt`` (the generator of the epoch with the best validation Pearson) and
    ``history.csv``; all atomically. If ``last.pt`` exists the run resumes after its last
    epoch (one that its budget stopped trains on only when ``max_seconds`` is now larger); a
    checkpoint of a different run (generator, losses, seed...) is refused. Seeded by
    ``config.seed``; the caller's global RNG is left as it was.
    """
    if config.uses_classifier and not config.classifier:  # a run's settings get it later
        raise ValueError(f"the {config.objective} objective trains through the classifier: "
                         "set classifier= to its checkpoint")
    rank, world = _distributed(config.distributed)
    device = resolve_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    # one process at a time per folder; ranks of one distributed run share it by design
    lock = exclusive(config.out_dir / "last.pt") if world == 1 else nullcontext()
    with lock, seeded(config.seed, device):
        return _train(train_store, val_store, config, rank, world, device)


@dataclass
class _Parts:
    """What one training run updates: the generator and its optimiser, the critic (inside
    the adversarial term, when the run has one) and the terms of its loss; the classifiers
    the faithfulness term runs are frozen."""

    generator: torch.nn.Module
    opt_g: torch.optim.Optimizer
    adversarial: Adversarial | None
    terms: list
    classifiers: list[torch.nn.Module]  # empty when the objective has no faithfulness term


def _build(config: TrainConfig, shape: dict, input_sizes: list, device, memory, autocast
           ) -> _Parts:
    reads = {"inputs": config.inputs, "classes": shape["classes"], **config.generator_options}
    generator = build_generator(config.generator, shape["k"], config.preset,
                                shape["image_channels"], seed=config.seed,
                                **reads).to(device, memory_format=memory)
    adam = dict(lr=config.lr, betas=(config.beta1, 0.999))
    adversarial, models = None, []
    if config.adversarial_weight > 0 and config.uses_teacher:
        critic = PatchDiscriminator(shape["image_channels"], width=config.disc_width)
        critic.to(device, memory_format=memory)
        adversarial = Adversarial(critic, torch.optim.Adam(critic.parameters(), **adam),
                                  config.gan_loss, config.adversarial_weight, autocast)
    if config.uses_classifier:
        for path in stores.as_list(config.classifier):
            models.append(classifiers.load_checkpoint(path, device=device)["model"])
            set_requires_grad(models[-1], False)
    return _Parts(generator, torch.optim.Adam(generator.parameters(), **adam), adversarial,
                  objectives(config, models, input_sizes, adversarial), models)


def _resume(parts: _Parts, config: TrainConfig, shape: dict, path: Path, device,
            classifier_hashes: list[str]) -> dict:
    """Load ``last.pt`` into ``parts`` when it is the same run; returns where to go on."""
    state = migrate(load_torch(path, map_location=device), path)
    found = {**identity(state["config"]), **{name: state.get(name) for name in shape}}
    wanted = {**identity(config), **shape}
    # the same CNNs by their weights, not their paths: a moved or copied folder resumes
    if classifier_hashes and state.get("classifier_hashes"):
        found.update(classifier=config.classifier, classifier_hashes=state["classifier_hashes"])
        wanted["classifier_hashes"] = classifier_hashes
    check_same_run(found, wanted, path, "use another out_dir or delete it")
    parts.generator.load_state_dict(state["state"])
    history, epoch = state["history"], state["epoch"]
    if budget_spent(state, config.max_seconds):
        epoch = config.epochs
    if epoch < config.epochs:  # a finished run needs neither optimiser nor critic
        parts.opt_g.load_state_dict(state["opt_g"])
        if parts.adversarial is not None:
            parts.adversarial.discriminator.load_state_dict(state["discriminator"])
            parts.adversarial.optimiser.load_state_dict(state["opt_d"])
    return {"history": history, "epoch": epoch, "best": state["best"],
            "seconds": history[-1]["seconds"] if history else 0.0}


def _save_epoch(parts: _Parts, config: TrainConfig, shape: dict, row: dict, progress: dict,
                record: dict, stopped: bool) -> None:
    """Write ``best.pt`` (when the validation score improved, the generator not collapsed: the
    Pearson to the teacher, or minus the faithfulness loss for the faithful objective),
    ``last.pt`` and ``history.csv``; ``record`` (teacher, representations) goes into both
    checkpoints; ``progress`` (history, best) is updated in place."""
    last_path, best_path = config.out_dir / "last.pt", config.out_dir / "best.pt"
    progress["history"].append(row)
    score = -row["val_faith"] if config.objective == "faithful" else row["val_pearson"]
    # a NaN Pearson (constant maps) never beats a number, but the first sound epoch always
    # writes best.pt: a run that finishes without one has collapsed
    score = -math.inf if math.isnan(score) else score
    improved = not row["collapsed"] and (score > progress["best"] or not best_path.exists())
    if not row["collapsed"]:
        progress["best"] = max(progress["best"], score)
    extra = {"epoch": row["epoch"], "val": row, **record, "train_items": shape["train_items"]}
    shape = {k: v for k, v in shape.items() if k != "train_items"}
    if improved:
        save_torch(generator_state(parts.generator, shape, config, **extra), best_path)
    state = generator_state(parts.generator, shape, config, **extra)
    state.update(opt_g=parts.opt_g.state_dict(), history=progress["history"],
                 best=progress["best"], stopped_by_budget=stopped)
    if parts.adversarial is not None:
        state.update(discriminator=parts.adversarial.discriminator.state_dict(),
                     opt_d=parts.adversarial.optimiser.state_dict())
    save_torch(state, last_path)
    with atomic_path(config.out_dir / "history.csv") as tmp:
        pd.DataFrame(progress["history"]).to_csv(tmp, index=False)
    if config.progress:
        print(f"gan epoch {row['epoch']}: " + ", ".join(
            f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "batches", "collapsed"))
            + (" (collapsed)" if row["collapsed"] else ""), flush=True)


@dataclass
class _Run:
    """One training run's fixed set-up, what its loop reads."""

    parts: _Parts
    shape: dict
    input_sizes: list
    memory: torch.memory_format
    g_step: torch.nn.Module  # the generator as trained: compiled or DDP-wrapped
    autocast: object
    device: torch.device


def _set_up(train_store, val_store, config: TrainConfig, world: int, device) -> _Run:
    cuda = device.type == "cuda"
    channels_last = cuda if config.channels_last is None else config.channels_last
    shape = stores.shape(train_store)
    if stores.shape(val_store) != shape:
        raise ValueError(f"train and val stores differ: {shape} vs {stores.shape(val_store)}")
    memory = torch.channels_last if channels_last else torch.contiguous_format
    input_sizes = stores.input_sizes(train_store, shape["map_size"])
    autocast = bf16_autocast(device, config.amp)
    # a plane per class of the stores' CNNs
    classes = num_classes(train_store) if config.condition_on_class else 0
    parts = _build(config, {**shape, "classes": classes}, input_sizes, device, memory,
                   autocast)
    stores.check_classes(parts.generator, train_store)
    if parts.classifiers:
        stores.check_sources(parts.classifiers, len(input_sizes),
                             len(stores.parts_of(val_store)))
    shape["train_items"] = len(train_store)
    g_step = torch.compile(parts.generator) if config.compile else parts.generator
    if world > 1:
        ids = [device.index] if cuda else None
        g_step = DistributedDataParallel(g_step, device_ids=ids)
        if parts.adversarial is not None:
            parts.adversarial.critic = DistributedDataParallel(parts.adversarial.discriminator,
                                                               device_ids=ids)
    return _Run(parts, shape, input_sizes, memory, g_step, autocast, device)


def _loader(store, config: TrainConfig, epoch: int, rank: int, world: int) -> DataLoader:
    if world > 1:
        sampler = DistributedSampler(store, world, rank, shuffle=True, seed=config.seed,
                                     drop_last=True)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(store, generator=torch.Generator().manual_seed(config.seed + epoch))
    return DataLoader(store, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                      num_workers=config.num_workers)


def _step(run: _Run, config: TrainConfig, batch: dict, epoch: int) -> dict:
    """One generator update (after the critic's, when there is one); returns the logs."""
    device, memory = run.device, run.memory
    images, conditions, teacher_map = augment(
        [batch["image"].to(device, memory_format=memory),
         batch["conditions"].to(device, memory_format=memory),
         batch["teacher_map"].to(device)[:, None]], config.augment)
    with run.autocast:
        logits = run.g_step(images, conditions, batch.get("pred"), logits=True)
        step = Step(images, teacher_map, logits, torch.sigmoid(logits), batch)
    logs = {} if run.parts.adversarial is None else run.parts.adversarial.update_critic(step)
    with run.autocast:
        loss = torch.zeros((), device=device)
        for term in run.parts.terms:
            for name, weight, value in term(step):
                loss = loss + weight * value
                logs[name] = value.item()
    check_finite(loss, "generator loss", epoch + 1)
    run.parts.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    run.parts.opt_g.step()
    return logs


def _train(train_store, val_store, config: TrainConfig, rank: int, world: int,
           device: torch.device) -> TrainResult:
    run = _set_up(train_store, val_store, config, world, device)
    last_path, best_path = config.out_dir / "last.pt", config.out_dir / "best.pt"
    progress = {"history": [], "epoch": 0, "best": -math.inf, "seconds": 0.0}
    hashes = [model_hash(model) for model in run.parts.classifiers]
    if last_path.exists():
        progress = _resume(run.parts, config, run.shape, last_path, device, hashes)
    record = {"teacher": stores.teacher(train_store) if config.uses_teacher else None,
              "representations": stores.representations(train_store),
              "classifier_hashes": hashes}
    average = average_maps(train_store)  # the maps that ignore the image, for the watch
    for epoch in range(progress["epoch"], config.epochs):
        loader = _loader(train_store, config, epoch, rank, world)
        torch.manual_seed(config.seed * 1000 + epoch)
        run.parts.generator.train()
        result = run_epoch(loader, lambda batch: _step(run, config, batch, epoch),
                           spent=progress["seconds"], max_seconds=config.max_seconds,
                           progress=config.progress and rank == 0,
                           desc=f"gan epoch {epoch + 1}/{config.epochs}")
        progress["seconds"] += result.seconds
        if rank == 0:
            row = {"epoch": epoch + 1, "seconds": progress["seconds"], "batches": result.batches,
                   **{f"train_{name}": value for name, value in result.means.items()},
                   **validate(run.parts.generator, val_store, device=device,
                              classifier=run.parts.classifiers or None,
                              input_size=run.input_sizes, deletion_weight=config.deletion_weight,
                              average=average)}
            row["collapsed"] = is_collapsed(row, config.uses_teacher)
            _save_epoch(run.parts, config, run.shape, row, progress, record, result.out_of_time)
        if _agree(rank == 0 and stuck(progress["history"]), world, device):
            break  # no sound map left to gain: stop, and fail below if there never was one
        if result.out_of_time:
            break
    return _finish(run.parts.generator, config, progress, rank, world, device)


def _finish(generator, config: TrainConfig, progress: dict, rank: int, world: int, device
            ) -> TrainResult:
    """The best generator, or :class:`GeneratorCollapsed` when no epoch drew a sound map."""
    last_path, best_path = config.out_dir / "last.pt", config.out_dir / "best.pt"
    if world > 1:
        dist.barrier()
    if not best_path.exists():
        if rank == 0:
            message = describe(progress["history"][-1], config.out_dir, config.recipe,
                               config.uses_teacher)
            collapse.record(config.out_dir, message)
        else:
            message = f"the generator in {config.out_dir} collapsed (rank 0 says how)"
        raise GeneratorCollapsed(message)
    if rank == 0:
        collapse.record(config.out_dir, None)
    generator.load_state_dict(load_torch(best_path, map_location=device)["state"])
    return TrainResult(generator.eval(), pd.DataFrame(progress["history"]), best_path, last_path)
