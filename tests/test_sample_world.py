"""The sample museum's Met side: determinism, record shapes, embedded data and ground truth that
matches the bytes actually served."""

from __future__ import annotations

import hashlib
import io
import itertools
from importlib import resources

import imagehash
import pytest
from PIL import Image

from metdata.sample import met_records
from metdata.sample import world as world_module
from metdata.sample.model import BASE
from metdata.sample.realdata import load_bytes, load_catalog, load_image
from metdata.sample.world import CRAWL_DEFAULTS, SAFE_RANGES, build_world

EDGE_CASES = [
    "exact duplicate", "re-encoded near duplicate", "resized near duplicate", "extreme aspect ratio",
    "tiny image", "not public domain", "public domain without an image", "answers 404", "corrupt",
    "truncated", "PNG served as image/jpeg", "HTML page", "primaryImageSmall empty", "constituents null",
    "Not a valid object", "cap at 10", "file name with a space", "date unknown",
]
FIELD_TYPES = {"objectID": int, "isHighlight": bool, "isPublicDomain": bool, "additionalImages": list,
               "constituents": (list, type(None)), "objectBeginDate": int, "objectEndDate": int,
               "measurements": (list, type(None)), "tags": (list, type(None)), "isTimelineWork": bool}


def _image_urls(obj) -> list[str]:
    return [obj.record["primaryImage"], *obj.record["additionalImages"]] if obj.record["primaryImage"] else []


def _served(world, obj, url: str) -> bytes | None:
    """What the crawler downloads: the web-large rendition of the primary image, other images as listed."""
    if url == obj.record["primaryImage"] and obj.record["primaryImageSmall"]:
        url = obj.record["primaryImageSmall"]
    return world.image_bytes(url.replace(BASE, ""))


def test_same_seed_gives_the_same_world_and_bytes(world):
    again = build_world(0)
    assert list(again.objects) == list(world.objects)
    assert [o.record for o in again.objects.values()] == [o.record for o in world.objects.values()]
    assert [o.expected_statuses for o in again.objects.values()] == [o.expected_statuses for o in world.objects.values()]
    paths = sorted(p for p in world.renderers if p.startswith("/CRDImages/") and "/web-large/" in p)[:: 97]
    assert len(paths) >= 5
    for path in paths:
        assert again.image_bytes(path) == world.image_bytes(path), path
    other = build_world(1)
    assert [o.record["title"] for o in other.objects.values()] != [o.record["title"] for o in world.objects.values()]


def test_records_have_every_key_in_the_real_order_with_real_types(world):
    assert len(world.objects) == 300
    for obj in world.objects.values():
        record = obj.record
        assert tuple(record) == met_records.RECORD_KEYS, record["objectID"]
        for key, value in record.items():
            assert isinstance(value, FIELD_TYPES.get(key, str)), (record["objectID"], key, value)
        assert record["objectURL"].endswith(f"/{record['objectID']}")
        for url in _image_urls(obj):
            assert url.startswith(BASE + "/CRDImages/") and "/original/" in url
        if record["primaryImageSmall"]:
            assert "/web-large/" in record["primaryImageSmall"]
        assert record["tags"] != []  # the API sends null, never an empty list
        assert obj.expected_kept == obj.expected_statuses.count("kept")


def test_departments_are_the_live_list_and_objects_span_them(world):
    assert len(world.departments) == 19
    assert {d["departmentId"] for d in world.departments} == set(range(1, 22)) - {2, 20}
    used = {o.department_id for o in world.objects.values()}
    assert len(used) >= 15
    by_name = {o.record["department"] for o in world.objects.values() if o.department_id == 1}
    assert by_name == {"The American Wing"}


def test_real_met_objects_and_documentation_fixtures_are_present(world):
    met_ids = {item.met_object_id for item in load_catalog() if item.met_object_id}
    assert len(met_ids) == 59
    assert met_ids <= set(world.objects)
    assert world.objects[437980].record["title"] == "Cypresses"
    assert world.objects[437980].record["artistDisplayName"] == "Vincent van Gogh"
    assert world.objects[436535].expected_statuses.count("duplicate") == 1  # its near-identical reproduction
    for object_id in (45734, 336228):
        record = world.objects[object_id].record
        assert record["primaryImage"].startswith(BASE) and len(record["additionalImages"]) == 2
    assert world.objects[45734].record["primaryImage"].endswith("/as/original/DP251139.jpg")
    for object_id in (352204, 1):
        record = world.objects[object_id].record
        assert not record["isPublicDomain"] and record["primaryImage"] == "" and record["additionalImages"] == []
        assert world.objects[object_id].expected_kept == 0
    assert world.objects[1].record["measurements"] is None and world.objects[1].record["tags"] is None


def test_every_edge_case_has_an_object_with_ground_truth(world):
    notes = [o.notes for o in world.objects.values()]
    for case in EDGE_CASES:
        assert any(case in note for note in notes), case
    statuses = {s for o in world.objects.values() for s in o.expected_statuses}
    assert statuses == {"kept", "duplicate", "over_cap", "aspect_ratio", "too_small", "http_error", "decode_error"}
    objects = list(world.objects.values())
    assert any(not o.listed for o in objects)
    assert any(o.record["primaryImage"] and not o.record["primaryImageSmall"] for o in objects)
    assert any(o.record["constituents"] is None for o in objects)
    assert max(len(_image_urls(o)) for o in objects) == 14
    assert min(len(_image_urls(o)) for o in objects if o.record["primaryImage"]) == 1
    assert sum(1 for o in objects if not o.record["isPublicDomain"]) >= 8


def _check_ground_truth(world, obj) -> None:
    """Each expected status holds for the bytes served, for any threshold within SAFE_RANGES."""
    kept_hashes: list[tuple[str, imagehash.ImageHash]] = []
    for url, status in zip(_image_urls(obj), obj.expected_statuses):
        data = _served(world, obj, url)
        if status == "http_error":
            assert data is None, url
            continue
        assert data is not None, url
        if status == "decode_error":
            with pytest.raises(OSError):
                Image.open(io.BytesIO(data)).load()
            continue
        image = Image.open(io.BytesIO(data))
        image.load()
        short, long = sorted(image.size)
        if status == "too_small":
            assert short < SAFE_RANGES["min_side_px"][0], url
            continue
        assert short >= SAFE_RANGES["min_side_px"][1], url
        if status == "aspect_ratio":
            assert long / short >= SAFE_RANGES["max_aspect_ratio"][1], url
            continue
        assert long / short <= SAFE_RANGES["max_aspect_ratio"][0], url
        digest, phash = hashlib.sha256(data).hexdigest(), imagehash.phash(image)
        nearest = min((phash - h for _, h in kept_hashes), default=64)
        if status == "duplicate":
            assert nearest <= SAFE_RANGES["phash_threshold"][0] or digest in {d for d, _ in kept_hashes}, url
        else:
            assert nearest > SAFE_RANGES["phash_threshold"][1], (url, nearest)
            kept_hashes.append((digest, phash))


def test_ground_truth_of_edge_cases_and_real_objects_matches_the_served_bytes(world):
    chosen = [o for o in world.objects.values()
              if o.expected_statuses and o.notes not in ("", "over the cap", "real Met object")]
    assert len(chosen) >= 25
    for obj in chosen:
        _check_ground_truth(world, obj)


def test_ground_truth_of_a_sample_of_procedural_objects(world):
    plain = [o for o in world.objects.values() if o.expected_statuses and o.notes in ("", "over the cap")]
    sample = [o for o in plain if len(o.expected_statuses) >= 3][::12]
    assert len(sample) >= 5
    for obj in sample:
        assert obj.expected_kept == min(len(obj.expected_statuses), CRAWL_DEFAULTS["max_images_per_object"])
        _check_ground_truth(world, obj)


def test_missing_images_and_not_public_objects_serve_nothing(world):
    for obj in world.objects.values():
        if not obj.record["isPublicDomain"]:
            assert obj.expected_statuses == [] and obj.expected_kept == 0
    assert world.image_bytes("/CRDImages/ep/original/NO-SUCH-FILE.jpg") is None


def test_original_size_is_a_parameter_for_benchmarks():
    big = build_world(0, original_px=3000)
    obj = next(o for o in big.objects.values() if o.notes == "" and o.record["primaryImage"])
    image = Image.open(io.BytesIO(big.image_bytes(obj.record["primaryImage"].replace(BASE, ""))))
    assert max(image.size) == 3000
    assert [o.record for o in big.objects.values()] == [o.record for o in build_world(0).objects.values()]


def test_studio_image_renders_the_primary_view(world):
    obj = world.objects[437980]
    image = obj.studio_image(320)
    assert max(image.size) == 320
    assert world.objects[352204].studio_image is None


def test_embedded_real_data_is_small_complete_and_readable():
    data_dir = resources.files("metdata.sample").joinpath("data")
    total = sum(f.stat().st_size for f in _walk(data_dir))
    assert total <= 15 * 1024 * 1024
    catalog = load_catalog()
    assert len(catalog) == 131
    assert {c.kind for c in catalog} == {"art", "noart"}
    assert sum(c.hard_negative for c in catalog) == 2
    assert all(c.met_object_id is None for c in catalog if c.hard_negative)
    groups = {c.group for c in catalog if c.file.startswith("art/starry-night")}
    assert groups == {"starry-night"}
    first = catalog[0]
    assert load_image(first.file).size == (first.width, first.height)
    assert max(first.width, first.height) <= 640
    assert load_bytes(first.file)[:2] == b"\xff\xd8"


def _walk(folder):
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _walk(entry)
        else:
            yield entry


def test_near_duplicate_real_reproductions_are_close_and_ambiguous_ones_left_out():
    for copy, original in world_module.REAL_NEAR_DUPLICATES.items():
        assert imagehash.phash(load_image(copy)) - imagehash.phash(load_image(original)) <= 2
    ambiguous_groups = {c.group: c for c in load_catalog() if c.file in world_module.REAL_AMBIGUOUS}
    for item in ambiguous_groups.values():
        views = [c for c in load_catalog() if c.group == item.group]
        distances = [imagehash.phash(load_image(a.file)) - imagehash.phash(load_image(b.file))
                     for a, b in itertools.combinations(views, 2)]
        assert any(2 < d < 14 for d in distances)


def test_ground_truth_assumes_the_crawlers_defaults():
    from metdata.stages.met_object import ImageParams

    params = ImageParams()  # the outcomes hold for any setting within SAFE_RANGES, not only these
    assert params.max_images_per_object == CRAWL_DEFAULTS["max_images_per_object"]
    low, high = SAFE_RANGES["min_side_px"]
    assert low <= params.min_side_px <= high
    assert SAFE_RANGES["max_aspect_ratio"][0] <= params.max_aspect_ratio < SAFE_RANGES["max_aspect_ratio"][1]
    assert SAFE_RANGES["phash_threshold"][0] <= params.near_dup_max_hamming <= SAFE_RANGES["phash_threshold"][1]
