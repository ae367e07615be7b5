"""Leakage checks: query photos and distractors that are near copies of exhibit images.

A benchmark query must be a photo of the artwork, never the studio image re-hosted; a distractor must
not be a Met exhibit at all. Both are found by perceptual hash against every kept exhibit through the
banded `PhashIndex` (exact within the radius, no all-pairs comparison), so the check scales to the
400,000 exhibit images of the full collection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metdata import manifests
from metdata.stages.phash_index import PhashIndex, hex_to_uint64

DEFAULT_MAX_HAMMING = 4
"""Bits (of 64) within which an image counts as a copy of an exhibit. A re-hosted, resized or
recompressed copy stays within a few bits and the sample museum's visitor photos lie 10 or more away,
but another version of the same painting can come close: Van Gogh's London "Wheat Field with
Cypresses" is 6 bits from the Met's, and it is a distractor worth keeping."""

# manifest table -> (schema kind, status given to a near copy of an exhibit)
CHECKED = {"queries": ("queries", "leak"), "distractors": ("distractors", "met_copy")}


@dataclass(frozen=True)
class ExhibitMatch:
    path: str  # the exhibit image, relative to the dataset root
    distance: int  # Hamming distance in bits


class ExhibitHashes:
    """The perceptual hashes of the kept exhibit images, indexed for radius queries."""

    def __init__(self, phashes: list[str], paths: list[str]):
        self.paths = paths
        self.index = PhashIndex(hex_to_uint64(phashes))

    @classmethod
    def from_root(cls, root: str | os.PathLike) -> ExhibitHashes | None:
        """The exhibits of a dataset root, or None when it has no exhibits manifest yet."""
        path = manifests.manifest_path(root, "exhibits")
        if not path.exists():
            return None
        table = manifests.read(path, "exhibits").select(["status", "phash", "path"]).to_pylist()
        kept = [row for row in table if row["status"] == "kept" and row["phash"]]
        return cls([row["phash"] for row in kept], [row["path"] for row in kept])

    def __len__(self) -> int:
        return len(self.paths)

    def match(self, phashes: list[str], max_hamming: int = DEFAULT_MAX_HAMMING) -> list[ExhibitMatch | None]:
        """For each hash, the nearest exhibit within `max_hamming` bits, or None."""
        if not phashes:
            return []
        found = self.index.query(hex_to_uint64(phashes), max_hamming)
        best: list[ExhibitMatch | None] = [None] * len(phashes)
        order = np.lexsort((found.index, found.distance))  # nearest first, ties by exhibit order
        for q, i, d in zip(found.query[order], found.index[order], found.distance[order]):
            if best[q] is None:
                best[q] = ExhibitMatch(self.paths[i], int(d))
        return best


def flag_row(row: dict, match: ExhibitMatch, status: str) -> dict:
    """The row of an image found to copy an exhibit: dropped with the reason, pointing at the exhibit."""
    return {
        **row, "status": status, "path": None, "duplicate_of": match.path,
        "error": f"perceptual hash within {match.distance} bits of exhibit {match.path}",
    }


@dataclass
class LeakageSummary:
    exhibits: int = 0
    checked: dict[str, int] | None = None  # table -> kept rows compared
    flagged: dict[str, int] | None = None  # table -> rows newly flagged


def check_leakage(root: str | os.PathLike, max_hamming: int = DEFAULT_MAX_HAMMING) -> LeakageSummary:
    """Flag kept queries ("leak") and distractors ("met_copy") within `max_hamming` bits of an exhibit.

    Rewrites the manifests atomically and deletes the flagged copies from images/, so that the
    splits never ship them. Without an exhibits manifest there is nothing to check against.
    """
    root = Path(root)
    summary = LeakageSummary(checked={}, flagged={})
    exhibits = ExhibitHashes.from_root(root)
    if exhibits is None or len(exhibits) == 0:
        return summary
    summary.exhibits = len(exhibits)
    for table, (kind, status) in CHECKED.items():
        path = manifests.manifest_path(root, table)
        if not path.exists():
            continue
        rows = manifests.read(path, kind).to_pylist()
        candidates = [i for i, row in enumerate(rows) if row["status"] == "kept" and row["phash"]]
        matches = exhibits.match([rows[i]["phash"] for i in candidates], max_hamming)
        flagged = 0
        for i, match in zip(candidates, matches):
            if match is not None:
                (root / rows[i]["path"]).unlink(missing_ok=True)
                rows[i] = flag_row(rows[i], match, status)
                flagged += 1
        summary.checked[table], summary.flagged[table] = len(candidates), flagged
        if flagged:
            metadata = {**manifests.read_metadata(path), "leakage_max_hamming": max_hamming}
            manifests.write(rows, path, kind, metadata=metadata)
    return summary
