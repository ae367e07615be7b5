"""Run a per-unit stage over units of work: an executor, a resume ledger, a progress bar, compaction.

A stage is a function of one unit (an object id, a photo, a batch) that returns rows per table, failure
rows included: ``{"objects": [...], "exhibits": [...]}``. The runner never looks inside a unit; it
maps the stage with an executor, records each finished unit in the ledger, and finally compacts the
ledger into Parquet manifests. The executor is the seam for scale-out: `local` runs threads here
(the stages wait on the network and Pillow releases the GIL while decoding); a Dask executor only has
to provide the same `imap_unordered`, `rate_limiter` (one budget for all its workers) and `close`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from metdata import manifests
from metdata.errors import UserError
from metdata.http import RateLimiter

Rows = dict[str, list[dict]]  # table name -> rows
Stage = Callable[[Any], Rows]


class LocalExecutor:
    """A thread pool on this machine with a bounded window of units in flight (streams any number of units)."""

    def __init__(self, workers: int = 4):
        if workers < 1:
            raise UserError(f"--workers {workers}: need at least 1")
        self.workers = workers

    def imap_unordered(self, fn: Stage, units: Iterable[Any]) -> Iterator[tuple[Any, Rows]]:
        """Yield (unit, fn(unit)) as units finish. A stage's exception propagates and cancels the rest."""
        window = 2 * self.workers
        pending: dict[Future, Any] = {}
        units = iter(units)
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="metdata-stage")
        try:
            for unit in units:
                pending[pool.submit(fn, unit)] = unit
                if len(pending) >= window:
                    yield from self._next_done(pending)
            while pending:
                yield from self._next_done(pending)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _next_done(pending: dict[Future, Any]) -> Iterator[tuple[Any, Rows]]:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in done:
            unit = pending.pop(future)
            yield unit, future.result()

    def rate_limiter(self, rate_per_s: float) -> RateLimiter:
        """A limiter shared by all of this executor's workers: here, threads of one process."""
        return RateLimiter(rate_per_s)

    def close(self) -> None:
        """Nothing to release: the thread pool lives only inside imap_unordered (executors are closed after use)."""


def _dask_executor(workers: int, scheduler: str | None = None):
    """Imported on use, so that the core never needs dask. The cluster decides the concurrency."""
    from metdata.dask_executor import DaskExecutor

    return DaskExecutor(scheduler)


EXECUTORS: dict[str, Callable[..., Any]] = {"local": LocalExecutor, "dask": _dask_executor}


def make_executor(name: str, workers: int, scheduler: str | None = None):
    """An executor by name; `scheduler` is the address of a Dask scheduler (only for "dask")."""
    if name not in EXECUTORS:
        raise UserError(f"--executor {name!r}: unknown (choose from {', '.join(EXECUTORS)})")
    if scheduler is None:
        return EXECUTORS[name](workers)
    if name != "dask":
        raise UserError(f"--scheduler {scheduler}: only used with --executor dask")
    return EXECUTORS[name](workers, scheduler=scheduler)


class Ledger:
    """The resume state of one job: an append-only JSON-lines file, one line per finished unit.

    Each line is ``{"unit": key, "rows": {table: [row, ...]}}``, written by the coordinating process
    only, flushed and fsynced, so a crawl killed at any moment loses at most the units in flight.
    A torn last line (killed mid-write) is cut off when the ledger is opened. A unit written twice
    (redone on request) counts once, its last line wins, so compaction never duplicates rows.
    Next to it, ``<job>.params.json`` holds the parameters that shape the rows; resuming with other
    values would mix two datasets in one root, so it is refused.
    """

    def __init__(self, directory: str | os.PathLike, job: str, params: Mapping[str, Any]):
        self.path = Path(directory) / f"{job}.jsonl"
        self.params_path = Path(directory) / f"{job}.params.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_params(dict(params))
        self.results: dict[Hashable, Rows] = self._load()

    def _check_params(self, params: dict) -> None:
        if self.params_path.exists():
            previous = json.loads(self.params_path.read_text(encoding="utf-8"))
            changed = {k: (previous.get(k), v) for k, v in params.items() if previous.get(k) != v}
            if changed:
                what = ", ".join(f"{k} was {old!r}, now {new!r}" for k, (old, new) in sorted(changed.items()))
                root = self.path.parent.parent.parent
                raise UserError(
                    f"{root} was crawled with other parameters ({what}); use the same options to resume, "
                    "or a new --out"
                )
        else:
            manifests.write_bytes_atomic(self.params_path, json.dumps(params, sort_keys=True).encode())

    def _load(self) -> dict[Hashable, Rows]:
        results: dict[Hashable, Rows] = {}
        if not self.path.exists():
            return results
        good_end = 0
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break
                results[_key(entry["unit"])] = entry["rows"]
                good_end += len(line)
        if good_end < self.path.stat().st_size:
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
        return results

    def append(self, unit: Any, rows: Rows) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"unit": unit, "rows": rows}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.results[_key(unit)] = rows


def _key(unit: Any) -> Hashable:
    return tuple(unit) if isinstance(unit, list) else unit


@dataclass
class RunReport:
    """What one run did: units skipped as already done, units run now, and row statuses of all units."""

    resumed: int = 0
    ran: int = 0
    statuses: dict[str, Counter] = field(default_factory=dict)  # table -> status -> count


def run_units(
    stage: Stage,
    units: Iterable[Any],
    *,
    ledger: Ledger,
    executor,
    redo: Callable[[Rows], bool] = lambda rows: False,
    progress_table: str | None = None,
    desc: str = "units",
    unit: str = "unit",
    progress: bool = True,
) -> RunReport:
    """Run `stage` over the units the ledger has not finished (or that `redo` asks to redo).

    The progress bar shows units per second and, for `progress_table`, the kept and dropped rows.
    """
    units = list(units)
    todo = [u for u in units if _key(u) not in ledger.results or redo(ledger.results[_key(u)])]
    report = RunReport(resumed=len(units) - len(todo))
    bar = tqdm(total=len(todo), desc=desc, unit=unit, disable=not progress, dynamic_ncols=True)
    kept = dropped = 0
    try:
        for done, rows in executor.imap_unordered(stage, todo):
            ledger.append(done, rows)
            report.ran += 1
            if progress_table:
                statuses = Counter(r["status"] for r in rows.get(progress_table, []))
                kept += statuses.pop("kept", 0)
                dropped += sum(statuses.values())
                bar.set_postfix(kept=kept, dropped=dropped, refresh=False)
            bar.update()
    finally:
        bar.close()
    for key in map(_key, units):
        for table, rows in ledger.results.get(key, {}).items():
            report.statuses.setdefault(table, Counter()).update(r["status"] for r in rows)
    return report


def compact(
    results: Mapping[Hashable, Rows],
    root: str | os.PathLike,
    kinds: Mapping[str, str],
    metadata: Mapping[str, Any],
) -> dict[str, Path]:
    """Write every table of the finished units as one manifest (rows in unit order) atomically.

    `kinds` maps a table name in the rows to its manifest schema kind (e.g. {"exhibits": "exhibits"}).
    """
    paths = {}
    for table, kind in kinds.items():
        rows = [row for key in sorted(results) for row in results[key].get(table, [])]
        paths[table] = manifests.write(rows, manifests.manifest_path(root, table), kind, metadata=metadata)
    return paths
