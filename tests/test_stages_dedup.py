"""Within-object dedup and the cap: exact, near, second signal, order rules, purity."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image

from metdata.stages.dedup import cap_rows, dedup_and_cap, dedup_rows, phash_distance
from metdata.stages.image import process_image


def row(index: int, phash: str, sha: str | None = None, size=(800, 600), status="kept") -> dict:
    return {
        "image_index": index, "status": status, "sha256": sha or f"sha{index}", "phash": phash,
        "orig_width": size[0], "orig_height": size[1], "source_url": f"http://img/{index}.jpg",
        "duplicate_of": None, "error": None,
    }


def statuses(rows):
    return [(r["image_index"], r["status"], r["duplicate_of"]) for r in rows]


def test_exact_duplicate_by_sha256_even_with_far_phash():
    rows = [row(0, "0000000000000000", sha="same"), row(1, "ffffffffffffffff", sha="same")]
    out = dedup_rows(rows)
    assert statuses(out) == [(0, "kept", None), (1, "duplicate", "http://img/0.jpg")]
    assert out[1]["error"] == "exact copy of image_index 0"


def test_near_duplicate_threshold_is_inclusive():
    rows = [row(0, "0000000000000000"), row(1, "000000000000000f"), row(2, "00000000000000ff")]
    out = dedup_rows(rows, max_hamming=4)
    assert statuses(out) == [(0, "kept", None), (1, "duplicate", "http://img/0.jpg"), (2, "kept", None)]
    assert "phash distance 4" in out[1]["error"]
    assert [r["status"] for r in dedup_rows(rows, max_hamming=3)] == ["kept"] * 3


def test_aspect_ratio_is_the_second_signal():
    rows = [row(0, "0000000000000000", size=(800, 600)), row(1, "0000000000000001", size=(800, 400)),
            row(2, "0000000000000001", size=(1600, 1210))]
    assert [r["status"] for r in dedup_rows(rows)] == ["kept", "kept", "duplicate"]


def test_earliest_index_wins_whatever_the_input_order():
    rows = [row(3, "0000000000000001"), row(1, "0000000000000000"), row(2, "0000000000000003")]
    for _ in range(5):
        random.shuffle(rows)
        out = {r["image_index"]: r for r in dedup_rows(rows)}
        assert out[1]["status"] == "kept"
        assert out[2]["duplicate_of"] == out[3]["duplicate_of"] == "http://img/1.jpg"


def test_chain_is_compared_with_representatives_only():
    rows = [row(0, "0000000000000000"), row(1, "000000000000000f"), row(2, "00000000000000ff")]
    # 1 is within 4 bits of 0; 2 is within 4 bits of 1 but 8 from 0, and 1 is not a representative
    assert [r["status"] for r in dedup_rows(rows)] == ["kept", "duplicate", "kept"]


def test_rows_already_dropped_are_untouched_and_input_not_mutated():
    rows = [row(0, "0000000000000000", status="aspect_ratio"), row(1, "0000000000000000")]
    before = [dict(r) for r in rows]
    out = dedup_and_cap(rows, max_images=1)
    assert rows == before
    assert statuses(out) == [(0, "aspect_ratio", None), (1, "kept", None)]


def test_cap_keeps_first_by_index_after_dedup():
    phashes = [f"{(0xFFFF << (4 * i)) & (2**64 - 1):016x}" for i in range(12)]
    rows = [row(i, phashes[i]) for i in reversed(range(12))]
    rows.append(row(12, phashes[0], sha="sha0"))  # an exact copy of image 0
    out = {r["image_index"]: r for r in dedup_and_cap(rows, max_images=10)}
    assert [out[i]["status"] for i in range(13)] == ["kept"] * 10 + ["over_cap"] * 2 + ["duplicate"]
    assert out[11]["error"] == "beyond the first 10 images of the object"
    assert [r["status"] for r in cap_rows(rows[:3], max_images=10)] == ["kept"] * 3


def test_real_reencoded_and_resized_copy_is_a_near_duplicate():
    rng = np.random.default_rng(5)
    picture = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((1600, 1200),
                                                                                       Image.Resampling.BICUBIC)
    other = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((1600, 1200),
                                                                                     Image.Resampling.BICUBIC)
    rows = []
    for index, (image, quality) in enumerate([(picture, 95), (picture.resize((1000, 750)), 70), (other, 90)]):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        result = process_image(buffer.getvalue())
        rows.append(row(index, result.phash, sha=result.sha256, size=(result.orig_width, result.orig_height)))
    assert phash_distance(rows[0]["phash"], rows[1]["phash"]) <= 4
    assert [r["status"] for r in dedup_rows(rows)] == ["kept", "duplicate", "kept"]
