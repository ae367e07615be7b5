"""Global descriptors: GeM pooling, L2 normalisation, multi-scale, size-batched extraction and the store.

The MET protocol (met_protocol.md section 6): the trunk's feature map is GeM-pooled (p = 3, eps = 1e-6) and
L2-normalised; multi-scale rescales the input bilinearly by 1, 1/sqrt(2) and 1/2, averages the three
L2-normalised descriptors and normalises the mean again. Images are used at their stored size.

The unit of work is a batch of image keys: ``describe_images(backbone, images_dir, keys)`` returns
``(keys, float32 array)``. It is a pure function of an already loaded backbone, so a Dask worker that loads
the model once can map it over the batches that ``plan_batches`` makes (images of one size together, so a
batch is one forward pass; a size seen once is a batch of one). On CPU at 500 px one image per forward pass
is fastest (larger batches overflow the caches: benchmark/RESULTS.md), hence the default batch size of 1.

The store, per backbone and image set (``train``, ``val``, ``test`` from ``ROOT/splits``, or any named key
list)::

    ROOT/features/<backbone>/<set>.npy    float32 array (n_images, dim), row i = keys[i], unit L2 norm
    ROOT/features/<backbone>/<set>.json   {"format": "metdata.descriptors", "version": 1,
                                           "settings": {"backbone", "weights" (file and sha256, or the
                                           random seed), "scales", "pooling", "normalisation",
                                           "descriptor_version"}, "dim", "count",
                                           "keys": [key relative to ROOT/images, ...],
                                           "files": [[size_bytes, mtime_ns], ...] (one per key),
                                           "fingerprint": sha256 of the keys and file stats}

The JSON is written last, so a store is complete when its JSON exists. A later run with the same backbone,
weights and settings reuses every row whose image file has the same size and mtime, and computes the rest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn

from metdata import manifests
from metdata.bench.backbones import Backbone
from metdata.errors import UserError

SCALES = (1.0, 2**-0.5, 0.5)
SPLIT_SETS = ("train", "val", "test")
STORE_FORMAT, STORE_VERSION = "metdata.descriptors", 1
# Bump when the descriptor computation changes, so that stores written by older code are recomputed.
DESCRIPTOR_VERSION = 1


class GeM(nn.Module):
    """Generalised-mean pooling: f_k = (mean_u max(x_ku, eps)^p)^(1/p); p = 1 is average pooling."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p, self.eps = p, eps

    def forward(self, x):
        return x.clamp(min=self.eps).pow(self.p).mean(dim=(-2, -1)).pow(1.0 / self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, eps={self.eps}"


def l2n(x):
    """L2-normalise the rows of x."""
    return F.normalize(x, p=2.0, dim=-1)


def multiscale_descriptor(backbone: Backbone, images, scales: Sequence[float] = SCALES, gem: GeM | None = None):
    """(B, 3, H, W) images in [0, 1] -> (B, dim) unit descriptors: mean of per-scale unit GeM vectors, renormed."""
    gem = gem or GeM()
    total = 0
    for s in scales:
        x = images if s == 1 else F.interpolate(images, scale_factor=s, mode="bilinear", align_corners=False)
        total = total + l2n(gem(backbone(x.contiguous(memory_format=torch.channels_last))))
    return l2n(total)


@contextlib.contextmanager
def _open_image(path: Path):
    """Image.open, where a missing or unreadable file (also while decoding) is a UserError naming it."""
    try:
        with Image.open(path) as im:
            yield im
    except FileNotFoundError:
        raise UserError(f"{path}: image file missing") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from None


def load_image(path: Path):
    """An image file -> (3, H, W) uint8 RGB tensor."""
    with _open_image(path) as im:
        rgb = ImageOps.exif_transpose(im).convert("RGB")
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)


def load_images(images_dir: Path, keys: Sequence[str]) -> list:
    return [load_image(Path(images_dir) / k) for k in keys]


def describe_loaded(backbone: Backbone, images: Sequence, scales: Sequence[float] = SCALES) -> np.ndarray:
    """uint8 (3, H, W) tensors -> float32 (n, dim); images of one size go through the network together."""
    out = np.empty((len(images), backbone.dim), dtype=np.float32)
    by_shape: dict[tuple, list[int]] = {}
    for i, im in enumerate(images):
        by_shape.setdefault(tuple(im.shape), []).append(i)
    with torch.inference_mode():
        for rows in by_shape.values():
            batch = torch.stack([images[i] for i in rows]).float().div_(255)
            out[rows] = multiscale_descriptor(backbone, batch, scales).numpy()
    return out


def describe_images(
    backbone: Backbone, images_dir: str | os.PathLike, keys: Sequence[str], scales: Sequence[float] = SCALES
) -> tuple[list[str], np.ndarray]:
    """The unit of work: a batch of image keys (relative to images_dir) -> (keys, float32 descriptors)."""
    return list(keys), describe_loaded(backbone, load_images(Path(images_dir), keys), scales)


def describe_here(
    backbone: Backbone, images_dir: Path, batches: Sequence[Sequence[str]], scales: Sequence[float] = SCALES,
    workers: int = 1,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """(keys, descriptors) per batch in this process, decoding the next batch while the network runs.

    With workers > 1, that many threads each run whole batches (torch and Pillow release the GIL); with
    one torch thread each this keeps every core busy, which one multi-threaded forward pass on a 500 px
    image does not (benchmark/RESULTS.md).
    """
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metdata-features") as pool:
            yield from pool.map(lambda batch: describe_images(backbone, images_dir, batch, scales), batches)
        return
    with ThreadPoolExecutor(max_workers=1) as loader:
        pending = loader.submit(load_images, images_dir, batches[0]) if batches else None
        for n, batch in enumerate(batches):
            images = pending.result()
            if n + 1 < len(batches):
                pending = loader.submit(load_images, images_dir, batches[n + 1])
            yield list(batch), describe_loaded(backbone, images, scales)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    with _open_image(path) as im:
        return im.size


def plan_batches(sizes: Mapping[str, tuple[int, int]], batch_size: int) -> list[list[str]]:
    """Keys grouped into batches of at most batch_size images that all have the same size."""
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    batches: list[list[str]] = []
    last = None
    for key in sorted(sizes, key=lambda k: (sizes[k][1], sizes[k][0])):  # stable: keeps key order per size
        if sizes[key] != last or len(batches[-1]) == batch_size:
            batches.append([])
            last = sizes[key]
        batches[-1].append(key)
    return batches


# ---------------------------------------------------------------- image sets and the store


def set_keys(root: str | os.PathLike, set_name: str) -> list[str]:
    """The image keys of a split set, in the split file's order."""
    if set_name not in SPLIT_SETS:
        raise UserError(f"unknown image set {set_name!r}; choose from {', '.join(SPLIT_SETS)}")
    path = manifests.split_path(root, set_name)
    if not path.exists():
        raise UserError(f"{path}: no such split; run `metdata build-splits --root {root}` first")
    return manifests.read(path, manifests.SPLIT_SCHEMAS[set_name]).column("key").to_pylist()


def store_paths(root: str | os.PathLike, backbone_name: str, set_name: str) -> tuple[Path, Path]:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", set_name):
        raise UserError(f"image set name {set_name!r} must be letters, digits, '.', '_' or '-'")
    base = Path(root) / "features" / backbone_name
    return base / f"{set_name}.npy", base / f"{set_name}.json"


def settings_of(backbone: Backbone, scales: Sequence[float]) -> dict:
    """Everything that changes the descriptors (batch size and threads do not)."""
    return {
        "backbone": backbone.name,
        "weights": backbone.weights,
        "scales": [float(s) for s in scales],
        "pooling": repr(GeM()),
        "normalisation": {"mean": backbone.mean.flatten().tolist(), "std": backbone.std.flatten().tolist()},
        "descriptor_version": DESCRIPTOR_VERSION,
    }


@dataclass(frozen=True)
class ExtractResult:
    set_name: str
    n_images: int
    n_computed: int
    n_reused: int
    dim: int
    path: Path


def extract_set(
    root: str | os.PathLike,
    backbone: Backbone,
    set_name: str,
    *,
    keys: Sequence[str] | None = None,
    scales: Sequence[float] = SCALES,
    batch_size: int = 1,
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
    describe_batches: Callable[[list[list[str]]], Iterable[tuple[list[str], np.ndarray]]] | None = None,
) -> ExtractResult:
    """Describe the images of a set (the split's keys, or `keys`) and store them, reusing unchanged rows.

    on_progress(n) is called with the number of images finished after each batch (reused rows count at once).
    describe_batches(batches) yields (keys, descriptors) per batch in any order, in place of this process
    (metdata.dask_executor.batch_describer spreads the batches over Dask workers).
    """
    root = Path(root)
    keys = list(set_keys(root, set_name) if keys is None else keys)
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise UserError(f"image set {set_name!r}: duplicate key {key!r}")
        seen.add(key)
    npy_path, json_path = store_paths(root, backbone.name, set_name)
    images_dir = root / "images"
    stats = [_file_stat(images_dir / k) for k in keys]
    settings = settings_of(backbone, scales)
    fingerprint = _fingerprint(keys, stats)

    old = _read_store(npy_path, json_path)
    if old and old[0]["settings"] == settings and old[0]["fingerprint"] == fingerprint:
        if on_progress:
            on_progress(len(keys))
        return ExtractResult(set_name, len(keys), 0, len(keys), backbone.dim, npy_path)

    X = np.empty((len(keys), backbone.dim), dtype=np.float32)
    todo = _reuse_rows(old, settings, keys, stats, X) if old else list(range(len(keys)))
    n_reused = len(keys) - len(todo)
    if on_progress and n_reused:
        on_progress(n_reused)

    row_of = {keys[i]: i for i in todo}
    batches = plan_batches({keys[i]: image_size(images_dir / keys[i]) for i in todo}, batch_size)
    describe = describe_batches or functools.partial(describe_here, backbone, images_dir, scales=scales,
                                                     workers=workers)
    for batch, descriptors in describe(batches):
        X[[row_of[k] for k in batch]] = descriptors
        if on_progress:
            on_progress(len(batch))

    meta = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "settings": settings,
        "dim": backbone.dim,
        "count": len(keys),
        "fingerprint": fingerprint,
        "keys": keys,
        "files": [list(st) for st in stats],
    }
    with manifests.atomic_path(npy_path) as tmp, open(tmp, "wb") as f:
        np.save(f, X)
    with manifests.atomic_path(json_path) as tmp:  # last: the store is complete once its JSON exists
        tmp.write_text(json.dumps(meta))
    return ExtractResult(set_name, len(keys), len(todo), n_reused, backbone.dim, npy_path)


def _reuse_rows(old: tuple[dict, np.ndarray], settings: dict, keys, stats, X: np.ndarray) -> list[int]:
    """Copy the old store's rows for unchanged files (same settings, size and mtime) into X; return the rest."""
    meta, old_X = old
    if meta["settings"] != settings:
        return list(range(len(keys)))
    old_rows = {k: (tuple(st), i) for i, (k, st) in enumerate(zip(meta["keys"], meta["files"]))}
    todo = []
    for i, (key, st) in enumerate(zip(keys, stats)):
        hit = old_rows.get(key)
        if hit and hit[0] == st:
            X[i] = old_X[hit[1]]
        else:
            todo.append(i)
    return todo


def load_descriptors(root: str | os.PathLike, backbone_name: str, set_name: str) -> tuple[list[str], np.ndarray]:
    """The stored descriptors of a set: (keys relative to ROOT/images, float32 array with one row per key)."""
    npy_path, json_path = store_paths(root, backbone_name, set_name)
    store = _read_store(npy_path, json_path)
    if store is None:
        raise UserError(
            f"{json_path}: no descriptors for set {set_name!r} of {backbone_name}; "
            f"run `metdata features --root {root} --backbone {backbone_name} --sets {set_name}`"
        )
    meta, X = store
    return list(meta["keys"]), np.array(X)  # an in-memory, writable copy of the memory map


def _read_store(npy_path: Path, json_path: Path) -> tuple[dict, np.ndarray] | None:
    """(metadata, memory-mapped array) of a complete store, None if there is none; a broken one is an error."""
    if not json_path.exists():
        return None
    try:
        meta = json.loads(json_path.read_text())
        X = np.load(npy_path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise UserError(f"{json_path}: unreadable descriptor store ({exc}); delete it to recompute") from None
    if meta.get("format") != STORE_FORMAT or X.shape != (meta.get("count"), meta.get("dim")):
        raise UserError(f"{json_path}: not a descriptor store matching {npy_path.name}; delete both to recompute")
    return meta, X


def _file_stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UserError(f"{path}: image file missing") from None
    return st.st_size, st.st_mtime_ns


def _fingerprint(keys: Sequence[str], stats: Sequence[tuple[int, int]]) -> str:
    digest = hashlib.sha256()
    for key, (size, mtime) in zip(keys, stats):
        digest.update(f"{key}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()
