"""Backbones: torchvision-compatible ResNet keys, weights files and their errors, offline EfficientNet-Lite0."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metdata.bench import backbones
from metdata.bench.backbones import load_backbone, resnet18, resnet50
from metdata.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REAL = Path("/work/shared/data/real/noart")
ART = Path("/work/shared/data/real/art")
ESPRESSO, EGYPTIAN_CAT = 967, 285  # ImageNet-1k class indices


def _bn(prefix: str) -> list[str]:
    return [f"{prefix}.{n}" for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


def _basic(prefix: str, downsample: bool) -> list[str]:
    keys = [f"{prefix}.conv1.weight", *_bn(f"{prefix}.bn1"), f"{prefix}.conv2.weight", *_bn(f"{prefix}.bn2")]
    return keys + ([f"{prefix}.downsample.0.weight", *_bn(f"{prefix}.downsample.1")] if downsample else [])


# torchvision.models.resnet18().state_dict().keys(), in order (written out from torchvision's layout).
TORCHVISION_RESNET18_KEYS = (
    ["conv1.weight", *_bn("bn1")]
    + _basic("layer1.0", False) + _basic("layer1.1", False)
    + _basic("layer2.0", True) + _basic("layer2.1", False)
    + _basic("layer3.0", True) + _basic("layer3.1", False)
    + _basic("layer4.0", True) + _basic("layer4.1", False)
    + ["fc.weight", "fc.bias"]
)


def test_resnet18_state_dict_keys_are_torchvisions():
    assert len(TORCHVISION_RESNET18_KEYS) == 122
    assert list(resnet18().state_dict()) == TORCHVISION_RESNET18_KEYS


def test_resnet50_state_dict_layout_is_torchvisions():
    state = resnet50().state_dict()
    assert len(state) == 320
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)  # v1.5: stride on the 3x3
    assert state["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert state["fc.weight"].shape == (1000, 2048)


def test_resnet_feature_map_dims():
    x = torch.rand(1, 3, 64, 96)
    with torch.inference_mode():
        assert load_backbone("resnet18", random_weights=True)(x).shape == (1, 512, 2, 3)
        assert load_backbone("resnet50", random_weights=True)(x).shape == (1, 2048, 2, 3)


def _trained_looking_resnet18() -> torch.nn.Module:
    """A random ResNet-18 whose BatchNorm statistics are not the defaults (as in real weights)."""
    net = resnet18()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net


def test_weights_file_round_trips(tmp_path):
    net = _trained_looking_resnet18()
    path = tmp_path / "r18.pth"
    torch.save(net.state_dict(), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_backbone("resnet18", weights=path)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[key], value), key
    assert loaded.weights == f"r18.pth sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"


def test_weights_with_default_batchnorm_statistics_warn(tmp_path):
    path = tmp_path / "random.pth"
    torch.save(resnet18().state_dict(), path)
    with pytest.warns(UserWarning, match="look like random weights"):
        load_backbone("resnet18", weights=path)


def test_weights_without_classifier_or_bn_counters_load(tmp_path):
    state = {k: v for k, v in _trained_looking_resnet18().state_dict().items()
             if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "trunk.pth")
    assert load_backbone("resnet18", weights=tmp_path / "trunk.pth").dim == 512


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("layer2.0.downsample.0.weight"), "missing key 'layer2.0.downsample.0.weight'"),
        (lambda s: s.update({"layer1.0.conv1.weight": torch.zeros(3, 3)}), "key 'layer1.0.conv1.weight' has shape"),
        (lambda s: s.update({"head.weight": torch.zeros(1)}), "unexpected key 'head.weight'"),
        (lambda s: s.update({"conv1.weight": [1.0, 2.0]}), "key 'conv1.weight' holds a list, not a tensor"),
    ],
)
def test_mismatched_weights_name_file_and_first_bad_key(tmp_path, edit, message):
    state = resnet18().state_dict()
    edit(state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(UserError, match=message) as info:
        load_backbone("resnet18", weights=path)
    assert str(path) in str(info.value)


def test_resnet50_weights_do_not_load_into_resnet18(tmp_path):
    torch.save(resnet50().state_dict(), tmp_path / "r50.pth")
    with pytest.raises(UserError, match=r"r50\.pth: key 'layer1\.0\.conv1\.weight' has shape"):
        load_backbone("resnet18", weights=tmp_path / "r50.pth")


def test_unusable_weights_files(tmp_path):
    with pytest.raises(UserError, match="nope.pth: no such weights file"):
        load_backbone("resnet18", weights=tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.pth: not a PyTorch state dict"):
        load_backbone("resnet18", weights=tmp_path / "junk.pth")


def test_choices_are_user_errors():
    with pytest.raises(UserError, match="unknown backbone 'vgg16'"):
        load_backbone("vgg16")
    with pytest.raises(UserError, match="resnet50 needs weights"):
        load_backbone("resnet50")
    with pytest.raises(UserError, match="at most one of"):
        load_backbone("resnet18", weights="x.pth", random_weights=True)


class _OneFile(http.server.BaseHTTPRequestHandler):
    body, hits = b"", 0

    def do_GET(self):
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_download_checks_the_hash_and_caches(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    torch.save(_trained_looking_resnet18().state_dict(), buffer)
    _OneFile.body, _OneFile.hits = buffer.getvalue(), 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OneFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        good = hashlib.sha256(_OneFile.body).hexdigest()[:8]
        monkeypatch.setitem(backbones.TORCHVISION_URLS, "resnet18", f"{base}/resnet18-{good}.pth")
        for _ in range(2):
            assert load_backbone("resnet18", download=True, cache_dir=tmp_path).weights.startswith("resnet18-")
        assert _OneFile.hits == 1
        monkeypatch.setitem(backbones.TORCHVISION_URLS, "resnet18", f"{base}/resnet18-00000000.pth")
        with pytest.raises(UserError, match="could not download .*pass --weights PATH"):
            load_backbone("resnet18", download=True, cache_dir=tmp_path)
    finally:
        server.shutdown()
        server.server_close()


def _imagenet_top1(model, path: Path) -> int:
    image = Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        return int(model.classify(x).argmax())


def test_efficientnet_lite0_loads_offline_and_recognises_real_photos():
    model = load_backbone("efficientnet-lite0")
    assert model.weights.startswith("efficientnet-lite0-57934424.pth sha256:")
    assert _imagenet_top1(model, REAL / "skimage-coffee.jpg") == ESPRESSO
    assert _imagenet_top1(model, REAL / "skimage-chelsea.jpg") == EGYPTIAN_CAT
    random = load_backbone("efficientnet-lite0", random_weights=True)
    assert _imagenet_top1(random, REAL / "skimage-coffee.jpg") != ESPRESSO
    with torch.inference_mode():
        assert model(torch.rand(2, 3, 75, 100)).shape == (2, 1280, 3, 4)  # any size: "same" padding per input


def _thumbnail(path: Path, side: int = 128):
    with Image.open(path) as im:
        im.draft("RGB", (side, side))
        im = im.convert("RGB")
        im.thumbnail((side, side))
        return torch.from_numpy(np.array(im)).permute(2, 0, 1)


def test_efficientnet_lite0_descriptors_find_the_other_view_of_an_artwork():
    """Two photos of one Met object are each other's nearest neighbour among other Met artworks."""
    from metdata.bench.features import describe_loaded

    objects = ("10388", "309428", "436155", "436532", "437127")
    views = [p for o in objects for p in sorted(ART.glob(f"met-{o}-*.jpg"))]
    clutter = sorted(p for p in ART.glob("met-*.jpg") if p.name.split("-")[1] not in objects)[:6]
    assert len(views) == 10
    X = describe_loaded(load_backbone("efficientnet-lite0"), [_thumbnail(p) for p in views + clutter])
    similarity = X @ X.T
    np.fill_diagonal(similarity, -1)
    nearest = similarity[: len(views)].argmax(axis=1)
    assert [views[i].name.split("-")[1] if i < len(views) else "clutter" for i in nearest] == [
        p.name.split("-")[1] for p in views
    ]
