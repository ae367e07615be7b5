"""PhashIndex returns exactly the brute-force pairs on random and adversarial data."""

from __future__ import annotations

import numpy as np
import pytest

from metdata.stages.phash_index import (
    PhashIndex,
    band_layout,
    brute_force,
    choose_band_count,
    hamming,
    hex_to_uint64,
)


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=n, dtype=np.uint64)


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, max_flips: int) -> np.ndarray:
    """Each hash with 0..max_flips distinct random bits flipped."""
    out = hashes.copy()
    for i in range(len(out)):
        for bit in rng.choice(64, size=rng.integers(0, max_flips + 1), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(bit)
    return out


def as_set(matches) -> set[tuple[int, int]]:
    return set(zip(matches.query.tolist(), matches.index.tolist()))


@pytest.mark.parametrize("radius", [0, 1, 4, 8, 10])
def test_equals_brute_force_on_planted_near_duplicates(radius):
    rng = np.random.default_rng(radius)
    indexed = random_hashes(rng, 3000)
    queries = np.concatenate([
        flip_bits(rng, indexed[rng.choice(3000, 400, replace=False)], radius + 3),
        random_hashes(rng, 200),
    ])
    got = PhashIndex(indexed).query(queries, radius)
    expected = brute_force(queries, indexed, radius)
    assert as_set(got) == as_set(expected)
    assert len(got) == len(expected) > 50
    assert (got.distance <= radius).all()
    assert np.array_equal(got.distance, hamming(queries[got.query], indexed[got.index]))
    order = np.lexsort((got.index, got.query))
    assert np.array_equal(order, np.arange(len(got)))  # sorted by (query, index)


def test_equals_brute_force_on_clustered_bits():
    """Hashes that agree on most bands (art photos share structure) stress the candidate runs."""
    rng = np.random.default_rng(1)
    base = np.uint64(0xF0F0_F0F0_0000_0000)
    indexed = base | rng.integers(0, 2**20, size=4000, dtype=np.uint64)
    queries = base | rng.integers(0, 2**20, size=300, dtype=np.uint64)
    index = PhashIndex(indexed)
    for radius in (2, 6):
        assert as_set(index.query(queries, radius)) == as_set(brute_force(queries, indexed, radius))


def test_duplicates_in_index_and_self_query():
    hashes = np.array([5, 5, 7, 2**63], dtype=np.uint64)
    matches = PhashIndex(hashes).query(hashes, 1)
    assert as_set(matches) == {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (3, 3), (0, 2), (1, 2), (2, 0), (2, 1)}


def test_empty_inputs_and_bad_radius():
    index = PhashIndex(np.array([1, 2], dtype=np.uint64))
    assert len(index.query(np.array([], dtype=np.uint64), 3)) == 0
    assert len(PhashIndex(np.array([], dtype=np.uint64)).query(np.array([1], dtype=np.uint64), 3)) == 0
    with pytest.raises(ValueError):
        index.query(np.array([1], dtype=np.uint64), 65)


def test_band_layout_covers_all_bits():
    for n_bands in (1, 3, 5, 9, 64):
        layout = band_layout(n_bands)
        assert len(layout) == n_bands and sum(w for _, w in layout) == 64
        assert [s for s, _ in layout] == [sum(w for _, w in layout[:i]) for i in range(n_bands)]


def test_band_count_adapts_to_index_size():
    assert choose_band_count(400_000, 8) == 3  # wide bands, probe radius 2
    assert choose_band_count(20, 8) == 9  # tiny index: plain pigeonhole, r + 1 bands
    assert choose_band_count(1000, 0) == 1


def test_hex_to_uint64():
    assert hex_to_uint64(["ffffffffffffffff", "0000000000000001"]).tolist() == [2**64 - 1, 1]
