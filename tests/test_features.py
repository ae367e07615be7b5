"""Descriptors: GeM, multi-scale, size batching, the store and its reuse, and `metdata features`."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from metdata import manifests
from metdata.bench.backbones import load_backbone
from metdata.bench.features import (
    GeM,
    describe_images,
    describe_loaded,
    extract_set,
    l2n,
    load_descriptors,
    multiscale_descriptor,
    plan_batches,
)
from metdata.cli import main
from metdata.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZES = [(48, 36), (36, 48), (40, 40)]  # (width, height): landscape, portrait, square


@pytest.fixture(scope="module")
def r18():
    return load_backbone("resnet18", random_weights=True)


def _write_jpeg(path, seed: int, size) -> None:
    rng = np.random.default_rng(seed)
    w, h = size
    ramp = np.linspace(0, 255, w)[None, :, None] * rng.uniform(0.2, 1, 3)
    pixels = np.clip(ramp + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=90)


@pytest.fixture()
def root(tmp_path):
    """A tiny dataset root: 6 exhibits of 3 objects in 3 sizes, 2 val and 2 test queries."""
    train, n = [], 0
    for object_id in (11, 22, 33):
        for i in range(2):
            key = f"MET/{object_id}/{i}.jpg"
            _write_jpeg(tmp_path / "images" / key, n, SIZES[n % 3])
            train.append({"key": key, "object_id": object_id})
            n += 1
    manifests.write(train, manifests.split_path(tmp_path, "train"), "train")
    for split, names in (("val", ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]), ("test", ["cccccccccccc", "dddddddddddd"])):
        rows = []
        for name in names:
            _write_jpeg(tmp_path / "images" / f"test_met/{name}.jpg", n, SIZES[n % 3])
            rows.append({"key": f"test_met/{name}.jpg", "met_id": 11, "kind": "met", "photographer": name})
            n += 1
        manifests.write(rows, manifests.split_path(tmp_path, split), "queryset")
    return tmp_path


def test_gem_matches_the_formula_and_average_pooling_at_p1():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[-1.0, 0.0], [0.0, 8.0]]]])  # (1, 2, 2, 2)
    expected = [((1 + 8 + 27 + 64) / 4) ** (1 / 3), ((3 * 1e-18 + 512) / 4) ** (1 / 3)]
    assert torch.allclose(GeM()(x.double()), torch.tensor([expected], dtype=torch.float64), rtol=1e-12)
    positive = torch.rand(2, 5, 3, 4) + 0.1
    assert torch.allclose(GeM(p=1)(positive), F.adaptive_avg_pool2d(positive, 1).flatten(1), atol=1e-6)
    assert torch.all(GeM()(positive) > GeM(p=1)(positive))  # GeM lies between the mean and the max


def test_multiscale_is_the_normalised_mean_of_per_scale_descriptors(r18):
    image = torch.rand(1, 3, 64, 48)
    scales = (1.0, 2**-0.5, 0.5)
    with torch.inference_mode():
        per_scale = [
            l2n(GeM()(r18(F.interpolate(image, scale_factor=s, mode="bilinear", align_corners=False))))
            for s in scales
        ]
        multi = multiscale_descriptor(r18, image, scales)
        single = multiscale_descriptor(r18, image, (1.0,))
    expected = sum(per_scale) / 3
    assert torch.allclose(multi, expected / expected.norm(), atol=1e-6)
    assert torch.allclose(single, per_scale[0], atol=1e-6)
    assert torch.allclose(multi.norm(dim=1), torch.ones(1))
    assert not torch.allclose(multi, single, atol=1e-3)


def test_plan_batches_groups_one_size_and_caps_the_batch():
    sizes = {"a": (4, 3), "b": (3, 4), "c": (4, 3), "d": (4, 3), "e": (5, 5)}
    assert plan_batches(sizes, 2) == [["a", "c"], ["d"], ["b"], ["e"]]
    assert plan_batches(sizes, 1) == [["a"], ["c"], ["d"], ["b"], ["e"]]
    with pytest.raises(UserError, match="batch size"):
        plan_batches(sizes, 0)


def test_size_batching_gives_the_same_descriptors_as_one_at_a_time(r18, root):
    keys = manifests.read(manifests.split_path(root, "train"), "train").column("key").to_pylist()
    got_keys, together = describe_images(r18, root / "images", keys)
    alone = np.concatenate([describe_images(r18, root / "images", [k])[1] for k in keys])
    assert got_keys == keys
    assert together.dtype == np.float32 and together.shape == (6, 512)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert np.unique(together.round(4), axis=0).shape[0] == 6  # distinct images, distinct descriptors


def test_describe_loaded_keeps_input_order_across_sizes(r18):
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for h, w in [(32, 40), (40, 32), (32, 40)]]
    mixed = describe_loaded(r18, images, (1.0,))
    for i, im in enumerate(images):
        np.testing.assert_allclose(mixed[i], describe_loaded(r18, [im], (1.0,))[0], atol=1e-5)


def test_store_is_reused_and_recomputed_only_where_images_changed(r18, root):
    first = extract_set(root, r18, "train", batch_size=4)
    assert (first.n_images, first.n_computed, first.n_reused) == (6, 6, 0)
    keys, X = load_descriptors(root, "resnet18", "train")
    assert keys == [f"MET/{o}/{i}.jpg" for o in (11, 22, 33) for i in range(2)]
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)
    mtime = first.path.stat().st_mtime_ns

    again = extract_set(root, r18, "train", batch_size=1)  # batch size does not change descriptors
    assert (again.n_computed, again.n_reused) == (0, 6)
    assert first.path.stat().st_mtime_ns == mtime

    changed = root / "images" / keys[3]
    _write_jpeg(changed, 99, (40, 40))
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    third = extract_set(root, r18, "train")
    assert (third.n_computed, third.n_reused) == (1, 5)
    _, X3 = load_descriptors(root, "resnet18", "train")
    np.testing.assert_array_equal(np.delete(X3, 3, axis=0), np.delete(X, 3, axis=0))
    assert not np.allclose(X3[3], X[3], atol=1e-3)

    single_scale = extract_set(root, r18, "train", scales=(1.0,))
    assert (single_scale.n_computed, single_scale.n_reused) == (6, 0)
    meta = json.loads((root / "features/resnet18/train.json").read_text())
    assert meta["settings"]["scales"] == [1.0] and meta["settings"]["weights"] == "random(seed=0)"
    assert meta["keys"] == keys and meta["dim"] == 512


def test_missing_store_or_image_is_a_user_error(r18, root):
    with pytest.raises(UserError, match="no descriptors for set 'val' of resnet18"):
        load_descriptors(root, "resnet18", "val")
    (root / "images/test_met/aaaaaaaaaaaa.jpg").unlink()
    with pytest.raises(UserError, match=r"test_met/aaaaaaaaaaaa\.jpg: image file missing"):
        extract_set(root, r18, "val")
    (root / "images/test_met/cccccccccccc.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(UserError, match=r"cccccccccccc\.jpg: not a readable image"):
        extract_set(root, r18, "test")


def test_cli_resnet18_random_weights_end_to_end(root, capsys):
    threads = str(torch.get_num_threads())  # the option works without changing this process's setting
    argv = ["features", "--root", str(root), "--backbone", "resnet18", "--random-weights", "--threads", threads,
            "--batch-size", "4"]
    main(argv)
    out = capsys.readouterr().out
    assert "train: 6 images (6 computed, 0 reused), 512-d" in out
    assert "test: 2 images (2 computed, 0 reused)" in out
    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        keys, X = load_descriptors(root, "resnet18", split)
        assert len(keys) == n and X.shape == (n, 512) and X.dtype == np.float32
    main(argv)
    assert "train: 6 images (0 computed, 6 reused)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backbone", "vgg"], "Error: unknown backbone 'vgg'"),
        (["--backbone", "resnet18"], "Error: resnet18 needs weights"),
        (["--random-weights", "--scales", "1,x"], "Error: --scales '1,x'"),
        (["--random-weights", "--sets", "train,db"], "Error: unknown image set 'db'"),
        (["--backbone", "resnet18", "--weights", "missing.pth"], "Error: missing.pth: no such weights file"),
    ],
)
def test_cli_user_errors_are_one_line(root, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["features", "--root", str(root), *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith(message) and err.count("\n") == 1


def test_cli_missing_split_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["features", "--root", str(tmp_path), "--random-weights"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert "splits/train.parquet: no such split; run `metdata build-splits" in err


def test_duplicate_keys_are_a_user_error(r18, root):
    with pytest.raises(UserError, match="image set 'db': duplicate key 'MET/11/0.jpg'"):
        extract_set(root, r18, "db", keys=["MET/11/0.jpg", "MET/22/0.jpg", "MET/11/0.jpg"])


def test_the_batch_function_runs_on_a_shipped_copy_of_the_model(r18, root):
    """Dask ships the loaded model to workers by pickling; the copy gives the same descriptors."""
    import pickle

    keys = ["MET/11/0.jpg", "MET/22/1.jpg"]
    shipped = pickle.loads(pickle.dumps(r18))
    np.testing.assert_array_equal(describe_images(shipped, root / "images", keys)[1],
                                  describe_images(r18, root / "images", keys)[1])


def test_default_workers_without_an_affinity_mask(monkeypatch):
    """macOS and Windows have no os.sched_getaffinity: the default falls back to the CPU count."""
    from metdata.commands import features as command

    monkeypatch.delattr(command.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(command.os, "cpu_count", lambda: 3)
    assert command.usable_cpus() == 3
