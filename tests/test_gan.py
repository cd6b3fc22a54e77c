"""The SFT-cGAN: building blocks, generators, losses, training with resume, the explainer."""
import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import xai_gan as xg
from xai_gan.gan import (SFT, GANLoss, PatchDiscriminator, TrainConfig, augment,
                         build_generator, correlation_loss, faithfulness_loss, train)


class ToyStore(torch.utils.data.Dataset):
    """Store-like items: smooth random condition maps; the target is the deepest one, as in
    the paper's set-up (target = last-layer Grad-CAM)."""

    def __init__(self, n, k=4, size=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, size, size, generator=g)
        conditions = xg.maps.gaussian_blur(torch.rand(n, k, size, size, generator=g), 1.5)
        self.conditions = xg.maps.minmax(conditions)
        self.teacher_maps = self.conditions[:, 0]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "conditions": self.conditions[i], "teacher_map": self.teacher_maps[i],
                "label": 0, "pred": 0}


def test_sft_starts_as_identity_and_learns_to_modulate():
    sft = SFT(8, cond_channels=4)
    x, c = torch.randn(2, 8, 5, 5), torch.randn(2, 4, 5, 5)
    assert torch.equal(sft(x, c), x)
    torch.nn.init.normal_(sft.scale[-1].weight)
    assert not torch.allclose(sft(x, c), x)


@pytest.mark.parametrize("name", xg.gan.available())
def test_generators_map_image_and_condition_to_a_map_in_0_1(name):
    gen = build_generator(name, k=4, preset="tiny", image_channels=1)
    for batch in (1, 3):  # nothing depends on the batch size (a fault of the reference LSFT)
        out = gen(torch.rand(batch, 1, 32, 32), torch.rand(batch, 4, 32, 32))
        assert out.shape == (batch, 1, 32, 32)
        assert out.min() >= 0 and out.max() <= 1
    assert gen.spec == {"name": name, "k": 4, "preset": "tiny", "image_channels": 1}


def test_paper_presets_have_the_published_depth_and_width():
    gsft = build_generator("gsft", k=8, preset="paper")
    assert len(gsft.trunk) == 32 and gsft.head.out_channels == 64
    assert gsft.condition.body[0].out_channels == 128 and gsft.condition.body[-1].out_channels == 32
    lsft = build_generator("lsft", k=8, preset="paper")
    assert len(lsft.sft_blocks) + len(lsft.plain_blocks) == 15
    assert lsft.condition.body[0].in_channels == 1  # one shared network, applied per map


def test_multiscale_generator_is_at_least_10x_cheaper_than_paper_gsft():
    from torch.utils.flop_counter import FlopCounterMode

    def flops(gen):
        with FlopCounterMode(display=False) as counter:
            gen(torch.rand(1, 3, 64, 64), torch.rand(1, 8, 64, 64))
        return counter.get_total_flops()

    ratio = flops(build_generator("gsft", 8, "paper")) / flops(build_generator("msft", 8, "paper"))
    assert ratio >= 10


def test_builder_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown generator 'unet'"):
        build_generator("unet")
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        build_generator("gsft", preset="huge")


def test_discriminator_judges_patches_of_image_and_map():
    disc = PatchDiscriminator(image_channels=3, width=8, layers=2)
    logits = disc(torch.rand(2, 3, 64, 64), torch.rand(2, 1, 64, 64))
    assert logits.shape == (2, 1, 16, 16)


def test_gan_losses():
    logits = torch.tensor([2.0, -1.0])
    bce = GANLoss("bce")
    expected = torch.nn.functional.softplus(-logits).mean()
    assert bce(logits, True).item() == pytest.approx(expected.item())
    assert GANLoss("lsgan")(logits, False).item() == pytest.approx((4 + 1) / 2)
    hinge = GANLoss("hinge")
    assert hinge(logits, True).item() == pytest.approx((0 + 2) / 2)
    assert hinge(logits, False).item() == pytest.approx((3 + 0) / 2)
    assert hinge(logits, True, for_discriminator=False).item() == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        GANLoss("wgan")


def test_correlation_loss_is_one_minus_pearson_and_blind_to_scale():
    torch.manual_seed(0)
    target = torch.rand(4, 1, 8, 8)
    fake = (0.3 * target + 0.2).requires_grad_()  # the same order, other scale and offset
    assert correlation_loss(fake, target).item() == pytest.approx(0, abs=1e-5)
    assert correlation_loss(1 - target, target).item() == pytest.approx(2, abs=1e-5)
    other = torch.rand(4, 1, 8, 8)
    expected = 1 - xg.maps.pearson(other[:, 0], target[:, 0]).mean()
    assert correlation_loss(other, target).item() == pytest.approx(expected.item(), abs=1e-5)
    flat = torch.rand(1, 1, 8, 8, requires_grad=True)  # a constant teacher: no gradient, no NaN
    loss = correlation_loss(flat, torch.full((1, 1, 8, 8), 0.5))
    loss.backward()
    assert loss.item() == pytest.approx(1) and torch.equal(flat.grad, torch.zeros_like(flat))


def test_faithfulness_loss_rewards_a_map_on_what_the_classifier_uses():
    torch.manual_seed(0)

    class LeftTexture(torch.nn.Module):  # class 1 = fine texture in the left half
        def forward(self, x):
            detail = (x[..., :, 1:8] - x[..., :, :7]).abs().mean((1, 2, 3))
            score = 20 * (detail - 0.25)
            return torch.stack([-score, score], 1)

    images = torch.full((4, 3, 16, 16), 0.5)
    images[..., :8] = (torch.arange(8) % 2).float()  # a checkerboard of columns; blur erases it
    classes = torch.ones(4, dtype=torch.long)
    left = torch.zeros(4, 1, 16, 16)
    left[..., :8] = 1
    left = (left + 0.01 * torch.rand(4, 1, 16, 16)).requires_grad_()  # no ties in the order
    for deletion_weight in (0, 1):  # the insertion (keep) term alone, or the gap
        loss_left, loss_right = (faithfulness_loss(LeftTexture(), images, heat, classes,
                                                   saturation_weight=0,
                                                   deletion_weight=deletion_weight)
                                 for heat in (left, 1 - left))
        assert -1 <= loss_left < loss_right - 0.5 <= deletion_weight
        loss_left.backward()  # the gradient reaches the map through the soft top-f masks
        assert left.grad.isfinite().all() and left.grad.abs().sum() > 0
        left.grad = None
    # keeping the left's top pixels keeps the class; the deletion term is linear in its weight
    keep, gap, double = (faithfulness_loss(LeftTexture(), images, left, classes,
                                           saturation_weight=0, deletion_weight=w).item()
                         for w in (0, 1, 2))
    assert keep < -0.99 and 0 < gap - keep < 1 and double - gap == pytest.approx(gap - keep)
    # straight through: the CNN sees each fraction's exact top pixels, the gradient is the
    # soft mask's
    hard = faithfulness_loss(LeftTexture(), images, left, classes, saturation_weight=0,
                             straight_through=True)
    flat = left.detach().flatten(1)
    blurred = xg.maps.gaussian_blur(images, 2.0)
    kept = [(left.detach() >= flat.quantile(1 - f, dim=1)[:, None, None, None]).float()
            for f in (0.1, 0.3, 0.5)]
    expected = -torch.stack([LeftTexture()(images * top + blurred * (1 - top)).softmax(1)[:, 1]
                             for top in kept]).mean()
    torch.testing.assert_close(hard, expected)
    assert hard.item() != pytest.approx(keep, abs=1e-3)  # not what the soft masks give
    hard.backward()
    assert left.grad.isfinite().all() and left.grad.abs().sum() > 0


def test_input_ablations_and_the_linear_baseline_read_only_their_inputs(tmp_path):
    image, conditions = torch.rand(2, 3, 16, 16), torch.rand(2, 4, 16, 16)
    other_image, other_conditions = torch.rand(2, 3, 16, 16), torch.rand(2, 4, 16, 16)
    image_only = build_generator("msft", 4, inputs="image")
    conditions_only = build_generator("msft", 4, inputs="conditions")
    linear = build_generator("linear", 4)
    both = build_generator("msft", 4)
    for gen in (image_only, conditions_only, linear, both):
        torch.nn.init.normal_(next(p for n, p in gen.named_parameters() if "weight" in n))
    assert torch.equal(image_only(image, conditions), image_only(image, other_conditions))
    assert not torch.equal(image_only(image, conditions), image_only(other_image, conditions))
    assert torch.equal(conditions_only(image, conditions), conditions_only(other_image, conditions))
    assert not torch.equal(conditions_only(image, conditions),
                           conditions_only(image, other_conditions))
    assert torch.equal(linear(image, conditions), linear(other_image, conditions))
    assert not torch.equal(both(image, conditions), both(image, other_conditions))
    assert image_only.spec["inputs"] == "image" and "inputs" not in both.spec
    # the ablation survives a checkpoint: the spec rebuilds it
    shape = {"k": 4, "map_size": 16, "image_channels": 3}
    xg.io.save_torch(xg.gan.generator_state(image_only, shape, {}), tmp_path / "g.pt")
    loaded, _ = xg.gan.load_generator(tmp_path / "g.pt")
    assert torch.equal(loaded(image, conditions), loaded(image, other_conditions))
    torch.testing.assert_close(loaded(image, conditions), image_only(image, conditions))
    with pytest.raises(ValueError, match="unknown inputs 'pixels'"):
        build_generator("msft", 4, inputs="pixels")


class ClassToy(ToyStore):
    """The teacher lights the left half for even items (class 0), the right half for odd ones
    (class 1); neither the image nor the conditions say which."""

    def __getitem__(self, i):
        teacher = torch.zeros(16, 16)
        teacher[:, slice(0, 8) if i % 2 == 0 else slice(8, 16)] = 1
        return {**super().__getitem__(i), "teacher_map": teacher, "label": i % 2, "pred": i % 2}


def test_a_generator_told_the_class_learns_a_teacher_that_depends_on_it(tmp_path):
    options = {"width": 8, "cond_width": 8, "cond_channels": 4}
    # blind to the class, the best it can draw is the teacher's average map: a collapse
    with pytest.raises(xg.gan.GeneratorCollapsed, match="no closer to the teacher's than"):
        train(ClassToy(64), ClassToy(16, seed=1), small_config(
            tmp_path / "blind", epochs=6, lr=2e-3, adversarial_weight=0,
            generator_options=options))
    blind = pd.read_csv(tmp_path / "blind" / "gan" / "history.csv")
    told = train(ClassToy(64), ClassToy(16, seed=1), small_config(
        tmp_path / "told", epochs=6, lr=2e-3, adversarial_weight=0,
        generator_options={**options, "classes": 2}))
    assert blind.val_pearson.max() < 0.2 < 0.7 < told.history.val_pearson.max()
    assert blind.collapsed.all() and not told.history.collapsed.iloc[-1]
    # the checkpoint rebuilds it with its class planes; it needs the class, and one it knows
    generator, state = xg.gan.load_generator(told.best_path)
    assert generator.spec["classes"] == 2 and state["k"] == 4
    item = ClassToy(2)[1]
    images, conditions = item["image"][None], item["conditions"][None]
    heat = generator(images, conditions, torch.tensor([1]))
    assert heat[0, 0, :, 8:].mean() > heat[0, 0, :, :8].mean()  # class 1: the right half
    with pytest.raises(ValueError, match="pass the class each map explains"):
        generator(images, conditions)
    with pytest.raises(ValueError, match="class 2 is outside the 2 classes"):
        generator(images, conditions, torch.tensor([2]))
    with pytest.raises(ValueError, match="class -1 is outside the 2 classes"):
        generator(images, conditions, torch.tensor([-1]))
    with pytest.raises(ValueError, match=r"reads 4 condition maps, got shape \(1, 6, 16, 16\)"):
        generator(images, torch.cat([conditions, conditions[:, :2]], 1), torch.tensor([1]))
    relevance = xg.interpret.condition_relevance(generator, ClassToy(4), progress=False)
    assert len(relevance) == 4 * 4 and relevance.change.notna().all()
    blind = build_generator("msft", 4)
    assert torch.equal(blind(images, conditions), blind(images, conditions, torch.tensor([1])))
    # the image-only ablation zeroes the class planes with the other conditions
    image_only = build_generator("msft", 4, inputs="image", classes=2)
    one, other = (image_only(images, conditions, torch.tensor([c])) for c in (0, 1))
    assert torch.equal(one, other)
    with pytest.raises(ValueError, match=r"reads \(3, S, S\) images, got shape \(1, 1, 16, 16\)"):
        image_only(images[:, :1], conditions, torch.tensor([0]))
    with pytest.raises(ValueError, match="classes must be 0"):
        build_generator("msft", 4, classes=-1)
    with pytest.raises(ValueError, match="use msft, gsft or linear with classes"):
        build_generator("lsft", 4, classes=2)
    unnamed = ToyStore(8)
    unnamed.metadata = {"model": {"name": "Net"}}  # a store of a CNN that records no classes
    assert len(train(unnamed, unnamed, small_config(tmp_path / "unnamed", epochs=1)).history) == 1
    three = ClassToy(8)
    three.metadata = {"model": {"num_classes": 3}}  # as a store of a 3-class CNN records it
    with pytest.raises(ValueError, match="2 class planes, but the stores' CNNs have up to 3"):
        train(three, three, small_config(tmp_path / "three", epochs=1,
                                         generator_options={**options, "classes": 2}))


def small_config(tmp_path, **kw):
    base = dict(out_dir=tmp_path / "gan", epochs=2, batch_size=8, progress=False,
                generator_options={"width": 8, "cond_width": 8, "cond_channels": 4})
    return TrainConfig(**{**base, **kw})


def test_training_learns_the_target_and_writes_checkpoints(tmp_path):
    result = train(ToyStore(64), ToyStore(16, seed=1), small_config(tmp_path, epochs=6,
                                                                      lr=2e-3))
    h = result.history
    assert list(h.epoch) == [1, 2, 3, 4, 5, 6]
    assert h.val_l1.min() < h.val_l1.iloc[0] and h.val_pearson.max() > h.val_pearson[0] + 0.05
    assert {"train_d", "train_g_adv", "train_distil", "val_ssim", "val_spread",
            "collapsed"} <= set(h.columns) and not h.collapsed.any()
    assert (tmp_path / "gan" / "history.csv").exists()
    state = xg.io.load_torch(result.best_path)
    assert state["k"] == 4 and state["map_size"] == 16 and state["spec"]["name"] == "msft"
    assert state["val"]["val_pearson"] == pytest.approx(h.val_pearson.max())


def test_training_leaves_global_state_alone(tmp_path, monkeypatch):
    """No global RNG change, and no process group unless asked for (torchrun sets WORLD_SIZE
    for any script, which may not want one)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    build_generator("msft", 4, seed=0)
    train(ToyStore(16), ToyStore(8, seed=1), small_config(tmp_path, epochs=1))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert not torch.distributed.is_initialized()


def test_training_without_the_adversarial_term_has_no_discriminator(tmp_path):
    result = train(ToyStore(16), ToyStore(8, seed=1), small_config(tmp_path, epochs=1,
                                                                     adversarial_weight=0))
    assert "train_d" not in result.history.columns
    assert "discriminator" not in xg.io.load_torch(result.last_path)
    with pytest.raises(ValueError, match="another run.*correlation_weight"):
        train(ToyStore(16), ToyStore(8, seed=1), small_config(
            tmp_path, epochs=2, adversarial_weight=0, correlation_weight=5))
    result = train(ToyStore(16), ToyStore(8, seed=1), small_config(
        tmp_path / "corr", epochs=1, adversarial_weight=0, correlation_weight=5))
    assert 0 < result.history.train_corr.iloc[0] < 2


class SparseToy(ToyStore):
    """A sparse teacher, as Grad-CAM x LRP is: the deepest condition map to the 6th power,
    near 0 on most pixels (the median pixel about 0.02)."""

    def __getitem__(self, i):
        item = super().__getitem__(i)
        return {**item, "teacher_map": item["teacher_map"] ** 6}


def test_the_paper_recipe_collapses_on_a_sparse_teacher_and_cross_entropy_learns_it(tmp_path):
    """The paper's L1 term drives the logits of a sparse teacher's maps to saturation within
    the first epoch (a constant map, the error); cross-entropy on the logits learns them."""
    config = dict(epochs=4, lr=2e-3, generator_options={"width": 8, "cond_width": 8,
                                                        "cond_channels": 4})
    with pytest.raises(xg.gan.GeneratorCollapsed, match="recipe='cross-entropy'"):
        train(SparseToy(64), SparseToy(32, seed=1),
              small_config(tmp_path / "paper", recipe="paper", **config))
    paper = pd.read_csv(tmp_path / "paper" / "gan" / "history.csv")
    assert paper.collapsed.all() and not (tmp_path / "paper" / "gan" / "best.pt").exists()
    assert "collapsed" in xg.gan.collapse.recorded(tmp_path / "paper" / "gan")
    learned = train(SparseToy(64), SparseToy(32, seed=1),
                    small_config(tmp_path / "ce", **config)).history
    # no false alarm: beside the teacher's average map it is worse on L1 at first, better on
    # Pearson (0.29 against 0.24 here), and its maps vary from image to image
    assert not learned.collapsed.any() and learned.val_spread.min() > 0.2
    assert learned.val_pearson.max() > learned.val_trivial_pearson[0] + 0.02


def test_a_constant_generator_stops_the_run_with_the_collapse_error(tmp_path, monkeypatch):
    def constant(self, image, conditions):  # a map that ignores its inputs, still trainable
        return self.out.bias.view(1, 1, 1, 1).expand(len(image), 1, *image.shape[-2:])

    monkeypatch.setattr(xg.gan.generators.MSFTGenerator, "draw", constant)
    config = small_config(tmp_path, epochs=10)
    with pytest.raises(xg.gan.GeneratorCollapsed) as caught:
        train(ToyStore(32), ToyStore(16, seed=1), config)
    message = str(caught.value)
    assert "maps barely differ between images (spread across images 0 of" in message
    assert "at epoch 3" in message and "check that the teacher's maps" in message
    history = pd.read_csv(config.out_dir / "history.csv")  # stopped after 3 collapsed epochs
    assert list(history.epoch) == [1, 2, 3] and history.collapsed.all()
    assert (history.val_spread == 0).all() and not (config.out_dir / "best.pt").exists()
    # resumed, it says so again; a sound run in the folder clears the record
    with pytest.raises(xg.gan.GeneratorCollapsed):
        train(ToyStore(32), ToyStore(16, seed=1), small_config(tmp_path, epochs=3))
    monkeypatch.undo()
    (config.out_dir / "last.pt").unlink()
    train(ToyStore(32), ToyStore(16, seed=1), small_config(tmp_path, epochs=1))
    assert xg.gan.collapse.recorded(config.out_dir) is None


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path, interrupting):
    config = small_config(tmp_path / "a", epochs=3)
    train(ToyStore(32), ToyStore(8, seed=1), config)
    resumed_config = small_config(tmp_path / "b", epochs=3)
    with pytest.raises(KeyboardInterrupt):  # killed during the second epoch (the collapse
        # watch reads the 32 training items once first, for their average map)
        train(interrupting(ToyStore(32), after=32 + 32 + 12), ToyStore(8, seed=1),
              resumed_config)
    assert xg.io.load_torch(resumed_config.out_dir / "last.pt")["epoch"] == 1
    resumed = train(ToyStore(32), ToyStore(8, seed=1), resumed_config)
    assert list(resumed.history.epoch) == [1, 2, 3]
    a = xg.io.load_torch(config.out_dir / "last.pt")["state"]
    b = xg.io.load_torch(resumed_config.out_dir / "last.pt")["state"]
    assert all(torch.equal(a[key], b[key]) for key in a)
    with pytest.raises(ValueError, match="another run.*distil_weight"):
        train(ToyStore(32), ToyStore(8, seed=1), small_config(tmp_path / "b", distil_weight=10))
    with pytest.raises(ValueError, match="another run.*train_items 32 != 24"):
        train(ToyStore(24), ToyStore(8, seed=1), resumed_config)  # other training data
    # the faithfulness weight means nothing to distillation: a distil run resumes whatever it is
    train(ToyStore(32), ToyStore(8, seed=1), small_config(tmp_path / "b", epochs=3,
                                                          faithfulness_weight=3.0))
    # a checkpoint from before objectives, made with the replaced keep/remove term: refused
    state = xg.io.load_torch(resumed_config.out_dir / "last.pt")
    del state["config"]["objective"]
    state.update(format="xai-gan-generator/1")
    state["config"]["faithfulness_weight"] = 5.0
    xg.io.save_torch(state, resumed_config.out_dir / "last.pt")
    with pytest.raises(ValueError, match="another run.*replaced keep/remove term"):
        train(ToyStore(32), ToyStore(8, seed=1), resumed_config)


def test_a_faithful_checkpoint_from_before_the_deletion_weight_resumes_as_the_gap(tmp_path,
                                                                                   shapes_cnn):
    model, items = shapes_cnn
    xg.classifiers.save_checkpoint(tmp_path / "cnn.pt", model)
    store = xg.store.build(model, items[:8], tmp_path / "store", k=4, map_size=32,
                           progress=False)
    faithful = dict(objective="faithful", classifier=str(tmp_path / "cnn.pt"))
    config = small_config(tmp_path, epochs=1, **faithful)
    train(store, store, config)
    state = xg.io.load_torch(config.out_dir / "last.pt")
    del state["config"]["deletion_weight"]  # made with the deletion term always on
    state["format"] = "xai-gan-generator/1"
    xg.io.save_torch(state, config.out_dir / "last.pt")
    with pytest.raises(ValueError, match="another run.*deletion_weight"):
        train(store, store, small_config(tmp_path, epochs=2, **faithful))
    assert list(train(store, store, small_config(tmp_path, epochs=2, deletion_weight=1.0,
                                                 **faithful)).history.epoch) == [1, 2]


def test_older_checkpoints_are_migrated_in_one_place_and_unknown_formats_refused(tmp_path):
    generator = build_generator("msft", 4, inputs="image", seed=0)
    state = xg.gan.generator_state(generator, {"k": 4, "map_size": 16, "image_channels": 3},
                                   {"l1_weight": 50.0, "generator_options": {"inputs": "image"}})
    state.update(format="xai-gan-generator/1", image_size=state.pop("map_size"))
    migrated = xg.gan.checkpoint.migrate(copy.deepcopy(state), "old.pt")
    assert migrated["format"] == xg.gan.GENERATOR_FORMAT and migrated["map_size"] == 16
    assert migrated["config"] == {"objective": "distil", "recipe": "paper",
                                  "distil_weight": 50.0, "generator_options": {},
                                  "inputs": "image"}
    xg.io.save_torch(state, tmp_path / "old.pt")
    loaded, _ = xg.gan.load_generator(tmp_path / "old.pt")
    assert loaded.reads == "image" and torch.equal(loaded.state_dict()["out.bias"],
                                                   generator.state_dict()["out.bias"])
    for bad, message in ((dict(state, format="xai-gan-generator/9"), "generator/9: written by"),
                         ({"weights": 1}, "not an xai-gan generator checkpoint")):
        xg.io.save_torch(bad, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=message):
            xg.gan.load_generator(tmp_path / "bad.pt")


def test_the_objectives_are_terms_picked_by_the_config_and_validation_reuses_faithfulness(
        tmp_path, shapes_cnn):
    model, items = shapes_cnn
    xg.classifiers.save_checkpoint(tmp_path / "cnn.pt", model)
    terms = {objective: [type(t).__name__ for t in xg.gan.objectives(
        small_config(tmp_path, objective=objective, classifier=str(tmp_path / "cnn.pt")),
        [model], [32], adversarial=None)] for objective in xg.gan.OBJECTIVES}
    assert terms == {"distil": ["Distillation"], "faithful": ["Faithfulness"],
                     "both": ["Distillation", "Faithfulness"]}
    store = xg.store.build(model, items[:6], tmp_path / "store", k=4, map_size=32,
                           progress=False)
    batch = torch.utils.data.default_collate([store[i] for i in range(6)])
    heat = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    term = xg.gan.Faithfulness([model], [store.image_size], weight=2.0)
    ((name, weight, value),) = term(xg.gan.Step(batch["image"], batch["teacher_map"][:, None],
                                                heat, heat, batch))
    assert (name, weight) == ("faith", 2.0)
    torch.testing.assert_close(value, faithfulness_loss(
        model, batch["image"], heat, batch["pred"], input_size=store.image_size))
    generator = build_generator("msft", 4, seed=0)
    drawn = generator(batch["image"], batch["conditions"]).float()
    scored = xg.gan.validate(generator, store, classifier=model, input_size=store.image_size)
    assert scored["val_faith"] == pytest.approx(
        term.loss(batch["image"], drawn, batch, saturation_weight=0).item(), abs=1e-5)


def test_a_moved_run_folder_resumes_and_another_cnn_is_refused(tmp_path, shapes_cnn):
    """The checkpoint knows its CNN by the weights' hash, not by the path it was given."""
    model, items = shapes_cnn
    xg.classifiers.save_checkpoint(tmp_path / "a" / "cnn.pt", model)
    store = xg.store.build(model, items[:8], tmp_path / "store", k=4, map_size=32,
                           progress=False)

    def config(run, epochs):
        return small_config(tmp_path / run, epochs=epochs, objective="faithful",
                            classifier=str(tmp_path / run / "cnn.pt"))

    first = train(store, store, config("a", 1)).history
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = train(store, store, config("b", 2)).history
    assert list(moved.epoch) == [1, 2] and moved.iloc[0].equals(first.iloc[0])  # resumed
    other = copy.deepcopy(model)
    with torch.no_grad():
        next(other.parameters()).add_(0.1)
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    xg.classifiers.save_checkpoint(tmp_path / "c" / "cnn.pt", other)
    with pytest.raises(ValueError, match="another run.*classifier_hashes"):
        train(store, store, config("c", 2))  # another CNN in the copied folder
    xg.classifiers.save_checkpoint(tmp_path / "a" / "cnn.pt", other)
    with pytest.raises(ValueError, match="another run.*classifier_hashes"):
        train(store, store, config("a", 2))  # a CNN retrained over the same path


def test_a_spent_budget_finishes_a_run_and_a_larger_one_trains_on(tmp_path):
    stores = ToyStore(32), ToyStore(8, seed=1)
    first = train(*stores, small_config(tmp_path, epochs=3, max_seconds=0))
    assert list(first.history.epoch) == [1] and first.history.batches.iloc[0] == 1
    assert len(train(*stores, small_config(tmp_path, epochs=3, max_seconds=0)).history) == 1
    longer = train(*stores, small_config(tmp_path, epochs=3, max_seconds=1e6))
    assert list(longer.history.epoch) == [1, 2, 3]


def test_paired_augmentation_turns_image_conditions_and_teacher_alike():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 5, 5)
    image, conditions, teacher = augment([x, x[:, :2].clone(), x[:, :1].clone()], "dihedral")
    assert torch.equal(image[:, :2], conditions) and torch.equal(image[:, :1], teacher)
    seen = set()  # each item is one of the eight symmetries of its square, and all occur
    for before, after in zip(x, image):
        turns = [before.rot90(r, (-2, -1)) for r in range(4)]
        matches = [i for i, c in enumerate(turns + [t.flip(-1) for t in turns])
                   if torch.equal(c, after)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(range(8))
    flipped, = augment([x], "flip")
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(flipped, x)]
    assert 0 < sum(mirrored) < len(x)
    assert all(m or torch.equal(a, b) for m, a, b in zip(mirrored, flipped, x))
    assert torch.equal(augment([x], "none")[0], x)
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        augment([x], "rotate")


def test_augmented_training_is_seeded_and_part_of_the_run(tmp_path):
    stores = ToyStore(32), ToyStore(8, seed=1)
    states = [xg.io.load_torch(train(*stores, small_config(
        tmp_path / name, epochs=1, augment=kind)).last_path)["state"]
        for name, kind in (("a", "dihedral"), ("b", "dihedral"), ("c", "none"))]
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])
    assert not all(torch.equal(states[0][key], states[2][key]) for key in states[0])
    with pytest.raises(ValueError, match="another run.*augment"):
        train(*stores, small_config(tmp_path / "c", epochs=2, augment="flip"))
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        small_config(tmp_path, augment="rotate")


def test_objectives_are_chosen_by_name_and_need_what_they_train_through(tmp_path):
    with pytest.raises(ValueError, match="the faithful objective trains through the classifier"):
        train(ToyStore(8), ToyStore(8), small_config(tmp_path, objective="faithful"))
    assert not (tmp_path / "gan").exists()  # refused before anything is written
    with pytest.raises(ValueError, match="unknown objective 'teach'"):
        small_config(tmp_path, objective="teach", classifier="cnn.pt")


def test_the_faithful_objective_trains_through_the_cnn_without_a_teacher(tmp_path, shapes_cnn):
    model, items = shapes_cnn
    xg.classifiers.save_checkpoint(tmp_path / "cnn.pt", model)
    store = xg.store.build(model, items[:32], tmp_path / "store", k=4, map_size=32,
                           progress=False)
    # image only: an untrained generator that reads the conditions starts at their mean, which
    # 32 items cannot improve on measurably; one that reads the image alone starts far off
    config = small_config(tmp_path, objective="faithful", classifier=str(tmp_path / "cnn.pt"),
                          epochs=3)
    config.generator_options["inputs"] = "image"
    untrained = build_generator("msft", 4, **config.generator_options)
    start = xg.gan.validate(untrained, store, classifier=model, input_size=64)["val_faith"]
    result = train(store, store, config)
    h = result.history
    assert "train_distil" not in h.columns and "train_d" not in h.columns
    assert "discriminator" not in xg.io.load_torch(result.last_path)
    # lower is better: trained through the CNN, the maps order pixels better than at the start
    # (val_faith is minus the kept regions' class probability: -0.32 to -0.36 in 3 epochs here)
    assert h.val_faith.is_monotonic_decreasing and h.val_faith.min() < start - 0.03
    assert "val_barrier" in h.columns  # the training-only barrier, reported apart
    best = xg.io.load_torch(result.best_path)
    assert best["val"]["val_faith"] == pytest.approx(h.val_faith.min())
    assert best["teacher"] is None  # it learned from the CNN, not from the store's teacher


def test_joint_faithful_training_scores_each_store_with_its_own_cnn(tmp_path, shapes_cnn):
    model, items = shapes_cnn
    other = xg.classifiers.build("resnet", 6, seed=1).eval()
    paths = []
    for name, cnn in (("vgg", model), ("resnet", other)):
        xg.classifiers.save_checkpoint(tmp_path / f"{name}.pt", cnn)
        xg.store.build(cnn, items[:16], tmp_path / name, k=4, map_size=32, progress=False)
        paths.append(str(tmp_path / f"{name}.pt"))
    joint = xg.store.combine([tmp_path / "vgg", tmp_path / "resnet"])
    batch = torch.utils.data.default_collate([joint[i] for i in (0, 20, 3, 31)])
    assert batch["source"].tolist() == [0, 1, 0, 1]
    heat = batch["conditions"][:, :1]
    both = xg.gan.Faithfulness([model, other], [64, 64]).loss(batch["image"], heat, batch)
    # each item alone with its own CNN, averaged: the grouping changes nothing else
    alone = torch.stack([xg.gan.Faithfulness([[model, other][s]], [64]).loss(
        batch["image"][i:i + 1], heat[i:i + 1], {"pred": batch["pred"][i:i + 1]})
        for i, s in enumerate(batch["source"].tolist())]).mean()
    assert both.item() == pytest.approx(alone.item(), abs=1e-6)
    wrong = xg.gan.Faithfulness([model, model], [64, 64]).loss(batch["image"], heat, batch)
    assert abs(wrong.item() - both.item()) > 1e-3  # the resnet's items scored by the vgg
    result = train(joint, joint, small_config(tmp_path, objective="faithful", classifier=paths,
                                              epochs=1))
    assert "val_faith" in result.history.columns and result.history.val_faith.notna().all()
    with pytest.raises(ValueError, match="1 classifier.*for 2 train and 2 val store"):
        train(joint, joint, small_config(tmp_path / "b", objective="faithful",
                                         classifier=paths[:1], epochs=1))


@pytest.fixture(scope="module")
def trained_explainer(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    model = xg.classifiers.build("vgg", 6, seed=0).eval()
    data = xg.data.load("shapes", "train", 32, n=16, seed=0)
    store = xg.store.build(model, data, out / "store", k=4, progress=False)
    result = train(store, store, TrainConfig(out_dir=out / "gan", epochs=1, batch_size=8,
                                             progress=False))
    return model, store, result.best_path


def test_gan_explainer_from_checkpoint_runs_and_refuses_misfits(trained_explainer):
    model, store, path = trained_explainer
    explain = xg.gan.GANExplainer.from_checkpoint(path)
    assert xg.explainers.get("gan", checkpoint=path).k == 4
    images = torch.stack([store[i]["image"] for i in range(3)])
    heat = explain(model, images)
    assert heat.shape == (3, 32, 32) and heat.min() >= 0 and heat.max() <= 1
    # the same maps as the generator on the stored representation
    conditions = torch.stack([store[i]["conditions"] for i in range(3)])
    direct = explain.generator(images, conditions)[:, 0]
    direct = direct / direct.amax((1, 2), keepdim=True)
    torch.testing.assert_close(heat, direct, atol=2e-3, rtol=0)
    # other image sizes: the CNN runs at theirs, the map comes back at theirs
    assert explain(model, xg.maps.resize(images, 64)).shape == (3, 64, 64)
    with pytest.raises(ValueError, match="trained on 3-channel images; these have 1"):
        explain(model, images[:, :1], 0)
    with pytest.raises(ValueError, match="k = 4, not k = 8"):
        xg.gan.GANExplainer.from_checkpoint(path, k=8)
    with pytest.raises(ValueError, match="trained generator"):
        xg.explainers.get("gan")
    # a generator that reads the class is told the target class of each map
    told = xg.gan.GANExplainer(generator=build_generator("msft", 4, classes=2), k=4, map_size=32)
    with torch.no_grad():  # as if trained: at the start all class planes weigh alike
        for param in told.generator.parameters():
            param.add_(0.3 * torch.randn(param.shape, generator=torch.Generator().manual_seed(0)))
    targets = torch.tensor([0, 1, 1])
    conditions = xg.representation.cumulative_maps(
        xg.representation.layer_gradcams(model, images, targets, size=32), 4)
    drawn = {}
    for name, classes in (("right", targets), ("wrong", 1 - targets)):
        with torch.no_grad():
            heat = told.generator(images, conditions, classes)[:, 0]
        drawn[name] = heat / heat.amax((1, 2), keepdim=True)
    heat = told(model, images, targets)
    torch.testing.assert_close(heat, drawn["right"], atol=2e-3, rtol=0)
    assert (heat - drawn["wrong"]).abs().amax() > 1e-3  # the planes matter
    with pytest.raises(ValueError, match="class 5 is outside the 2 classes"):
        told(model, images, torch.tensor([0, 1, 5]))
    assert "gan" in xg.explainers.available() and "gan" not in xg.explainers.baselines()


def test_gan_explainer_refuses_its_cnn_at_other_layers_than_it_was_trained_on(
        trained_explainer, tmp_path):
    model, store, path = trained_explainer
    state = xg.io.load_torch(path)
    assert state["representations"] == [{"model": store.metadata["model"],
                                         "layers": store.metadata["layers"]}]
    images = torch.stack([store[i]["image"] for i in range(2)])
    # as a checkpoint trained before xai_gan's choice of layers changed would record it
    state["representations"][0]["layers"] = store.metadata["layers"][:-1]
    stale = tmp_path / "stale.pt"
    xg.io.save_torch(state, stale)
    with pytest.raises(ValueError, match="now computed at .*train the GAN again"):
        xg.gan.GANExplainer.from_checkpoint(stale)(model, images)
    # MPRT's deep copy is the same CNN at the same layers; a CNN without a spec is unchecked
    twin = copy.deepcopy(model)
    assert xg.gan.GANExplainer.from_checkpoint(path)(twin, images).shape == (2, 32, 32)
    del twin.xai_gan_spec
    assert xg.gan.GANExplainer.from_checkpoint(stale)(twin, images).shape == (2, 32, 32)
    # another CNN (the transfer study): nothing recorded to compare its layers with
    other = xg.classifiers.build("resnet", 6, seed=0).eval()
    assert xg.gan.GANExplainer.from_checkpoint(stale)(other, images).shape == (2, 32, 32)
    del state["representations"]  # a checkpoint from before the record explains as before
    xg.io.save_torch(state, stale)
    assert xg.gan.GANExplainer.from_checkpoint(stale)(model, images).shape == (2, 32, 32)


def test_distributed_training_on_two_gloo_processes_keeps_replicas_identical(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(worker.parent)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                           "2", "--standalone", str(worker), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert set(ranks[0]) == {0, 1}  # generator and discriminator were both wrapped
    for replica in ranks[0]:
        a, b = ranks[0][replica], ranks[1][replica]
        assert all(torch.equal(a[key], b[key]) for key in a)
    # each rank saw half of each batch: 32 items / (2 ranks x 8) = 2 steps per epoch
    history = xg.io.load_torch(tmp_path / "gan" / "last.pt")["history"]
    assert [(row["epoch"], row["batches"]) for row in history] == [(1, 2), (2, 2)]
    untrained = build_generator("msft", 4, "tiny", 3, width=8, cond_width=8, cond_channels=4)
    assert not torch.equal(untrained.state_dict()["enc0.weight"], ranks[0][0]["enc0.weight"])


def test_two_processes_on_one_gan_folder_take_turns(tmp_path, waits_for_lock):
    config = small_config(tmp_path, epochs=1)
    result = waits_for_lock(config.out_dir / "last.pt",
                            lambda data: train(data, ToyStore(8, seed=1), config), ToyStore(16))
    assert list(result.history.epoch) == [1]
