"""Run sizes: ``full`` (the real thing), ``main`` (the main job, ``xai-gan run``, in about 12
minutes on a 2-core CPU at its slow hours), ``pretrained`` (the same job on a pretrained
ImageNet CNN and real photos, 10 to 14 minutes by the hour) and ``ci`` (minutes on a CPU,
for tests and nbval).

The profile is chosen by argument, else by the environment variable ``XAI_GAN_PROFILE``, else
``full`` (``main`` for ``xai-gan run``).
"""
from __future__ import annotations

import os

PROFILE_ENV = "XAI_GAN_PROFILE"
# the studies of a shapes run (the real-photos study needs a colour GAN: the pretrained one)
STUDIES = ["condition-relevance", "cross-architecture", "cross-dataset"]
SHAPES_EPOCHS = {"shapes": {"vgg": 8, "resnet": 7, "mobilenet": 10, "default": 8},
                 "fashion-mnist": {"vgg": 5, "mobilenet": 4, "default": 3},
                 "default": {"default": 5}}
PROFILES = {
    # epochs per dataset and model: each zoo model trains in under 3 minutes on a 2-core CPU
    "full": {"image_size": {"shapes": 64, "default": 32}, "n_train": 6000, "n_eval": 1000,
             "n_explain": 100, "gan_epochs": 30, "gan_seconds": 300, "objective": "distil",
             "gan_baselines": [],
             "n_study": 200, "study_n_train": 3000, "study_seconds": 60, "studies": STUDIES,
             "models": ["vgg", "resnet", "mobilenet", "densenet"], "epochs": SHAPES_EPOCHS},
    # `xai-gan run`'s default: two CNN families, every explainer and metric, the GAN, the
    # three generators it must beat and the studies in well under 15 minutes on a 2-core CPU
    # (distil: the faithful objective lost to it, see docs/gan-worth.md;
    # 32 px maps: the GAN then costs under 2x Grad-CAM)
    # (48 px images: the costs of training and of every explainer scale with the pixels)
    "main": {"image_size": {"default": 48}, "n_train": 3000, "n_eval": 300,
             "n_explain": 10, "gan_epochs": 30, "gan_seconds": 30, "objective": "distil",
             "gan_baselines": ["linear", "image-only", "conditions-only"], "map_size": 32,
             "n_study": 200, "study_n_train": 2000, "study_seconds": 20, "studies": STUDIES,
             # two CNNs, not three: with densenet the job took 18 min at the CPU's slow hours
             # (mobilenet overfits these 3,000 images: train 97.5 %, test 68-72 %)
             "models": ["vgg", "resnet"],
             "epochs": {**SHAPES_EPOCHS,
                        "shapes": {"vgg": 10, "resnet": 14, "densenet": 12, "default": 12}}},
    # `xai-gan run --profile pretrained`: the offline ImageNet EfficientNet-Lite0 fine-tuned on
    # shapes at 128 px (one epoch, batches of 32: faster here than 64), its stores at 64 px
    # maps, the GAN, and the explainers it must beat among those that explain a 128 px image
    # in well under a second (Score-CAM, SISE and GFI take minutes per image on this CNN;
    # XGrad-CAM draws Grad-CAM's maps on it and LayerCAM scores inside Grad-CAM's intervals
    # on the photos, docs/pretrained.md), with the references; then the GAN on real photos.
    # The metrics of one 128 px image cost 2 to 4 s per method here, by the hour (ROAD's
    # imputation most), hence 12 test images: 10 to 14 minutes on a 2-core CPU
    "pretrained": {"image_size": {"default": 128}, "n_train": 1500, "n_eval": 150,
                   "n_explain": 12, "gan_epochs": 30, "gan_seconds": 150, "objective": "distil",
                   "gan_baselines": [], "map_size": 64, "n_study": 50,
                   "study_n_train": 500, "study_seconds": 20,
                   "methods": ["gradcam", "gradcam++", "eigencam", "lrp", "gradcam-lrp",
                               "copy", "centre", "random"],
                   "studies": ["real-photos", "condition-relevance"],
                   "models": ["efficientnet_lite0"], "weights": "imagenet", "batch_size": 32,
                   "lr": 1e-3, "epochs": {"default": {"default": 1}}},
    # ci: CNNs that learn shapes only partly (the ResNet and the VGG 30-40 % test accuracy,
    # chance 17 %) in about a minute: for checking that code runs, not for reading results;
    # small enough that `make test` runs every notebook on two cores in its 15 minutes.
    # The GAN trains its 2 epochs whatever the machine's speed (under a minute here at 32 px
    # maps, 3 minutes at 64; 600 s is only a cap): a GAN cut short by the clock would make
    # the notebooks' asserts flaky
    "ci": {"image_size": {"shapes": 64, "default": 32}, "n_train": 1000, "n_eval": 100,
           "n_explain": 4, "gan_epochs": 2, "gan_seconds": 600, "objective": "distil",
           "map_size": 32,
           "gan_baselines": [],
           "n_study": 50, "study_n_train": 250, "study_seconds": 10, "studies": STUDIES,
           "models": ["vgg", "resnet"], "epochs": {"default": {"default": 6}}},
}
MAIN_JOB_PROFILE = "main"


def profile_name(name: str | None = None, default: str = "full") -> str:
    name = name or os.environ.get(PROFILE_ENV, default)
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (from ${PROFILE_ENV}?): "
                         f"choose from {sorted(PROFILES)}")
    return name


def profile_settings(name: str | None = None) -> dict:
    """The settings of profile ``name`` (default: ``$XAI_GAN_PROFILE``, else ``full``)."""
    name = profile_name(name)
    return {"name": name, **PROFILES[name]}


def pick(**sizes):
    """The size given for the current profile (``$XAI_GAN_PROFILE``, else ``full``).

    A notebook's ``n = pick(full=100, ci=4)``: 100 test images at full size, 4 in the test
    suite's run. A profile not named is an error that lists the ones given.
    """
    name = profile_name()
    if name not in sizes:
        raise ValueError(f"no size given for profile {name!r}: only for {sorted(sizes)}")
    return sizes[name]


def lookup(table: dict, *keys: str):
    """``table[k1][k2]...``, falling back to the ``"default"`` entry at each level."""
    for key in keys:
        table = table.get(key, table["default"])
    return table
