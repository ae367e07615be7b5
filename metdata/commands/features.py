"""`metdata features`: GeM descriptors of the split images, stored under ROOT/features/<backbone>/."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from metdata.errors import UserError
from metdata.run import make_executor


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, as on Linux; else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_scales(text: str) -> tuple[float, ...]:
    try:
        scales = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise UserError(f"--scales {text!r}: expected comma-separated numbers such as 1,0.7071,0.5") from None
    if not all(0 < s <= 4 for s in scales):
        raise UserError(f"--scales {text!r}: every scale must be in (0, 4]")
    return scales


@click.command()
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root holding images/ and splits/.")
@click.option("--backbone", default="efficientnet-lite0", show_default=True,
              help="efficientnet-lite0 (ImageNet weights bundled, offline), resnet18 or resnet50.")
@click.option("--weights", type=click.Path(path_type=Path),
              help="A state-dict file for the backbone (torchvision format for the ResNets).")
@click.option("--download-weights", is_flag=True,
              help="ResNets: download torchvision's ImageNet weights (needs the internet) and cache them.")
@click.option("--weights-cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where --download-weights keeps files [default: torch's hub cache].")
@click.option("--random-weights", is_flag=True, help="Seeded random weights: for tests and benchmarks only.")
@click.option("--scales", default=None, metavar="S1,S2,...",
              help="Image rescaling factors whose descriptors are averaged [default: 1,1/sqrt(2),0.5]; "
              "--scales 1 is single-scale.")
@click.option("--sets", default="train,val,test", show_default=True,
              help="Which split sets to describe (keys from ROOT/splits/<set>.parquet).")
@click.option("--workers", type=click.IntRange(min=1), default=usable_cpus(), show_default="usable CPUs",
              help="Images described in parallel in this process (--executor local).")
@click.option("--threads", type=click.IntRange(min=1),
              help="torch CPU threads per worker [default: 1 with several --workers, else torch's choice].")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="At most this many same-size images per forward pass (on CPU, 1 measured fastest).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local = this process; dask = spread the batches over the workers of the Dask cluster at "
              "--scheduler (each loads the backbone once; ROOT and --weights at the same path on every worker).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786 (see docs/dask.md). "
              "--threads then sets torch's threads per worker process; give the same value to a local run to "
              "get bit-identical descriptors.")
def features(root, backbone, weights, download_weights, weights_cache_dir, random_weights, scales, sets,
             workers, threads, batch_size, executor, scheduler):
    """Describe every image of the split sets with GeM-pooled, L2-normalised, multi-scale descriptors.

    Writes ROOT/features/<backbone>/<set>.npy (float32, one row per image) and <set>.json (the image keys
    and the settings). Running it again reuses the descriptors of images that did not change.

    \b
      metdata features --root data/met
      metdata features --root data/met --backbone resnet18 --weights resnet18-f37072fd.pth
      metdata features --root data/met --backbone resnet50 --download-weights --scales 1
    """
    import torch
    from tqdm import tqdm

    from metdata.bench.backbones import load_backbone
    from metdata.bench.features import SCALES, extract_set, set_keys

    scale_values = SCALES if scales is None else parse_scales(scales)
    set_names = [s.strip() for s in sets.split(",") if s.strip()]
    if not set_names:
        raise UserError("--sets is empty; give e.g. train,val,test")
    key_lists = {name: set_keys(root, name) for name in set_names}  # fail on a missing split before loading
    cluster = make_executor(executor, 1, scheduler) if executor == "dask" or scheduler else None
    model = load_backbone(backbone, weights=weights, download=download_weights, random_weights=random_weights,
                          cache_dir=weights_cache_dir)
    if cluster is None and workers > 1 and not threads:
        threads = 1
    if threads:
        torch.set_num_threads(threads)
    describe_batches = None
    if cluster is not None:
        click.get_current_context().call_on_close(cluster.close)
        from metdata.dask_executor import BackboneSpec, batch_describer

        spec = BackboneSpec(model.name, model.weights, weights=weights and str(weights.resolve()),
                            download=download_weights, random_weights=random_weights,
                            cache_dir=weights_cache_dir and str(weights_cache_dir.resolve()), threads=threads)
        describe_batches = batch_describer(cluster, spec, root.resolve() / "images", scale_values)
    click.echo(f"{model.name} ({model.weights}), scales {', '.join(f'{s:.4g}' for s in scale_values)}")
    for name, keys in key_lists.items():
        started = time.perf_counter()
        with tqdm(total=len(keys), desc=name, unit="img", leave=False) as bar:
            result = extract_set(root, model, name, keys=keys, scales=scale_values, batch_size=batch_size,
                                 workers=workers, on_progress=bar.update, describe_batches=describe_batches)
        seconds = time.perf_counter() - started
        click.echo(f"{name:>6}: {result.n_images} images ({result.n_computed} computed, {result.n_reused} reused)"
                   f", {result.dim}-d, {seconds:.1f} s -> {result.path}")
