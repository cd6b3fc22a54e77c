"""What a CNN sees when pixels are removed: the shape, or everything but the shape.

The faithfulness metrics replace removed pixels with a blurred copy (deletion, insertion) or
by noisy interpolation (ROAD); SISE and Score-CAM score masked images against zero. Whether
those agree depends on what the CNN makes of each: on the first ``--n`` held-out test images
of each CNN of ``gan_worth.py``'s run folder, the mean probability of the predicted class for
the image as it is, then with the shape (its mask), the background or the whole image
replaced by each baseline (``blur``, ``zero``, ``mean``), and how often the predicted class
stays the same. Writes ``removal_baselines.csv`` into the run folder.

    python benchmarks/removal_baselines.py [--models vgg resnet] [--n 100]
                                           [--run-dir runs/gan-worth-32]
"""
import pandas as pd
import torch
from torch.utils.data import default_collate

import xai_gan as xg
from gan_worth import arguments, setup
from xai_gan.metrics.faithfulness import BASELINES, baseline_images


def main():
    args = arguments(__doc__)
    base, splits = setup(args)
    batch = default_collate([splits["test"][i] for i in range(args.n)])
    images = batch["image"]
    inside = batch["mask"].float().reshape(len(images), 1, *images.shape[-2:])
    rows = []
    for model_name in args.models:
        model = xg.pipeline.load_classifier(base, model_name).eval()
        classes = xg.classifiers.predict(model, images).argmax(1)
        shown = {("nothing", ""): images}
        for baseline in BASELINES:
            removed = baseline_images(images, baseline)
            for name, keep in (("the shape", 1 - inside), ("the background", inside),
                               ("everything", torch.zeros_like(inside))):
                shown[name, baseline] = images * keep + removed * (1 - keep)
        for (replaced, baseline), x in shown.items():
            probabilities = xg.classifiers.predict(model, x)  # one pass gives both columns
            rows.append({"model": model_name, "replaced": replaced, "by": baseline,
                         "probability": probabilities.gather(1, classes[:, None]).mean().item(),
                         "class kept": (probabilities.argmax(1) == classes).float().mean().item()})
    table = pd.DataFrame(rows)
    table.to_csv(f"{args.run_dir}/removal_baselines.csv", index=False)
    for value in ("probability", "class kept"):
        print(f"\n{value} (of the class predicted for the image as it is), mean over the first "
              f"{args.n} held-out test images")
        print(table.pivot_table(index=["replaced", "by"], columns="model", values=value,
                                sort=False).round(3).to_string())


if __name__ == "__main__":
    main()
