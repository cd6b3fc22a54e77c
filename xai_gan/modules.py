"""What the package needs to know about any ``nn.Module``, and nothing above it.

Device choice and the device rule, the model's own input transform, conv layers in forward
order, eval mode for a call, hooks that never outlive their call, and seeded randomness that
leaves the caller's global RNG alone. Every other module may import this one; it imports only
torch (and the zoo's names).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

import torch
from torch import nn

from .zoo import ZOO

TORCHVISION_PREFIX = "torchvision:"


def resolve_device(device=None) -> torch.device:
    """``device`` as given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (else buffers) are; CPU for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def place(model: nn.Module, device=None) -> torch.device:
    """Where a call on ``model`` runs: ``device`` when given (the model is moved there), else
    where the model already is."""
    if device is None:
        return model_device(model)
    device = torch.device(device)
    model.to(device)
    return device


# pixels one CPU forward takes at a time: beyond it a CNN's activations fall out of the
# caches, and a 224 px EfficientNet-Lite0 runs 3x slower in batches of 256 than of 8
CPU_BATCH_PIXELS = 2 ** 18


def forward_batch(images: torch.Tensor, batch_size: int | None = None, cap: int = 256) -> int:
    """How many images one forward of many takes: ``batch_size`` when given, else ``cap`` on
    a GPU and, on a CPU, about :data:`CPU_BATCH_PIXELS` pixels' worth up to ``cap`` (64
    images at 64 px, 16 at 128, 8 from 182 px), which ran at least as fast as 256 for every
    CNN timed (``python benchmarks/metrics.py --batches``)."""
    if batch_size is not None:
        return batch_size
    if images.device.type != "cpu":
        return cap
    return min(cap, max(8, CPU_BATCH_PIXELS // (images.shape[-2] * images.shape[-1])))


def bf16_autocast(device: torch.device, enabled: bool | None = None):
    """bf16 autocast on a CUDA device that computes in bf16 natively (Ampere and later);
    off elsewhere, e.g. Colab's T4, where bf16 is emulated and slower than fp32."""
    if enabled is None:
        enabled = device.type == "cuda" and torch.cuda.is_bf16_supported(
            including_emulation=False)
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled)


def _to(value, device: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_to(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value


def follows_model(fn):
    """The device rule, for every public call that takes a model and images: the images (the
    first tensor argument after the model) may be on any device; every tensor argument is
    moved to where the model is, the work runs there, and every tensor of the result comes
    back on the images' device."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        first = next(i for i, a in enumerate(args) if isinstance(a, nn.Module))
        model = args[first]
        images = next(a for a in (*args[first:], *kwargs.values()) if isinstance(a, torch.Tensor))
        device = model_device(model)
        return _to(fn(*_to(args, device), **_to(kwargs, device)), images.device)
    return wrapper


class InputTransform(nn.Module):
    """Per-channel ``(x - mean) / std``: the normalisation a model's weights expect.

    Attached by :func:`set_input_transform` as a plain attribute, not a child module, so
    ``model.children()`` and ``state_dict()`` stay those of the bare model (the idiom
    ``nn.Sequential(*list(model.children())[:-1])`` still drops the head); the checkpoint's
    spec records mean and std. Its tensors go to the input's device on each call.
    """

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32)[:, None, None],
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32)[:, None, None],
                             persistent=False)
        self.active = True

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self._stat(self.mean, images)) / self._stat(self.std, images)

    def inverse(self, inputs: torch.Tensor) -> torch.Tensor:
        """The [0, 1] images that :meth:`forward` turned into ``inputs``."""
        return inputs * self._stat(self.std, inputs) + self._stat(self.mean, inputs)

    @staticmethod
    def _stat(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return value.to(like.device, like.dtype)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


def _transform_input(model: nn.Module, args):
    transform = model.xai_gan_input
    if transform.active:
        return (transform(args[0]), *args[1:])
    return None


def set_input_transform(model: nn.Module, mean, std) -> nn.Module:
    """Make ``model`` normalise its own input: it is then fed images in [0, 1], like every
    dataset, store and explainer of the package."""
    if hasattr(model, "xai_gan_input"):
        raise ValueError("the model already has an input transform")
    object.__setattr__(model, "xai_gan_input", InputTransform(mean, std))  # not a child
    model.register_forward_pre_hook(_transform_input)
    return model


def input_transform(model: nn.Module) -> InputTransform | None:
    return getattr(model, "xai_gan_input", None)


@contextmanager
def model_input(model: nn.Module, images: torch.Tensor):
    """``images`` in [0, 1] as the model's first layer sees them, with the model's own
    transform switched off for the block: inside it, the model is what an unwrapped copy
    fed pre-normalised images would be. Nested blocks pass images through unchanged."""
    transform = input_transform(model)
    if transform is None or not transform.active:
        yield images
        return
    low, high = images.min().item(), images.max().item()
    if low < -0.1 or high > 1.1:  # the margin lets noise-perturbed images through
        raise ValueError(f"this model normalises its own input ({transform.extra_repr()}): "
                         f"pass images in [0, 1], not [{low:.3g}, {high:.3g}]")
    transform.active = False
    try:
        yield transform(images)
    finally:
        transform.active = True


@contextmanager
def eval_mode(module: nn.Module):
    """Put ``module`` in eval mode for the block; its own mode is restored, even on error."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@contextmanager
def temporary_hooks(modules, hook, kind: str = "forward"):
    """Register ``hook`` (``kind`` ``"forward"`` or ``"forward_pre"``) on every module for the
    block; the hook is called as ``hook(module, *hook_args)``. Removed even on error."""
    handles = [getattr(m, f"register_{kind}_hook")(hook) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def seeded(seed: int, device=None):
    """Run the block under ``torch.manual_seed(seed)`` and restore the global RNG after it.

    The CPU generator is always forked; so is ``device``'s when it is a CUDA device.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def example_size(name: str) -> int:
    """Side of the example input that :func:`conv_layers` runs through a model named
    ``name`` (its ``xai_gan_spec`` name): 64 for zoo models, 299 for inception_v3, else 224."""
    if name in ZOO:
        return 64
    return 299 if name.startswith(TORCHVISION_PREFIX + "inception") else 224


def conv_layers(model: nn.Module, image_size: int | None = None,
                in_channels: int | None = None) -> list[tuple[str, nn.Conv2d]]:
    """The model's ``Conv2d`` layers in the order a forward pass runs them.

    Found by running one example input through the model in eval mode with hooks, so the
    order is the execution order (not the order of registration) and layers the forward
    pass skips in eval mode (e.g. inception_v3's auxiliary head) are left out.

    Parameters
    ----------
    image_size : int, optional
        Side of the example input; default :func:`example_size` of the model's spec name.
    in_channels : int, optional
        Default: the spec's; for other models the first registered convolution's, then 3,
        then 1, whichever the model accepts.
    """
    convs = {m: n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer")
    spec = getattr(model, "xai_gan_spec", {})
    image_size = image_size or example_size(spec.get("name", ""))
    candidates = ([in_channels or spec.get("in_channels")] if in_channels or spec
                  else list(dict.fromkeys([next(iter(convs)).in_channels, 3, 1])))
    order: list[nn.Conv2d] = []

    def record(module, args):
        if module not in order:
            order.append(module)

    param = next(model.parameters())
    with temporary_hooks(convs, record, "forward_pre"), eval_mode(model):
        for channels in candidates:  # unknown models: the first input the model accepts
            order.clear()
            try:
                with torch.no_grad():
                    model(torch.zeros(1, channels, image_size, image_size, device=param.device,
                                      dtype=param.dtype))
                break
            except RuntimeError:
                if channels == candidates[-1]:
                    raise
    return [(convs[m], m) for m in order]


# Attribute names of the block that outputs the last feature maps: the zoo's and, in
# torchvision's classifiers, VGG, DenseNet, MobileNet, EfficientNet, ConvNeXt, SqueezeNet
# (features), ResNet and ResNeXt (layer4), Inception v3, GoogLeNet, RegNet, ShuffleNet.
FEATURE_BLOCKS = ("features", "layer4", "Mixed_7c", "inception5b", "trunk_output", "conv5")


def feature_block(model: nn.Module) -> tuple[str, nn.Module] | None:
    """``(name, module)`` of the block whose output the head pools, for torchvision and zoo
    classifiers; None for other models.

    The CAM papers weight the last convolutional feature maps, after their non-linearity, and
    pytorch-grad-cam recommends the last block's output. The last ``Conv2d`` is a poor stand-in
    where it is one branch of a concatenation (32 of DenseNet-121's 1024 channels), comes
    before a norm and activation (MobileNetV3) or is a residual block's skip projection, which
    runs after the block's body (the zoo ResNet's ``features.6.skip.0``): on random-init
    DenseNet-121 at 224 px, Grad-CAM on the last conv gave all-zero maps for 6 of 8 images,
    and 8 of 8 usable maps on ``features``.
    """
    if not type(model).__module__.startswith(("torchvision.models", "xai_gan.zoo")):
        return None
    name = next((name for name in FEATURE_BLOCKS
                 if isinstance(getattr(model, name, None), nn.Module)), None)
    if name is None:
        return None
    block = getattr(model, name)
    if isinstance(block, nn.Sequential) and len(block) > 1 and isinstance(
            block[-1], (nn.MaxPool2d, nn.AvgPool2d)):
        # VGG, AlexNet: the activation before the last pooling, twice as fine
        return f"{name}.{len(block) - 2}", block[-2]
    return name, block


def representation_layers(model: nn.Module, image_size: int | None = None,
                          in_channels: int | None = None) -> list[tuple[str, nn.Module]]:
    """The layers whose Grad-CAM maps make the CNN representation, shallow to deep: every
    ``Conv2d`` in forward order (:func:`conv_layers`), then the output of the block the head
    pools (:func:`feature_block`), so that the deepest map, condition map 0, is the map the
    Grad-CAM explainer draws by default."""
    return with_feature_block(model, conv_layers(model, image_size, in_channels))


def with_feature_block(model: nn.Module, convs: list) -> list:
    """``convs`` (``(name, Conv2d)`` pairs), then the block the head pools
    (:func:`feature_block`) unless it is a ``Conv2d`` itself, hence among them."""
    block = feature_block(model)
    return convs + [block] if block is not None and not isinstance(block[1], nn.Conv2d) else convs


def resolve_layers(model: nn.Module, layers) -> list[nn.Module]:
    """Modules from modules, names or ``(name, module)`` pairs."""
    modules = dict(model.named_modules())
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in modules:
                raise ValueError(f"model has no layer named {layer!r}")
            layer = modules[layer]
        elif isinstance(layer, tuple):
            layer = layer[1]
        out.append(layer)
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
