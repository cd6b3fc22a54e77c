"""Is the GAN worth training? The GAN against what it must beat, on held-out images.

Per zoo CNN on shapes: the CNN, its Grad-CAM representation stores, then ``msft`` with the
faithful objective (``gan``: no teacher; its insertion term, and the deletion term with
``--deletion-weight``) and the generators it must beat, trained on the same
stores with the same budget as a run's ``--gan-baselines``: ``gan:distil`` (the paper's
set-up, drawn from Grad-CAM), ``gan:linear`` (a 1x1 mix of the condition maps) and the two
input ablations ``gan:image-only`` and ``gan:conditions-only``, all three faithful. All are
scored beside the baseline explainers (``--explainers``, default every one; ``copy``,
condition map 0, included) on the first
``--n`` test images: mean and 95 % interval (t, per image), plus the paired difference of
each method to Grad-CAM with its 95 % interval. The generators work at ``--map-size`` (32: a
quarter of the 64 px generator's cost; the map is resized to 64 px). The run folder gets
``evaluation/<model>/summary.csv`` and ``report.html``, as a main job's, and
``gan_worth_per_image.csv``: each call replaces only the rows of the methods it scored, so
a later call with other ``--explainers`` or ``--seeds`` adds to both (keep ``--n``: the
rows of earlier calls keep their own images). ``--seeds 1 2 3``
trains the faithful GAN and each of ``--baselines`` again with each further generator seed
(same CNN, stores and budget, in ``gan/<tag>-seed<s>/``) and scores it as
``gan:<tag>-seed<s>`` (the name ``xai-gan evaluate --methods`` knows it by): the spread one
seed hides.

    python benchmarks/gan_worth.py [--models vgg resnet] [--n 100] [--seconds 60]
                                   [--n-train 6000] [--map-size 32] [--run-dir runs/gan-worth-32]
                                   [--baselines distil linear image-only conditions-only]
                                   [--explainers gradcam copy lrp ...] [--deletion-weight 0]
                                   [--seeds 1 2 3]

Everything resumes: a second call re-uses the CNNs, stores and generators it finds.
"""
import argparse
from pathlib import Path

import pandas as pd
import torch

import xai_gan as xg

METRICS = ["deletion_auc", "insertion_auc", "road_combined", "ms_per_image"]


def interval(values: pd.Series) -> str:
    half = xg.metrics.half_width(values.std(), values.count())
    return f"{values.mean():.3f} ± {half:.3f}"


def arguments(doc: str, **defaults) -> argparse.Namespace:
    """The options this benchmark shares with ``distil_scaling.py``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg", "resnet"])
    parser.add_argument("--n", type=int, default=100, help="held-out test images per CNN")
    parser.add_argument("--seconds", type=float, default=60, help="training budget per GAN")
    parser.add_argument("--n-train", type=int, default=6000, help="images the CNNs train on")
    parser.add_argument("--map-size", type=int, default=32, help="side the generators work at")
    parser.add_argument("--run-dir", default="runs/gan-worth-32")
    for name, value in defaults.items():  # a list: any number of values
        many = isinstance(value, list)
        parser.add_argument(f"--{name.replace('_', '-')}", default=value,
                            type=type(value[0] if many else value), nargs="+" if many else None)
    return parser.parse_args()


def setup(args) -> tuple[xg.RunConfig, dict]:
    """The run's configuration and splits, its CNNs trained (or found)."""
    torch.manual_seed(0)
    base = xg.RunConfig(run_dir=args.run_dir, dataset="shapes", profile="ci", models=args.models,
                        n_train=args.n_train, n_eval=max(args.n, 100), cnn_epochs=8,
                        gan={"max_seconds": args.seconds, "epochs": 1000}, image_size=64,
                        map_size=args.map_size)
    splits = xg.pipeline.datasets(base)
    xg.pipeline.train_classifiers(base, splits)
    return base, splits


def paired_table(per_model: pd.DataFrame, reference: str = "gradcam") -> pd.DataFrame:
    """Mean ± 95 % half-width per method and metric, and the paired difference to
    ``reference`` (same images) for every metric but cost."""
    rows = {}
    for (method, metric), values in per_model.groupby(["method", "metric"], sort=False):
        ref = per_model[(per_model.method == reference) & (per_model.metric == metric)]
        rows.setdefault(method, {})[metric] = interval(values.value)
        if method != reference and metric != "ms_per_image":
            diff = values.value.to_numpy() - ref.value.to_numpy()
            rows[method][f"{metric} - {reference}"] = interval(pd.Series(diff))
    return pd.DataFrame(rows).T


def merged(path: Path, table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``table`` beside the rows that earlier calls left in the csv at ``path`` for other
    ``keys`` values (a call replaces only its own rows: a ``--seeds`` call keeps the table's
    other methods), written back atomically."""
    if path.exists():
        old = pd.read_csv(path)
        replaced = old.set_index(keys).index.isin(table.set_index(keys).index)
        table = pd.concat([old[~replaced], table], ignore_index=True)
    xg.results.save(path.parent, {path.name: table})
    return table


def main():
    args = arguments(__doc__, baselines=["distil", "linear", "image-only", "conditions-only"],
                     explainers=xg.explainers.baselines(), deletion_weight=0.0, seeds=[0])
    base, splits = setup(args)
    xg.pipeline.build_representations(base, splits)
    for model_name in args.models:
        one = base.replace(models=[model_name])
        named = {name: xg.explainers.get(name) for name in args.explainers}
        config = one.with_gan(objective="faithful", deletion_weight=args.deletion_weight
                              ).replace(gan_baselines=args.baselines)
        print(f"{model_name}: training the GAN and {args.baselines} ({args.seconds:g} s each)",
              flush=True)
        xg.pipeline.train_gan(config, splits)
        variants = {"gan": config, **config.baselines()}  # explainer name: its configuration
        for name, variant in variants.items():
            named[name] = xg.gan.GANExplainer.from_checkpoint(variant.gan_dir / "best.pt")
        for seed in sorted(set(args.seeds) - {base.seed}):
            for variant in variants.values():
                seed_dir = variant.gan_dir.with_name(f"{variant.gan_dir.name}-seed{seed}")
                xg.pipeline.train_generator(variant.replace(seed=seed), out_dir=seed_dir)
                named[f"gan:{seed_dir.name}"] = xg.gan.GANExplainer.from_checkpoint(
                    seed_dir / "best.pt")
        model = xg.pipeline.load_classifier(base, model_name)
        table = xg.metrics.evaluate(model, splits["test"], named, metrics=METRICS, n=args.n)
        print(f"\n{model_name}, {args.n} held-out test images (mean ± 95 % half-width)")
        print(paired_table(table).to_string(), flush=True)
        every = merged(base.run_dir / "gan_worth_per_image.csv", table.assign(model=model_name),
                       ["model", "method"])
        out = base.run_dir / "evaluation" / model_name  # as `xai-gan evaluate` leaves it
        xg.results.save(out, {"summary.csv": xg.metrics.summarise(
            every[every.model == model_name]).assign(model=model_name)})
    print("report:", xg.report.write(base))


if __name__ == "__main__":
    main()
