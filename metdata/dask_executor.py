"""Run stages on a Dask cluster: `--executor dask --scheduler ADDRESS` for `crawl met` and `features`.

Imported only when a user asks for Dask, so the core never needs it (``pip install 'metdata[dask]'``).
The stages do not change: a stage is a function of one unit that returns rows, so `DaskExecutor` only
has to provide LocalExecutor's ``imap_unordered(fn, units)``. Three decisions:

* Results go through the coordinator's ledger, not per-task Parquet parts. Each finished task's rows
  come back to the coordinating process, which appends them as one fsynced line to
  ``ROOT/manifests/.ledger/<job>.jsonl`` (metdata.run.Ledger) and compacts the ledger into the
  manifests at the end, exactly as on the local path. That line is the "one part per task": a worker
  that dies loses only its tasks in flight (the scheduler reruns them on another worker), a re-run
  skips every unit with a line, and compaction never duplicates a unit. Workers writing Parquet parts
  would add a second resume state beside the ledger, with its own reconciliation, for rows that
  travel back anyway. What this design gives up: a killed coordinator loses the results in flight
  (at most two per cluster thread), which a re-run redoes. Files a stage writes itself (the exhibit
  JPEGs of `crawl met`) are written by the workers, atomically, so ROOT must be on a filesystem that
  every worker and the coordinator share (as is usual on a SLURM cluster).
* The rate limit is cluster-wide: `ClusterRateLimiter` keeps its token bucket on the scheduler and
  every copy of it (pickled into the stage on each worker) draws from that one bucket, so
  ``--rate-per-s`` holds for the whole cluster, never per worker.
* Workers load a descriptor backbone once per process (`worker_backbone`), keyed by a picklable
  `BackboneSpec`, and check that they loaded the same weights as the coordinator.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from metdata.errors import UserError
from metdata.http import RateLimiter

try:
    import distributed
    from distributed.diagnostics.plugin import SchedulerPlugin
except ImportError:
    raise UserError("--executor dask needs Dask distributed: pip install 'metdata[dask]'") from None

CONNECT_TIMEOUT_S = 10.0
TASK_RETRIES = 2  # a stage that raises is rerun this often (a worker that dies is rerun by the scheduler anyway)
_WINDOW_REFRESH_S = 10.0  # how often the in-flight window follows workers joining or leaving


class DaskExecutor:
    """Map a stage over units on the Dask cluster at `scheduler_address`, yielding results as tasks finish.

    Like LocalExecutor it keeps a bounded window of units in flight (twice the cluster's worker threads),
    so any number of units streams without flooding the scheduler. A task whose worker dies is
    rescheduled by Dask (up to ``distributed.scheduler.allowed-failures`` deaths, then a UserError); a
    stage exception is retried `retries` times and then propagates, cancelling the rest, as locally.
    """

    def __init__(self, scheduler_address: str | None, *, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 retries: int = TASK_RETRIES):
        if not scheduler_address:
            raise UserError("--executor dask needs --scheduler ADDRESS, e.g. tcp://10.0.0.5:8786 (see docs/dask.md)")
        self.retries = retries
        try:
            distributed.comm.get_address_host_port(distributed.comm.normalize_address(scheduler_address))
        except ValueError as exc:
            raise UserError(f"--scheduler {scheduler_address}: not a scheduler address ({exc}); expected the "
                            "form tcp://10.0.0.5:8786") from None
        try:
            self.client = distributed.Client(scheduler_address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UserError(
                f"--scheduler {scheduler_address}: no Dask scheduler answered within {connect_timeout_s:g} s ({exc})"
            ) from None
        self._threads = 0
        self._threads_checked = float("-inf")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def imap_unordered(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (unit, fn(unit)) as tasks finish on the cluster."""
        units = iter(units)
        pending: dict[distributed.Future, Any] = {}
        finished = distributed.as_completed(loop=self.client.loop)

        def submit_up_to_window() -> None:
            for unit in itertools.islice(units, max(0, self._window() - len(pending))):
                future = self.client.submit(fn, unit, pure=False, retries=self.retries)
                pending[future] = unit
                finished.add(future)

        try:
            submit_up_to_window()
            for future in finished:
                unit = pending.pop(future)
                try:
                    result = future.result()
                except distributed.KilledWorker as exc:
                    raise UserError(
                        f"unit {unit!r} killed its Dask worker repeatedly ({exc}); finished units are saved, "
                        "run the same command again to resume"
                    ) from None
                future.release()
                yield unit, result
                submit_up_to_window()
        finally:
            if pending:
                self.client.cancel(list(pending))

    def rate_limiter(self, rate_per_s: float, burst: int = 1) -> ClusterRateLimiter:
        """A limiter whose budget all workers of this cluster (and this process) share."""
        return ClusterRateLimiter(self.client, rate_per_s, burst)

    def _window(self) -> int:
        now = time.monotonic()
        if now - self._threads_checked >= _WINDOW_REFRESH_S:
            self._threads = sum(self.client.nthreads().values())
            self._threads_checked = now
        return 2 * max(1, self._threads)


class _RateBuckets(SchedulerPlugin):
    """Token buckets living on the scheduler, handed out one reservation at a time by one handler.

    The handler runs on the scheduler's event loop, so reservations are serialised: no two callers
    anywhere in the cluster get the same slot.
    """

    name = "metdata-rate-buckets"
    idempotent = True  # registering again (another coordinator, another limiter) keeps the live buckets
    handler = "metdata_rate_slot"

    def __init__(self):
        self.buckets: dict[str, RateLimiter] = {}

    async def start(self, scheduler) -> None:
        scheduler.handlers[self.handler] = self.slot

    def slot(self, bucket: str, rate_per_s: float, burst: int) -> float:
        if bucket not in self.buckets:
            self.buckets[bucket] = RateLimiter(rate_per_s, burst)
        return self.buckets[bucket].reserve()


class ClusterRateLimiter:
    """The `metdata.http.Limiter` for a Dask cluster: `rate_per_s` requests per second, all workers together.

    Each `acquire` is one round trip to the scheduler, which takes a token from the shared bucket and
    answers how long to wait; the caller then sleeps on its own side. Copies pickled into stages keep
    the bucket's name and reach the scheduler through their worker's client. The only slack is the
    difference in message latency between callers (about a millisecond on one network), far below the
    1/rate spacing of a polite crawl.
    """

    def __init__(self, client: distributed.Client, rate_per_s: float, burst: int = 1):
        if rate_per_s <= 0 or burst < 1:
            raise UserError(f"rate limit needs rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.bucket = f"metdata-{uuid.uuid4().hex}"
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._client = client
        client.register_plugin(_RateBuckets())

    def __getstate__(self) -> dict:
        return {"bucket": self.bucket, "rate_per_s": self.rate_per_s, "burst": self.burst}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._client = None

    def acquire(self) -> None:
        client = self._client or distributed.get_client()
        rpc = getattr(client.scheduler, _RateBuckets.handler)
        wait_s = client.sync(rpc, bucket=self.bucket, rate_per_s=self.rate_per_s, burst=self.burst)
        if wait_s > 0:
            time.sleep(wait_s)


# ---------------------------------------------------------------- descriptors on workers


@dataclass(frozen=True)
class BackboneSpec:
    """How a worker loads the backbone the coordinator loaded (weight files must sit at the same path on
    every worker). `weights_id` is the coordinator's Backbone.weights (file sha256 or random seed);
    `threads` fixes torch's threads per worker process (None: the worker's default, 1 under a Dask nanny)."""

    name: str
    weights_id: str
    weights: str | None = None
    download: bool = False
    random_weights: bool = False
    cache_dir: str | None = None
    threads: int | None = None


_MODELS: dict[BackboneSpec, Any] = {}
_MODELS_LOCK = threading.Lock()
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def keep_freed_activations() -> None:
    """Undo, in this worker process, what Dask's MALLOC_TRIM_THRESHOLD_ does to inference.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ).
    Setting it also freezes glibc's mmap threshold at 128 KiB, so every activation map of a forward pass
    is mmap'd and unmapped again: 12x the page faults and about 3x the CPU per image, measured with
    benchmark/bench_dask.py. Thresholds of 1 GiB (trim) and 32 MiB (mmap, glibc's maximum) keep freed
    activations for the next batch, as in a plain process.
    """
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: the variable means nothing here
        return
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)


def worker_backbone(spec: BackboneSpec):
    """The backbone of `spec`, loaded once per process and shared by its threads (inference only)."""
    with _MODELS_LOCK:
        if spec not in _MODELS:
            from metdata.bench.backbones import load_backbone

            keep_freed_activations()

            model = load_backbone(spec.name, weights=spec.weights, download=spec.download,
                                  random_weights=spec.random_weights, cache_dir=spec.cache_dir)
            if model.weights != spec.weights_id:
                raise UserError(f"a Dask worker loaded {spec.name} weights {model.weights}, the coordinator "
                                f"{spec.weights_id}: put the same weights file at {spec.weights} on every worker")
            _MODELS[spec] = model
        return _MODELS[spec]


def describe_batch(keys: Sequence[str], *, spec: BackboneSpec, images_dir: str,
                   scales: Sequence[float]) -> tuple[list[str], Any]:
    """The features unit of work on a worker: image keys -> (keys, float32 descriptors)."""
    import torch

    from metdata.bench.features import describe_images

    if spec.threads and torch.get_num_threads() != spec.threads:
        torch.set_num_threads(spec.threads)
    return describe_images(worker_backbone(spec), images_dir, keys, scales)


def batch_describer(executor: DaskExecutor, spec: BackboneSpec, images_dir: str | Path,
                    scales: Sequence[float]) -> Callable[[list[list[str]]], Iterator[tuple[list[str], Any]]]:
    """A `describe_batches` for metdata.bench.features.extract_set that spreads batches over the cluster."""
    stage = functools.partial(describe_batch, spec=spec, images_dir=str(images_dir), scales=tuple(scales))

    def describe(batches: list[list[str]]) -> Iterator[tuple[list[str], Any]]:
        for _, (keys, descriptors) in executor.imap_unordered(stage, batches):
            yield keys, descriptors

    return describe
