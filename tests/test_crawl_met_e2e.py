"""`crawl met` against the sample museum: every drop reason, the ground truth, the layout, the manifests."""

from __future__ import annotations

import dataclasses
import functools
import pickle
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from metdata import manifests
from metdata.http import PoliteSession
from metdata.met_crawl import HttpParams, Selection, crawl_met
from metdata.stages.image import HASH_ALGO
from metdata.stages.met_object import ImageParams, MetObjectStage

FAST = HttpParams(rate_per_s=1000, workers=4, max_retries=1)


def edge_case_ids(world) -> list[int]:
    """Objects built to exercise one case each (the generator's notes say which), plus two plain ones."""
    plain = [oid for oid, obj in world.objects.items() if not obj.notes][:2]
    return sorted([oid for oid, obj in world.objects.items() if obj.notes and "real Met object" not in obj.notes] + plain)


def ids_with_note(world, text: str) -> list[int]:
    ids = [oid for oid, obj in world.objects.items() if text in obj.notes]
    assert ids, f"the sample world has no object whose notes contain {text!r}"
    return ids


def crawl(server, root: Path, ids, image: ImageParams | None = None, http: HttpParams = FAST):
    return crawl_met(root, server.met_api_url, Selection(object_ids=tuple(ids)), image, http, progress=False)


def rows_by_object(root: Path) -> tuple[dict, dict]:
    objects = {r["object_id"]: r for r in manifests.read(root / "manifests/objects.parquet", "objects").to_pylist()}
    exhibits: dict[int, list] = {}
    for row in manifests.read(root / "manifests/exhibits.parquet", "exhibits").to_pylist():
        exhibits.setdefault(row["object_id"], []).append(row)
    return objects, {oid: sorted(rows, key=lambda r: r["image_index"]) for oid, rows in exhibits.items()}


@pytest.fixture(scope="module")
def edge_crawl(tmp_path_factory, world):
    """One crawl of the edge-case objects with default options, shared by the checks below."""
    from metdata.sample.services import start_sample_server

    root = tmp_path_factory.mktemp("edge")
    server = start_sample_server(world=world)
    try:
        summary = crawl(server, root, edge_case_ids(world))
        requested = [r.path for r in server.log]
    finally:
        server.stop()
    return root, summary, requested


def test_statuses_and_kept_counts_equal_the_ground_truth(edge_crawl, world):
    root, summary, _ = edge_crawl
    objects, exhibits = rows_by_object(root)
    assert sorted(objects) == edge_case_ids(world)
    for oid, row in objects.items():
        truth = world.objects[oid]
        if truth.expected_kept is None:
            continue
        got = [r["status"] for r in exhibits.get(oid, [])]
        assert got == truth.expected_statuses, f"object {oid} ({truth.notes})"
        assert row["n_images_kept"] == truth.expected_kept, f"object {oid} ({truth.notes})"
    image_statuses = Counter(r["status"] for rows in exhibits.values() for r in rows)
    for status in ["kept", "duplicate", "over_cap", "aspect_ratio", "too_small", "http_error", "decode_error"]:
        assert image_statuses[status] > 0, status
    object_statuses = Counter(r["status"] for r in objects.values())
    for status in ["ok", "not_public_domain", "no_image", "not_found"]:
        assert object_statuses[status] > 0, status
    assert summary.image_statuses == image_statuses
    assert summary.kept == image_statuses["kept"]


def test_failure_rows_say_why(edge_crawl, world):
    root, _, _ = edge_crawl
    objects, exhibits = rows_by_object(root)
    for oid in ids_with_note(world, "listed but answers 404"):
        assert objects[oid]["status"] == "not_found" and "404" in objects[oid]["error"]
        assert oid not in exhibits
    for oid in ids_with_note(world, "not public domain"):
        assert objects[oid]["status"] == "not_public_domain" and objects[oid]["is_public_domain"] is False
        assert not (root / "images" / "MET" / str(oid)).exists()
    for rows in exhibits.values():
        for row in rows:
            assert (row["path"] is None) == (row["status"] != "kept")
            assert (row["error"] is None) == (row["status"] == "kept"), row
            assert row["status"] in manifests.STATUSES


def test_duplicates_point_at_the_kept_image(edge_crawl, world):
    root, _, _ = edge_crawl
    _, exhibits = rows_by_object(root)
    crawled = [oid for oid in ids_with_note(world, "duplicate") if oid in exhibits]
    assert len(crawled) >= 3
    for oid in crawled:
        rows = exhibits[oid]
        duplicates = [r for r in rows if r["status"] == "duplicate"]
        assert duplicates
        kept_paths = {r["path"] for r in rows if r["status"] == "kept"}
        for row in duplicates:
            assert row["duplicate_of"] in kept_paths
            assert row["phash"] and row["sha256"]


def test_layout_is_the_official_one(edge_crawl):
    root, _, _ = edge_crawl
    _, exhibits = rows_by_object(root)
    for oid, rows in exhibits.items():
        kept = [r for r in rows if r["status"] == "kept"]
        assert [r["path"] for r in kept] == [f"images/MET/{oid}/{n}.jpg" for n in range(len(kept))]
        folder = root / "images" / "MET" / str(oid)
        on_disk = sorted(p.name for p in folder.glob("*")) if folder.exists() else []
        assert on_disk == sorted(f"{n}.jpg" for n in range(len(kept)))
        for row in kept:
            with Image.open(root / row["path"]) as image:
                assert image.format == "JPEG"
                assert max(image.size) <= 500
                assert image.size == (row["width"], row["height"])


def test_manifest_metadata_records_hashing_and_parameters(edge_crawl):
    root, _, _ = edge_crawl
    for name in ("objects", "exhibits"):
        meta = manifests.read_metadata(root / "manifests" / f"{name}.parquet")
        assert meta["schema"] == name
        assert meta["hash_algo"] == HASH_ALGO
        assert meta["parameters"] == dataclasses.asdict(ImageParams())
        assert {"metdata", "pillow", "imagehash"} <= set(meta["library_versions"])


def test_primary_uses_web_large_unless_missing(edge_crawl, world):
    root, _, requested = edge_crawl
    _, exhibits = rows_by_object(root)
    no_small = ids_with_note(world, "primaryImageSmall empty")[0]
    assert exhibits[no_small][0]["rendition"] == "original"
    plain = [oid for oid in exhibits if not world.objects[oid].notes]
    for oid in plain:
        primary, *additional = exhibits[oid]
        assert primary["rendition"] == "web-large" and "/web-large/" in primary["source_url"]
        assert all(r["rendition"] == "original" for r in additional)
    # web-large covered 500 px, so the plain objects' primary originals were never downloaded
    originals = {r.split("/")[-1] for r in requested if "/original/" in r}
    for oid in plain:
        assert exhibits[oid][0]["source_url"].split("/")[-1] not in originals


def test_original_is_fetched_when_web_large_is_too_small(sample_server, world, tmp_path):
    oid = next(oid for oid, obj in world.objects.items() if not obj.notes)
    crawl(sample_server, tmp_path, [oid], ImageParams(max_side_px=900))  # web-large is 560-800 px
    _, exhibits = rows_by_object(tmp_path)
    primary = exhibits[oid][0]
    assert primary["rendition"] == "original" and primary["status"] == "kept"
    assert max(primary["orig_width"], primary["orig_height"]) > 800
    paths = [r.path for r in sample_server.requests_to("/CRDImages/")]
    assert any("/web-large/" in p for p in paths)


def test_cap_and_aspect_filter_follow_the_options(sample_server, world, tmp_path):
    twelve = ids_with_note(world, "twelve distinct views")[0]
    crawl(sample_server, tmp_path / "cap", [twelve], ImageParams(max_images_per_object=3))
    _, exhibits = rows_by_object(tmp_path / "cap")
    assert [r["status"] for r in exhibits[twelve]] == ["kept"] * 3 + ["over_cap"] * 9
    assert len(list((tmp_path / "cap" / "images" / "MET" / str(twelve)).glob("*.jpg"))) == 3

    crawl(sample_server, tmp_path / "aspect", [twelve], ImageParams(max_aspect_ratio=1.0))
    _, exhibits = rows_by_object(tmp_path / "aspect")
    for row in exhibits[twelve]:
        ratio = max(row["orig_width"], row["orig_height"]) / min(row["orig_width"], row["orig_height"])
        assert row["status"] == ("aspect_ratio" if ratio > 1.0 else row["status"])
        if row["status"] == "aspect_ratio":
            assert "aspect ratio" in row["error"]


def test_the_stage_pickles_for_remote_workers(sample_server, world, tmp_path):
    """An executor that ships the stage to other processes (Dask) gets a working copy with its own client."""
    oid = next(oid for oid, obj in world.objects.items() if not obj.notes and obj.expected_kept)
    stage = MetObjectStage(sample_server.met_api_url, tmp_path, ImageParams(),
                           functools.partial(PoliteSession, rate_per_s=1000))
    stage.client  # noqa: B018 - a used client must not travel with the pickle
    copy = pickle.loads(pickle.dumps(stage))
    assert copy._client is None
    rows = copy(oid)
    assert rows["objects"][0]["n_images_kept"] == world.objects[oid].expected_kept
    assert all((tmp_path / r["path"]).exists() for r in rows["exhibits"] if r["status"] == "kept")
