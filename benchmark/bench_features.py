"""Descriptor extraction speed: images per second per core at 500x375, ours against the plain forward floor.

"ours" is `metdata.bench.features.extract_set` from JPEG files to the stored descriptors (header read, decode
in a prefetch thread, size batching, normalisation, bilinear rescaling, GeM, L2, the .npy/.json store).
The floor is the same network's `extract_features` called on a preallocated tensor of the same batch size
at each scale: no I/O and no pooling, the best any pipeline around this model can do. The ratio ours/floor
is the pipeline's efficiency. A and B alternate in one run; the best of --repeats counts.

Per-core figures are images per CPU-second of this process (process_time, prefetch thread included) with one
torch thread: on a shared machine CPU time is the stable measure, wall time is printed alongside.

    .venv/bin/python benchmark/bench_features.py --threads 1 --images 16
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from metdata import manifests
from metdata.bench.backbones import load_backbone
from metdata.bench.features import SCALES, extract_set

PHOTOS = Path(__file__).resolve().parent.parent / "metdata" / "sample" / "data" / "noart"  # packaged real photos
WIDTH, HEIGHT = 500, 375


def make_root(n_images: int) -> Path:
    """A dataset root of n 500x375 JPEGs (real photos when available, else smooth noise)."""
    root = Path(tempfile.mkdtemp(prefix="bench-features-"))
    sources = sorted(PHOTOS.glob("*.jpg"))
    rows = []
    for i in range(n_images):
        if sources:
            image = Image.open(sources[i % len(sources)]).convert("RGB").resize((WIDTH, HEIGHT), Image.BILINEAR)
        else:
            noise = np.random.default_rng(i).integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
            image = Image.fromarray(noise).resize((WIDTH, HEIGHT), Image.BILINEAR)
        key = f"MET/{i}/0.jpg"
        (root / "images" / key).parent.mkdir(parents=True)
        image.save(root / "images" / key, quality=90)
        rows.append({"key": key, "object_id": i})
    manifests.write(rows, manifests.split_path(root, "train"), "train")
    return root


def time_ours(root: Path, model, scales, batch_size: int) -> tuple[float, float]:
    """(wall s, process CPU s) for a fresh extraction of the whole set."""
    shutil.rmtree(root / "features", ignore_errors=True)
    wall, cpu = time.perf_counter(), time.process_time()
    extract_set(root, model, "train", scales=scales, batch_size=batch_size)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_floor(model, scales, batch_size: int, n_images: int) -> tuple[float, float]:
    inputs = [
        F.interpolate(torch.rand(batch_size, 3, HEIGHT, WIDTH), scale_factor=s, mode="bilinear")
        .contiguous(memory_format=torch.channels_last)
        for s in scales
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for _ in range(n_images // batch_size):
            for x in inputs:
                model.net.extract_features(x)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=16, help="images per measurement (a multiple of each batch size)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 gives true per-core figures)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backbones", default="efficientnet-lite0,resnet18")
    parser.add_argument("--batch-sizes", default="1,8", help="images per forward pass to compare")
    parser.add_argument("--single-scale-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = make_root(args.images)
    print(f"{args.images} images of {WIDTH}x{HEIGHT}, {args.threads} thread(s), torch {torch.__version__}\n")
    print("| backbone | scales | batch | ours img/s per core | floor img/s per core | ours/floor | ours wall img/s |")
    print("|---|---|---|---|---|---|---|")
    try:
        for name in args.backbones.split(","):
            model = load_backbone(name, random_weights=name != "efficientnet-lite0")
            scale_sets = [((1.0,), "1")] + ([] if args.single_scale_only else [(SCALES, "1, 0.707, 0.5")])
            for scales, label in scale_sets:
                for batch in (int(b) for b in args.batch_sizes.split(",")):
                    time_floor(model, scales, batch, batch)  # warm-up: allocator and kernels
                    ours, floor = [], []
                    for _ in range(args.repeats):
                        ours.append(time_ours(root, model, scales, batch))
                        floor.append(time_floor(model, scales, batch, args.images))
                    ours_cpu = min(cpu for _, cpu in ours)
                    floor_cpu = min(cpu for _, cpu in floor)
                    ours_wall = min(wall for wall, _ in ours)
                    print(
                        f"| {name} | {label} | {batch} | {args.images / ours_cpu:.2f} | {args.images / floor_cpu:.2f}"
                        f" | {floor_cpu / ours_cpu:.2f} | {args.images / ours_wall:.2f} |",
                        flush=True,
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
