"""Near-duplicate lookup speed: PhashIndex vs numpy brute force vs faiss binary range search.

The leakage check compares every query and distractor phash with every exhibit phash (about 400,000
in the full MET set) at a small Hamming radius. All three methods run on the same data in one run and
must return the same pairs.

    .venv/bin/python benchmark/bench_phash.py                      # 20k queries x 400k hashes, radius 8
    .venv/bin/python benchmark/bench_phash.py --n-indexed 40000    # a quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from metdata.stages.phash_index import PhashIndex, brute_force


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def planted_data(n_indexed: int, n_queries: int, radius: int, seed: int):
    """Random hashes, with a tenth of the queries planted within radius+2 bits of an indexed hash."""
    rng = np.random.default_rng(seed)
    indexed = rng.integers(0, 2**64, size=n_indexed, dtype=np.uint64)
    queries = rng.integers(0, 2**64, size=n_queries, dtype=np.uint64)
    planted = rng.choice(n_queries, n_queries // 10, replace=False)
    queries[planted] = indexed[rng.choice(n_indexed, len(planted))]
    for bit in range(radius + 2):
        flip = rng.random(len(planted)) < 0.5
        queries[planted[flip]] ^= np.uint64(1) << np.uint64(rng.integers(0, 64))
    return indexed, queries


def faiss_range(indexed: np.ndarray, queries: np.ndarray, radius: int):
    import faiss

    index = faiss.IndexBinaryFlat(64)
    index.add(indexed.view(np.uint8).reshape(-1, 8))
    lims, _, ids = index.range_search(queries.view(np.uint8).reshape(-1, 8), radius + 1)  # distance < r+1
    return np.repeat(np.arange(len(queries)), np.diff(lims).astype(np.int64)), ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-indexed", type=int, default=400_000)
    parser.add_argument("--n-queries", type=int, default=20_000)
    parser.add_argument("--radius", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    indexed, queries = planted_data(args.n_indexed, args.n_queries, args.radius, args.seed)
    print(f"{args.n_queries} queries x {args.n_indexed} hashes, Hamming <= {args.radius}")
    index = PhashIndex(indexed)
    ours, cpu, wall = timed(lambda: index.query(queries, args.radius))  # builds the band tables
    _, warm_cpu, warm_wall = timed(lambda: index.query(queries, args.radius))
    print(f"PhashIndex (multi-index hashing): {cpu:.2f} cpu-s, {wall:.2f} s wall including the table build; "
          f"{warm_cpu:.2f} cpu-s, {warm_wall:.2f} s wall warm; {len(ours)} pairs")
    expected = set(zip(ours.query.tolist(), ours.index.tolist()))
    rows = [("PhashIndex", cpu)]
    try:
        (fq, fi), fcpu, fwall = timed(lambda: faiss_range(indexed, queries, args.radius))
        same = set(zip(fq.tolist(), fi.tolist())) == expected
        print(f"faiss IndexBinaryFlat.range_search: {fcpu:.2f} cpu-s, {fwall:.2f} s wall, same pairs: {same}")
        rows.append(("faiss range_search", fcpu))
    except ImportError:
        print("faiss not installed: skipped")
    brute, bcpu, bwall = timed(lambda: brute_force(queries, indexed, args.radius))
    same = set(zip(brute.query.tolist(), brute.index.tolist())) == expected
    print(f"numpy brute force: {bcpu:.2f} cpu-s, {bwall:.2f} s wall, same pairs: {same}")
    rows.append(("numpy brute force", bcpu))
    print("cpu-s ratios vs PhashIndex (build included): "
          + ", ".join(f"{name} {value / rows[0][1]:.1f}x" for name, value in rows[1:]))


if __name__ == "__main__":
    main()
