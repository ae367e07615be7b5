"""Exact Hamming-radius search over 64-bit perceptual hashes by multi-index hashing.

Split the 64 bits into m bands. If two hashes differ in at most r bits, then by pigeonhole at least one
band differs in at most floor(r / m) bits. So for each band we sort the indexed hashes by that band,
enumerate every band value within floor(r / m) bits of the query's band (the probes), find each probe's
run in the sorted band with a binary search, and verify the candidates on all 64 bits. With m = r + 1
the probe radius is 0 (plain band equality); for large indexes fewer, wider bands with a small probe
radius give far fewer candidates, so the band count is chosen per query from a cost estimate (about
3 bands of 21 bits at radius 8 against 400,000 hashes). Results are exact, not approximate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from math import comb

import numpy as np

HASH_BITS = 64
_QUERY_CHUNK = 2048  # bounds the probe matrix (chunk x probes) in memory
_MAX_TABLE_BITS = 24  # bands up to this width get a direct offset table instead of binary search


def hex_to_uint64(hex_hashes: Iterable[str]) -> np.ndarray:
    """16-hex-digit phash strings (as stored in the manifests) to a uint64 array."""
    return np.array([int(h, 16) for h in hex_hashes], dtype=np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise (broadcasting) bit distance between uint64 arrays."""
    return np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int64)


@dataclass
class Matches:
    """Pairs within the radius, sorted by (query, index): query[i] is a row of the queried array,
    index[i] a row of the indexed array, distance[i] their Hamming distance."""

    query: np.ndarray
    index: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.query)


class PhashIndex:
    """An index of uint64 hashes answering exact `query(hashes, radius)` for any radius 0..64."""

    def __init__(self, hashes: np.ndarray):
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        self._tables: dict[int, list[tuple[int, int, np.ndarray, np.ndarray]]] = {}

    def __len__(self) -> int:
        return len(self.hashes)

    def query(self, hashes: np.ndarray, radius: int) -> Matches:
        queries = np.ascontiguousarray(hashes, dtype=np.uint64)
        if not 0 <= radius <= HASH_BITS:
            raise ValueError(f"radius must be within 0..{HASH_BITS}, got {radius}")
        if len(queries) == 0 or len(self.hashes) == 0:
            empty = np.empty(0, dtype=np.int64)
            return Matches(empty, empty, empty)
        n_bands = choose_band_count(len(self.hashes), radius)
        parts = [self._query_chunk(queries[s : s + _QUERY_CHUNK], s, radius, n_bands)
                 for s in range(0, len(queries), _QUERY_CHUNK)]
        query_idx = np.concatenate([p[0] for p in parts])
        index_idx = np.concatenate([p[1] for p in parts])
        distance = hamming(queries[query_idx], self.hashes[index_idx])
        return Matches(query_idx, index_idx, distance)

    def _query_chunk(self, queries: np.ndarray, offset: int, radius: int, n_bands: int):
        probe_radius = radius // n_bands
        keys = []
        for shift, width, order, runs in self._bands(n_bands):
            masks = _probe_masks(width, probe_radius)
            band = (queries >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            probes = (band[:, None] ^ masks[None, :]).ravel()
            if width <= _MAX_TABLE_BITS:  # runs[v] is where band value v starts in the sorted order
                probes = probes.astype(np.int64)
                starts = runs[probes]
                counts = runs[probes + 1] - starts
            else:  # runs is the sorted band itself
                starts = np.searchsorted(runs, probes, side="left")
                counts = np.searchsorted(runs, probes, side="right") - starts
            query_rows = np.repeat(np.repeat(np.arange(len(queries)), len(masks)), counts)
            positions = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            candidates = order[positions]
            close = hamming(queries[query_rows], self.hashes[candidates]) <= radius
            keys.append((query_rows[close] + offset) * len(self.hashes) + candidates[close])
        unique = np.unique(np.concatenate(keys))  # a pair can surface in several bands; also sorts
        return unique // len(self.hashes), unique % len(self.hashes)

    def _bands(self, n_bands: int) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
        """Per band: (bit shift, width, argsort of the band values, runs); built once per band count.

        `runs` is an offset table over all band values for narrow bands (O(1) lookups), else the
        sorted band values for binary search.
        """
        if n_bands not in self._tables:
            tables = []
            for shift, width in band_layout(n_bands):
                values = (self.hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
                order = np.argsort(values, kind="stable")
                if width <= _MAX_TABLE_BITS:
                    counts = np.bincount(values.astype(np.int64), minlength=1 << width)
                    runs = np.concatenate([[0], np.cumsum(counts)])
                else:
                    runs = values[order]
                tables.append((shift, width, order, runs))
            self._tables[n_bands] = tables
        return self._tables[n_bands]


def band_layout(n_bands: int) -> list[tuple[int, int]]:
    """(shift, width) of each band, widths as equal as possible and covering all 64 bits."""
    widths = [HASH_BITS // n_bands + (1 if i < HASH_BITS % n_bands else 0) for i in range(n_bands)]
    shifts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int)
    return list(zip(shifts.tolist(), widths))


def choose_band_count(n_indexed: int, radius: int) -> int:
    """The band count with the fewest expected probes plus candidates (uniformly spread hashes)."""

    def cost(n_bands: int) -> float:
        width = HASH_BITS // n_bands
        probes = sum(comb(width, i) for i in range(radius // n_bands + 1))
        return n_bands * probes * (1 + n_indexed / 2.0**width)

    return min(range(1, min(radius + 1, HASH_BITS) + 1), key=cost)


@cache
def _probe_masks(width: int, probe_radius: int) -> np.ndarray:
    """Every `width`-bit mask with at most `probe_radius` bits set."""
    masks = [sum(1 << b for b in bits) for r in range(probe_radius + 1) for bits in combinations(range(width), r)]
    return np.array(masks, dtype=np.uint64)


def brute_force(queries: np.ndarray, hashes: np.ndarray, radius: int) -> Matches:
    """The reference answer, all pairs compared (in blocks of about 4M pairs): for tests and benchmarks."""
    queries = np.asarray(queries, dtype=np.uint64)
    hashes = np.asarray(hashes, dtype=np.uint64)
    block = max(1, (1 << 22) // max(1, len(hashes)))
    query_parts, index_parts = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    for start in range(0, len(queries), block):
        distances = np.bitwise_count(queries[start : start + block, None] ^ hashes[None, :])
        rows, cols = np.nonzero(distances <= radius)
        query_parts.append(rows + start)
        index_parts.append(cols)
    query_idx = np.concatenate(query_parts).astype(np.int64)
    index_idx = np.concatenate(index_parts).astype(np.int64)
    return Matches(query_idx, index_idx, hamming(queries[query_idx], hashes[index_idx]))
