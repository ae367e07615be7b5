"""Leakage checks: near copies of exhibits among queries and distractors, found through the phash index."""

from __future__ import annotations

import numpy as np

from metdata import manifests
from metdata.leakage import DEFAULT_MAX_HAMMING, ExhibitHashes, check_leakage
from metdata.stages.phash_index import hamming


def test_matches_on_400k_exhibit_hashes_equal_brute_force():
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**64 - 1, size=400_000, dtype=np.uint64)
    exhibits = ExhibitHashes([f"{h:016x}" for h in hashes], [f"images/MET/{i}/0.jpg" for i in range(len(hashes))])
    queries = list(rng.integers(0, 2**64 - 1, size=60, dtype=np.uint64))  # unrelated images
    for i, flips in enumerate(rng.integers(0, 9, size=140)):  # copies 0..8 bits away from an exhibit
        bits = rng.choice(64, size=flips, replace=False)
        queries.append(hashes[rng.integers(len(hashes))] ^ np.uint64(sum(1 << int(b) for b in bits)))
    queries = np.array(queries, dtype=np.uint64)
    for radius in (DEFAULT_MAX_HAMMING, 8):
        got = exhibits.match([f"{q:016x}" for q in queries], radius)
        for q, match in zip(queries, got):
            distances = hamming(hashes, q)
            nearest = int(np.argmin(distances))
            if distances[nearest] > radius:
                assert match is None
            else:
                assert match is not None and match.distance == distances[nearest]
                assert match.path == f"images/MET/{nearest}/0.jpg"
        assert sum(m is not None for m in got) >= 70  # the check is not vacuous


def _image_columns(path, status, phash):
    return {"path": path, "status": status, "phash": phash, "source_url": "http://example.org/x.jpg"}


def test_check_leakage_flags_queries_and_distractors_and_keeps_the_rest(tmp_path):
    exhibit = "c3a5e1f0b4d29687"
    near = f"{int(exhibit, 16) ^ 0b101:016x}"  # 2 bits away
    far = f"{int(exhibit, 16) ^ 0xFFFF_0000:016x}"  # 16 bits away
    manifests.write([{"object_id": 1, "image_index": 0, **_image_columns("images/MET/1/0.jpg", "kept", exhibit)},
                     {"object_id": 2, "image_index": 0, **_image_columns(None, "duplicate", near)}],
                    manifests.manifest_path(tmp_path, "exhibits"), "exhibits")
    queries = [
        {"query_id": "a" * 12, "source": "flickr", **_image_columns("images/test_met/aaaaaaaaaaaa.jpg", "kept", near)},
        {"query_id": "b" * 12, "source": "flickr", **_image_columns("images/test_met/bbbbbbbbbbbb.jpg", "kept", far)},
        {"query_id": "c" * 12, "source": "own", **_image_columns(None, "license_not_free", near)},
    ]
    distractors = [
        {"distractor_id": "d" * 12, "kind": "art", "pageid": 4, **_image_columns("images/test_other/d.jpg", "kept",
                                                                                  exhibit)},
        {"distractor_id": "e" * 12, "kind": "noart", "pageid": 5, **_image_columns("images/test_noart/e.jpg", "kept",
                                                                                   far)},
    ]
    manifests.write(queries, manifests.manifest_path(tmp_path, "queries"), "queries", metadata={"hash_algo": "x"})
    manifests.write(distractors, manifests.manifest_path(tmp_path, "distractors"), "distractors")
    for row in queries[:2] + distractors:
        (tmp_path / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / row["path"]).write_bytes(b"jpeg")

    summary = check_leakage(tmp_path)
    assert summary.exhibits == 1 and summary.checked == {"queries": 2, "distractors": 2}
    assert summary.flagged == {"queries": 1, "distractors": 1}
    q = {r["query_id"]: r for r in manifests.read(manifests.manifest_path(tmp_path, "queries"), "queries").to_pylist()}
    assert q["a" * 12]["status"] == "leak" and q["a" * 12]["duplicate_of"] == "images/MET/1/0.jpg"
    assert q["a" * 12]["path"] is None and not (tmp_path / "images/test_met/aaaaaaaaaaaa.jpg").exists()
    assert q["b" * 12]["status"] == "kept" and (tmp_path / "images/test_met/bbbbbbbbbbbb.jpg").exists()
    assert q["c" * 12]["status"] == "license_not_free"
    assert manifests.read_metadata(manifests.manifest_path(tmp_path, "queries"))["hash_algo"] == "x"
    d = {r["pageid"]: r for r in manifests.read(manifests.manifest_path(tmp_path, "distractors"),
                                                "distractors").to_pylist()}
    assert d[4]["status"] == "met_copy" and "0 bits" in d[4]["error"] and d[5]["status"] == "kept"

    again = check_leakage(tmp_path)  # idempotent: nothing new to flag
    assert again.flagged == {"queries": 0, "distractors": 0}


def test_without_exhibits_there_is_nothing_to_check(tmp_path):
    summary = check_leakage(tmp_path)
    assert summary.exhibits == 0 and summary.flagged == {}
