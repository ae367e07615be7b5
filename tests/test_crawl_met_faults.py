"""`crawl met` under the Met's failure modes: throttle page, 429, 5xx, slow and broken images."""

from __future__ import annotations

import pytest

from metdata import manifests
from metdata.errors import UserError
from metdata.met_crawl import HttpParams, Selection, crawl_met
from metdata.sample.model import BASE

FAST = HttpParams(rate_per_s=1000, workers=2, max_retries=2)


def plain_ids(world, n: int) -> list[int]:
    """Public-domain objects without edge cases, each with at least two images."""
    ids = [oid for oid, obj in world.objects.items()
           if not obj.notes and obj.expected_kept and len(obj.expected_statuses) >= 2]
    return ids[:n]


def crawl(server, root, ids, http: HttpParams = FAST):
    return crawl_met(root, server.met_api_url, Selection(object_ids=tuple(ids)), http_params=http, progress=False)


def exhibit_rows(root) -> list[dict]:
    return manifests.read(root / "manifests/exhibits.parquet", "exhibits").to_pylist()


def object_rows(root) -> list[dict]:
    return manifests.read(root / "manifests/objects.parquet", "objects").to_pylist()


def image_path(world, oid: int, index: int, rendition: str = "original") -> str:
    """The URL path of an object's image on the sample server."""
    record = world.objects[oid].record
    if index == 0:
        url = record["primaryImageSmall" if rendition == "web-large" else "primaryImage"]
    else:
        url = record["additionalImages"][index - 1]
    return url.replace(BASE, "")


@pytest.mark.parametrize("status", [500, 503, 429, 403])
def test_transient_errors_on_a_record_are_retried(sample_server, world, tmp_path, status):
    (oid,) = plain_ids(world, 1)
    sample_server.faults.fault_prefix = f"/public/collection/v1/objects/{oid}"
    sample_server.faults.next_statuses = [status, status]
    sample_server.faults.retry_after_s = 0.05
    summary = crawl(sample_server, tmp_path, [oid])
    (row,) = object_rows(tmp_path)
    assert row["status"] == "ok" and row["n_images_kept"] == world.objects[oid].expected_kept
    assert summary.http["retries"] == 2
    assert summary.http["throttled"] == (2 if status in (429, 403) else 0)
    assert len(sample_server.requests_to(sample_server.faults.fault_prefix)) == 3


def test_throttle_window_slows_the_crawl_but_loses_nothing(sample_server, world, tmp_path):
    ids = plain_ids(world, 4)
    sample_server.faults.throttle_after = 6
    sample_server.faults.throttle_cooldown_s = 0.2
    summary = crawl(sample_server, tmp_path, ids, HttpParams(rate_per_s=1000, workers=2, max_retries=4))
    assert summary.http["throttled"] > 0
    assert {r["object_id"]: r["n_images_kept"] for r in object_rows(tmp_path)} == {
        oid: world.objects[oid].expected_kept for oid in ids}


def test_persistent_errors_become_http_error_rows(sample_server, world, tmp_path):
    first, second = plain_ids(world, 2)
    sample_server.faults.fault_prefix = f"/public/collection/v1/objects/{first}"
    sample_server.faults.next_statuses = [500] * 10
    sample_server.faults.retry_after_s = 0.01
    crawl(sample_server, tmp_path, [first, second], HttpParams(rate_per_s=1000, workers=1, max_retries=1))
    rows = {r["object_id"]: r for r in object_rows(tmp_path)}
    assert rows[first]["status"] == "http_error" and "500" in rows[first]["error"]
    assert rows[second]["status"] == "ok"
    assert len(sample_server.requests_to(sample_server.faults.fault_prefix)) == 2  # one try and one retry


def test_an_image_404_is_not_retried(sample_server, world, tmp_path):
    (oid,) = [oid for oid, obj in world.objects.items() if obj.notes == "every image URL answers 404"]
    crawl(sample_server, tmp_path, [oid])
    rows = exhibit_rows(tmp_path)
    assert {r["status"] for r in rows} == {"http_error"} and all("HTTP 404" in r["error"] for r in rows)
    paths = [r.path for r in sample_server.requests_to("/CRDImages/")]
    assert len(paths) >= len(rows)  # every image was asked for (the primary's web-large and original)
    assert len(paths) == len(set(paths))  # and none twice


def test_slow_web_large_falls_back_to_the_original_and_slow_images_fail(sample_server, world, tmp_path):
    (oid,) = plain_ids(world, 1)
    sample_server.faults.fault_prefix = image_path(world, oid, 0, "web-large")
    sample_server.faults.delay_s = 2.0
    crawl(sample_server, tmp_path / "a", [oid], HttpParams(rate_per_s=1000, workers=1, timeout_s=0.3, max_retries=0))
    primary = next(r for r in exhibit_rows(tmp_path / "a") if r["image_index"] == 0)
    assert primary["status"] == "kept" and primary["rendition"] == "original"

    sample_server.faults.fault_prefix = image_path(world, oid, 1)
    crawl(sample_server, tmp_path / "b", [oid], HttpParams(rate_per_s=1000, workers=1, timeout_s=0.3, max_retries=0))
    second = next(r for r in exhibit_rows(tmp_path / "b") if r["image_index"] == 1)
    assert second["status"] == "http_error" and second["path"] is None


@pytest.mark.parametrize(
    "switch, status",
    [("corrupt_images", "decode_error"), ("wrong_content_type", "decode_error"), ("truncate_images", "http_error")],
)
def test_broken_image_answers_become_rows(sample_server, world, tmp_path, switch, status):
    (oid,) = plain_ids(world, 1)
    sample_server.faults.extra[switch] = True
    summary = crawl(sample_server, tmp_path, [oid], HttpParams(rate_per_s=1000, workers=1, max_retries=0))
    rows = exhibit_rows(tmp_path)
    assert len(rows) == len(world.objects[oid].expected_statuses)
    assert {r["status"] for r in rows} == {status}
    assert all(r["error"] for r in rows)
    assert summary.kept == 0
    assert not list((tmp_path / "images").rglob("*.jpg"))


def test_malformed_api_response_is_a_user_error_naming_the_url(sample_server, world, tmp_path):
    sample_server.faults.extra["malformed_json"] = True
    with pytest.raises(UserError, match=r"/public/collection/v1/departments: malformed response"):
        crawl(sample_server, tmp_path, plain_ids(world, 1))
