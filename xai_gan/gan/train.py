"""Training the SFT-cGAN on representation stores: resumable, seeded, optionally distributed.

With ``TrainConfig(distributed=True)`` under ``torchrun --nproc_per_node N`` it trains with
DistributedDataParallel (NCCL on GPUs, gloo on CPUs); only rank 0 validates and writes.
"""
from __future__ import annotations

import math
import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from .. import classifiers
from ..devices import bf16_autocast, resolve_device, seeded
from ..io import atomic_path, exclusive, load_torch, save_torch
from ..maps import mae, pearson, ssim
from ..scoped import eval_mode
from ..store import model_hash, num_classes
from ..training import budget_spent, check_finite, check_same_run, run_epoch
from .augment import AUGMENTATIONS, augment
from .checkpoint import generator_state
from . import collapse
from .collapse import GeneratorCollapsed, average_maps, describe, is_collapsed, signs, stuck
from .discriminator import PatchDiscriminator
from .faithfulness import faithfulness_loss, saturation_barrier
from .generators import build_generator, with_classes
from .losses import RECIPES, GANLoss, correlation_loss, distillation_loss, set_requires_grad
# changing these mid-run would make a different run: a checkpoint with others is refused
RUN_FIELDS = ("generator", "preset", "generator_options", "batch_size", "lr", "beta1",
              "augment", "objective", "recipe", "distil_weight", "correlation_weight",
              "adversarial_weight", "gan_loss", "disc_width", "faithfulness_weight",
              "deletion_weight", "classifier", "seed")
# distil: draw the teacher's map (the recipe's term, and the adversarial one unless its
# weight is 0);
# faithful: no teacher, the faithfulness objective through the frozen CNN; both: all terms
OBJECTIVES = ("distil", "faithful", "both")


@dataclass
class TrainConfig:
    """How to train: ``objective`` picks the terms (:data:`OBJECTIVES`), ``recipe`` the form of
    the distillation term (:data:`~xai_gan.gan.losses.RECIPES`: ``cross-entropy`` on the
    logits, or ``paper``, L1 on the map), the weights scale them; ``adversarial_weight=0``
    distils without a discriminator."""

    out_dir: Path = Path("runs/gan")
    generator: str = "msft"
    preset: str = "tiny"
    generator_options: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    # a random symmetry per item (:data:`~xai_gan.gan.augment.AUGMENTATIONS`), applied alike
    # to its image, conditions and teacher map
    augment: str = "none"
    objective: str = "distil"
    recipe: str = "cross-entropy"
    distil_weight: float = 100.0  # the recipe's distillation term (the paper: L1 at 100)
    correlation_weight: float = 0.0  # 1 - Pearson to the teacher map, beside it
    adversarial_weight: float = 1.0
    gan_loss: str = "bce"
    disc_width: int = 32
    faithfulness_weight: float = 1.0
    # the faithfulness objective's deletion term beside its insertion (keep) term
    deletion_weight: float = 0.0
    # classifier checkpoint(s) the faithfulness term runs: one, or one per store of a
    # combined train store (``xai_gan.store.combine``), in its order
    classifier: str | list[str] | None = None
    seed: int = 0
    device: str | None = None
    amp: bool | None = None  # bf16 autocast; default on CUDA GPUs with native bf16
    channels_last: bool | None = None  # default on CUDA
    compile: bool = False
    distributed: bool = False  # DDP over torchrun's processes (WORLD_SIZE > 1)
    max_seconds: float | None = None  # training budget over the whole run (resumes included)
    num_workers: int = 0
    progress: bool = True

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose from {OBJECTIVES}")
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose from {list(RECIPES)}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {self.augment!r}; choose from "
                             f"{AUGMENTATIONS}")
        if self.objective != "distil" and not self.classifier:
            raise ValueError(f"the {self.objective} objective trains through the classifier: "
                             "set classifier= to its checkpoint")

    @property
    def uses_teacher(self) -> bool:
        return self.objective != "faithful"

    @property
    def uses_classifier(self) -> bool:
        return self.objective != "distil"


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


def _shape(store: Dataset) -> dict:
    item = store[0]
    return {"k": item["conditions"].shape[0], "map_size": item["image"].shape[-1],
            "image_channels": item["image"].shape[0]}


def _parts_of(store: Dataset) -> list[Dataset]:
    """The stores a combined store joins, in order (a plain store: itself)."""
    return list(getattr(store, "datasets", [store]))


def _input_sizes(store: Dataset, map_size: int) -> list[int]:
    """Per store: the CNN's input side it was built at (the faithfulness term runs that CNN
    there); the map size for stores without that record."""
    return [getattr(s, "image_size", map_size) for s in _parts_of(store)]


def _faithfulness(models: list, input_sizes: list, images, heat, batch, **options):
    """The faithfulness loss of a batch, each item scored by the CNN of its store (its
    ``source``: ``models[source]``, run at ``input_sizes[source]``), averaged over items."""
    classes = batch["pred"].to(images.device)
    if len(models) == 1:
        return faithfulness_loss(models[0], images, heat, classes,
                                 input_size=input_sizes[0], **options)
    sources = batch["source"].to(images.device)
    total = 0.0
    for i, (model, size) in enumerate(zip(models, input_sizes)):
        rows = (sources == i).nonzero()[:, 0]
        if len(rows):
            total = total + len(rows) * faithfulness_loss(
                model, images[rows], heat[rows], classes[rows], input_size=size, **options)
    return total / len(images)


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _teacher(store: Dataset) -> str | None:
    teachers = {getattr(s, "metadata", {}).get("teacher") for s in _parts_of(store)}
    return teachers.pop() if len(teachers) == 1 else None


def _representations(store: Dataset) -> list[dict]:
    """Per store: its CNN's spec and the layers its condition maps were computed at, for the
    checkpoint (:class:`GANExplainer` refuses that CNN at other layers)."""
    return [{"model": s.metadata["model"], "layers": s.metadata["layers"]}
            for s in _parts_of(store) if "layers" in getattr(s, "metadata", {})]


def _check_classes(generator, store: Dataset) -> None:
    """A generator that reads the explained class must have a plane for every class of the
    stores' CNNs."""
    n = getattr(generator, "spec", {}).get("classes", 0)
    needed = num_classes(store) if n else 0
    if needed > n:
        raise ValueError(f"the generator reads {n} class planes, but the stores' CNNs have "
                         f"up to {needed} classes: build it with classes={needed}")


def _check_sources(models: list, n_train: int, n_val: int) -> None:
    """One classifier per store, and as many val stores as train stores (the same CNNs, in
    the same order)."""
    if not len(models) == n_train == n_val:
        raise ValueError(f"the faithfulness term runs each store's own CNN: got "
                         f"{len(models)} classifier(s) for {n_train} train and {n_val} val "
                         "store(s); pass one classifier per store, in the order the stores "
                         "were combined")


@torch.no_grad()
def validate(generator, store: Dataset, batch_size: int = 64, device=None,
             classifier: torch.nn.Module | list | None = None,
             input_size: int | list | None = None, deletion_weight: float = 0.0,
             average: tuple | None = None) -> dict:
    """Mean L1, SSIM and Pearson of the generated maps to the store's teacher maps, and the
    collapse diagnostics (:func:`~xai_gan.gan.collapse.signs`, against the ``average`` maps
    of the training store when given); with a ``classifier``, also ``val_faith``, the
    faithfulness loss (with ``deletion_weight``) run at ``input_size``, what ``best.pt`` is
    chosen by under the faithful objective, and ``val_barrier``, its saturation barrier,
    reported apart so that the score the metrics measure is not mixed with a regulariser. For a combined store, ``classifier`` and
    ``input_size`` are lists, one per store, and each item is scored by its store's CNN."""
    device = device or next(generator.parameters()).device
    models, input_sizes = _as_list(classifier), _as_list(input_size)
    input_sizes = input_sizes * len(models) if len(input_sizes) == 1 else input_sizes
    scores = {"l1": [], "ssim": [], "pearson": []}
    faith, barrier, heats, teacher_maps = [], [], [], []
    with eval_mode(generator):
        for batch in DataLoader(store, batch_size=batch_size):
            images = batch["image"].to(device)
            conditions = with_classes(generator, batch["conditions"].to(device),
                                      batch.get("pred"))
            heat = generator(images, conditions).float()
            if classifier is not None:
                faith.append(len(images) * _faithfulness(
                    models, input_sizes, images, heat, batch, saturation_weight=0,
                    deletion_weight=deletion_weight).item())
                barrier.append(len(images) * saturation_barrier(heat).item())
            heat, teacher_map = heat[:, 0].cpu(), batch["teacher_map"]
            scores["l1"].append(mae(heat, teacher_map))
            scores["ssim"].append(ssim(heat, teacher_map))
            scores["pearson"].append(pearson(heat, teacher_map))
            heats.append(heat)
            teacher_maps.append(teacher_map)
    out = {f"val_{name}": torch.cat(values).nanmean().item() for name, values in scores.items()}
    out.update(signs(torch.cat(heats), torch.cat(teacher_maps), average))
    if classifier is not None:
        out["val_faith"] = sum(faith) / len(store)
        out["val_barrier"] = sum(barrier) / len(store)
    return out


def train(train_store: Dataset, val_store: Dataset, config: TrainConfig) -> TrainResult:
    """Train a generator (and its discriminator) to draw the stores' teacher maps.

    Writes into ``config.out_dir``: ``last.pt`` (everything needed to resume, every epoch),
    ``best.pt`` (the generator of the epoch with the best validation Pearson) and
    ``history.csv``; all atomically. If ``last.pt`` exists the run resumes after its last
    epoch (one that its budget stopped trains on only when ``max_seconds`` is now larger); a
    checkpoint of a different run (generator, losses, seed...) is refused. Seeded by
    ``config.seed``; the caller's global RNG is left as it was.
    """
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
    """What one training run updates: the generator, the optional critic, and the
    classifiers the faithfulness term runs (frozen)."""

    generator: torch.nn.Module
    discriminator: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    classifiers: list[torch.nn.Module]  # empty when the objective has no faithfulness term


def _build(config: TrainConfig, shape: dict, device, memory) -> _Parts:
    generator = build_generator(config.generator, shape["k"], config.preset,
                                shape["image_channels"], seed=config.seed,
                                **config.generator_options).to(device, memory_format=memory)
    adam = dict(lr=config.lr, betas=(config.beta1, 0.999))
    discriminator = opt_d = None
    models = []
    if config.adversarial_weight > 0 and config.uses_teacher:
        discriminator = PatchDiscriminator(shape["image_channels"], width=config.disc_width)
        discriminator.to(device, memory_format=memory)
        opt_d = torch.optim.Adam(discriminator.parameters(), **adam)
    if config.uses_classifier:
        for path in _as_list(config.classifier):
            models.append(classifiers.load_checkpoint(path, device=device)["model"])
            set_requires_grad(models[-1], False)
    return _Parts(generator, discriminator, torch.optim.Adam(generator.parameters(), **adam),
                  opt_d, models)


def _resume(parts: _Parts, config: TrainConfig, shape: dict, path: Path, device,
            classifier_hashes: list[str]) -> dict:
    """Load ``last.pt`` into ``parts`` when it is the same run; returns where to go on."""
    state = load_torch(path, map_location=device)
    if "image_size" in state:  # checkpoints before map_size
        state["map_size"] = state.pop("image_size")
    defaults = {name: TrainConfig.__dataclass_fields__[name].default for name in RUN_FIELDS}
    saved = dict(state.get("config", {}))  # a field added since the checkpoint: its default
    if "objective" not in saved:  # before objectives: a weight > 0 was the replaced GFI term
        saved["objective"] = ("distil" if not saved.get("faithfulness_weight")
                              else "distil with the replaced keep/remove term")
    if "recipe" not in saved:  # before recipes: L1 on the map, the paper's
        saved.update(recipe="paper", distil_weight=saved.pop("l1_weight", 100.0))
    if saved["objective"] != "distil":  # before its weight, the deletion term was always on
        saved.setdefault("deletion_weight", 1.0)
    if saved["objective"] == config.objective == "distil":  # unused by distillation
        saved.update(faithfulness_weight=config.faithfulness_weight,
                     deletion_weight=config.deletion_weight, classifier=config.classifier)
    found = {**{name: saved.get(name, defaults[name]) for name in RUN_FIELDS},
             **{name: state.get(name) for name in shape}}
    wanted = {**{name: getattr(config, name) for name in RUN_FIELDS}, **shape}
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
        if parts.discriminator is not None:
            parts.discriminator.load_state_dict(state["discriminator"])
            parts.opt_d.load_state_dict(state["opt_d"])
    return {"history": history, "epoch": epoch, "best": state["best"],
            "seconds": history[-1]["seconds"] if history else 0.0}


def _save_epoch(parts: _Parts, config: TrainConfig, shape: dict, row: dict, progress: dict,
                record: dict, stopped: bool) -> None:
    """Write ``best.pt`` (when the validation score improved, the generator not collapsed: the
    Pearson to the teacher, or minus the faithfulness loss for the faithful objective),
    ``last.pt`` and ``history.csv``;
    ``record`` (teacher, representations) goes into both checkpoints; ``progress`` (history,
    best) is updated in place."""
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
    if parts.discriminator is not None:
        state.update(discriminator=parts.discriminator.state_dict(),
                     opt_d=parts.opt_d.state_dict())
    save_torch(state, last_path)
    with atomic_path(config.out_dir / "history.csv") as tmp:
        pd.DataFrame(progress["history"]).to_csv(tmp, index=False)
    if config.progress:
        print(f"gan epoch {row['epoch']}: " + ", ".join(
            f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "batches", "collapsed"))
            + (" (collapsed)" if row["collapsed"] else ""), flush=True)


def _train(train_store, val_store, config: TrainConfig, rank: int, world: int,
           device: torch.device) -> TrainResult:
    cuda = device.type == "cuda"
    channels_last = cuda if config.channels_last is None else config.channels_last
    shape = _shape(train_store)
    if _shape(val_store) != shape:
        raise ValueError(f"train and val stores differ: {shape} vs {_shape(val_store)}")
    memory = torch.channels_last if channels_last else torch.contiguous_format
    parts = _build(config, shape, device, memory)
    generator, discriminator = parts.generator, parts.discriminator
    _check_classes(generator, train_store)
    input_sizes = _input_sizes(train_store, shape["map_size"])
    if parts.classifiers:
        _check_sources(parts.classifiers, len(input_sizes), len(_parts_of(val_store)))
    shape["train_items"] = len(train_store)
    last_path, best_path = config.out_dir / "last.pt", config.out_dir / "best.pt"
    progress = {"history": [], "epoch": 0, "best": -math.inf, "seconds": 0.0}
    hashes = [model_hash(model) for model in parts.classifiers]
    if last_path.exists():
        progress = _resume(parts, config, shape, last_path, device, hashes)
    record = {"teacher": _teacher(train_store) if config.uses_teacher else None,
              "representations": _representations(train_store), "classifier_hashes": hashes}

    g_step = torch.compile(generator) if config.compile else generator
    d_step = discriminator
    if world > 1:
        ids = [device.index] if cuda else None
        g_step = DistributedDataParallel(g_step, device_ids=ids)
        if discriminator is not None:
            d_step = DistributedDataParallel(discriminator, device_ids=ids)
    criterion = GANLoss(config.gan_loss)
    average = average_maps(train_store)  # the maps that ignore the image, for the watch
    autocast = bf16_autocast(device, config.amp)

    for epoch in range(progress["epoch"], config.epochs):
        if world > 1:
            sampler = DistributedSampler(train_store, world, rank, shuffle=True, seed=config.seed,
                                         drop_last=True)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(train_store,
                                    generator=torch.Generator().manual_seed(config.seed + epoch))
        loader = DataLoader(train_store, batch_size=config.batch_size, sampler=sampler,
                            drop_last=True, num_workers=config.num_workers)
        torch.manual_seed(config.seed * 1000 + epoch)
        generator.train()

        def step(batch):
            images, conditions, teacher_map = augment(
                [batch["image"].to(device, memory_format=memory),
                 batch["conditions"].to(device, memory_format=memory),
                 batch["teacher_map"].to(device)[:, None]], config.augment)
            conditions = with_classes(generator, conditions, batch.get("pred"))
            with autocast:
                logits = g_step(images, conditions, logits=True)
                fake = torch.sigmoid(logits)
            losses = {}
            if discriminator is not None:
                set_requires_grad(discriminator, True)
                with autocast:
                    loss_d = 0.5 * (criterion(d_step(images, teacher_map), True)
                                    + criterion(d_step(images, fake.detach()), False))
                parts.opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                parts.opt_d.step()
                losses["d"] = loss_d.item()
                set_requires_grad(discriminator, False)  # the generator step leaves D alone
            with autocast:
                loss_g = torch.zeros((), device=device)
                if config.uses_teacher:
                    distil = distillation_loss(logits, teacher_map, config.recipe, fake)
                    loss_g = loss_g + config.distil_weight * distil
                    losses["distil"] = distil.item()
                    if config.correlation_weight:
                        corr = correlation_loss(fake, teacher_map)
                        loss_g = loss_g + config.correlation_weight * corr
                        losses["corr"] = corr.item()
                if discriminator is not None:
                    adv = criterion(discriminator(images, fake), True, for_discriminator=False)
                    loss_g = loss_g + config.adversarial_weight * adv
                    losses["g_adv"] = adv.item()
                if parts.classifiers:
                    faith = _faithfulness(parts.classifiers, input_sizes, images, fake.float(),
                                          batch, deletion_weight=config.deletion_weight)
                    loss_g = loss_g + config.faithfulness_weight * faith
                    losses["faith"] = faith.item()
            check_finite(loss_g, "generator loss", epoch + 1)
            parts.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            parts.opt_g.step()
            return losses

        result = run_epoch(loader, step, spent=progress["seconds"],
                           max_seconds=config.max_seconds, progress=config.progress and rank == 0,
                           desc=f"gan epoch {epoch + 1}/{config.epochs}")
        progress["seconds"] += result.seconds
        if rank == 0:
            row = {"epoch": epoch + 1, "seconds": progress["seconds"], "batches": result.batches,
                   **{f"train_{name}": value for name, value in result.means.items()},
                   **validate(generator, val_store, device=device,
                              classifier=parts.classifiers or None,
                              input_size=input_sizes, deletion_weight=config.deletion_weight,
                              average=average)}
            row["collapsed"] = is_collapsed(row, config.uses_teacher)
            _save_epoch(parts, config, shape, row, progress, record, result.out_of_time)
        if _agree(rank == 0 and stuck(progress["history"]), world, device):
            break  # no sound map left to gain: stop, and fail below if there never was one
        if result.out_of_time:
            break
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
