"""What Dask costs and buys on this machine: the same work on the local path and on 1 and 2 Dask workers.

Two jobs, each run locally and on a fresh `LocalCluster` of 1 and of 2 worker processes (one thread each),
alternating in one run, best of --repeats:

* features: `extract_set` over --images 500x375 JPEGs with EfficientNet-Lite0 (bundled weights, three
  scales, batch 1), locally with one and two torch threads, and on Dask with one torch thread per worker
  (`batch_describer`); the descriptors are checked bit-identical to the local ones.
* crawl: `crawl met` of --objects sample-museum objects served on loopback, rate limit effectively off
  (--rate-per-s 1e6: every request still takes its slot from the scheduler, one round trip, which is the
  Dask path's real cost), locally with 1, 2 and 4 threads and on Dask (one thread per worker).

Reported: wall seconds (the scaling curve), CPU seconds of the coordinator plus all worker processes (the
overhead), and the cluster's start-up. "cold" is the first features run on fresh workers (import torch,
load the model once per worker), "warm" the next run on the same workers. On 2 shared cores, expect Dask to buy nothing (design_lessons.md).

    .venv/bin/python benchmark/bench_dask.py --images 32 --objects 40 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import make_root  # a root of 500x375 JPEGs

from metdata.bench.backbones import load_backbone
from metdata.bench.features import SCALES, extract_set, load_descriptors
from metdata.dask_executor import BackboneSpec, DaskExecutor, batch_describer
from metdata.met_crawl import HttpParams, Selection, crawl_met
from metdata.sample.services import start_sample_server

BACKBONE = "efficientnet-lite0"


def start_cluster(n_workers: int) -> tuple[LocalCluster, Client, float]:
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    client.run(lambda: __import__("metdata.dask_executor"))  # workers import what the tasks need up front
    return cluster, client, time.perf_counter() - started


def measure(run, client: Client | None) -> tuple[float, float]:
    """(wall s, CPU s of this process plus the workers) of run()."""
    def workers_cpu() -> float:
        return sum(client.run(time.process_time).values()) if client else 0.0

    cpu0, wcpu0, wall0 = time.process_time(), workers_cpu(), time.perf_counter()
    run()
    wall = time.perf_counter() - wall0
    return wall, time.process_time() - cpu0 + workers_cpu() - wcpu0


def features_run(root: Path, model, scheduler: str | None, threads: int = 1):
    def run():
        shutil.rmtree(root / "features", ignore_errors=True)
        if scheduler is None:
            torch.set_num_threads(threads)
            extract_set(root, model, "train", scales=SCALES, batch_size=1)
            torch.set_num_threads(1)
            return
        with DaskExecutor(scheduler) as executor:
            describe = batch_describer(executor, BackboneSpec(model.name, model.weights, threads=1), root / "images",
                                       SCALES)
            extract_set(root, model, "train", scales=SCALES, batch_size=1, describe_batches=describe)
    return run


def crawl_run(base: Path, api_url: str, objects: int, workers: int, scheduler: str | None):
    def run():
        out = Path(tempfile.mkdtemp(dir=base))
        crawl_met(out, api_url, Selection(limit=objects), http_params=HttpParams(rate_per_s=1e6, workers=workers),
                  executor="dask" if scheduler else "local", scheduler=scheduler, progress=False)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = make_root(args.images)
    crawl_base = Path(tempfile.mkdtemp(prefix="bench-dask-crawl-"))
    server = start_sample_server()
    model = load_backbone(BACKBONE)
    best: dict[str, tuple[float, float]] = {}
    startup: dict[int, float] = {}
    reference = None
    try:
        crawl_run(crawl_base, server.met_api_url, args.objects, 2, None)()  # the sample server renders once
        for _ in range(args.repeats):
            jobs = {
                "features, local (1 torch thread)": features_run(root, model, None),
                "features, local (2 torch threads)": features_run(root, model, None, threads=2),
                "crawl, local (1 thread)": crawl_run(crawl_base, server.met_api_url, args.objects, 1, None),
                "crawl, local (2 threads)": crawl_run(crawl_base, server.met_api_url, args.objects, 2, None),
                "crawl, local (4 threads, the default)": crawl_run(crawl_base, server.met_api_url, args.objects, 4,
                                                                   None),
            }
            for name, run in jobs.items():
                best[name] = min(best.get(name, (1e9, 1e9)), measure(run, None))
                if name == "features, local (1 torch thread)" and reference is None:
                    reference = load_descriptors(root, BACKBONE, "train")[1]
            for n in (1, 2):
                cluster, client, seconds = start_cluster(n)
                startup[n] = min(startup.get(n, 1e9), seconds)
                try:
                    for name, run in (
                        (f"features, dask {n} worker(s), cold", features_run(root, model, cluster.scheduler_address)),
                        (f"features, dask {n} worker(s), warm", features_run(root, model, cluster.scheduler_address)),
                        (f"crawl, dask {n} worker(s)",
                         crawl_run(crawl_base, server.met_api_url, args.objects, 1, cluster.scheduler_address)),
                    ):
                        best[name] = min(best.get(name, (1e9, 1e9)), measure(run, client))
                        if name.startswith("features"):
                            assert np.array_equal(load_descriptors(root, BACKBONE, "train")[1], reference)
                finally:
                    client.close()
                    cluster.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(crawl_base, ignore_errors=True)

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"best of {args.repeats}; descriptors on Dask bit-identical to local: yes")
    print(f"LocalCluster start-up: 1 worker {startup[1]:.2f} s, 2 workers {startup[2]:.2f} s\n")
    print("| job | wall s | CPU s (all processes) | wall vs local |")
    print("|---|---:|---:|---:|")
    for job in ("features", "crawl"):
        local = best[f"{job}, local (1 {'torch ' if job == 'features' else ''}thread)"][0]
        for name, (wall, cpu) in best.items():
            if name.startswith(job):
                print(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / local:.2f}x |")


if __name__ == "__main__":
    main()
