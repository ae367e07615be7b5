"""Exact kNN search speed: faiss IndexFlatIP (what `metdata knn` uses) against the machine's sgemm peak.

    .venv/bin/python benchmark/bench_knn.py                                   # scaled down, ~10 s
    .venv/bin/python benchmark/bench_knn.py --queries 20000 --database 400000 # the issue's full size

Exact inner-product search of Q queries against N exhibits of D dimensions costs 2*Q*N*D flops in its
matrix multiply; faiss does it as BLAS sgemm blocks plus a top-k heap. The peer is numpy's matmul (the
same OpenBLAS sgemm) at faiss's block shape and at a larger one, measured in the same run on the same data:
the ratio says how close the search gets to what the machine's matrix multiply can do. Both use all cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from metdata.bench.knn import search
from metdata.bench.whiten import l2_normalize


def sgemm_gflops(queries, database, q_block: int, n_block: int, budget_s: float) -> tuple[float, float]:
    """Blocked queries @ database.T at one block shape, over as many blocks as fit in budget_s:
    GFLOP per wall second and per CPU second (all threads)."""
    flops, elapsed, cpu = 0, 0.0, 0.0
    out = np.empty((q_block, n_block), dtype=np.float32)
    for q0 in range(0, queries.shape[0] - q_block + 1, q_block):
        for n0 in range(0, database.shape[0] - n_block + 1, n_block):
            a, b = queries[q0:q0 + q_block], database[n0:n0 + n_block]
            start, start_cpu = time.perf_counter(), time.process_time()
            np.matmul(a, b.T, out=out)
            elapsed += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            flops += 2 * q_block * n_block * queries.shape[1]
            if elapsed > budget_s:
                break
        if elapsed > budget_s:
            break
    return flops / elapsed / 1e9, flops / cpu / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--database", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--sgemm-budget-s", type=float, default=3.0, help="time spent per sgemm block shape")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    database = l2_normalize(rng.standard_normal((args.database, args.dim), dtype=np.float32))
    queries = l2_normalize(rng.standard_normal((args.queries, args.dim), dtype=np.float32))
    flops = 2 * args.queries * args.database * args.dim

    start, start_cpu = time.perf_counter(), time.process_time()
    _, idx = search(database, queries, args.k)
    t_faiss, cpu_faiss = time.perf_counter() - start, time.process_time() - start_cpu  # incl. the index copy
    check = queries[:50] @ database.T
    assert np.array_equal(idx[:50, 0], check.argmax(axis=1)), "faiss disagrees with brute force"

    peaks = {shape: sgemm_gflops(queries, database, *shape, args.sgemm_budget_s)
             for shape in ((min(4096, args.queries), min(1024, args.database)),
                           (min(4096, args.queries), min(16384, args.database)))}
    peak_wall = max(wall for wall, _ in peaks.values())
    peak_cpu = max(cpu for _, cpu in peaks.values())
    faiss_wall, faiss_cpu = flops / t_faiss / 1e9, flops / cpu_faiss / 1e9
    print(f"{args.queries:,} queries x {args.database:,} exhibits x {args.dim}-D float32, k={args.k}")
    print(f"faiss IndexFlatIP search              {t_faiss:8.2f} s wall {cpu_faiss:8.2f} s cpu   "
          f"{faiss_wall:6.1f} GFLOP/s wall {faiss_cpu:6.1f} GFLOP/cpu-s  {args.queries / t_faiss:7.0f} queries/s")
    for (qb, nb), (wall, cpu) in peaks.items():
        print(f"numpy sgemm blocks {qb}x{nb}x{args.dim:<6}"
              f"{'':>30}{wall:6.1f} GFLOP/s wall {cpu:6.1f} GFLOP/cpu-s")
    print(f"faiss / sgemm peak: {faiss_wall / peak_wall:.2f} (wall), {faiss_cpu / peak_cpu:.2f} (cpu)")


if __name__ == "__main__":
    main()
