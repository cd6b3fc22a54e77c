"""Distillation that beats its input? The GAN trained to draw a teacher's maps (SISE,
Score-CAM, LRP, the GradCAM x LRP hybrid...), against its own input (``gradcam``, ``copy``)
and ``linear``.

Per zoo CNN on shapes (the CNNs of ``gan_worth.py``'s run folder) and per teacher: a store of
the first ``max(--sizes)`` training images with the teacher's maps (the slow part: it resumes,
chunk by chunk), then ``msft`` (the distillation term of ``--recipe`` + adversarial) and
``linear`` (the distillation term) trained on the first 500, 1,000, 2,000 and 4,000 of them,
each for ``--seconds``. Scored on the first ``--n`` test images against the teacher computed
there: ``--metrics`` (default Pearson, SSIM and ms per image; add ``deletion_auc insertion_auc
road_combined`` for faithfulness), mean and 95 % interval, the paired difference to Grad-CAM
(the teacher is scored, and timed, as a row of its own). Side by side, ``--augment none
dihedral`` trains each also on randomly mirrored and turned items (``flip``: mirrored only),
``--correlation 0 20`` also with that weight on 1 - Pearson to the teacher beside the
distillation term, ``--condition-on-class 0 1`` also with the explained class as one-hot
planes beside the condition maps (``-class``); a run folder that a smaller ``--seconds``
finished trains on to the new budget. Per-image scores go to ``distil_per_image.csv`` in the
run folder; a call replaces only the rows (CNN, teacher, method) it scored.

    python benchmarks/distil_scaling.py [--models vgg resnet] [--teachers sise scorecam]
                                        [--sizes 500 1000 2000 4000] [--n 100] [--seconds 60]
                                        [--augment none] [--correlation 0]
                                        [--condition-on-class 0] [--recipe cross-entropy]
                                        [--metrics pearson ssim ms_per_image]
"""
import itertools

from torch.utils.data import Subset

import pandas as pd

import xai_gan as xg
from gan_worth import arguments, merged, paired_table, setup

GENERATORS = {"gan": ("msft", 1.0), "linear": ("linear", 0.0)}  # name: (generator, adversarial)


def stores(base, splits, model, teacher: str, n_train: int) -> dict:
    """Train (the first ``n_train`` images) and val stores of ``teacher``'s maps for one CNN
    (built once, resumable)."""
    root = base.run_dir / "distil" / teacher / model
    classifier = xg.pipeline.load_classifier(base, model)
    built = {}
    for split, n in (("train", n_train), ("val", len(splits["val"]))):
        built[split] = xg.store.build(classifier, Subset(splits[split], range(n)), root / split,
                                      k=base.k, map_size=base.map_size, teacher=teacher)
    return built


def main():
    args = arguments(__doc__, teachers=["sise", "scorecam"], sizes=[500, 1000, 2000, 4000],
                     augment=["none"], correlation=[0.0], condition_on_class=[0],
                     recipe=xg.gan.TrainConfig.recipe,
                     metrics=["pearson", "ssim", "ms_per_image"])
    base, splits = setup(args)
    curves = []
    for teacher in args.teachers:
        for model_name in args.models:
            built = stores(base, splits, model_name, teacher, max(args.sizes))
            named = {name: xg.explainers.get(name) for name in ("gradcam", "copy", teacher)}
            classes = xg.store.num_classes(built["train"])
            for size, augment, correlation, by_class, (name, (generator, adversarial)) in (
                    itertools.product(args.sizes, args.augment, args.correlation,
                                      args.condition_on_class, GENERATORS.items())):
                suffix = (("" if args.recipe == xg.gan.TrainConfig.recipe else f"-{args.recipe}")
                          + ("" if augment == "none" else f"-{augment}")
                          + (f"-corr{correlation:g}" if correlation else "")
                          + ("-class" if by_class else ""))
                out = (base.run_dir / "distil" / "gan"
                       / f"{name}-{teacher}-{model_name}-n{size}{suffix}")
                print(f"{teacher}, {model_name}: training {name}{suffix} on {size} images",
                      flush=True)
                result = xg.gan.train(
                    xg.store.RepresentationStore(built["train"].path, limit=size),
                    built["val"], xg.gan.TrainConfig(
                        out_dir=out, generator=generator, epochs=1000, max_seconds=args.seconds,
                        generator_options={"classes": classes} if by_class else {},
                        adversarial_weight=adversarial, augment=augment, recipe=args.recipe,
                        correlation_weight=correlation, seed=0))
                named[f"{name}-n{size}{suffix}"] = xg.gan.GANExplainer.from_checkpoint(
                    result.best_path)
                curves.append({"teacher": teacher, "model": model_name, "method": name,
                               "n_train": size, "augment": augment, "correlation": correlation,
                               "class": by_class, "epochs": len(result.history),
                               "seconds": result.history.seconds.iloc[-1]})
            model = xg.pipeline.load_classifier(base, model_name)
            table = xg.metrics.evaluate(model, splits["test"], named, teacher=teacher, n=args.n,
                                        metrics=args.metrics)
            print(f"\n{model_name} distilled from {teacher}, {args.n} held-out test images "
                  "(mean ± 95 % half-width)")
            print(paired_table(table).to_string(), flush=True)
            merged(base.run_dir / "distil_per_image.csv",
                   table.assign(model=model_name, teacher=teacher), ["model", "teacher", "method"])
    print(pd.DataFrame(curves).to_string(index=False))


if __name__ == "__main__":
    main()
